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
  that symbol afresh; other symbols are untouched.
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
"""

from __future__ import annotations

import asyncio
import hmac
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from gafcnn import clock
from gafcnn.io import InputError
from gafcnn.live.desk import Desk
from gafcnn.serving.bundle import Bundle
from gafcnn.serving.market import Market, Snapshot, bars_from_json, iso, stamp_ms
from gafcnn.serving.signals import Stream
from gafcnn.serving.symbols import Served, champion_paths

MAX_BODY = 1 << 20  # bytes: about 10,000 bars as JSON objects
MAX_BARS = 5000  # bars in one POST /bars (a stream keeps 2,000)
MAX_AHEAD_S = 60.0  # how far a timestamp may lie ahead of the service clock
PATHS = ("/bars", "/predict", "/health", "/metrics")
MAX_FIELD_LABELS = 32  # distinct ignored field names counted by name; the rest as "other"
WORKERS = 2  # threads for parsing bars and inference (the machines have 2 cores)
RELOAD_S = 2.0  # seconds between reads of the champion pointers
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)

Price = float | None


class _Body(BaseModel):
    """A request body: values checked strictly, fields it does not know kept aside
    (:attr:`ignored`)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    @property
    def ignored(self) -> list[str]:
        return sorted(self.model_extra or {})


class PredictIn(_Body):
    """The bot's ``PredictionRequest`` and this service's ``timestamp`` and ``close``.
    The order-book and cross-asset fields are accepted and not used: the models
    read bars only."""

    price: float | None = Field(None, gt=0)
    volume: float | None = Field(None, ge=0)
    open: float | None = Field(None, gt=0)
    high: float | None = Field(None, gt=0)
    low: float | None = Field(None, gt=0)
    symbol: str | None = None
    timestamp: int | str | None = None
    close: bool = False
    bid_volume: Price = None
    ask_volume: Price = None
    best_bid: Price = None
    best_ask: Price = None
    bid_depth_5: Price = None
    ask_depth_5: Price = None
    btc_price: Price = None
    funding_rate: Price = None


class BarsIn(_Body):
    """Closed bars for one symbol."""

    symbol: str | None = None
    columns: list[str] | None = None
    bars: list[dict[str, Any] | list[Any]] = Field(min_length=1)


def bot_answer(row: dict | None, version: str, latency_ms: float) -> dict[str, Any]:
    """A decision (a `gafcnn predict` row, None before any bar) in the bot's
    ``PredictionResponse`` schema, with the row's ``action`` and ``reason`` beside it:
    ``direction`` is the side of P(up) ("FLAT" when there is none),
    ``confidence`` = |P(up) - 0.5| x 2, ``should_trade`` whether the policy trades."""
    row = row or {"timestamp": None, "p_up": None, "action": "flat", "reason": "no closed bar yet"}
    p = row["p_up"]
    return {
        "direction": "FLAT" if p is None else ("LONG" if p >= 0.5 else "SHORT"),
        "confidence": 0.0 if p is None else abs(p - 0.5) * 2,
        "raw_probability": 0.5 if p is None else p,
        "should_trade": row["action"] != "flat",
        "recommended_size": None,
        "model_version": version,
        "latency_ms": latency_ms,
        "timestamp": row["timestamp"] or clock.iso_ms(clock.now_ms()),
        "action": row["action"],
        "reason": row["reason"],
        "p_up": p,
        "top_features": [],
    }


