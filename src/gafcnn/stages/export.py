"""`export` stage: the deployment bundle ``models/bundle/`` (see :mod:`gafcnn.bundle`).

It ships what `evaluate` scored - every CNN, the ensemble combiner with all its
coefficients, Phase 1 and the hybrid - with the decision, the deployed model's
test metrics and backtest, and the params behind them. `gafcnn predict --bundle
models/bundle` serves it; when the decision is "deploy nothing" it serves no model.
"""

from __future__ import annotations

from gafcnn import paths
from gafcnn.bundle import write_bundle
from gafcnn.io import load_params, read_json, run_stage

SNAPSHOT = ("seed", "data", "split", "label", "gaf", "xgb", "ensemble", "hybrid", "evaluate")


def main() -> None:
    params = load_params()
    decision = read_json(paths.metrics("decision"))
    evaluate = read_json(paths.metrics("evaluate"))
    deployed = decision.get("deployed_model")
    test = None
    if deployed is not None:
        test = {"table": evaluate["table"][deployed], "backtest": evaluate["backtest"][deployed]}
    snapshot = {
        "seed": params["seed"],
        "data": params["data"],
        "split": params["split"],
        "label": params["label"],
        "gaf": params["gaf"],
        "xgb": params["xgb"],
        "ensemble": params["ensemble"],
        "hybrid": params["hybrid"],
        "evaluate": params["evaluate"],
    }
    assert tuple(snapshot) == SNAPSHOT
    target = write_bundle(
        paths.BUNDLE,
        paths.MODELS,
        label_horizon=int(params["label"]["horizon"]),
        fee_bps=float(params["evaluate"]["fee_bps"]),
        decision=decision,
        test_metrics=test,
        params=snapshot,
    )
    print(f"export: {target} - {decision['decision']} (serves {deployed or 'no model'})")


if __name__ == "__main__":
    run_stage(main)
