"""One honest comparison: block-bootstrap intervals, a cost-aware backtest, and the
deployment decision.

Test samples come from overlapping windows and overlapping label horizons, so
neighbouring samples are not independent. Intervals and p-values therefore come
from a moving-block bootstrap whose block spans ``max(window) + horizon`` minutes
of decision times; every model is resampled with the same blocks (paired).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from gafcnn.registry import ORACLE

CHUNK_BYTES = 32 * 2**20  # index rows expanded at once: bounded, whatever the test length


def block_length(max_window: int, horizon: int, stride: int) -> int:
    """Samples per bootstrap block: enough decision times to span a window plus a horizon."""
    return max(1, math.ceil((max_window + horizon) / max(stride, 1)))


class Resamples:
    """``(reps, n)`` moving-block bootstrap resamples of ``range(n)`` (circular blocks),
    kept as block starts and expanded a chunk of resamples at a time, so memory does
    not grow with ``reps x n``. ``np.asarray`` gives the whole index matrix."""

    def __init__(self, n: int, block: int, reps: int, seed: int):
        rng = np.random.default_rng(seed)
        self.n, self.block = n, block
        self.starts = rng.integers(0, n, size=(reps, math.ceil(n / block)))

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.starts), self.n)

    def rows(self, a: int, b: int) -> np.ndarray:
        idx = (self.starts[a:b, :, None] + np.arange(self.block)[None, None, :]) % self.n
        return idx.reshape(b - a, -1)[:, : self.n].astype(np.int64)

    def chunks(self) -> Iterator[np.ndarray]:
        step = max(1, CHUNK_BYTES // (8 * max(self.n, 1)))
        for a in range(0, len(self.starts), step):
            yield self.rows(a, min(a + step, len(self.starts)))

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        whole = self.rows(0, len(self.starts))
        return whole if dtype is None else whole.astype(dtype)


def bootstrap_indices(n: int, block: int, reps: int, seed: int) -> Resamples:
    """``(reps, n)`` moving-block bootstrap resamples of ``range(n)`` (circular blocks)."""
    return Resamples(n, block, reps, seed)


def per_resample(idx: np.ndarray | Resamples, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` (a ``(r, n)`` index matrix -> one value per row) over every resample,
    a chunk of rows at a time for :class:`Resamples`."""
    if isinstance(idx, Resamples):
        return np.concatenate([fn(rows) for rows in idx.chunks()])
    return fn(np.asarray(idx))