@dataclass
class Metrics:
    """The service's Prometheus metrics, in a registry of their own."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("gafcnn_requests", "HTTP requests", ["path", "status"], registry=r)
        self.errors = Counter("gafcnn_request_errors", "HTTP requests answered >= 400",
                              ["path"], registry=r)  # fmt: skip
        self.latency = Histogram("gafcnn_request_seconds", "Time to answer a request", ["path"],
                                 buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.bars = Gauge("gafcnn_bars_held", "Closed bars held", ["symbol"], registry=r)
        self.ignored = Counter("gafcnn_ignored_fields", "Request fields ignored (unknown)",
                               ["field"], registry=r)  # fmt: skip
        self.reloads = Counter("gafcnn_reloads", "Champions swapped in", ["symbol"], registry=r)
        self.reload_errors = Counter("gafcnn_reload_errors", "New champions that failed to load",
                                     ["symbol"], registry=r)  # fmt: skip
        self.live_trades = Gauge("gafcnn_live_trades", "Live trades settled under the champion",
                                 ["symbol"], registry=r)  # fmt: skip
        self.live_win = Gauge("gafcnn_live_win_rate", "Live trades' win rate after costs",
                              ["symbol"], registry=r)  # fmt: skip
        self.live_net = Gauge("gafcnn_live_net_bps", "Live net return per trade after costs, bps",
                              ["symbol"], registry=r)  # fmt: skip
        self.floor = Gauge("gafcnn_backtest_floor_bps", "Backtest's lower bound, net bps per trade",
                           ["symbol"], registry=r)  # fmt: skip
        self.drift = Gauge("gafcnn_drift_psi", "PSI of an input's live window against train",
                           ["symbol", "input"], registry=r)  # fmt: skip
        self.flat = Gauge("gafcnn_guard_flat", "1 while a guard holds the symbol flat",
                          ["symbol", "guard"], registry=r)  # fmt: skip
        self._fields: set[str] = set()

    def ignore(self, fields: list[str]) -> None:
        """Count ignored fields by name (the first ``MAX_FIELD_LABELS`` names; later
        ones as ``other``, so no client can grow the series without bound)."""
        for name in fields:
            if name not in self._fields and len(self._fields) < MAX_FIELD_LABELS:
                self._fields.add(name)
            self.ignored.labels(name if name in self._fields else "other").inc()

    def live(self, name: str, figures: dict) -> None:
        """Set a symbol's live gauges from its desk's figures (NaN where none yet)."""
        live, nan = figures["live"], float("nan")
        self.live_trades.labels(name).set(live["trades"])
        self.live_win.labels(name).set(nan if live["win_rate"] is None else live["win_rate"])
        self.live_net.labels(name).set(nan if live["mean_net_bps"] is None
                                       else live["mean_net_bps"])  # fmt: skip
        self.floor.labels(name).set(nan if live["floor_bps"] is None else live["floor_bps"])
        for key, value in figures["drift_psi"].items():
            self.drift.labels(name, key).set(nan if value is None else value)
        for guard in ("drift", "breaker"):
            self.flat.labels(name, guard).set(float(figures["flat_by"] == guard))

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)
        if status >= 400:
            self.errors.labels(path).inc()


class Guard:
    """ASGI middleware: bearer token, body size limit, and per-request metrics."""

    def __init__(self, app: Any, token: str | None, max_body: int, metrics: Metrics):
        self.app, self.token, self.max_body, self.metrics = app, token, max_body, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        refusal = self._refusal(scope)
        body = b""
        while refusal is None:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > self.max_body:
                refusal = (413, f"request body above {self.max_body} bytes")
            if not message.get("more_body"):
                break
        try:
            if refusal is not None:
                await JSONResponse({"error": refusal[1]}, refusal[0])(scope, receive, sending)
            else:
                await self.app(scope, _replay(body, receive), sending)
        except Exception as exc:  # answered 500 by the app's handler; logged here, once
            print(f"error: {scope['method']} {scope['path']}: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)  # fmt: skip
        finally:
            path = scope["path"] if scope["path"] in PATHS else "other"
            if scope["path"].startswith("/bars/"):
                path = "/bars/{symbol}"
            self.metrics.observe(path, status[0], time.perf_counter() - start)

    def _refusal(self, scope: dict) -> tuple[int, str] | None:
        headers = dict(scope["headers"])
        if int(headers.get(b"content-length", b"0") or 0) > self.max_body:
            return 413, f"request body above {self.max_body} bytes"
        if self.token is not None:
            given = headers.get(b"authorization", b"").decode("latin-1")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return 401, "missing or wrong bearer token"
        return None


def _replay(body: bytes, receive: Any) -> Any:
    sent = [False]

    async def replay() -> dict:
        if sent[0]:
            return await receive()
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class Refused(Exception):
    """A request answered ``status`` with ``{"error": reason}``."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _one_line(exc: ValidationError) -> Refused:
    """A body that is not the schema, in one line: 400 for malformed JSON, else 422."""
    err = exc.errors()[0]
    if err.get("type") == "json_invalid":
        return Refused(400, f"malformed JSON: {err.get('ctx', {}).get('error', err['msg'])}")
    where = ".".join(str(p) for p in err.get("loc", ()))
    return Refused(422, f"{where or 'body'}: {err['msg']}")


