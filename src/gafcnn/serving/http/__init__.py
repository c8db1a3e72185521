"""`gafcnn serve`: the bundle behind HTTP for a trading bot in another process.

One bundle answers its own symbol and any named with ``--symbols``; the markets
folder (``markets``, the default) answers each symbol by its own bundle and
decision (:class:`~gafcnn.serving.symbols.Served`), and then every request names its
symbol.

Endpoints (JSON in and out unless said):

* ``POST /bars``: ``{"symbol": ..., "bars": [...], "columns": [...]}``: one or many
  closed 1-minute bars in any layout `ingest` reads (:func:`~gafcnn.serving.market.bars_from_json`),
  each later than the last bar held for the symbol.
* ``POST /predict``: the bot's snapshot (``price``, ``volume``, optional ``open``,
  ``high``, ``low``, ``symbol``, order-book fields, and this service's ``timestamp``
  and ``close``; see :mod:`gafcnn.serving.market` for how snapshots make bars), or a
  body with only ``symbol`` to ask without adding anything. The answer is the
  deployed model's decision at the symbol's last closed bar, the decision `gafcnn
  predict` gives there (:mod:`gafcnn.serving.signals`), in the bot's schema.
* ``DELETE /bars/{symbol}``: forget the symbol's bars and the bar forming, so a bot
  whose clock sent bars from the future (or any other history it regrets) starts
  that symbol afresh; other symbols are untouched. The symbol's live record stays:
  its scorecard, a tripped breaker and a drift flat (:mod:`gafcnn.serving.desk`).
* ``GET /health``: the bundle's version, the deployed model, bars held and the last
  bar per symbol; ``served``: each symbol's bundle version, deployed model, decision
  and theta.
* ``GET /metrics``: Prometheus text: requests by path and status, errors, latency,
  bars held, fields ignored.

Strict about values, liberal about fields: a field the schema does not know is
ignored, named in the answer (``ignored_fields``) and counted in ``/metrics``; a
value that is not valid changes nothing held and is answered with one JSON shape,
``{"error": "<one line>"}``, whatever went wrong: ``400`` a bar, snapshot or
timestamp that is not valid (a timestamp more than ``max_ahead_s`` ahead of the
service clock among them), ``404``/``405`` no such endpoint or method, ``413`` a
body above the size limit or more bars than ``max_bars`` in one request, ``422`` a
body that is not the endpoint's schema (wrong types, NaN, missing bars), ``401`` a
missing token, ``500`` a fault of the service (its details go to the service's
log, never to the client). With a token file every request needs
``Authorization: Bearer <token>``.

The event loop only receives and answers: parsing a body, building bars and
inference run on worker threads. Bodies are parsed one at a time in arrival order;
each symbol then has a lock taken in that same order, so a symbol's requests are
applied one at a time, in arrival order, while ``/health`` and other symbols go on.

The modules, by job: :mod:`~gafcnn.serving.http.schemas` (request bodies, the bot's
answer, the one error shape), :mod:`~gafcnn.serving.http.metrics` (Prometheus),
:mod:`~gafcnn.serving.http.middleware` (token, body size, per-request metrics),
:mod:`~gafcnn.serving.http.service` (each symbol's state, the worker lanes, hot
reload) and :mod:`~gafcnn.serving.http.app` (the routes; :func:`create_app`).
"""
