"""`ensemble` stage: the three CNNs combined by decision timestamp - mean probability,
weights from val performance, and logistic-regression stacking fitted on val."""

from __future__ import annotations

import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.io import run_stage, write_json
from gafcnn.models import combine, predictions
from gafcnn.models.ensemble import Stacker, error_correlation, member_weights
from gafcnn.models.metrics import classification_report
from gafcnn.params import read_params
from gafcnn.stages.common import gaf_sets
from gafcnn.stages.members import joined_cnn_predictions


def fit_combiners(joined: pd.DataFrame, names: list[str], seed: int) -> tuple[dict, dict]:
    """Probabilities of every method on every row, and what each method learned."""
    cols = [f"p_{n}" for n in names]
    val = (joined["segment"] == "val").to_numpy()
    p_all = joined[cols].to_numpy()
    y_val = joined["label"].to_numpy()[val]
    weights = member_weights(y_val, p_all[val])
    stacker = Stacker(seed=seed).fit(p_all[val], y_val, clock.ms_of(joined["timestamp"][val]))
    coef, intercept = stacker.model.coef_[0], float(stacker.model.intercept_[0])
    probs = combine.ensemble(p_all, weights, coef, intercept)
    learned = {
        "weights": dict(zip(names, weights.tolist(), strict=True)),
        "stacking_coef": dict(zip(names, stacker.model.coef_[0].tolist(), strict=True)),
        "stacking_intercept": float(stacker.model.intercept_[0]),
        "stacking_fit": {
            "segment": "val",
            "n": int(val.sum()),
            "first_timestamp": int(stacker.fit_timestamps.min()),
            "last_timestamp": int(stacker.fit_timestamps.max()),
        },
    }
    return probs, learned


def main() -> None:
    params = read_params()
    cfg, seed = params.ensemble, params.seed
    sets = gaf_sets(params)
    names = [f"w{w}" for w in sets]
    joined = joined_cnn_predictions(sets)
    probs, learned = fit_combiners(joined, names, seed)
    test = (joined["segment"] == "test").to_numpy()
    y = joined["label"].to_numpy()
    members = {n: classification_report(y[test], joined[f"p_{n}"].to_numpy()[test]) for n in names}
    methods = {m: classification_report(y[test], p[test]) for m, p in probs.items()}
    best = max(names, key=lambda n: members[n]["balanced_accuracy"])
    primary = cfg.method
    gap = methods[primary]["balanced_accuracy"] - members[best]["balanced_accuracy"]
    corr = error_correlation(y[test], joined[[f"p_{n}" for n in names]].to_numpy()[test])
    metrics = {
        "method": primary,
        "test": methods[primary],
        "methods": methods,
        "members": members,
        "best_member": best,
        "gap_to_best_member": gap,
        "below_best_member": bool(gap < 0),
        "error_correlation": {
            f"{a}~{b}": float(corr[i, j])
            for i, a in enumerate(names)
            for j, b in enumerate(names)
            if i < j
        },
        **learned,
    }
    write_json(paths.metrics(registry.ENSEMBLE_STAGE.name), metrics)
    write_json(
        paths.ENSEMBLE_MODEL,
        {
            "method": primary,
            "windows": list(sets),
            "weights": learned["weights"],
            "stacking_coef": learned["stacking_coef"],
            "stacking_intercept": learned["stacking_intercept"],
        },
    )
    ts, segment = clock.ms_of(joined["timestamp"]), joined["segment"].to_numpy()
    predictions.write(
        [
            predictions.frame(ts, segment, y, p, registry.configured_ensemble(m))
            for m, p in probs.items()
        ],
        paths.predictions_file(registry.ENSEMBLE_STAGE.name),
    )
    print(
        f"ensemble ({primary}): test balanced accuracy "
        f"{methods[primary]['balanced_accuracy']:.4f}, "
        f"best member {best} {members[best]['balanced_accuracy']:.4f}, gap {gap:+.4f}"
    )


if __name__ == "__main__":
    run_stage(main)