def parse(kind: type[_Body], body: bytes) -> _Body:
    """``body`` as ``kind``, or Refused in one line."""
    try:
        return kind.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise _one_line(exc) from None


class Service:
    """The state behind the app: each symbol's bundle, a Market per symbol, the
    counters. Its methods run on worker threads, one at a time per symbol (the app's
    locks)."""

    def __init__(
        self,
        served: Served,
        clock: Any = time.time,
        max_ahead_s: float = MAX_AHEAD_S,
        max_bars: int = MAX_BARS,
        guards: bool = True,
    ):
        self.served, self.clock, self.guards = served, clock, guards
        self.max_ahead_ms, self.max_bars = int(max_ahead_s * 1000), max_bars
        self.symbols = list(served.bundles)
        self.markets: dict[str, Market] = {}
        self.started, self.predictions, self.latency_total = time.time(), 0, 0.0
        self.reloads = 0
        self._counting = threading.Lock()

    def name(self, symbol: str | None, source: str) -> str:
        """The served symbol ``symbol`` names (the default one without)."""
        return self.served.key(symbol, source)

    def market(self, symbol: str | None, source: str) -> tuple[str, Market]:
        name = self.name(symbol, source)
        if name not in self.markets:
            bundle = self.served.bundles[name]
            self.markets[name] = Market(Stream(bundle), Desk(bundle, self.guards))
        return name, self.markets[name]

    def swap(self, name: str, bundle: Bundle) -> None:
        """Serve ``name`` by ``bundle`` from its next request on (a new champion): every
        bar held and the bar forming stay (run under the symbol's lock)."""
        self.served = Served({**self.served.bundles, name: bundle}, self.served.default)
        if name in self.markets:
            self.markets[name].swap(bundle)
        self.reloads += 1

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def not_ahead(self, ms: int, now: int, what: str, source: str) -> None:
        """Refuse a timestamp more than ``max_ahead_ms`` ahead of the clock's ``now``:
        one bad clock must not block a symbol's later, true bars."""
        if ms > now + self.max_ahead_ms:
            raise InputError(source, f"{what} {clock.iso_ms(ms)} "
                             f"is {(ms - now) / 1000:.0f} s ahead of the service clock "
                             f"(at most {self.max_ahead_ms / 1000:g} s allowed)")  # fmt: skip

    def predict(self, body: PredictIn) -> dict[str, Any]:
        start = time.perf_counter()
        name, market = self.market(body.symbol, "/predict")
        if body.price is not None:
            if body.volume is None:
                raise InputError("/predict", "volume: required with price")
            now = self.now_ms()
            ms = stamp_ms(body.timestamp, now, "/predict")
            self.not_ahead(ms, now, "timestamp", "/predict")
            snap = Snapshot(body.price, body.volume, body.open, body.high, body.low)
            market.snapshot(clock.minutes_of_ms(ms), snap, body.close, "/predict")
        elif body.close or {body.volume, body.open, body.high, body.low} != {None}:
            raise InputError("/predict", "price: required with volume, open, high, low or close")
        row = market.answer()
        latency = (time.perf_counter() - start) * 1000
        with self._counting:
            self.predictions += 1
            self.latency_total += latency
        return bot_answer(row, self.served.bundles[name].version, latency)

    def bars(self, body: BarsIn) -> dict[str, Any]:
        if len(body.bars) > self.max_bars:
            raise Refused(413, f"{len(body.bars)} bars in one request, at most {self.max_bars}")
        name, market = self.market(body.symbol, "/bars")
        frame = bars_from_json(body.bars, "/bars", body.columns)
        last = clock.ms_of_stamp(frame["timestamp"].iloc[-1])
        self.not_ahead(last + clock.MINUTE_MS, self.now_ms(), "a closed bar ending", "/bars")
        market.bars(frame, "/bars")
        return {"symbol": name, "accepted": len(body.bars), **self.held(market)}

    def reset(self, symbol: str) -> dict[str, Any]:
        """Forget ``symbol``'s bars and forming bar."""
        name = self.name(symbol, f"/bars/{symbol}")
        self.markets.pop(name, None)
        fresh = Market(Stream(self.served.bundles[name]))
        return {"symbol": name, "reset": True, **self.held(fresh)}

    @staticmethod
    def held(market: Market) -> dict[str, Any]:
        last = market.stream.last_ms
        return {
            "bars": 0 if market.stream.bars is None else len(market.stream.bars),
            "last_bar": None if last is None else iso(clock.minutes_of_ms(last)),
            "forming": None if market.forming is None else iso(market.forming.minute),
        }

    def health(self) -> dict[str, Any]:
        """The service's state; ``deployed`` and ``decision`` are the bundle's, or with
        a bundle per symbol a mapping by symbol (``served`` has each symbol's)."""
        served = {s: describe(b) for s, b in self.served.bundles.items()}
        one = self.served.single
        return {
            "status": "ok",
            "model_loaded": True,
            "model_version": self.served.version,
            "uptime_seconds": time.time() - self.started,
            "total_predictions": self.predictions,
            "avg_latency_ms": self.latency_total / max(self.predictions, 1),
            "bundle": self.served.version,
            "deployed": one.deployed if one else {s: d["deployed"] for s, d in served.items()},
            "decision": describe(one)["decision"]
            if one
            else {s: d["decision"] for s, d in served.items()},  # fmt: skip
            "history_bars": max(b.history for b in self.served.bundles.values()),
            "served": served,
            "symbols": {s: self.held(m) for s, m in list(self.markets.items())},
            "live": {s: m.desk.figures() for s, m in list(self.markets.items())},
            "reloads": self.reloads,
        }


