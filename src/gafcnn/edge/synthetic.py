"""Markets that plant one signal the new inputs can see and a symbol's own bars cannot,
with its strength a knob (0: nothing to find). Each returns bar frames in ``ingest``'s
layout, 1-minute bars from ``START``.

* :func:`order_flow_market`: the taker imbalance of a bar moves the next bar's price;
  the imbalance is independent from bar to bar, so past prices say nothing of it.
* :func:`lead_lag_markets`: a follower's returns repeat a leader's ``lag`` bars later.
* :func:`cross_section_markets`: every symbol's return is a large common market move
  plus its own part, which reverses by ``strength`` relative to the universe's mean
  the next bar: the ranking is predictable, each symbol's direction nearly not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import clock

START = "2024-01-01T00:00:00Z"


def bars_frame(logret: np.ndarray, rng: np.random.Generator, sigma: float,
               flow: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:  # fmt: skip
    """Bars whose closes follow ``logret`` from 100 (open: the previous close; high and
    low a half-normal ``sigma / 4`` beyond them), lognormal volume, and, with ``flow``
    (trades, taker imbalance in [-1, 1]), the order-flow columns."""
    n = len(logret)
    close = 100.0 * np.exp(np.cumsum(logret))
    open_ = np.r_[100.0, close[:-1]]
    wick = np.abs(rng.normal(0, sigma / 4, (2, n)))
    volume = np.exp(rng.normal(2.0, 0.5, n))
    start = clock.parse_minute(START, "gafcnn.edge.synthetic")
    frame = pd.DataFrame({
        "timestamp": clock.datetimes_of_minutes(start + np.arange(n)),
        "open": open_, "high": np.maximum(open_, close) * np.exp(wick[0]),
        "low": np.minimum(open_, close) * np.exp(-wick[1]), "close": close,
        "volume": volume, "filled": np.zeros(n, dtype=bool),
    })  # fmt: skip
    if flow is not None:
        trades, imbalance = flow
        frame["trades"] = trades.astype(np.float64)
        frame["taker_buy_base"] = volume * (imbalance + 1) / 2
    return frame


def order_flow_market(n: int, strength: float, seed: int = 0, sigma: float = 0.002) -> pd.DataFrame:
    """One symbol whose bar ``t+1`` return is ``strength * sigma * imbalance[t]`` plus
    noise of ``sigma``."""
    rng = np.random.default_rng(seed)
    imbalance = rng.uniform(-0.9, 0.9, n)
    r = sigma * rng.standard_normal(n)
    r[1:] += strength * sigma * imbalance[:-1]
    return bars_frame(r, rng, sigma, (rng.poisson(50, n), imbalance))


def lead_lag_markets(n: int, strength: float, lag: int = 2, seed: int = 0,
                     sigma: float = 0.002) -> dict[str, pd.DataFrame]:  # fmt: skip
    """``LEAD/USDT`` and ``FOLLOW/USDT``: the follower's return at ``t`` is ``strength``
    times the leader's at ``t - lag`` plus its own noise of ``sigma``."""
    rng = np.random.default_rng(seed)
    lead = sigma * rng.standard_normal(n)
    follow = sigma * rng.standard_normal(n)
    follow[lag:] += strength * lead[:-lag]
    return {"LEAD/USDT": bars_frame(lead, rng, sigma),
            "FOLLOW/USDT": bars_frame(follow, rng, sigma)}  # fmt: skip


def cross_section_markets(
    symbols: int, n: int, strength: float, seed: int = 0, sigma: float = 0.002,
    market: float = 5.0,
) -> dict[str, pd.DataFrame]:  # fmt: skip
    """``symbols`` symbols ``S0/USDT``...: a common move of ``market * sigma`` per bar
    plus each one's own part ``u``, with ``u[t] = -strength * (u[t-1] - mean u[t-1]) +
    sigma * noise``."""
    rng = np.random.default_rng(seed)
    common = market * sigma * rng.standard_normal(n)
    u = sigma * rng.standard_normal((n, symbols))
    for t in range(1, n):
        u[t] -= strength * (u[t - 1] - u[t - 1].mean())
    return {f"S{i}/USDT": bars_frame(common + u[:, i], rng, sigma) for i in range(symbols)}
