"""`evaluate` stage: every model on exactly the same test samples, with the same
metrics, block-bootstrap intervals, a backtest with costs, the deployment decision,
and a report people can read.

Outputs ``metrics/evaluate.json``, ``metrics/decision.json``, ``data/trades.parquet``
(each model's test trades at its theta), ``plots/eval/`` (ROC,
calibration and confusion data for `dvc plots`), ``plots/equity.png`` and
``reports/report.md`` + ``reports/report.html``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.data.bars import load_bars
from gafcnn.evaluation.bootstrap import block_length, choose_block
from gafcnn.evaluation.comparison import compare
from gafcnn.evaluation.decision import DecisionInputs, decide
from gafcnn.evaluation.metrics import calls_up
from gafcnn.evaluation.policy import period
from gafcnn.evaluation.power import power_table
from gafcnn.evaluation.report import ReportInputs, write_report, write_timings_report
from gafcnn.evaluation.selection_bias import excess_over_majority
from gafcnn.images.imageset import AlignmentError
from gafcnn.io import InputError, read_json, run_stage, write_csv, write_json, write_parquet
from gafcnn.models import predictions
from gafcnn.params import Params, read_params
from gafcnn.stages.common import gaf_sets
from gafcnn.trading.backtest import MINUTES_PER_DAY, backtest_log


def test_predictions(
    params: Params,
    reference_ts: np.ndarray,
    preds: pd.DataFrame,
    source: Path,
    segment: str = "test",
) -> dict[str, np.ndarray]:
    """P(up) on the ``segment`` for every model, checked to share ``reference_ts``.

    Every model is read from the one predictions layout (``preds``, read from
    ``source``); ``ensemble`` is the configured ``ensemble.method``.
    """
    names = registry.scored(list(params.gaf.windows), params.ensemble.method)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, model in names.items():
        try:
            rows = predictions.of_model(preds, model)
        except KeyError as exc:
            raise InputError(source, f"{exc.args[0]}; run `dvc repro`") from None
        t = rows[rows["segment"] == segment]
        out[name] = (clock.ms_of(t["timestamp"]), t["p_up"].to_numpy(dtype=np.float64))
    oracle = pd.read_parquet(paths.ORACLE)
    if len(oracle):
        o = oracle.set_index(clock.ms_of(oracle["timestamp"]))["p_up"]
        out[registry.ORACLE] = (reference_ts, o.reindex(reference_ts).to_numpy())
    probs = {}
    for name, (ts, p) in out.items():
        if len(ts) != len(reference_ts) or np.any(ts != reference_ts):
            raise AlignmentError(
                f"{name}: {segment} predictions are not on the shared {segment} timestamps"
            )
        probs[name] = p
    return probs


def curves(name: str, y: np.ndarray, p: np.ndarray) -> None:
    """ROC, calibration and confusion data for `dvc plots`."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="quantile")
    for kind, df in (
        ("roc", pd.DataFrame({"fpr": fpr[keep], "tpr": tpr[keep]})),
        ("calibration", pd.DataFrame({"mean_predicted": mean, "fraction_up": frac})),
        ("confusion", pd.DataFrame({"actual": y, "predicted": calls_up(p).astype(int)})),
    ):
        write_csv(df, paths.EVAL_PLOTS / kind / f"{name}.csv")


def write_trades(single: dict) -> None:
    """Every model's test trades at its val-chosen theta (single split) in one log,
    ``model`` and ``theta`` first: what `gafcnn paper` replays to the same trades."""
    logs = []
    for name, b in single["policy_trades"].items():
        log = backtest_log(b)
        log.insert(0, "theta", single["policy"][name]["theta"])
        log.insert(0, "model", name)
        logs.append(log)
    write_parquet(pd.concat(logs, ignore_index=True), paths.TRADES)


def report_inputs(params: Params, evaluate: dict, decision: dict, audit: dict, probs: dict,
                  y: np.ndarray, tests: dict, coverage: dict) -> ReportInputs:  # fmt: skip
    """What the report shows: this stage's figures and every other stage's metrics and
    pictures it cites, read here so the report itself reads nothing."""
    cpcv = params.walkforward.scheme == "cpcv"
    pooled = evaluate.get("evaluation", {}).get("method") == "walk-forward"
    resampled = read_json(paths.metrics("walkforward")) if pooled or cpcv else None
    extra = [(f"GAF samples, w{w}: examples and mean(UP) - mean(DOWN)", paths.gaf_samples_plot(w))
             for w in params.gaf.windows if paths.gaf_samples_plot(w).exists()]  # fmt: skip
    if paths.AUDIT_PLOT.exists():
        extra.append(("Audit", paths.AUDIT_PLOT))
    return ReportInputs(
        horizon=params.label.horizon, dead_zone=params.label.dead_zone,
        ensemble=registry.configured_ensemble(params.ensemble.method),
        evaluate=evaluate, decision=decision,
        ingest=read_json(paths.metrics("ingest")), split=read_json(paths.metrics("split")),
        audit=audit, probs=probs, y=y, tests=tests,
        coverage=coverage,
        walkforward=resampled if pooled else None,
        cpcv=resampled if cpcv else None,
        train_curves={int(w): paths.train_curves(int(w)) for w in params.gaf.windows},
        extra_figures=tuple(extra),
    )  # fmt: skip


