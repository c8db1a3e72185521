"""Selection bias: how much of the best result is the luck of having tried many.

Three corrections for a winner picked from many candidates (models x experiments):

* :func:`reality_check` - White's (2000) Reality Check and Hansen's (2005) SPA test:
  is the *best* candidate's edge over a benchmark larger than the best of as many
  skill-less candidates would be? Paired moving-block bootstrap of every candidate
  at once, so correlated candidates (the same CNN with another learning rate) are
  not counted as independent tries.
* :func:`deflated_sharpe` - Bailey & Lopez de Prado (2014): the probability that the
  best backtest's Sharpe ratio exceeds the maximum Sharpe expected from ``trials``
  skill-less strategies, given its skew and kurtosis and the track record's length.
* :func:`pbo` - Bailey, Borwein, Lopez de Prado & Zhu (2015), combinatorially
  symmetric cross-validation: how often the in-sample best trial ranks in the
  bottom half out of sample.

Pure functions of arrays; stages and the grid report call them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from gafcnn.evaluation.bootstrap import Resamples, per_resample
from gafcnn.models.metrics import hits

EULER_GAMMA = 0.5772156649015329
_N = NormalDist()


@dataclass
class RealityCheck:
    p_value: float  # family-wise: of the best candidate, given all were tried
    best: int  # column of the best candidate
    best_mean: float  # its mean excess over the benchmark
    statistic: float  # sqrt(n) x best mean (RC) or the best t-statistic (SPA)
    adjusted: np.ndarray  # per candidate: family-wise p-value of its own statistic


def reality_check(
    excess: np.ndarray, idx: np.ndarray | Resamples, studentize: bool = False
) -> RealityCheck:
    """Family-wise p-value that the best of ``K`` candidates beats its benchmark.

    ``excess`` is ``(n, K)``: per sample, each candidate's performance minus the
    benchmark's (e.g. hit - majority-class hit, so its mean is accuracy minus the
    majority rate); ``idx`` is ``(B, n)`` bootstrap resamples of the rows
    (:func:`gafcnn.evaluation.bootstrap.bootstrap_indices`), shared by every candidate.

    ``studentize=False`` is White's Reality Check: ``V = max_k sqrt(n) mean_k`` against
    the bootstrap distribution of ``max_k sqrt(n) (mean*_k - mean_k)``.
    ``studentize=True`` is Hansen's SPA (consistent version): t-statistics, and
    candidates far below the benchmark are not recentred, so adding hopeless
    candidates does not dilute the test. ``p = (1 + #{V* >= V}) / (B + 1)``.

    ``adjusted`` holds each candidate's single-step family-wise p-value: its own
    statistic against the same maximum over all candidates, so any candidate with
    ``adjusted < alpha`` beats the benchmark with the family-wise error held at alpha
    (the best candidate's equals ``p_value``).
    """
    x = np.asarray(excess, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n, k = x.shape
    mean = x.mean(axis=0)
    boot = np.empty((idx.shape[0], k))
    for j in range(k):  # one candidate at a time: (B, n) floats, not (B, n, K)
        col = x[:, j]
        boot[:, j] = per_resample(idx, lambda rows, col=col: col[rows].mean(axis=1))
    if studentize:
        sd = np.sqrt(n) * boot.std(axis=0, ddof=1)  # bootstrap sd of sqrt(n) x mean
        sd = np.where(sd > 0, sd, np.inf)
        stat = np.sqrt(n) * mean / sd
        floor = -np.sqrt(2 * np.log(np.log(max(n, 3))))  # Hansen's threshold
        centre = np.where(stat >= floor, mean, 0.0)
        null = np.sqrt(n) * (boot - centre) / sd
    else:
        stat = np.sqrt(n) * mean
        null = np.sqrt(n) * (boot - mean)
    v = float(np.max(np.maximum(stat, 0.0)))
    v_star = np.max(np.maximum(null, 0.0), axis=1)
    best = int(np.argmax(stat))
    own = np.maximum(stat, 0.0)
    adjusted = (1 + np.sum(v_star[:, None] >= own[None, :], axis=0)) / (len(v_star) + 1)
    return RealityCheck(
        p_value=float((1 + np.sum(v_star >= v)) / (len(v_star) + 1)),
        best=best,
        best_mean=float(mean[best]),
        statistic=float(stat[best]),
        adjusted=adjusted.astype(np.float64),
    )


def expected_max_sharpe(trials: int, sharpe_variance: float) -> float:
    """The Sharpe ratio the best of ``trials`` skill-less strategies reaches by luck
    (false strategy theorem): ``sqrt(V) ((1 - g) Z(1 - 1/N) + g Z(1 - 1/(N e)))``."""
    if trials < 2:
        return 0.0
    z = _N.inv_cdf
    return math.sqrt(sharpe_variance) * (
        (1 - EULER_GAMMA) * z(1 - 1 / trials) + EULER_GAMMA * z(1 - 1 / (trials * math.e))
    )


def probabilistic_sharpe(
    sharpe: float, benchmark: float, n: int, skew: float, kurtosis: float
) -> float:
    """P(true Sharpe > ``benchmark``) given an observed per-period ``sharpe`` over ``n``
    returns with this ``skew`` and (non-excess) ``kurtosis``."""
    if n < 2:
        return float("nan")
    var = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if var <= 0:
        return float("nan")
    return _N.cdf((sharpe - benchmark) * math.sqrt(n - 1) / math.sqrt(var))


@dataclass
class DeflatedSharpe:
    dsr: float  # P(the best strategy's true Sharpe > what luck alone gives)
    sharpe: float  # observed, per trade
    expected_max_sharpe: float  # benchmark: best of `trials` skill-less strategies
    trials: int
    n: int
    skew: float
    kurtosis: float


def deflated_sharpe(
    returns: np.ndarray, trials: int, sharpe_variance: float | None = None
) -> DeflatedSharpe:
    """Deflated Sharpe ratio of the selected strategy's per-trade ``returns``.

    ``sharpe_variance`` is the variance of the per-trade Sharpe ratios across the
    trials; when None it is the sampling variance of one Sharpe estimate under no
    skill, ``1 / (n - 1)``, i.e. trials that differ only by luck.
    """
    r = np.asarray(returns, dtype=np.float64)
    n = len(r)
    sd = float(r.std(ddof=1)) if n > 1 else 0.0
    sr = float(r.mean() / sd) if sd > 0 else 0.0
    z = (r - r.mean()) / sd if sd > 0 else np.zeros(n)
    skew = float(np.mean(z**3)) if n else 0.0
    kurt = float(np.mean(z**4)) if n else 3.0
    v = sharpe_variance if sharpe_variance is not None else 1.0 / max(n - 1, 1)
    sr0 = expected_max_sharpe(trials, v)
    return DeflatedSharpe(
        dsr=probabilistic_sharpe(sr, sr0, n, skew, kurt),
        sharpe=sr,
        expected_max_sharpe=sr0,
        trials=int(trials),
        n=n,
        skew=skew,
        kurtosis=kurt,
    )


@dataclass
class Pbo:
    pbo: float  # share of splits whose in-sample best is below the median out of sample
    logits: np.ndarray  # one per combination: log(w / (1 - w)) of the OOS relative rank
    splits: int


def pbo(performance: np.ndarray, partitions: int = 8) -> Pbo:
    """Probability of backtest overfitting by combinatorially symmetric
    cross-validation.

    ``performance`` is ``(T, N)``: per period (e.g. a day or a block of trades) each of
    ``N`` trials' return. The periods are cut into ``partitions`` (even) contiguous
    groups; for every choice of half the groups as in-sample, the trial with the best
    in-sample mean is ranked out of sample among all trials (relative rank
    ``w = rank / (N + 1)``). PBO is the share of choices with ``w <= 1/2``: the
    in-sample winner doing no better than the median trial out of sample.
    """
    m = np.asarray(performance, dtype=np.float64)
    t, n = m.shape
    s = int(partitions)
    if s < 2 or s % 2 or s > t:
        raise ValueError(f"partitions must be even and between 2 and {t}, got {partitions}")
    if n < 2:
        raise ValueError("PBO needs at least two trials")
    groups = np.array_split(np.arange(t), s)
    logits = []
    for chosen in itertools.combinations(range(s), s // 2):
        is_rows = np.concatenate([groups[g] for g in chosen])
        oos_rows = np.concatenate([groups[g] for g in range(s) if g not in chosen])
        best = int(np.argmax(m[is_rows].mean(axis=0)))
        oos = m[oos_rows].mean(axis=0)
        rank = 1 + np.sum(oos < oos[best]) + 0.5 * (np.sum(oos == oos[best]) - 1)
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    arr = np.asarray(logits)
    return Pbo(pbo=float(np.mean(arr <= 0)), logits=arr, splits=len(arr))


# ---------------------------------------------------------------- one run's models


def excess_over_majority(y: np.ndarray, p_up: dict[str, np.ndarray]) -> np.ndarray:
    """``(n, K)``: per sample, each model's hit minus the hit of always predicting the
    test segment's majority class (its mean is accuracy minus the majority rate)."""
    y = np.asarray(y).astype(np.int64)
    majority = int(y.mean() >= 0.5)
    base = (y == majority).astype(np.float64)
    cols = [hits(y, p) - base for p in p_up.values()]
    return np.column_stack(cols)


def period_returns(
    trades: dict[str, tuple[np.ndarray, np.ndarray]], start: float, end: float, periods: int
) -> np.ndarray:
    """``(periods, K)``: each model's summed net trade return in ``periods`` equal time
    slices of ``[start, end)``; ``trades`` maps a model to (trade times, net returns)."""
    edges = np.linspace(start, end, periods + 1)
    out = np.zeros((periods, len(trades)))
    for j, (times, net) in enumerate(trades.values()):
        slot = np.clip(np.searchsorted(edges, np.asarray(times), side="right") - 1, 0, periods - 1)
        np.add.at(out[:, j], slot, np.asarray(net, dtype=np.float64))
    return out


def assess(
    y: np.ndarray,
    p_up: dict[str, np.ndarray],
    trades: dict[str, tuple[np.ndarray, np.ndarray]],
    idx: np.ndarray,
    span: tuple[float, float],
    trials: int = 1,
    partitions: int = 8,
) -> dict:
    """Selection-bias figures for models compared on one test segment.

    ``trials`` is how many experiments (configs) this comparison was picked from;
    the multiple-testing count is models x trials. The reality check covers the
    models seen here (a grid report covers every experiment's models at once).
    """
    names = list(p_up)
    excess = excess_over_majority(y, p_up)
    rc = reality_check(excess, idx)
    spa = reality_check(excess, idx, studentize=True)
    sharpes = {
        m: float(np.mean(n) / np.std(n, ddof=1)) if len(n) > 1 and np.std(n) > 0 else 0.0
        for m, (_, n) in trades.items()
    }
    best_bt = max(sharpes, key=lambda m: sharpes[m])
    count = len(names) * max(int(trials), 1)
    variance = float(np.var(list(sharpes.values()), ddof=1)) if len(sharpes) > 1 else None
    dsr = deflated_sharpe(trades[best_bt][1], count, variance)
    out = {
        "models": len(names),
        "trials": int(trials),
        "reality_check": {
            "best": names[rc.best],
            "excess_accuracy": rc.best_mean,
            "p_value": rc.p_value,
            "p_value_spa": spa.p_value,
        },
        "deflated_sharpe": {
            "best": best_bt,
            "sharpe_per_trade": dsr.sharpe,
            "expected_max_sharpe": dsr.expected_max_sharpe,
            "dsr": dsr.dsr,
            "trades": dsr.n,
            "skew": dsr.skew,
            "kurtosis": dsr.kurtosis,
        },
    }
    perf = period_returns(trades, span[0], span[1], partitions)
    out["pbo"] = {"pbo": pbo(perf, partitions).pbo, "partitions": partitions}
    return out