def _balanced(hit: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    pos = (y == 1)[idx]
    h = hit[idx]
    n_pos = pos.sum(axis=1)
    n_neg = idx.shape[1] - n_pos
    tpr = (h & pos).sum(axis=1) / np.maximum(n_pos, 1)
    tnr = (h & ~pos).sum(axis=1) / np.maximum(n_neg, 1)
    return (tpr + tnr) / 2


@dataclass
class BootstrapResult:
    accuracy_ci: tuple[float, float]
    balanced_accuracy_ci: tuple[float, float]
    p_value_vs_majority: float


def bootstrap(
    y: np.ndarray, pred: np.ndarray, idx: np.ndarray | Resamples, confidence: float = 0.95
) -> BootstrapResult:
    """Percentile intervals for accuracy and balanced accuracy, and the one-sided
    p-value of ``accuracy <= majority rate`` (paired on the same resamples)."""
    y = np.asarray(y).astype(np.int64)
    hit = np.asarray(pred).astype(np.int64) == y
    acc = per_resample(idx, lambda rows: hit[rows].mean(axis=1))
    bal = per_resample(idx, lambda rows: _balanced(hit, y, rows))
    up = per_resample(idx, lambda rows: (y == 1)[rows].mean(axis=1))
    majority = np.maximum(up, 1 - up)
    a = (1 - confidence) / 2
    p = (1 + np.sum(acc - majority <= 0)) / (len(acc) + 1)
    return BootstrapResult(
        accuracy_ci=(float(np.quantile(acc, a)), float(np.quantile(acc, 1 - a))),
        balanced_accuracy_ci=(float(np.quantile(bal, a)), float(np.quantile(bal, 1 - a))),
        p_value_vs_majority=float(p),
    )


# ---------------------------------------------------------------- backtest


@dataclass
class Backtest:
    trades: int
    win_rate: float
    mean_net_return: float
    sharpe: float
    max_drawdown: float
    exposure: float
    equity: np.ndarray  # compounded equity after each trade
    trade_times: np.ndarray  # decision minute of each trade
    net: np.ndarray  # net return of each trade, after fees


def backtest(
    minutes: np.ndarray,
    p_up: np.ndarray,
    forward_return: np.ndarray,
    horizon: int,
    fee_bps: float,
    period_minutes: float,
) -> Backtest:
    """Long when ``p_up >= 0.5``, short otherwise, at each decision time while no
    position is open; each position is held ``horizon`` minutes (non-overlapping) and
    pays ``fee_bps`` per side. ``forward_return`` is ``close[t+h]/close[t] - 1``.

    Win rate is the share of trades whose *net* return is positive - not accuracy.
    Sharpe is annualised from the trades per year of the test period.
    """
    minutes = np.asarray(minutes)
    taken, free_at = [], -np.inf
    for i, t in enumerate(minutes):
        if t >= free_at:
            taken.append(i)
            free_at = t + horizon
    taken = np.asarray(taken, dtype=np.int64)
    side = np.where(np.asarray(p_up)[taken] >= 0.5, 1.0, -1.0)
    net = side * np.asarray(forward_return)[taken] - 2 * fee_bps / 1e4
    equity = np.cumprod(1 + net)
    peak = np.maximum.accumulate(np.r_[1.0, equity])
    drawdown = float(np.max(1 - np.r_[1.0, equity] / peak)) if len(net) else 0.0
    years = period_minutes / (365 * 24 * 60)
    per_year = len(net) / years if years > 0 else 0.0
    sd = float(net.std(ddof=1)) if len(net) > 1 else 0.0
    return Backtest(
        trades=len(net),
        win_rate=float(np.mean(net > 0)) if len(net) else float("nan"),
        mean_net_return=float(net.mean()) if len(net) else float("nan"),
        sharpe=float(net.mean() / sd * math.sqrt(per_year)) if sd > 0 else 0.0,
        max_drawdown=drawdown,
        exposure=float(len(net) * horizon / period_minutes) if period_minutes > 0 else 0.0,
        equity=equity,
        trade_times=minutes[taken],
        net=net,
    )


# ---------------------------------------------------------------- decision


def decide(
    table: dict[str, dict],
    ensemble: str,
    phase1: str,
    hybrid: str,
    audit_passed: bool,
    out_of_sample: bool,
    inference_ms_p99: float,
    memory_mb: float,
    net_return: dict[str, float] | None = None,
    alpha: float = 0.05,
    require_profit: bool = True,
    trials: int = 1,
) -> dict:
    """The guide's deployment rules applied to measured numbers, under two rules above
    them: if no model's accuracy interval lies above the majority rate, deploy nothing;
    with ``require_profit``, never deploy a model that loses money after costs.

    ``table`` maps model name to a row with ``accuracy``, ``majority_rate`` and
    ``accuracy_ci``; the oracle row, if present, is ignored. ``net_return`` is the mean
    net return per backtest trade by model. The guide's accuracy rule picks the phase 2
    ensemble (> 70%), the hybrid (60-70%) or Phase 1 (< 60%); when its pick loses money
    and ``require_profit`` is set, the next simpler candidate (hybrid, then Phase 1)
    that shows skill and pays its costs is deployed, else nothing. What the accuracy
    rule alone would have chosen is recorded as ``guide_rule``.

    ``trials`` is how many experiments (configs) this run was picked from: a winner
    of a grid must clear the bar corrected for every model of every experiment.
    """
    candidates = {m: r for m, r in table.items() if m != ORACLE}
    trials = max(int(trials), 1)
    k = len(candidates) * trials
    compared = f"{len(candidates)} models" + (f" x {trials} experiments" if trials > 1 else "")
    # Many models are compared at once: a model only counts as beating the majority
    # rate when its interval clears it *and* its Bonferroni-adjusted p-value < alpha.
    beating = sorted(
        m
        for m, r in candidates.items()
        if r["accuracy_ci"][0] > r["majority_rate"]
        and min(1.0, r.get("p_value_vs_majority", 0.0) * k) < alpha
    )
    ens_acc = table[ensemble]["accuracy"]
    names = {
        ensemble: "deploy phase 2 ensemble",
        hybrid: "deploy hybrid",
        phase1: "deploy phase 1 only",
    }
    reasons = []
    if not beating:
        decision = "deploy nothing"
        reasons.append(
            "no model's accuracy interval lies above the majority rate with a "
            f"family-wise p-value below {alpha} ({compared} compared): "
            "nothing shows skill on the test segment"
        )
    elif ens_acc > 0.70:
        decision = names[ensemble]
        reasons.append(f"ensemble accuracy {ens_acc:.3f} > 0.70")
    elif ens_acc >= 0.60:
        decision = names[hybrid]
        reasons.append(f"ensemble accuracy {ens_acc:.3f} within 0.60-0.70")
    else:
        decision = names[phase1]
        reasons.append(f"ensemble accuracy {ens_acc:.3f} < 0.60")
    if beating:
        reasons.append(f"models whose interval clears the majority rate: {', '.join(beating)}")
    checklist = {
        "ensemble_above_70pct": bool(ens_acc > 0.70),
        "outperforms_phase1": bool(ens_acc > table[phase1]["accuracy"]),
        "tested_out_of_sample": bool(out_of_sample),
        "no_leakage": bool(audit_passed),
        "inference_under_100ms": bool(inference_ms_p99 < 100),
        "memory_under_2gb": bool(memory_mb < 2048),
    }
    if not audit_passed:
        decision = "deploy nothing"
        reasons.insert(0, "the audit failed: results cannot be trusted")
    by_name = {v: m for m, v in names.items()}
    guide = {"decision": decision, "model": by_name.get(decision)}
    deployed = guide["model"]
    if deployed is not None and net_return is not None and net_return[deployed] <= 0:
        loss = (
            f"{deployed} loses money after costs in the backtest "
            f"(mean net return per trade {net_return[deployed]:+.5f})"
        )
        if not require_profit:
            reasons.append(f"warning: {loss}")
        else:
            order = [ensemble, hybrid, phase1]
            simpler = order[order.index(deployed) + 1 :]
            paying = [m for m in simpler if m in beating and net_return[m] > 0]
            if paying:
                deployed = paying[0]
                decision = names[deployed]
                reasons.append(
                    f"cost gate: {loss}; {deployed} shows skill and pays its costs "
                    f"({net_return[deployed]:+.5f} per trade), so it is deployed instead"
                )
            else:
                deployed, decision = None, "deploy nothing"
                reasons.append(
                    f"cost gate (evaluate.require_profit): {loss}, and no simpler model "
                    "that shows skill pays its costs: nothing is deployed "
                    f"(the accuracy rule alone would {guide['decision']})"
                )
    profitable = None
    if net_return is not None and deployed is not None:
        profitable = bool(net_return[deployed] > 0)
    return {
        "decision": decision,
        "reasons": reasons,
        "checklist": checklist,
        "checklist_passed": all(checklist.values()),
        "deployed_model": deployed,
        "profitable_after_costs": profitable,
        "require_profit": bool(require_profit),
        "trials": trials,
        "guide_rule": guide,
        "ensemble_accuracy": ens_acc,
        "phase1_accuracy": table[phase1]["accuracy"],
        "hybrid_accuracy": table[hybrid]["accuracy"],
    }