def main() -> None:
    params = read_params()
    cfg = params.evaluate
    trials, partitions = cfg.trials, cfg.pbo_partitions
    sets = gaf_sets(params)
    ref = sets[min(sets)]
    ts, y = ref.timestamps("test"), ref.labels("test")
    val_ts = ref.timestamps("val")
    preds = predictions.read(paths.PREDICTIONS, segments=("val", "test"))
    try:
        probs = test_predictions(params, ts, preds, paths.PREDICTIONS)
        val = (val_ts, test_predictions(params, val_ts, preds, paths.PREDICTIONS, "val"))
    except AlignmentError as exc:
        raise InputError(paths.PREDICTIONS, str(exc)) from None
    del preds  # every model's rows: the arrays above are all the rest needs
    horizon = params.label.horizon
    blocks = choose_block(cfg.block, block_length(max(sets), horizon, params.gaf.stride),
                          excess_over_majority(y, probs))  # fmt: skip
    block = blocks["block_samples"]
    bars, minutes = load_bars()
    single = compare(ts, y, probs, bars, minutes, params, block, trials, partitions, val)
    train_last = max(s.timestamps("train").max() for s in sets.values())
    out_of_sample = bool(ts.min() > train_last)
    wf_spec = params.walkforward
    evaluation = {"method": "single split"}
    result = single
    if wf_spec.pooled:
        pooled = predictions.read(paths.WALKFORWARD_PREDICTIONS, segments=("test",))
        first = predictions.of_model(pooled, registry.HYBRID.name)
        ts, y = clock.ms_of(first["timestamp"]), first["label"].to_numpy()
        try:
            probs = test_predictions(params, ts, pooled, paths.WALKFORWARD)
        except AlignmentError as exc:
            raise InputError(paths.WALKFORWARD, str(exc)) from None
        del pooled, first
        result = compare(ts, y, probs, bars, minutes, params, block, trials, partitions)
        wf = read_json(paths.metrics("walkforward"))
        out_of_sample = bool(wf["no_leak"])
        evaluation = {"method": "walk-forward", "folds": wf["folds"], "scheme": wf["scheme"]}
    table, tests, bt, selection = (result[k] for k in ("table", "tests", "backtest", "selection"))

    audit = read_json(paths.metrics("audit"))
    serving = read_json(paths.metrics("latency"))  # the candidate bundle, measured
    ensemble, hybrid, xgb_indicators = (m.name for m in registry.CANDIDATES)
    decision = decide(
        DecisionInputs(
            table,
            ensemble=ensemble,
            xgb_indicators=xgb_indicators,
            hybrid=hybrid,
            audit_passed=bool(audit["passed"]),
            out_of_sample=out_of_sample,
            inference_ok=serving["inference_under_100ms"],
            memory_ok=serving["memory_under_2gb"],
            policy=single["policy"],
            alpha=cfg.alpha,
            require_profit=cfg.require_profit,
            trials=trials,
            bootstrap_reps=cfg.bootstrap_reps,
        )
    )
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
    family = single["policy_test"]
    decision["reasons"].append(
        f"trading policies tried: {family['candidates']} (models x thresholds); the best on "
        f"test ({family['best']['model']} at theta {family['best']['theta']:g}) has a "
        f"family-wise p-value of {family['p_value']:.3f} against staying flat after costs"
    )
    decision["evaluation"] = evaluation["method"]
    if wf_spec.pooled:
        decision["reasons"].insert(
            0,
            f"evaluated walk-forward: {evaluation['folds']} folds ({evaluation['scheme']}), "
            f"{len(y)} pooled test decisions, each tested once by models refitted without it",
        )
    decision["ensemble_method"] = params.ensemble.method
    decision["audit_verdict"] = "pass" if audit["passed"] else "fail"
    warned = {k: c for k, c in audit["checks"].items() if c["status"] == "warn"}
    decision["audit_warnings"] = sorted(warned)
    for name, c in sorted(warned.items()):
        decision["reasons"].append(
            f"warning: audit check '{name}' is past its threshold (value {c['value']:.3g}, "
            f"threshold {c['threshold']}): {c['detail']}"
        )

    evaluate = {
        "evaluation": evaluation,
        "test_samples": len(y),
        "test_first": clock.iso_ms(ts[0]),
        "test_last": clock.iso_ms(ts[-1]),
        "bootstrap": {**blocks, "reps": cfg.bootstrap_reps},
        "costs": {**dataclasses.asdict(cfg.costs), "per_side_bps": cfg.costs.per_side_bps},
        "table": table,
        "backtest": bt,
        "policy": single["policy"],  # theta chosen on the single split's val
        "policy_test": single["policy_test"],
        "selection": selection,
        "images_vs_series": result["images_vs_series"],
        "power": power_table(
            table,
            single["policy"],
            period(clock.minutes_of_ms(ts), horizon) / MINUTES_PER_DAY,
            registry.ORACLE,
        ),
    }
    if wf_spec.pooled:  # the single split, for the forest plot and comparison
        evaluate["single_split"] = {"table": single["table"], "backtest": single["backtest"]}
    write_json(paths.metrics("evaluate"), evaluate)
    write_json(paths.metrics("decision"), decision)
    for name in registry.expand(registry.CURVES, sets):
        if name != registry.ORACLE:
            curves(name, y, probs[name])
    write_trades(single)
    for name, rows in single["coverage"].items():
        write_csv(pd.DataFrame(rows), paths.EVAL_PLOTS / "coverage" / f"{name}.csv")
    write_report(
        report_inputs(params, evaluate, decision, audit, probs, y, tests, single["coverage"])
    )
    write_timings_report(paths.TIMINGS, paths.TIMINGS_MD)
    print(f"evaluate: decision = {decision['decision']}")
    for r in decision["reasons"]:
        print(f"  - {r}")


if __name__ == "__main__":
    run_stage(main)
