"""The ASGI app: the routes over a :class:`~gafcnn.serving.http.service.Service`, the
error handlers that give every failure one shape, and the middleware around them."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from starlette.exceptions import HTTPException

from gafcnn.io import InputError
from gafcnn.serving.bundle import Bundle
from gafcnn.serving.http.metrics import Metrics
from gafcnn.serving.http.middleware import Gatekeeper
from gafcnn.serving.http.options import DEFAULTS, Options
from gafcnn.serving.http.schemas import BarsIn, PredictIn, Refused, _Body
from gafcnn.serving.http.service import Lanes, Service, reload_champions, watch_log
from gafcnn.serving.symbols import Served


def create_app(bundle: Bundle | Served, options: Options = DEFAULTS) -> Any:
    """The ASGI app serving ``bundle`` (for its own symbol and ``options.symbols``), or
    each symbol by its own bundle (a :class:`Served`; see :mod:`gafcnn.serving.http`);
    with ``options.watch`` (a versions store) each symbol's new champion is swapped in
    within ``reload_s`` seconds of its promotion; with ``options.log`` (the promotions
    log) the guards' changes are appended to it and read back at start, and an
    operator's breaker reset there is picked up within ``reload_s`` seconds."""
    disable_created_metrics()  # no *_created series: requests, errors and latency only
    served = bundle if isinstance(bundle, Served) else Served.one(bundle, list(options.symbols))
    service = Service(served, options)
    metrics, lanes = Metrics(), Lanes(service.symbols)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        tasks = []
        if options.watch is not None:
            tasks.append(reload_champions(service, lanes, metrics, options.watch,
                                          options.reload_s))  # fmt: skip
        if options.log is not None:
            tasks.append(watch_log(service, lanes, Path(options.log), options.reload_s))
        running = [asyncio.create_task(t) for t in tasks]
        yield
        for task in running:
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

    return Gatekeeper(app, options.token, options.max_body, metrics)
