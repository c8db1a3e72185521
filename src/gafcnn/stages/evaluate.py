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

import numpy as np
import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.data.bars import load_bars
from gafcnn.evaluation.judgement import Checks, Scored, judge, out_of_sample, scored
from gafcnn.evaluation.policy import period
from gafcnn.evaluation.power import power_table
from gafcnn.evaluation.report import ReportInputs, write_report
from gafcnn.evaluation.timings import write_timings_report
from gafcnn.images.imageset import AlignmentError
from gafcnn.io import (
    InputError,
    read_json,
    release_arrow_memory,
    run_stage,
    write_csv,
    write_json,
    write_parquet,
)
from gafcnn.models import predictions
from gafcnn.models.metrics import calls_up
from gafcnn.params import Params, read_params
from gafcnn.stages.common import gaf_sets
from gafcnn.trading.backtest import MINUTES_PER_DAY, backtest_log


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


def judged_market(params: Params, sets: dict) -> tuple[dict, Scored]:
    """This run's market judged (:func:`gafcnn.evaluation.judgement.judge`): the single
    split, or the walk-forward's pooled folds; and the test the decision rests on."""
    ref = sets[min(sets)]
    oracle = pd.read_parquet(paths.ORACLE)
    preds = predictions.read(paths.PREDICTIONS, segments=("val", "test"))
    try:
        test = scored(preds, params, "test", oracle, ref.timestamps("test"))
        val = scored(preds, params, "val", oracle, ref.timestamps("val"))
    except AlignmentError as exc:
        raise InputError(paths.PREDICTIONS, str(exc)) from None
    except KeyError as exc:
        raise InputError(paths.PREDICTIONS, f"{exc.args[0]}; run `dvc repro`") from None
    del preds  # every model's rows: the arrays above are all the rest needs
    release_arrow_memory()
    train_last = max(s.timestamps("train").max() for s in sets.values())
    audit, latency = read_json(paths.metrics("audit")), read_json(paths.metrics("latency"))
    checks = Checks(audit, latency, out_of_sample(test, train_last))
    pooled, evaluation = None, {"method": "single split"}
    if params.walkforward.pooled:
        wf = read_json(paths.metrics("walkforward"))
        pooled = walkforward_test(params, oracle)
        evaluation = {"method": "walk-forward", "folds": wf["folds"], "scheme": wf["scheme"]}
        # each fold's train and val samples were read back and checked against its test
        checks.out_of_sample = all(sum(f["leak_check"].values()) > 0 for f in wf["splits"])
    bars, minutes = load_bars(("close",))  # the comparison reads the closes alone
    cfg = params.evaluate
    judged = judge(params, test, val, bars, minutes, checks, cfg.trials, pooled, evaluation)
    judged["evaluation"], judged["audit"] = evaluation, audit
    return judged, pooled or test


def walkforward_test(params: Params, oracle: pd.DataFrame) -> Scored:
    """The walk-forward's pooled test decisions (every fold's, tested once)."""
    pooled = predictions.read(paths.WALKFORWARD_PREDICTIONS, segments=("test",))
    first = predictions.of_model(pooled, registry.HYBRID.name)
    try:
        return scored(pooled, params, "test", oracle, clock.ms_of(first["timestamp"]))
    except (AlignmentError, KeyError) as exc:
        raise InputError(paths.WALKFORWARD, str(exc.args[0])) from None


def main() -> None:
    params = read_params()
    cfg = params.evaluate
    sets = gaf_sets(params)
    judged, final = judged_market(params, sets)
    single, result, decision = judged["single"], judged["result"], judged["decision"]
    blocks, evaluation = judged["blocks"], judged["evaluation"]
    ts, y, probs = final.ts, final.y, final.probs
    table, tests, bt, selection = (result[k] for k in ("table", "tests", "backtest", "selection"))
    audit = judged["audit"]
    horizon = params.label.horizon
    wf_spec = params.walkforward

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
