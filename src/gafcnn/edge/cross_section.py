"""The cross-section: which symbols will do better than the others, not whether any
goes up.

At each decision time every symbol's next-``h``-bar return is ranked across the
universe (the ranked label). Each model scores every symbol from its own bars, its
inputs ranked across the symbols at the same time:

* ``xgb_rank``: XGBoost regression of the ranked label on the ranked indicators;
* ``trend``: the ranked return over the last ``h`` bars, its sign fitted on train
  (negative: reversal), the one-parameter benchmark.

On the test decisions, spaced ``h`` bars apart so that no two outcomes overlap, each
model's rank IC (Spearman correlation of score and return across symbols) is averaged
with its t-statistic, and a market-neutral long-short portfolio (the top tercile long,
the bottom short, equal weights, rebalanced every ``h`` bars) is traded net of costs on
its turnover, with a moving-block bootstrap interval of its mean net return. It
deploys only when that mean is positive and its p-value, times the trials (models x
horizons), is below ``evaluate.alpha``.

Refits: once on ``split``'s train/val (``refit="none"``), or each calendar year tested
by a model fitted on every earlier bar (``refit="yearly"``, walk-forward; val is the
last ``split.val`` share of that history, for early stopping and the trend's sign)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from gafcnn import clock
from gafcnn.data.bars import bar_arrays, minute_index
from gafcnn.data.features import indicators
from gafcnn.data.labels import forward_returns
from gafcnn.evaluation.bootstrap import bootstrap_indices, per_resample
from gafcnn.evaluation.power import detectable_edge
from gafcnn.models.boosting import xgb_regressor
from gafcnn.params import Params

MODELS = ("xgb_rank", "trend")
MIN_SYMBOLS = 3
MIN_PERIODS = 10  # test rebalances below which nothing is judged
MINUTES_PER_YEAR = 525_960  # 365.25 days: the Sharpe ratio's annualisation


@dataclass
class Panel:
    """The universe on its common bar times: ``close`` and ranked ``features`` per
    (time, symbol), with each symbol's forward returns computed on its own bars."""

    symbols: list[str]
    minutes: np.ndarray  # common bar open times (minutes since the epoch)
    close: np.ndarray  # (T, N)
    features: np.ndarray  # (T, N, F): ranked across symbols at each time, in [-0.5, 0.5]
    interval: int  # minutes per bar

    @classmethod
    def of(cls, frames: dict[str, pd.DataFrame], interval: int = 1) -> Panel:
        """From each symbol's bar frame (``ingest``'s layout): cut to the times every
        symbol has a bar."""
        arrays = {s: bar_arrays(f) for s, f in frames.items()}
        return cls.of_arrays(arrays, {s: minute_index(f) for s, f in frames.items()}, interval)

    @classmethod
    def of_arrays(cls, bars: dict[str, dict[str, np.ndarray]], minutes: dict[str, np.ndarray],
                  interval: int = 1) -> Panel:  # fmt: skip
        """From each symbol's OHLCV arrays and bar minutes, cut to the times every
        symbol has a bar; each symbol's indicators computed on its own bars."""
        if len(bars) < MIN_SYMBOLS:
            raise ValueError(f"a cross-section needs {MIN_SYMBOLS}+ symbols, got {len(bars)}")
        symbols = sorted(bars)
        common = minutes[symbols[0]]
        for s in symbols[1:]:
            common = np.intersect1d(common, minutes[s])
        if len(common) < 2:
            raise ValueError(f"the symbols share {len(common)} bar times")
        close, feats = [], []
        for s in symbols:
            pos = np.searchsorted(minutes[s], common)
            close.append(bars[s]["close"][pos])
            feats.append(indicators(bars[s], minutes[s], pos))
        return cls(symbols, common, np.column_stack(close), ranked(np.stack(feats, axis=1)),
                   interval)  # fmt: skip

    def forward(self, h: int) -> np.ndarray:
        """(T, N) return over the next ``h`` bars, found by time (NaN across a gap)."""
        return np.column_stack([forward_returns(self.close[:, j], self.minutes, h * self.interval)
                                for j in range(len(self.symbols))])  # fmt: skip

    def backward(self, h: int) -> np.ndarray:
        """(T, N) log return over the last ``h`` bars, found by time (NaN across a gap)."""
        then = self.minutes - h * self.interval
        back = np.searchsorted(self.minutes, then)
        ok = self.minutes[np.minimum(back, len(self.minutes) - 1)] == then
        out = np.full(self.close.shape, np.nan)
        out[ok] = np.log(self.close[ok] / self.close[back[ok]])
        return out


