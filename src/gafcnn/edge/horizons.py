"""One symbol's direction at several horizons, judged in one run on one split.

Every horizon shares the split (purged for the longest horizon), the decision times
(``gaf.stride``) and the inputs; each fits XGBoost on the indicators
(``xgb_indicators``, as the pipeline's stage does) and a logistic regression on them
(``logistic_indicators``), and, where given, XGBoost on the
indicators plus order flow (``xgb_flow``) or plus leaders' bars (``xgb_leaders``),
and is judged by the pipeline's own comparison
(:func:`gafcnn.evaluation.comparison.compare`): accuracy against the majority rate
with its block-bootstrap interval, each model's policy chosen on val and traded once
on test after costs, its break-even cost, and the smallest edge the test could see.
The family-wise corrections count every horizon as a trial, and every input set as a
model: a horizon deploys only what :func:`gafcnn.evaluation.decision.cost_gate`
passes at that count."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from gafcnn import clock, registry
from gafcnn.data.bars import bar_arrays, minute_index
from gafcnn.data.features import flow_features, indicators
from gafcnn.data.samples import build_samples
from gafcnn.data.split import SEGMENTS, Split, make_split, required_purge
from gafcnn.edge.inputs import has_flow, leader_features
from gafcnn.evaluation.bootstrap import block_length, bootstrap_indices, per_resample
from gafcnn.evaluation.comparison import compare
from gafcnn.evaluation.decision import cost_gate
from gafcnn.evaluation.power import detectable_edge
from gafcnn.models.baselines import fit_logistic, predict_up
from gafcnn.models.boosting import xgb_classifier
from gafcnn.models.metrics import hits
from gafcnn.params import Params

BASE, FLOW_MODEL, LEADERS_MODEL = registry.XGB_INDICATORS.name, "xgb_flow", "xgb_leaders"
LOGISTIC = "logistic_indicators"  # the linear benchmark on the same indicators


@dataclass
class Market:
    """One symbol's bars as arrays (OHLCV and any order flow) and minutes since the
    epoch, with the leaders' bars it may read."""

    arrays: dict[str, np.ndarray]
    minutes: np.ndarray
    leaders: dict[str, tuple[dict[str, np.ndarray], np.ndarray]] = field(default_factory=dict)

    @classmethod
    def of(cls, bars: pd.DataFrame, leaders: dict[str, pd.DataFrame] | None = None) -> Market:
        """From bar frames (``ingest``'s layout)."""
        lead = {s: (bar_arrays(b), minute_index(b)) for s, b in (leaders or {}).items()}
        return cls(bar_arrays(bars), minute_index(bars), lead)


def feature_sets(market: Market, positions: np.ndarray, flow: bool) -> dict[str, np.ndarray]:
    """Each model's input matrix at ``positions``: the indicators, and with them the
    order flow (``flow``) or the leaders' features."""
    base = indicators(market.arrays, market.minutes, positions, np.float32)
    sets = {BASE: base}
    if flow:
        sets[FLOW_MODEL] = np.column_stack([base, flow_features(market.arrays, positions)])
    if market.leaders:
        m = market.minutes[positions]
        cols = [leader_features(a, lm, m) for a, lm in market.leaders.values()]
        sets[LEADERS_MODEL] = np.column_stack([base, *cols]).astype(np.float32)
    return sets


def fit_predict(params: Params, x: np.ndarray, y: np.ndarray, segment: np.ndarray,
                threads: int) -> dict[str, np.ndarray]:  # fmt: skip
    """XGBoost (the ``xgb`` section) fitted on train, stopped early on val; P(up) of
    val and test."""
    train, val = segment == SEGMENTS.index("train"), segment == SEGMENTS.index("val")
    model = xgb_classifier(params.xgb, params.seed, n_jobs=threads)
    model.fit(x[train], y[train], eval_set=[(x[val], y[val])], verbose=False)
    return {s: model.predict_proba(x[segment == SEGMENTS.index(s)])[:, 1] for s in ("val", "test")}


