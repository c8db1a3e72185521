"""`phase1` stage: the original project's XGBoost on technical indicators, done right -
same decision timestamps and labels as the CNNs, early stopping on val, one test score
reported next to the majority rate."""

from __future__ import annotations

import pandas as pd

from gafcnn.ensemble import gain_importance, xgb_classifier
from gafcnn.features import INDICATORS, indicators
from gafcnn.io import atomic_path, load_params, run_stage, write_json, write_parquet
from gafcnn.metrics import classification_report
from gafcnn.stages.common import gaf_sets, load_bars, positions, prediction_frame, samples_frame


def main() -> None:
    params = load_params()
    cfg, seed = params["xgb"], int(params.get("seed", 0))
    sets = gaf_sets(params)
    samples = samples_frame(sets[min(sets)])
    bars, minutes = load_bars()
    feats = indicators(bars, minutes)[positions(minutes, samples["ts"].to_numpy())]
    part = {s: (samples["split"] == s).to_numpy() for s in ("train", "val", "test")}
    y = samples["label"].to_numpy()
    model = xgb_classifier(cfg, seed)
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
        frames.append(prediction_frame(samples["ts"].to_numpy()[part[s]], s, y[part[s]], p))
    write_parquet(pd.concat(frames, ignore_index=True), "data/predictions/phase1.parquet")
    with atomic_path("models/phase1.ubj") as tmp:
        model.save_model(tmp.with_suffix(".ubj"))
        tmp.with_suffix(".ubj").replace(tmp)
    importance = gain_importance(model, list(INDICATORS))
    metrics = {
        "val": reports["val"],
        "test": reports["test"],
        "best_iteration": int(model.best_iteration),
        "feature_importance_gain": dict(sorted(importance.items(), key=lambda kv: -kv[1])),
        "n_train": int(part["train"].sum()),
    }
    write_json("metrics/phase1.json", metrics)
    t = reports["test"]
    print(
        f"phase1: test accuracy {t['accuracy']:.4f} (majority {t['majority_rate']:.4f}), "
        f"balanced {t['balanced_accuracy']:.4f}, auc {t['roc_auc']:.4f}, "
        f"best iteration {model.best_iteration}"
    )


if __name__ == "__main__":
    run_stage(main)
