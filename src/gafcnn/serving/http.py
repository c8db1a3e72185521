"""`gafcnn serve`: the bundle behind HTTP for a trading bot in another process.

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
* ``GET /health``: the bundle, the deployed model, bars held and the last bar per symbol.
* ``GET /metrics``: Prometheus text: requests by path and status, errors, latency.

Bad input is answered ``400`` (a bar or snapshot that is not valid) or ``422`` (a
body that is not the endpoint's schema: malformed JSON, unknown fields, wrong types,
NaN) with ``{"error": "<one line>"}``, and changes nothing held; bodies above the size
limit get ``413``. With a token file every request needs ``Authorization: Bearer
<token>``. The app runs its handlers on one event loop, so requests for a symbol are
applied one at a time, in arrival order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
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
from pydantic import BaseModel, ConfigDict, Field

from gafcnn.data.bars import MINUTE_MS
from gafcnn.io import InputError
from gafcnn.serving.bundle import Bundle
from gafcnn.serving.market import Market, Snapshot, bars_from_json, iso, minute_of
from gafcnn.serving.signals import Stream

MAX_BODY = 1 << 20  # bytes: about 10,000 bars as JSON objects
PATHS = ("/bars", "/predict", "/health", "/metrics")
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)

Price = float | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PredictIn(_Strict):
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


class BarsIn(_Strict):
    """Closed bars for one symbol."""

    symbol: str | None = None
    columns: list[str] | None = None
    bars: list[dict[str, Any] | list[Any]] = Field(min_length=1)


def model_version(bundle: Bundle) -> str:
    """The bundle's code and data digest: the gafcnn version and 12 hex digits of a
    SHA-256 over the serving code's digest and every bundle file's."""
    code = bundle.spec["code"]
    blob = json.dumps([code["serving_sha256"], bundle.spec["files"]], sort_keys=True)
    return f"{code['gafcnn']}+{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


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
        "timestamp": row["timestamp"] or pd.Timestamp.now(tz="UTC").isoformat(),
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
        finally:
            path = scope["path"] if scope["path"] in PATHS else "other"
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


def _one_line(exc: RequestValidationError) -> tuple[int, str]:
    """(status, reason) of a body that is not the schema: 400 for malformed JSON."""
    err = exc.errors()[0]
    if err.get("type") == "json_invalid":
        return 400, f"malformed JSON: {err.get('ctx', {}).get('error', err['msg'])}"
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
    return 422, f"{where or 'body'}: {err['msg']}"


def _symbol(name: str) -> str:
    return name.upper().replace("/", "").replace("-", "")


class Service:
    """The state behind the app: the bundle, a Market per symbol, the counters."""

    def __init__(self, bundle: Bundle, symbols: list[str], clock: Any = time.time):
        self.bundle, self.clock = bundle, clock
        self.default = _symbol(bundle.spec["params"]["data"]["symbol"])
        self.symbols = list(dict.fromkeys([self.default, *map(_symbol, symbols)]))
        self.markets: dict[str, Market] = {}
        self.version = model_version(bundle)
        self.started, self.predictions, self.latency_total = time.time(), 0, 0.0

    def market(self, symbol: str | None, source: str) -> tuple[str, Market]:
        name = self.default if symbol is None else _symbol(symbol)
        if name not in self.symbols:
            raise InputError(source, f"symbol {symbol!r} is not served (serves "
                             f"{', '.join(self.symbols)}; `--symbols` adds others)")  # fmt: skip
        return name, self.markets.setdefault(name, Market(Stream(self.bundle)))

    def predict(self, body: PredictIn) -> dict[str, Any]:
        start = time.perf_counter()
        _, market = self.market(body.symbol, "/predict")
        if body.price is not None:
            if body.volume is None:
                raise InputError("/predict", "volume: required with price")
            minute = minute_of(body.timestamp, int(self.clock() * 1000), "/predict")
            snap = Snapshot(body.price, body.volume, body.open, body.high, body.low)
            market.snapshot(minute, snap, body.close, "/predict")
        elif body.close or {body.volume, body.open, body.high, body.low} != {None}:
            raise InputError("/predict", "price: required with volume, open, high, low or close")
        row = market.stream.answer()
        latency = (time.perf_counter() - start) * 1000
        self.predictions += 1
        self.latency_total += latency
        return bot_answer(row, self.version, latency)

    def bars(self, body: BarsIn) -> dict[str, Any]:
        name, market = self.market(body.symbol, "/bars")
        market.bars(bars_from_json(body.bars, "/bars", body.columns), "/bars")
        return {"symbol": name, "accepted": len(body.bars), **self.held(market)}

    @staticmethod
    def held(market: Market) -> dict[str, Any]:
        last = market.stream.last_ms
        return {
            "bars": 0 if market.stream.bars is None else len(market.stream.bars),
            "last_bar": None if last is None else iso(last // MINUTE_MS),
            "forming": None if market.forming is None else iso(market.forming.minute),
        }

    def health(self) -> dict[str, Any]:
        spec = self.bundle.spec
        return {
            "status": "ok",
            "model_loaded": True,
            "model_version": self.version,
            "uptime_seconds": time.time() - self.started,
            "total_predictions": self.predictions,
            "avg_latency_ms": self.latency_total / max(self.predictions, 1),
            "bundle": str(self.bundle.path),
            "deployed": self.bundle.deployed,
            "decision": (spec["decision"] or {}).get("decision"),
            "history_bars": self.bundle.history,
            "symbols": {s: self.held(m) for s, m in self.markets.items()},
        }


def create_app(
    bundle: Bundle,
    *,
    symbols: list[str] = (),
    token: str | None = None,
    max_body: int = MAX_BODY,
    clock: Any = time.time,
) -> Any:
    """The ASGI app serving ``bundle`` (see the module docstring)."""
    disable_created_metrics()  # no *_created series: requests, errors and latency only
    service, metrics = Service(bundle, list(symbols), clock), Metrics()
    app = FastAPI(title="gafcnn", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    @app.exception_handler(InputError)
    async def bad_input(_: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 400)

    @app.exception_handler(RequestValidationError)
    async def bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, reason = _one_line(exc)
        return JSONResponse({"error": reason}, status)

    def held(symbol: str | None) -> None:
        name, market = service.market(symbol, "")
        bars = market.stream.bars
        metrics.bars.labels(name).set(0 if bars is None else len(bars))

    @app.post("/predict")
    async def predict(body: PredictIn) -> dict[str, Any]:
        out = service.predict(body)
        held(body.symbol)
        return out

    @app.post("/bars")
    async def bars(body: BarsIn) -> dict[str, Any]:
        out = service.bars(body)
        held(body.symbol)
        return out

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return service.health()

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Guard(app, token, max_body, metrics)