def fit_logistic_predict(params: Params, x: np.ndarray, y: np.ndarray,
                         segment: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """Standardised logistic regression (``baseline.C``) fitted on train, a missing
    value read as its train mean; P(up) of val and test."""
    train = segment == SEGMENTS.index("train")
    fill = np.nan_to_num(np.nanmean(x[train], axis=0))
    x = np.where(np.isnan(x), fill, x)
    model = fit_logistic(x[train], y[train], params.baseline.C, params.seed)
    return {s: predict_up(model, x[segment == SEGMENTS.index(s)]) for s in ("val", "test")}


def study(params: Params, market: Market, horizons: list[int], flow: bool | None = None,
          threads: int = 1, split: Split | None = None,
          trials: int | None = None) -> dict:  # fmt: skip
    """Every horizon of ``horizons`` (bars ahead) judged on one split (``split``, else
    the ``split`` section's, purged for the longest horizon); ``flow`` (default: whether
    the bars carry it) adds the order-flow model. ``trials`` (default: the horizons)
    counts the experiments each horizon's decision is one of."""
    horizons = sorted({int(h) for h in horizons})
    if not horizons or horizons[0] < 1:
        raise ValueError(f"horizons must be whole bars >= 1, got {horizons}")
    trials = len(horizons) if trials is None else trials
    if trials < len(horizons):
        raise ValueError(f"trials {trials} must count every horizon ({len(horizons)})")
    flow = has_flow(market.arrays) if flow is None else flow
    windows = list(params.gaf.windows)
    if split is None:
        split = make_split(market.minutes, params.split, windows, horizons[-1])
    if split.purge < required_purge(windows, horizons[-1]):
        raise ValueError(
            f"the split's purge ({split.purge} bars) is shorter than the longest "
            f"window plus horizon ({required_purge(windows, horizons[-1])})"
        )
    out = {"horizons": {}, "trials": trials, "split": split.to_dict(market.minutes)}
    for h in horizons:
        out["horizons"][str(h)] = one_horizon(params, market, split, h, flow, trials, threads)
    out["deploys"] = {h: r["deploys"] for h, r in out["horizons"].items()}
    return out


def one_horizon(params: Params, market: Market, split, h: int, flow: bool, trials: int,
                threads: int) -> dict:  # fmt: skip
    """One horizon's samples, fits and judgement (:func:`study`)."""
    p = replace(params, label=replace(params.label, horizon=h))
    windows, stride = list(params.gaf.windows), params.gaf.stride
    s = build_samples(market.minutes, market.arrays["close"], windows, p.label, split, stride)
    sets = feature_sets(market, s.position, flow)
    probs = {LOGISTIC: fit_logistic_predict(p, sets[BASE], s.label, s.segment)}
    probs |= {name: fit_predict(p, x, s.label, s.segment, threads) for name, x in sets.items()}
    ts = clock.MINUTE_MS * s.minute
    val, test = (s.segment == SEGMENTS.index(k) for k in ("val", "test"))
    block = block_length(max(windows), h, stride)
    result = compare(ts[test], s.label[test], {m: v["test"] for m, v in probs.items()},
                     market.arrays, market.minutes, p, block, trials,
                     params.evaluate.pbo_partitions,
                     (ts[val], {m: v["val"] for m, v in probs.items()}))  # fmt: skip
    gate = cost_gate(result["policy"], params.evaluate.alpha, trials)
    models = {m: row(result, gate, m, len(probs) * trials) for m in probs}
    y = s.label[test]
    idx = bootstrap_indices(len(y), block, params.evaluate.bootstrap_reps, params.seed)
    diffs = {f"{m} - {BASE}": paired(y, probs[m]["test"], probs[BASE]["test"], idx, trials)
             for m in probs if m != BASE}  # fmt: skip
    rc = result["selection"]["reality_check"]
    return {
        "samples": {k: int((s.segment == i).sum()) for i, k in enumerate(SEGMENTS)},
        "test_days": float((s.minute[test][-1] - s.minute[test][0] + h) / 1440),
        "models": models,
        "differences": diffs,
        "reality_check_p": rc["p_value"],
        "deploys": sorted(m for m, g in gate.items() if g["passes"]),
    }


def row(result: dict, gate: dict, model: str, family: int) -> dict:
    """One model's figures at one horizon: accuracy against the majority rate (p-value
    corrected over ``family`` = models x horizons), its policy and what it could see."""
    t, pol = result["table"][model], result["policy"][model]
    se = pol["mean_net_return_se"]
    return {
        "accuracy": t["accuracy"], "accuracy_ci": t["accuracy_ci"],
        "majority_rate": t["majority_rate"], "roc_auc": t["roc_auc"],
        "p_vs_majority": t["p_value_vs_majority"],
        "p_vs_majority_family": min(1.0, t["p_value_vs_majority"] * family),
        "detectable_accuracy_edge": detectable_edge(t["accuracy_se"]),
        "policy": {
            "theta": pol["theta"], "trades": pol["trades"],
            "net_bps": pol["mean_net_return"] * 1e4,
            "net_bps_ci": [v * 1e4 for v in pol["mean_net_return_ci"]],
            "break_even_bps": pol["break_even_bps"],
            "detectable_net_bps": detectable_edge(se) * 1e4 if np.isfinite(se) else None,
            "p_value_family": gate[model]["p_value"], "passes": gate[model]["passes"],
            "why": gate[model]["why"],
        },
    }  # fmt: skip


def paired(y: np.ndarray, p: np.ndarray, q: np.ndarray, idx, trials: int = 1,
           alpha: float = 0.05) -> dict:  # fmt: skip
    """Accuracy of ``p`` minus that of ``q`` on the same decisions, with a 95% interval
    from the shared moving-block resamples, and whether it is beyond noise at the
    family-wise level: its interval at ``1 - alpha / trials`` (Bonferroni over the
    horizons) excludes 0."""
    diff = hits(y, p).astype(np.float64) - hits(y, q)
    d = per_resample(idx, lambda r: diff[r].mean(axis=1))
    lo, hi = (float(v) for v in np.quantile(d, [0.025, 0.975]))
    a = alpha / max(trials, 1) / 2
    flo, fhi = (float(v) for v in np.quantile(d, [a, 1 - a]))
    return {"accuracy": float(diff.mean()), "ci": [lo, hi], "ci_family": [flo, fhi],
            "beyond_noise": bool(flo > 0 or fhi < 0)}  # fmt: skip
