"""`xgb_indicators` stage: the original project's XGBoost on technical indicators, done right -
same decision timestamps and labels as the CNNs, early stopping on val, one test score
reported next to the majority rate."""

from __future__ import annotations

import numpy as np

from gafcnn import paths, registry
from gafcnn.data.bars import bar_positions
from gafcnn.data.features import input_names, model_inputs
from gafcnn.io import run_stage, save_xgb, write_json
from gafcnn.models import predictions
from gafcnn.models.boosting import gain_importance, xgb_classifier
from gafcnn.models.metrics import classification_report
from gafcnn.params import read_params, runtime_setting
from gafcnn.stages.common import gaf_sets, model_bars, samples_frame


def main() -> None:
    params = read_params()
    cfg, seed = params.xgb, params.seed
    sets = gaf_sets(params)
    samples = samples_frame(sets[min(sets)])
    bars, minutes = model_bars(params)
    flow = params.features.flow
    # float32: what XGBoost reads the features as, at half the memory
    pos = bar_positions(minutes, samples["ts"].to_numpy(), paths.GAF_DIR)
    feats = model_inputs(bars, minutes, pos, flow, np.float32)
    part = {s: (samples["segment"] == s).to_numpy() for s in ("train", "val", "test")}
    y = samples["label"].to_numpy()
    model = xgb_classifier(cfg, seed, n_jobs=runtime_setting(params, "threads"))
    model.fit(
        feats[part["train"]],
        y[part["train"]],
        eval_set=[(feats[part["val"]], y[part["val"]])],
        verbose=False,
    )
    reports, frames = {}, []
    for s in ("val", "test"):
        p = model.predict_proba(feats[part[s]])[:, 1]
        reports[s] = classification_report(y[part[s]], p)
        ts = samples["ts"].to_numpy()[part[s]]
        frames.append(predictions.frame(ts, s, y[part[s]], p, registry.XGB_INDICATORS.name))
    predictions.write(frames, paths.predictions_file(registry.XGB_INDICATORS.stage.name))
    save_xgb(model, paths.XGB_INDICATORS_MODEL)
    importance = gain_importance(model, input_names(flow))
    metrics = {
        "val": reports["val"],
        "test": reports["test"],
        "best_iteration": int(model.best_iteration),
        "feature_importance_gain": dict(sorted(importance.items(), key=lambda kv: -kv[1])),
        "n_train": int(part["train"].sum()),
    }
    write_json(paths.metrics(registry.XGB_INDICATORS_STAGE.name), metrics)
    t = reports["test"]
    print(
        f"xgb_indicators: test accuracy {t['accuracy']:.4f} (majority {t['majority_rate']:.4f}), "
        f"balanced {t['balanced_accuracy']:.4f}, auc {t['roc_auc']:.4f}, "
        f"best iteration {model.best_iteration}"
    )


if __name__ == "__main__":
    run_stage(main)
