"""Inputs beyond a symbol's own OHLCV, as feature columns at decision positions.

Order flow (:func:`flow_features`) needs the bars' trade count and taker-buy volume
(:data:`gafcnn.data.bars.FLOW`): the taker imbalance ``2 * taker_buy / volume - 1``
(+1: every trade a market buy), over the bar and the last 5 bars, its z-score over a
day of bars, and trades per bar (log) with its z-score.

Leaders (:func:`leader_features`): another symbol's lagged returns (and its order flow
when its bars carry it) as of each decision's bar time, never later: the leader's bar
with the same open time closes at the same instant as the decision's bar."""

from __future__ import annotations

import numpy as np

from gafcnn.data.bars import FLOW
from gafcnn.data.features import rolling

FLOW_FEATURES = ("taker_imbalance", "taker_imbalance_5", "taker_imbalance_z",
                 "trades_log", "trades_z")  # fmt: skip
LEADER_LAGS = (1, 5, 15, 60)
Z_BARS = 1440  # a day of 1-minute bars: the z-scores' trailing window


def has_flow(bars: dict[str, np.ndarray]) -> bool:
    """Whether the bars carry every order-flow column."""
    return all(k in bars for k in FLOW)


def _z(x: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
    mean, sd = rolling(x, n, "mean", positions), rolling(x, n, "std", positions)
    return (x[positions] - mean) / np.where(sd > 0, sd, np.nan)


def flow_features(bars: dict[str, np.ndarray], positions: np.ndarray,
                  z_bars: int = Z_BARS) -> np.ndarray:  # fmt: skip
    """``(len(positions), len(FLOW_FEATURES))``: the order flow at each bar position,
    from that bar and earlier ones only (NaN without enough history or volume)."""
    missing = [k for k in FLOW if k not in bars]
    if missing:
        raise ValueError(f"order-flow features need the bars' {', '.join(missing)}")
    p = np.asarray(positions, dtype=np.int64)
    v = np.asarray(bars["volume"], dtype=np.float64)
    tb = np.asarray(bars["taker_buy_base"], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        imb = np.where(v > 0, 2 * tb / v - 1, 0.0)
        cv, ctb = np.r_[0.0, np.cumsum(v)], np.r_[0.0, np.cumsum(tb)]
        lo = np.maximum(p - 4, 0)
        v5, tb5 = cv[p + 1] - cv[lo], ctb[p + 1] - ctb[lo]
        imb5 = np.where((v5 > 0) & (p >= 4), 2 * tb5 / v5 - 1, np.nan)
    trades = np.log1p(np.asarray(bars["trades"], dtype=np.float64))
    return np.column_stack([imb[p], imb5, _z(imb, p, z_bars), trades[p], _z(trades, p, z_bars)])


def leader_names(leader: str, flow: bool) -> list[str]:
    """Column names of one leader's features."""
    tag = leader.replace("/", "")
    names = [f"{tag}_ret_{lag}" for lag in LEADER_LAGS]
    return names + ([f"{tag}_{k}" for k in FLOW_FEATURES] if flow else [])


def leader_features(leader: dict[str, np.ndarray], leader_minutes: np.ndarray,
                    minutes: np.ndarray) -> np.ndarray:  # fmt: skip
    """The leader's lagged log returns (and order flow, when its bars carry it) at each
    of ``minutes`` (the decision bars' open times): read from the leader's bar with the
    same open time, NaN where the leader has no such bar or too little history."""
    lm = np.asarray(leader_minutes, dtype=np.int64)
    m = np.asarray(minutes, dtype=np.int64)
    j = np.searchsorted(lm, m)
    ok = j < len(lm)
    ok[ok] = lm[j[ok]] == m[ok]
    logc = np.log(np.asarray(leader["close"], dtype=np.float64))
    cols = []
    for lag in LEADER_LAGS:
        r = np.full(len(m), np.nan)
        # by time, not position: the leader's bar lag minutes earlier must exist too
        back = np.searchsorted(lm, m - lag)
        has = ok & (back < len(lm))
        has[has] = lm[back[has]] == m[has] - lag
        r[has] = logc[j[has]] - logc[back[has]]
        cols.append(r)
    out = np.column_stack(cols)
    if has_flow(leader):
        f = np.full((len(m), len(FLOW_FEATURES)), np.nan)
        f[ok] = flow_features(leader, j[ok])
        out = np.column_stack([out, f])
    return out