def describe(bundle: Bundle) -> dict[str, Any]:
    """What a symbol is served by: its bundle's version, deployed model and decision."""
    decision = (bundle.spec["decision"] or {}).get("decision")
    return {"model_version": bundle.version, "deployed": bundle.deployed, "decision": decision,
            "theta": bundle.theta if bundle.deployed else None}  # fmt: skip


class Lanes:
    """Where requests run: bodies parsed on one thread in arrival order, then each
    symbol's work under its own lock, taken in that order, on ``WORKERS`` threads."""

    def __init__(self, symbols: list[str]):
        self.parser = ThreadPoolExecutor(1, thread_name_prefix="gafcnn-parse")
        self.workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="gafcnn-work")
        self.locks = {s: asyncio.Lock() for s in symbols}

    async def parse(self, kind: type[_Body], body: bytes) -> _Body:
        return await asyncio.get_running_loop().run_in_executor(self.parser, parse, kind, body)

    async def run(self, symbol: str, work: Any, *args: Any) -> Any:
        """``work(*args)`` on a worker thread, after every earlier request of ``symbol``."""
        async with self.locks[symbol]:
            return await asyncio.get_running_loop().run_in_executor(self.workers, work, *args)


async def reload_champions(service: Service, lanes: Lanes, metrics: Metrics,
                           root: str | Path, every_s: float) -> None:  # fmt: skip
    """Every ``every_s`` seconds, read the store's champion pointers and swap each served
    symbol's new champion in, under the symbol's lock (between its requests). A
    champion that fails to load is said once on the log, counted, and the one
    serving stays."""
    loop, failed = asyncio.get_running_loop(), set()
    while True:
        await asyncio.sleep(every_s)
        try:
            now = await loop.run_in_executor(lanes.workers, champion_paths, root)
        except Exception as exc:  # a pointer half-read or unreadable: try again later
            print(f"error: reading champions in {root}: {exc}", file=sys.stderr, flush=True)
            continue
        for name, path in now.items():
            current = service.served.bundles.get(name)
            if current is None or current.path == path or path in failed:
                continue
            try:
                bundle = await loop.run_in_executor(lanes.workers, Bundle, path)
            except Exception as exc:
                failed.add(path)
                metrics.reload_errors.labels(name).inc()
                said = f"error: {name}: champion {path.name} not loaded; {current.version} stays"
                print(f"{said}: {exc}", file=sys.stderr, flush=True)
                continue
            await lanes.run(name, service.swap, name, bundle)
            metrics.reloads.labels(name).inc()
            print(f"reloaded {name}: {bundle.version} ({path.name})", file=sys.stderr, flush=True)


