"""Direction labels: one definition for every window size.

For a decision time t (the last bar of a window) the label is the direction of
``close[t+h] / close[t] - 1`` where ``t+h`` is the bar exactly ``h`` minutes later
(``h = label.horizon``, the same for 15, 30 and 60-bar windows). A dead zone
``[lo, hi]`` drops samples whose return is too small to call:

* ``none``: the band is ``[0, 0]`` - only exactly flat outcomes are dropped
  (real 1-minute data has runs of identical closes; calling them "down" would
  bias the labels);
* ``fixed``: ``[-threshold, +threshold]``;
* ``quantile``: the central ``quantile`` share of the *train* returns; the cut
  points are fitted on train only and applied unchanged to val and test.
"""

from __future__ import annotations

import numpy as np

from gafcnn.params import LabelSpec  # the label section's reader, used here and re-exported

UP, DOWN, DROPPED = 1, 0, -1


def forward_returns(close: np.ndarray, minutes: np.ndarray, horizon: int) -> np.ndarray:
    """``close[t+h]/close[t] - 1`` with t+h found by timestamp; NaN where that bar is missing."""
    close = np.asarray(close, dtype=np.float64)
    minutes = np.asarray(minutes, dtype=np.int64)
    target = minutes + horizon
    j = np.searchsorted(minutes, target)
    exists = j < len(minutes)
    exists[exists] = minutes[j[exists]] == target[exists]
    r = np.full(len(close), np.nan)
    r[exists] = close[j[exists]] / close[exists] - 1.0
    return r


def fit_dead_zone(spec: LabelSpec, train_returns: np.ndarray) -> tuple[float, float]:
    """The band of returns to drop, fitted on train returns only (quantile kind)."""
    if spec.dead_zone == "none":
        return 0.0, 0.0
    if spec.dead_zone == "fixed":
        return -spec.threshold, spec.threshold
    r = train_returns[np.isfinite(train_returns)]
    if len(r) == 0:
        raise ValueError("cannot fit a quantile dead zone: no train returns")
    q = spec.quantile
    lo, hi = np.quantile(r, [0.5 - q / 2, 0.5 + q / 2])
    return float(lo), float(hi)


def direction_labels(returns: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """1 above the band, 0 below it, -1 inside it or where the return is missing."""
    lo, hi = band
    y = np.full(len(returns), DROPPED, dtype=np.int8)
    finite = np.isfinite(returns)
    y[finite & (returns > hi)] = UP
    y[finite & (returns < lo)] = DOWN
    return y
