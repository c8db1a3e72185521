"""What sizing by a volatility forecast does to a strategy: the same holding periods
traded unsized and sized, at the same average exposure, so that any difference comes
from when the size is large or small, not from how large it is on average.

A strategy is a sequence of holding periods (entry and exit bar, side, gross return).
Unsized, every period holds the sized strategy's mean size; sized, period t holds
``recommended_size`` at its entry. Figures per period return: the net return (sum),
Sharpe ratio (annualised by the periods per year the test held), maximum drawdown of
the cumulative net return, the worst 1% of periods, and the liquidation proxy: the
share of periods in which the position, scaled to an average leverage of
``max_leverage``, lost its margin (adverse excursion x leverage >= 1) before its exit.
Sized minus unsized, each with a paired moving-block bootstrap interval.
"""

from __future__ import annotations

import math

import numpy as np

from gafcnn.evaluation.bootstrap import bootstrap_indices, optimal_block, per_resample

MINUTES_PER_YEAR = 525_960
FIGURES = ("net", "sharpe", "max_drawdown", "worst_1pct", "liquidations")
# resampled indices per chunk of the figures: they make about ten temporaries that size
FIGURES_CHUNK_BYTES = 4 * 2**20


def always_long(minutes: np.ndarray, decisions: np.ndarray,
                horizon: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Always long, rebalanced every ``horizon`` minutes: the decision positions whose
    minute is a multiple of ``horizon``, each held to the bar ``horizon`` minutes later
    (left out where that bar is missing); (entry, exit) bar positions. Costs on
    turnover: :func:`turnover_costs`."""
    m = minutes[decisions]
    entry = decisions[m % horizon == 0]
    want = minutes[entry] + horizon
    exit_ = np.searchsorted(minutes, want)
    ok = (exit_ < len(minutes)) & (minutes[np.minimum(exit_, len(minutes) - 1)] == want)
    return entry[ok], exit_[ok]


def turnover_costs(entry: np.ndarray, exit_: np.ndarray, size: np.ndarray,
                   cost_per_side: float) -> np.ndarray:  # fmt: skip
    """Each period's cost of a position held across consecutive periods: the change of
    size at its entry (the whole size after a break), and its exit when the next period
    does not start where it ends."""
    prev_exit = np.r_[-1, exit_[:-1]]
    joined = entry == prev_exit
    prev_size = np.r_[0.0, size[:-1]]
    opening = np.where(joined, np.abs(size - prev_size), size)
    closing = np.where(np.r_[entry[1:] == exit_[:-1], False], 0.0, size)
    return cost_per_side * (opening + closing)


def adverse_excursion(close: np.ndarray, low: np.ndarray, high: np.ndarray, entry: np.ndarray,
                      exit_: np.ndarray, side: np.ndarray) -> np.ndarray:  # fmt: skip
    """Per period, the worst loss a position of size 1 saw between entry and exit: for a
    long ``1 - min(low) / entry close``, for a short ``max(high) / entry close - 1``."""
    out = np.empty(len(entry))
    for k, (a, b) in enumerate(zip(entry, exit_, strict=True)):
        lo, hi = low[a + 1 : b + 1].min(), high[a + 1 : b + 1].max()
        out[k] = 1 - lo / close[a] if side[k] >= 0 else hi / close[a] - 1
    return np.maximum(out, 0.0)


def _figures(r: np.ndarray, liquidated: np.ndarray, per_year: float) -> np.ndarray:
    """``(rows, 5)`` figures of ``(rows, n)`` per-period returns (see :data:`FIGURES`)."""
    equity = np.cumsum(r, axis=1)
    peak = np.maximum.accumulate(np.maximum(equity, 0.0), axis=1)
    sd = r.std(axis=1, ddof=1)
    sharpe = np.where(sd > 0, r.mean(axis=1) / np.where(sd > 0, sd, 1) * math.sqrt(per_year), 0.0)
    return np.column_stack([r.sum(axis=1), sharpe, (peak - equity).max(axis=1),
                            np.quantile(r, 0.01, axis=1), liquidated.mean(axis=1)])  # fmt: skip


def compare(gross: np.ndarray, excursion: np.ndarray, size: np.ndarray, costs_sized: np.ndarray,
            costs_unsized: np.ndarray, span_minutes: float, max_leverage: float, reps: int,
            seed: int) -> dict:  # fmt: skip
    """Unsized and sized figures of periods with side-signed ``gross`` returns and
    adverse ``excursion`` at size 1, and their paired differences with 95% intervals.
    ``costs_*``: each period's cost at that sizing; ``span_minutes``: the minutes the
    periods were drawn from (for the annualisation)."""
    n = len(gross)
    if n < 10:
        raise ValueError(f"{n} holding periods: too few to compare sizing")
    mean_size = float(size.mean())
    unsized = mean_size * gross - costs_unsized
    sized = size * gross - costs_sized
    lev_u = np.full(n, max_leverage)
    lev_s = max_leverage * size / mean_size
    liq_u, liq_s = lev_u * excursion >= 1, lev_s * excursion >= 1
    per_year = n * MINUTES_PER_YEAR / max(span_minutes, 1.0)
    point_u = _figures(unsized[None], liq_u[None], per_year)[0]
    point_s = _figures(sized[None], liq_s[None], per_year)[0]
    block = optimal_block(np.abs(unsized))
    idx = bootstrap_indices(n, block, reps, seed)
    diffs = per_resample(idx, lambda rows: _figures(sized[rows], liq_s[rows], per_year)
                         - _figures(unsized[rows], liq_u[rows], per_year),
                         FIGURES_CHUNK_BYTES)  # fmt: skip
    out: dict = {"periods": n, "mean_size": mean_size, "block": block,
                 "unsized": dict(zip(FIGURES, map(float, point_u), strict=True)),
                 "sized": dict(zip(FIGURES, map(float, point_s), strict=True)),
                 "difference": {}}  # fmt: skip
    for j, name in enumerate(FIGURES):
        d = diffs[:, j]
        out["difference"][name] = {"value": float(point_s[j] - point_u[j]),
                                   "ci": [float(np.quantile(d, 0.025)),
                                          float(np.quantile(d, 0.975))]}  # fmt: skip
    diff = out["difference"]
    out["lowers_drawdown"] = diff["max_drawdown"]["ci"][1] < 0
    out["lowers_liquidations"] = diff["liquidations"]["ci"][1] < 0
    return out