def create_app(
    bundle: Bundle | Served,
    *,
    symbols: list[str] = (),
    token: str | None = None,
    max_body: int = MAX_BODY,
    max_bars: int = MAX_BARS,
    max_ahead_s: float = MAX_AHEAD_S,
    clock: Any = time.time,
    watch: str | Path | None = None,
    reload_s: float = RELOAD_S,
    guards: bool = True,
) -> Any:
    """The ASGI app serving ``bundle`` (for its own symbol and ``symbols``), or each
    symbol by its own bundle (a :class:`Served`; see the module docstring); with
    ``watch`` (a versions store) each symbol's new champion is swapped in within
    ``reload_s`` seconds of its promotion."""
    disable_created_metrics()  # no *_created series: requests, errors and latency only
    served = bundle if isinstance(bundle, Served) else Served.one(bundle, list(symbols))
    service = Service(served, clock, max_ahead_s, max_bars, guards)
    metrics, lanes = Metrics(), Lanes(service.symbols)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        task = None
        if watch is not None:
            task = asyncio.create_task(reload_champions(service, lanes, metrics, watch, reload_s))
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(title="gafcnn", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.state.service = service

    @app.exception_handler(InputError)
    async def bad_input(_: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 400)

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"error": exc.reason}, exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        reason = {404: f"no endpoint {request.url.path}",
                  405: f"{request.method} is not allowed on {request.url.path}"}  # fmt: skip
        return JSONResponse({"error": reason.get(exc.status_code, str(exc.detail))},
                            exc.status_code, headers=exc.headers)  # fmt: skip

    @app.exception_handler(Exception)
    async def fault(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "internal error (the service's log has the details)"}, 500)

    def held(name: str) -> None:
        market = service.markets.get(name)
        bars = None if market is None else market.stream.bars
        metrics.bars.labels(name).set(0 if bars is None else len(bars))

    async def answer(request: Request, kind: type[_Body], work: Any) -> dict[str, Any]:
        body = await lanes.parse(kind, await request.body())
        name = service.name(body.symbol, request.url.path)
        out = await lanes.run(name, work, body)
        held(name)
        if body.ignored:
            metrics.ignore(body.ignored)
            out["ignored_fields"] = body.ignored
        return out

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        return await answer(request, PredictIn, service.predict)

    @app.post("/bars")
    async def bars(request: Request) -> dict[str, Any]:
        return await answer(request, BarsIn, service.bars)

    @app.delete("/bars/{symbol}")
    async def reset(symbol: str) -> dict[str, Any]:
        name = service.name(symbol, f"/bars/{symbol}")
        out = await lanes.run(name, service.reset, symbol)
        held(name)
        return out

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return service.health()

    @app.get("/metrics")
    async def prometheus() -> Response:
        for name, market in list(service.markets.items()):
            metrics.live(name, market.desk.figures())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Guard(app, token, max_body, metrics)
