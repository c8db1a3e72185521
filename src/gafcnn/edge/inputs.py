"""Inputs beyond a symbol's own bars, as feature columns at decision positions (order
flow is :func:`gafcnn.data.features.flow_features`).

Leaders (:func:`leader_features`): another symbol's lagged returns (and its order flow
when its bars carry it) as of each decision's bar time, never later: the leader's bar
with the same open time closes at the same instant as the decision's bar."""

from __future__ import annotations

import numpy as np

from gafcnn.data.bars import FLOW
from gafcnn.data.features import FLOW_FEATURES, flow_features

LEADER_LAGS = (1, 5, 15, 60)


def has_flow(bars: dict[str, np.ndarray]) -> bool:
    """Whether the bars carry every order-flow column."""
    return all(k in bars for k in FLOW)


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
