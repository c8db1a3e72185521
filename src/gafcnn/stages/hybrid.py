"""`hybrid` stage: an XGBoost meta-learner over technical indicators and the CNNs'
probabilities.

The CNNs' predictions on their own training samples are overfit, so the meta-learner
never sees them: it is fitted on the val segment only. The number of boosting rounds
is chosen by cross-validation over time-ordered folds inside val, each purged of
samples within ``max(window) + horizon`` minutes of its held-out block; the final
model is refitted on all of val with that many rounds and scored once on test. The
val P(up) it writes are out of fold - each block from the fold model that was not
fitted on it (whose rounds were early-stopped on it) - so a trading threshold chosen
on them is not chosen on fitted values.
"""

from __future__ import annotations

import numpy as np

from gafcnn import clock, paths, registry
from gafcnn.data.bars import bar_positions
from gafcnn.data.features import model_inputs
from gafcnn.data.split import required_purge
from gafcnn.io import run_stage, save_xgb, write_json
from gafcnn.models import combine, predictions
from gafcnn.models.boosting import gain_importance, xgb_classifier
from gafcnn.models.ensemble import purged_folds
from gafcnn.models.metrics import classification_report
from gafcnn.params import read_params, runtime_setting
from gafcnn.stages.common import gaf_sets, model_bars
from gafcnn.stages.members import joined_cnn_predictions


def main() -> None:
    params = read_params()
    cfg, seed = params.hybrid, params.seed
    n_jobs = runtime_setting(params, "threads")
    sets = gaf_sets(params)
    windows = list(sets)
    joined = joined_cnn_predictions(sets, registry.CNN.name)
    bars, minutes = model_bars(params)
    flow = params.features.flow
    ts = clock.ms_of(joined["timestamp"])
    names, members = combine.hybrid_inputs(windows, flow), combine.hybrid_members(windows)
    pos = bar_positions(minutes, ts, paths.CNN_PREDICTIONS)
    feats = model_inputs(bars, minutes, pos, flow)
    x = combine.hybrid_features(feats, joined[members].to_numpy())
    y = joined["label"].to_numpy()
    val = (joined["segment"] == "val").to_numpy()
    test = (joined["segment"] == "test").to_numpy()
    x_val, y_val, ts_val = x[val], y[val], ts[val]

    purge = clock.ms_of_minutes(required_purge(windows, params.label.horizon))
    best_rounds, cv_loss = [], []
    p_val = np.full(len(y_val), np.nan)
    for train_idx, hold_idx in purged_folds(ts_val, cfg.folds, purge):
        model = xgb_classifier(cfg, seed, n_jobs=n_jobs)
        model.fit(
            x_val[train_idx],
            y_val[train_idx],
            eval_set=[(x_val[hold_idx], y_val[hold_idx])],
            verbose=False,
        )
        p_val[hold_idx] = model.predict_proba(x_val[hold_idx])[:, 1]
        best_rounds.append(int(model.best_iteration) + 1)
        cv_loss.append(float(model.best_score))
    rounds = int(np.median(best_rounds))
    final = xgb_classifier(cfg, seed, n_estimators=rounds, early_stopping=False, n_jobs=n_jobs)
    final.fit(x_val, y_val, verbose=False)
    p_test = final.predict_proba(x[test])[:, 1]
    importance = gain_importance(final, names)
    cnn_share = sum(v for k, v in importance.items() if k in members)
    metrics = {
        "test": classification_report(y[test], p_test),
        "rounds": rounds,
        "cv_rounds": best_rounds,
        "cv_logloss": float(np.mean(cv_loss)),
        "feature_importance_gain": dict(sorted(importance.items(), key=lambda kv: -kv[1])),
        "cnn_gain_share": cnn_share,
        "fit": {
            "segment": "val",
            "n": int(val.sum()),
            "first_timestamp": int(ts_val.min()),
            "last_timestamp": int(ts_val.max()),
        },
    }
    write_json(paths.metrics(registry.HYBRID_STAGE.name), metrics)
    save_xgb(final, paths.HYBRID_MODEL)
    predictions.write(
        [
            predictions.frame(ts_val, "val", y_val, p_val, registry.HYBRID.name),
            predictions.frame(ts[test], "test", y[test], p_test, registry.HYBRID.name),
        ],
        paths.predictions_file(registry.HYBRID.stage.name),
    )
    t = metrics["test"]
    print(
        f"hybrid: test accuracy {t['accuracy']:.4f} (majority {t['majority_rate']:.4f}), "
        f"balanced {t['balanced_accuracy']:.4f}, auc {t['roc_auc']:.4f}; "
        f"CNN share of gain {cnn_share:.2f}, {rounds} rounds"
    )


if __name__ == "__main__":
    run_stage(main)
