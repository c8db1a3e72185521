"""`baseline` stage: is there anything to learn? Majority class and logistic
regression (flattened images; raw window of log returns) per window, on the same
val and test samples, reported with the shared metrics."""

from __future__ import annotations

import numpy as np

from gafcnn import paths, registry
from gafcnn.data.bars import bar_positions, load_bars
from gafcnn.data.samples import evenly
from gafcnn.images.encodings import window_series
from gafcnn.images.imageset import GafSet
from gafcnn.io import run_stage, write_json
from gafcnn.models import predictions
from gafcnn.models.baselines import (
    fit_logistic,
    flatten,
    majority_probability,
    predict_images,
    predict_up,
)
from gafcnn.models.metrics import classification_report
from gafcnn.params import BaselineParams, read_params
from gafcnn.stages.common import gaf_sets

EVAL_SPLITS = ("val", "test")


def logret_windows(
    bars: dict[str, np.ndarray], minutes: np.ndarray, timestamps: np.ndarray, window: int
) -> np.ndarray:
    """Each bar's log(close/open) over the window ending at each decision timestamp."""
    pos = bar_positions(minutes, timestamps, paths.gaf_dir(window))
    return window_series(bars, pos, window, {"logret"})["logret"]


def evaluate_window(
    gs: GafSet, bars: dict[str, np.ndarray], minutes: np.ndarray, cfg: BaselineParams, seed: int
) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """All baselines for one window: ({kind: {split: report}}, {name: {split: P(up)}})."""
    y_tr = gs.labels("train")
    idx = evenly(len(y_tr), cfg.subset)
    ys = {s: gs.labels(s) for s in EVAL_SPLITS}
    c = cfg.C
    img_model = fit_logistic(flatten(gs.images("train"), idx), y_tr[idx], c=c, seed=seed)
    ret_tr = logret_windows(bars, minutes, gs.timestamps("train")[idx], gs.window)
    ret_model = fit_logistic(ret_tr, y_tr[idx], c=c, seed=seed)
    w = gs.window
    majority, images, returns = registry.BASELINES
    by_model = {
        majority: {s: majority_probability(y_tr, len(ys[s])) for s in EVAL_SPLITS},
        images: {s: predict_images(img_model, gs.images(s)) for s in EVAL_SPLITS},
        returns: {
            s: predict_up(ret_model, logret_windows(bars, minutes, gs.timestamps(s), w))
            for s in EVAL_SPLITS
        },
    }
    reports = {
        m.kind: {s: classification_report(ys[s], p[s]) for s in EVAL_SPLITS}
        for m, p in by_model.items()
    }
    return reports, {m.at(w): p for m, p in by_model.items()}


def main() -> None:
    params = read_params()
    cfg, seed = params.baseline, params.seed
    bars, minutes = load_bars()
    result: dict = {}
    frames = []
    for w, gs in gaf_sets(params).items():
        result[f"w{w}"], probs = evaluate_window(gs, bars, minutes, cfg, seed)
        for name, by_split in probs.items():
            for s, p in by_split.items():
                frames.append(predictions.frame(gs.timestamps(s), s, gs.labels(s), p, name))
    predictions.write(frames, paths.predictions_file(registry.BASELINE.name))
    detected = [
        f"{w}/{m}"
        for w, models in result.items()
        for m, rep in models.items()
        if m != registry.MAJORITY_W.kind and rep["test"]["signal_detected"]
    ]
    result["signal_detected"] = bool(detected)
    result["signal_detected_by"] = detected
    write_json(paths.metrics("baseline"), result)
    for w, models in result.items():
        if not isinstance(models, dict):
            continue
        for m, rep in models.items():
            t = rep["test"]
            lo, hi = t["accuracy_ci"]
            print(
                f"baseline {w} {m:15s} test acc {t['accuracy']:.3f} [{lo:.3f}, {hi:.3f}] "
                f"majority {t['majority_rate']:.3f} bal {t['balanced_accuracy']:.3f} "
                f"auc {t['roc_auc']:.3f}"
            )
    print(f"signal detected: {result['signal_detected']} {detected}")


if __name__ == "__main__":
    run_stage(main)
