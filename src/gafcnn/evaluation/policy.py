"""The trading policy of a model: its threshold theta, chosen on validation only, and
what it does on test.

For each theta of ``evaluate.policy.thresholds`` the val segment is backtested with the
costs; the chosen theta earns the most net return per minute of the val period among
those with at least ``min_val_trades`` trades (theta 0, always in, when none has). The
test segment then trades at that theta, once.
"""

from __future__ import annotations

import math

import numpy as np

from gafcnn.evaluation.bootstrap import Resamples, bootstrap_indices, per_resample
from gafcnn.evaluation.selection_bias import reality_check
from gafcnn.params import PolicyParams
from gafcnn.trading.backtest import Backtest, backtest


def period(minutes: np.ndarray, horizon: int) -> float:
    """Minutes from the first decision to the last position's exit."""
    return float(minutes[-1] - minutes[0] + horizon) if len(minutes) else 0.0


def choose_theta(
    minutes: np.ndarray, p_up: np.ndarray, fwd: np.ndarray, horizon: int, cost_bps: float,
    spec: PolicyParams,
) -> tuple[float, list[dict]]:  # fmt: skip
    """The val-chosen theta and the val figures of every theta tried."""
    span = period(minutes, horizon)
    rows = []
    for theta in spec.thresholds:
        b = backtest(minutes, p_up, fwd, horizon, cost_bps, span, float(theta))
        per_min = float(b.net.sum() / span) if span > 0 else 0.0
        rows.append({"theta": float(theta), "trades": b.trades, "net_per_minute": per_min})
    eligible = [r for r in rows if r["trades"] >= spec.min_val_trades] or rows[:1]
    best = max(eligible, key=lambda r: (r["net_per_minute"], -r["theta"]))
    return best["theta"], rows


def trade_block(block_samples: int, minutes: np.ndarray, horizon: int) -> int:
    """Trades per bootstrap block: as many as span the samples' block length in time."""
    step = float(np.median(np.diff(minutes))) if len(minutes) > 1 else 1.0
    return max(1, math.ceil(block_samples * step / horizon))


def policy_row(b: Backtest, theta: float, block: int, reps: int, seed: int) -> dict:
    """A policy's test figures, win rate, mean net return and break-even cost with
    block-bootstrap percentile intervals over its trades (in order)."""
    row = {
        "theta": theta,
        "coverage": b.coverage,
        "trades": b.trades,
        "win_rate": b.win_rate,
        "win_rate_ci": [float("nan"), float("nan")],
        "mean_net_return": b.mean_net_return,
        "mean_net_return_ci": [float("nan"), float("nan")],
        "mean_net_return_se": float("nan"),
        "sharpe": b.sharpe,
        "max_drawdown": b.max_drawdown,
        "turnover_per_day": b.turnover_per_day,
        "break_even_bps": b.break_even_bps,
        "break_even_bps_ci": [float("nan"), float("nan")],
    }
    if b.trades > 1:
        idx = bootstrap_indices(b.trades, min(block, b.trades), reps, seed)
        wins = per_resample(idx, lambda r: (b.net[r] > 0).mean(axis=1))
        means = per_resample(idx, lambda r: b.net[r].mean(axis=1))
        row["win_rate_ci"] = [float(v) for v in np.percentile(wins, [2.5, 97.5])]
        row["mean_net_return_ci"] = [float(v) for v in np.percentile(means, [2.5, 97.5])]
        row["mean_net_return_se"] = float(np.std(means, ddof=1))
        gross = per_resample(idx, lambda r: b.gross[r].mean(axis=1)) / 2 * 1e4
        row["break_even_bps_ci"] = [float(v) for v in np.percentile(gross, [2.5, 97.5])]
    return row


# Shares of the most confident decisions traded, for the coverage curve.
COVERAGE_SHARES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def coverage_curve(
    minutes: np.ndarray, p_up: np.ndarray, fwd: np.ndarray, horizon: int, cost_bps: float,
    span: float,
) -> list[dict]:  # fmt: skip
    """Win rate and mean net return per trade when only the most confident share of
    decisions may trade (theta: that share's least confidence; 1.0 is always in)."""
    confidence = np.abs(np.asarray(p_up, dtype=np.float64) - 0.5)
    rows = []
    for share in COVERAGE_SHARES:
        theta = 0.0 if share >= 1 else float(np.quantile(confidence, 1 - share))
        b = backtest(minutes, p_up, fwd, horizon, cost_bps, span, theta)
        rows.append({"share": share, "theta": theta, "coverage": b.coverage,
                     "trades": b.trades, "win_rate": b.win_rate,
                     "mean_net_return": b.mean_net_return})  # fmt: skip
    return rows


def per_decision(minutes: np.ndarray, b: Backtest) -> np.ndarray:
    """A backtest's net return at each decision time that opens a trade, 0 elsewhere."""
    out = np.zeros(len(minutes))
    out[np.searchsorted(minutes, b.trade_times)] = b.net
    return out


def family_test(
    minutes: np.ndarray, probs: dict[str, np.ndarray], fwd: np.ndarray, horizon: int,
    cost_bps: float, span: float, thresholds: list[float], idx: Resamples,
) -> dict:  # fmt: skip
    """The selection-corrected test of every (model, theta) in ``probs`` x ``thresholds``
    on the test decisions (``idx``: block-bootstrap resamples of them): each candidate's
    family-wise p-value of beating flat after costs, and the best candidate's."""
    names, seen = [], []
    for name, p in probs.items():
        if any(np.array_equal(p, q) for q in seen):  # an alias (ensemble) is not a new try
            continue
        seen.append(p)
        names += [(name, float(theta)) for theta in thresholds]
    excess = np.empty((len(minutes), len(names)))  # filled in place: one copy, not two
    for j, (name, theta) in enumerate(names):
        b = backtest(minutes, probs[name], fwd, horizon, cost_bps, span, theta)
        excess[:, j] = per_decision(minutes, b)
    rc = reality_check(excess, idx, studentize=True)
    adjusted: dict[str, dict[str, float]] = {}
    for (name, theta), p in zip(names, rc.adjusted, strict=True):
        adjusted.setdefault(name, {})[f"{theta:g}"] = float(p)
    best_name, best_theta = names[rc.best]
    return {
        "method": "SPA (studentized reality check), net return per decision time vs flat",
        "candidates": len(names),
        "best": {
            "model": best_name,
            "theta": best_theta,
            "mean_net_per_decision": rc.best_mean,
        },  # fmt: skip
        "p_value": rc.p_value,
        "adjusted": adjusted,
    }


def family_p(test: dict, name: str, theta: float, aliases: dict[str, np.ndarray]) -> float:
    """``name``'s family-wise p-value at ``theta`` (an alias reads its source's)."""
    if name not in test["adjusted"]:
        name = next(n for n in test["adjusted"] if np.array_equal(aliases[n], aliases[name]))
    return test["adjusted"][name][f"{theta:g}"]
