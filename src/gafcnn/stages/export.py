"""`export` stage: the deployment bundle ``models/bundle/`` (see :mod:`gafcnn.serving.bundle`)
and the market's ``CHAMPION`` pointer to it (the markets folder is a store:
:mod:`gafcnn.serving.symbols`).

It ships what `evaluate` scored - every CNN, the ensemble combiner with all its
coefficients, xgb_indicators and the hybrid - and the volatility forecaster `sizing`
chose, with the decision, the deployed model's
test metrics and backtest, and the params behind them. `gafcnn predict --bundle
models/bundle` serves it; when the decision is "deploy nothing" it serves no model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.data.bars import OHLCV
from gafcnn.data.split import Split
from gafcnn.io import read_json, run_stage, write_json
from gafcnn.models import predictions
from gafcnn.params import SERVED_SECTIONS, Params, read_params
from gafcnn.serving.bundle import BUNDLE_FILE, deployed_metrics, version_id, write_bundle
from gafcnn.serving.guards import breaker_floor, training_reference


def expiry(params: Params, evaluate: dict) -> dict:
    """The last bar any model was fitted on (the end of val: combiners and early stopping
    see it) and how many days past it the bundle may trade (``serving.max_age_days``)."""
    fitted = read_json(paths.metrics("split"))["val"]["last_timestamp"]
    tested_days = clock.days_between(fitted, evaluate["test_last"], paths.metrics("evaluate"))
    return {"fitted_until": fitted, "tested_days": tested_days,
            "max_age_days": params.serving.max_age(tested_days)}  # fmt: skip


def guards(params: Params, deployed: str | None, test: dict | None) -> dict:
    """What the live guards compare with: the drift reference (each bar input on train,
    the deployed model's P(up) on val) and the breaker's floor, the lower bound of the
    deployed policy's net return per trade on test."""
    bars = pd.read_parquet(paths.BARS, columns=list(OHLCV))
    split = Split.from_dict(read_json(paths.SPLIT))
    train = np.concatenate([np.arange(s.start, s.stop) for s in split.segments
                            if s.name == "train"])  # fmt: skip
    p_val = None
    if deployed is not None:
        ens = read_json(paths.ENSEMBLE_MODEL)
        name = registry.served_aliases(ens["windows"], ens["method"]).get(deployed, deployed)
        val = predictions.read(paths.PREDICTIONS, segments=("val",))
        p_val = val.loc[val["model"] == name, "p_up"].to_numpy(np.float64)
    arrays = {k: bars[k].to_numpy(np.float64) for k in OHLCV}
    drift, breaker = params.serving.drift, params.serving.breaker
    return {
        "drift": {
            **training_reference(arrays, train, p_val),
            "threshold": drift.threshold,
            "bars": drift.bars,
        },  # fmt: skip
        "breaker": {"floor": breaker_floor(test), "min_trades": breaker.min_trades},
    }


def volatility(params: Params) -> dict:
    """The forecaster the `sizing` stage chose, with its test scores and the size's
    params (:func:`gafcnn.serving.sizing.ship`)."""
    served = read_json(paths.metrics(registry.SIZING_STAGE.name))["served"]
    sz = params.sizing
    return {"name": served["model"], "horizon": sz.horizon, "spans": list(sz.spans),
            "target_vol": sz.target_vol,
            "max_leverage": sz.max_leverage, "test": served["test"]}  # fmt: skip


def main() -> None:
    params = read_params()
    decision = read_json(paths.metrics("decision"))
    evaluate = read_json(paths.metrics("evaluate"))
    deployed = decision.get("deployed_model")
    test = deployed_metrics(evaluate["table"], evaluate["backtest"], evaluate["policy"], deployed)
    snapshot = {key: params.raw[key] for key in SERVED_SECTIONS}  # as written in params.yaml
    sizer = volatility(params)
    target = write_bundle(
        paths.BUNDLE,
        label_horizon=params.label.horizon,
        costs=evaluate["costs"],
        policy={name: row["theta"] for name, row in evaluate["policy"].items()},
        expiry=expiry(params, evaluate),
        decision=decision,
        test_metrics=test,
        params=snapshot,
        guards=guards(params, deployed, test),
        volatility=sizer,
    )
    version = version_id(read_json(target / BUNDLE_FILE))
    write_json(paths.CHAMPION, {"version": version, "path": paths.BUNDLE.as_posix()})
    print(f"export: {target} {version} - {decision['decision']} "
          f"(serves {deployed or 'no model'}; sizes by {sizer['name']})")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
