"""The request bodies, the bot's answer and the one error shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gafcnn import clock
from gafcnn.serving.bundle import Bundle

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


def bot_answer(row: dict | None, bundle: Bundle, latency_ms: float) -> dict[str, Any]:
    """A decision (a `gafcnn predict` row, None before any bar) of ``bundle`` in the
    bot's ``PredictionResponse`` schema, with the row's ``action`` and ``reason``
    beside it: ``direction`` is the side of P(up) ("FLAT" when there is none),
    ``confidence`` = |P(up) - 0.5| x 2, ``should_trade`` whether the policy trades,
    ``top_features`` the deployed model's most informative inputs by gain (none for a
    model without per-input gain), ``recommended_size`` the size the bundle's volatility
    forecast gives (``predicted_vol``), whether or not the direction trades."""
    row = row or {"timestamp": None, "p_up": None, "action": "flat", "reason": "no closed bar yet"}
    p = row["p_up"]
    return {
        "direction": "FLAT" if p is None else ("LONG" if p >= 0.5 else "SHORT"),
        "confidence": 0.0 if p is None else abs(p - 0.5) * 2,
        "raw_probability": 0.5 if p is None else p,
        "should_trade": row["action"] != "flat",
        "recommended_size": row.get("recommended_size"),
        "model_version": bundle.version,
        "latency_ms": latency_ms,
        "timestamp": row["timestamp"] or clock.iso_ms(clock.now_ms()),
        "action": row["action"],
        "reason": row["reason"],
        "p_up": p,
        "predicted_vol": row.get("predicted_vol"),
        "top_features": bundle.top_features,
    }


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
