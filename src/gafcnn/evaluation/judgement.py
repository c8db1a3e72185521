"""Judging one market: its models' P(up) on the test (and val) decisions -> the
comparison (:func:`gafcnn.evaluation.comparison.compare`) -> the decision
(:func:`gafcnn.evaluation.decision.decide`) with every reason. The ``evaluate`` stage
(the single split, or the walk-forward's pooled folds) and a universe's symbols
(each under each training) are judged here, so a symbol's decision is the one its
own evaluation wrote, by one rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gafcnn import clock, registry
from gafcnn.evaluation.bootstrap import block_length, choose_block
from gafcnn.evaluation.comparison import compare
from gafcnn.evaluation.decision import DecisionInputs, decide
from gafcnn.evaluation.selection_bias import excess_over_majority
from gafcnn.images.imageset import AlignmentError
from gafcnn.models import predictions
from gafcnn.params import Params


@dataclass
class Scored:
    """Decisions of one segment: their times (epoch ms), labels and every model's P(up)."""

    ts: np.ndarray
    y: np.ndarray
    probs: dict[str, np.ndarray]


@dataclass
class Checks:
    """What the decision reads besides the predictions: the run's audit and latency
    metrics, and whether every test decision lies after the last one trained on (or,
    walk-forward, each fold's samples were checked against its test)."""

    audit: dict
    latency: dict
    out_of_sample: bool


def scored(preds: pd.DataFrame, params: Params, segment: str, oracle: pd.DataFrame,
           ts: np.ndarray | None = None) -> Scored:  # fmt: skip
    """Every scored model's P(up) on ``segment`` from the predictions layout, checked to
    share one set of times (``ts`` when given); the oracle's beside them when known.
    ``ensemble`` is the configured ``ensemble.method``. Raises KeyError for a model
    missing and :class:`AlignmentError` for times that differ."""
    names = registry.scored(list(params.gaf.windows), params.ensemble.method)
    probs, y = {}, None
    for name, model in names.items():
        rows = predictions.of_model(preds, model)
        rows = rows[rows["segment"] == segment]
        t = clock.ms_of(rows["timestamp"])
        if ts is None:
            ts = t
        if len(t) != len(ts) or np.any(t != ts):
            raise AlignmentError(
                f"{name}: {segment} predictions are not on the shared {segment} timestamps"
            )
        if y is None:
            y = rows["label"].to_numpy()
        probs[name] = rows["p_up"].to_numpy(dtype=np.float64)
    if len(oracle):
        o = oracle.set_index(clock.ms_of(oracle["timestamp"]))["p_up"]
        probs[registry.ORACLE] = o.reindex(ts).to_numpy()
    return Scored(ts, y, probs)


def out_of_sample(test: Scored, train_last_ms: int) -> bool:
    """Every test decision lies after the last decision any model trained on."""
    return bool(test.ts.min() > train_last_ms)


def judge(params: Params, test: Scored, val: Scored, bars: dict[str, np.ndarray],
          minutes: np.ndarray, checks: Checks, trials: int, pooled: Scored | None = None,
          evaluation: dict | None = None) -> dict:  # fmt: skip
    """One market judged: the block length, the single split's comparison (policies
    chosen on ``val``), the comparison the decision rests on (``pooled``: the
    walk-forward's pooled test, with ``evaluation`` naming its folds and scheme; else
    the single split's), and the decision with its reasons (selection bias, the
    policies tried, the evaluation, audit warnings)."""
    cfg = params.evaluate
    rule = block_length(max(params.gaf.windows), params.label.horizon, params.gaf.stride)
    blocks = choose_block(cfg.block, rule, excess_over_majority(test.y, test.probs))
    block = blocks["block_samples"]
    single = compare(test.ts, test.y, test.probs, bars, minutes, params, block, trials,
                     cfg.pbo_partitions, (val.ts, val.probs))  # fmt: skip
    result = single
    if pooled is not None:
        result = compare(pooled.ts, pooled.y, pooled.probs, bars, minutes, params, block, trials,
                         cfg.pbo_partitions)  # fmt: skip
    ensemble, hybrid, xgb_indicators = (m.name for m in registry.CANDIDATES)
    decision = decide(
        DecisionInputs(
            result["table"],
            ensemble=ensemble,
            xgb_indicators=xgb_indicators,
            hybrid=hybrid,
            audit_passed=bool(checks.audit["passed"]),
            out_of_sample=checks.out_of_sample,
            inference_ok=checks.latency["inference_under_100ms"],
            memory_ok=checks.latency["memory_under_2gb"],
            policy=single["policy"],
            alpha=cfg.alpha,
            require_profit=cfg.require_profit,
            trials=trials,
            bootstrap_reps=cfg.bootstrap_reps,
        )
    )
    reasons(decision, result["selection"], single["policy_test"], trials)
    decision["evaluation"] = "single split"
    if pooled is not None:
        decision["evaluation"] = "walk-forward"
        decision["reasons"].insert(
            0,
            f"evaluated walk-forward: {evaluation['folds']} folds ({evaluation['scheme']}), "
            f"{len(pooled.y)} pooled test decisions, each tested once by models refitted "
            "without it",
        )
    decision["ensemble_method"] = params.ensemble.method
    audit_reasons(decision, checks.audit)
    return {"blocks": blocks, "single": single, "result": result, "decision": decision}


def reasons(decision: dict, selection: dict, family: dict, trials: int) -> None:
    """The decision's selection-bias figures and reasons: the reality check, deflated
    Sharpe and PBO; the best policy's family-wise p-value."""
    rc, ds = selection["reality_check"], selection["deflated_sharpe"]
    decision["selection"] = {
        "reality_check_p": rc["p_value"],
        "spa_p": rc["p_value_spa"],
        "deflated_sharpe": ds["dsr"],
        "pbo": selection["pbo"]["pbo"],
    }
    decision["reasons"].append(
        f"selection bias over {selection['models'] * trials} trials: the best model "
        f"({rc['best']}, {rc['excess_accuracy']:+.3f} over the majority rate) has a "
        f"reality-check p-value of {rc['p_value']:.3f} (SPA {rc['p_value_spa']:.3f}); the "
        f"best backtest ({ds['best']}) has a deflated Sharpe ratio of {ds['dsr']:.2f}; "
        f"probability of backtest overfitting {selection['pbo']['pbo']:.2f}"
    )
    decision["reasons"].append(
        f"trading policies tried: {family['candidates']} (models x thresholds); the best on "
        f"test ({family['best']['model']} at theta {family['best']['theta']:g}) has a "
        f"family-wise p-value of {family['p_value']:.3f} against staying flat after costs"
    )


def audit_reasons(decision: dict, audit: dict) -> None:
    """The audit's verdict and a reason for each check past its warning threshold."""
    decision["audit_verdict"] = "pass" if audit["passed"] else "fail"
    warned = {k: c for k, c in audit["checks"].items() if c["status"] == "warn"}
    decision["audit_warnings"] = sorted(warned)
    for name, c in sorted(warned.items()):
        decision["reasons"].append(
            f"warning: audit check '{name}' is past its threshold (value {c['value']:.3g}, "
            f"threshold {c['threshold']}): {c['detail']}"
        )