def ranked(x: np.ndarray) -> np.ndarray:
    """Rank ``x`` (T, N[, F]) across axis 1 at each time, scaled to [-0.5, 0.5] (ties
    averaged, NaN kept NaN and left out of the ranks)."""
    r = rankdata(np.where(np.isnan(x), np.inf, x), axis=1)
    n = np.sum(~np.isnan(x), axis=1, keepdims=True)
    out = (r - 1) / np.maximum(n - 1, 1) - 0.5
    return np.where(np.isnan(x), np.nan, out)


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, the Spearman correlation of ``a`` and ``b`` across columns."""
    ra, rb = ranked(a), ranked(b)
    ra, rb = ra - ra.mean(axis=1, keepdims=True), rb - rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    return np.where(den > 0, (ra * rb).sum(axis=1) / np.where(den > 0, den, 1), np.nan)


@dataclass
class Fold:
    """Bar positions (of the panel's common times) fitted, validated and tested."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def folds(panel: Panel, params: Params, h: int, refit: str) -> list[Fold]:
    """The fits of one horizon: ``split``'s fractions once, or one per calendar year
    after the first (each fitted on every bar before it). Each segment ends ``h``
    bars before the next begins, so no label reads into what follows."""
    n, spec = len(panel.minutes), params.split
    if refit == "none":
        n_train, n_val = round(n * spec.train), round(n * spec.val)
        bounds = [(0, n_train - h, n_train, n_train + n_val - h, n_train + n_val, n, "split")]
    elif refit == "yearly":
        years = pd.DatetimeIndex(clock.datetimes_of_minutes(panel.minutes)).year.to_numpy()
        bounds = []
        for y in np.unique(years)[1:]:
            start, stop = np.searchsorted(years, [y, y + 1])
            val_len = round(start * spec.val)
            bounds.append((0, start - val_len - h, start - val_len, start - h, start, stop, str(y)))
    else:
        raise ValueError(f"refit must be none or yearly, got {refit!r}")
    out = []
    for a, b, c, d, e, f, name in bounds:
        if b <= a or d <= c or f <= e:
            raise ValueError(f"{name}: too few bars for a {h}-bar horizon's train, val and test")
        out.append(Fold(name, np.arange(a, b), np.arange(c, d), np.arange(e, f)))
    return out


def ranges_fold(panel: Panel, ranges: dict[str, list[list[str]]], h: int) -> Fold:
    """The fold of ``split.ranges`` (ISO-minute ``[start, stop)`` pairs per segment, a
    universe's common ranges): a bar belongs to a segment when it and the bar ``h``
    bars of time later both lie in one of its ranges (no label reads past its range)."""
    later = panel.minutes + h * panel.interval

    def inside(name: str) -> np.ndarray:
        keep = np.zeros(len(panel.minutes), dtype=bool)
        for a, b in ranges[name]:
            lo, hi = (clock.parse_minute(v, "split", name) for v in (a, b))
            keep |= (panel.minutes >= lo) & (later < hi)
        return np.flatnonzero(keep)

    fold = Fold("ranges", inside("train"), inside("val"), inside("test"))
    for name in ("train", "val", "test"):
        if not len(getattr(fold, name)):
            raise ValueError(f"no common bars in {name} for a {h}-bar horizon")
    return fold


def scores(panel: Panel, params: Params, fold: Fold, h: int, fwd: np.ndarray,
           threads: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Each model's (T_test, N) scores of the fold's test bars."""
    past = ranked(panel.backward(h))
    x = np.concatenate([panel.features, past[:, :, None]], axis=2)
    y = ranked(fwd)

    def rows(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = x[pos].reshape(-1, x.shape[2]), y[pos].reshape(-1)
        ok = np.isfinite(ys)
        return xs[ok], ys[ok]

    model = xgb_regressor(params.xgb, params.seed, threads)
    (xt, yt), (xv, yv) = rows(fold.train), rows(fold.val)
    model.fit(xt, yt, eval_set=[(xv, yv)], verbose=False)
    test = x[fold.test]
    pred = model.predict(test.reshape(-1, x.shape[2])).reshape(test.shape[:2])
    sign = np.sign(np.nanmean(spearman_rows(past[fold.val], fwd[fold.val]))) or 1.0
    return {"xgb_rank": pred, "trend": sign * past[fold.test]}


def spaced(minutes: np.ndarray, step: int) -> np.ndarray:
    """Indices of ``minutes`` (sorted) at least ``step`` minutes apart: the first, then
    each next one ``step`` or more minutes after the last kept (outcomes that do not
    overlap)."""
    keep, next_at = [], None
    for i, m in enumerate(np.asarray(minutes, dtype=np.int64)):
        if next_at is None or m >= next_at:
            keep.append(i)
            next_at = m + step
    return np.asarray(keep, dtype=np.int64)


def judge_scores(scores: dict[str, np.ndarray], fwd: np.ndarray, params: Params, trials: int,
                 per_year: float) -> dict[str, dict]:  # fmt: skip
    """Each model's (T, N) scores at the rebalances against the (T, N) returns that
    follow: rows where a score or a return is missing are left out (per model)."""
    cost, out = params.evaluate.costs.per_side_bps, {}
    for m, sc in scores.items():
        ok = np.isfinite(sc).all(axis=1) & np.isfinite(fwd).all(axis=1)
        sc_, f = sc[ok], fwd[ok]
        out[m] = judge(spearman_rows(sc_, f), long_short(sc_, f, cost), params, trials, per_year)
    return out


def long_short(score: np.ndarray, fwd: np.ndarray, cost_bps: float) -> dict[str, np.ndarray]:
    """Per rebalance: the top tercile long and the bottom short, equal weights per side,
    the gross return, the turnover (sum of weight changes), the net after costs, and
    the rank spread (the long side's mean rank of return minus the short side's, on
    the [-0.5, 0.5] scale: what the ranking earns before the returns' sizes)."""
    t, n = score.shape
    k = max(1, n // 3)
    order = np.argsort(score, axis=1, kind="stable")
    w = np.zeros((t, n))
    rows = np.arange(t)[:, None]
    w[rows, order[:, -k:]] = 1.0 / k
    w[rows, order[:, :k]] = -1.0 / k
    gross = (w * fwd).sum(axis=1)
    turnover = np.abs(np.diff(np.vstack([np.zeros((1, n)), w]), axis=0)).sum(axis=1)
    spread = (w * ranked(fwd)).sum(axis=1)
    return {"gross": gross, "turnover": turnover, "net": gross - turnover * cost_bps / 1e4,
            "rank_spread": spread}  # fmt: skip


def judge(ic: np.ndarray, ls: dict[str, np.ndarray], params: Params, trials: int,
          per_year: float) -> dict:  # fmt: skip
    """One model at one horizon: mean rank IC with its t-statistic, and the long-short's
    mean net return per rebalance with a moving-block bootstrap interval, its one-sided
    p-value (x ``trials``), break-even cost and annualised Sharpe; whether it deploys."""
    n, cfg = len(ic), params.evaluate
    net = ls["net"]
    sd = float(np.std(ic, ddof=1)) if n > 1 else float("nan")
    nan = float("nan")
    out = {"rebalances": n, "rank_ic": float(np.mean(ic)) if n else nan,
           "rank_ic_t": float(np.mean(ic) / sd * np.sqrt(n)) if sd > 0 else nan}  # fmt: skip
    if n < MIN_PERIODS:
        return out | {"deploys": False, "why": f"{n} test rebalances: too few to judge"}
    block = max(1, round(n ** (1 / 3)))
    means = per_resample(bootstrap_indices(n, block, cfg.bootstrap_reps, params.seed),
                         lambda r: net[r].mean(axis=1))  # fmt: skip
    mean = float(net.mean())
    p = float(np.mean(means - mean >= mean))  # H0 mean <= 0, the bootstrap recentred
    p_family = min(1.0, p * trials)
    se = float(np.std(means, ddof=1))
    turnover, sd_net = float(ls["turnover"].mean()), float(net.std(ddof=1))
    deploys = bool(mean > 0 and p_family < cfg.alpha)
    at = f"family-wise p {p_family:.3f}"
    why = ("loses money after costs" if mean <= 0 else
           f"pays its costs ({at} < {cfg.alpha})" if deploys else
           f"is not distinguishable from luck ({at} >= {cfg.alpha})")  # fmt: skip
    return out | {
        "net_bps": mean * 1e4,
        "net_bps_ci": [float(v) * 1e4 for v in np.percentile(means, [2.5, 97.5])],
        "gross_bps": float(ls["gross"].mean()) * 1e4,
        "rank_spread": float(ls["rank_spread"].mean()),
        "turnover": turnover,
        "break_even_bps": float(ls["gross"].mean()) / turnover * 1e4 if turnover else None,
        "sharpe_annual": mean / sd_net * float(np.sqrt(per_year)) if sd_net > 0 else nan,
        "p_value_family": p_family,
        "detectable_net_bps": detectable_edge(se) * 1e4,
        "deploys": deploys,
        "why": why,
    }


def study(params: Params, panel: Panel, horizons: list[int], refit: str = "none",
          threads: int = 1) -> dict:  # fmt: skip
    """Every horizon (bars) and model judged on the pooled test rebalances of its
    folds; trials = models x horizons."""
    horizons = sorted({int(h) for h in horizons})
    if not horizons or horizons[0] < 1:
        raise ValueError(f"horizons must be whole bars >= 1, got {horizons}")
    trials = len(MODELS) * len(horizons)
    out = {"symbols": panel.symbols, "bars": len(panel.minutes), "interval_minutes": panel.interval,
           "refit": refit, "trials": trials, "horizons": {}}  # fmt: skip
    for h in horizons:
        fwd = panel.forward(h)
        picked, by_model, by_fold = [], {m: [] for m in MODELS}, {}
        for fold in folds(panel, params, h, refit):
            s = scores(panel, params, fold, h, fwd, threads)
            k = spaced(panel.minutes[fold.test], h * panel.interval)
            rb = fold.test[k]
            picked.append(rb)
            for m in MODELS:
                by_model[m].append(s[m][k])
            by_fold[fold.name] = {m: float(np.nanmean(spearman_rows(by_model[m][-1], fwd[rb])))
                                  for m in MODELS}  # fmt: skip
        rb = np.concatenate(picked)
        per_year = MINUTES_PER_YEAR / (h * panel.interval)
        models = judge_scores({m: np.concatenate(v) for m, v in by_model.items()}, fwd[rb],
                              params, trials, per_year)  # fmt: skip
        out["horizons"][str(h)] = {
            "test_from": clock.iso_minute(int(panel.minutes[rb[0]])) if len(rb) else None,
            "models": models, "folds": by_fold,
            "deploys": sorted(m for m, r in models.items() if r["deploys"]),
        }  # fmt: skip
    out["deploys"] = {h: r["deploys"] for h, r in out["horizons"].items()}
    return out
