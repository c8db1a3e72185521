"""ASGI middleware: the bearer token, the body size limit and per-request metrics."""

from __future__ import annotations

import hmac
import sys
import time
from typing import Any

from fastapi.responses import JSONResponse

from gafcnn.serving.http.metrics import Metrics

PATHS = ("/bars", "/predict", "/health", "/metrics")


class Gatekeeper:
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
