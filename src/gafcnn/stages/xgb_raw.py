"""`xgb_raw` stage (one DVC matrix entry per window): XGBoost on the window's raw
per-bar series, flattened (no images, no indicators), with xgb_indicators's hyperparameters
(``xgb``) and early stopping on val, fitted on at most ``xgb.raw_fit_samples`` train
decisions (evenly spaced) and fed by chunks, so its memory stays bounded as bars grow.
Beside xgb_indicators it separates "indicators vs raw series" for trees; beside the
CNNs, "trees vs CNNs" on the same series.

Writes ``models/xgb_raw/w{W}.ubj``, ``data/predictions/xgb_raw/w{W}.parquet`` and
``metrics/xgb_raw_w{W}.json``; fit and predict times go to the untracked timings file.
"""

from __future__ import annotations

import time

from gafcnn import paths, registry
from gafcnn.data.bars import load_bars
from gafcnn.data.samples import evenly
from gafcnn.images.imageset import GafSet
from gafcnn.io import record_timings, run_stage, save_xgb, write_json
from gafcnn.models import predictions
from gafcnn.models.metrics import classification_report
from gafcnn.models.series import fit_raw_xgb, predict_raw_chunks
from gafcnn.params import read_params, runtime_setting
from gafcnn.stages.common import split_positions, window_arg


def main() -> None:
    w = window_arg(__doc__)
    params = read_params()
    model = registry.XGB_RAW
    gs = GafSet(paths.gaf_dir(w))
    bars, minutes = load_bars()
    pos = split_positions(gs, minutes)
    y = {s: gs.labels(s) for s in pos}
    threads = runtime_setting(params, "threads")
    t0 = time.perf_counter()
    fit = evenly(len(pos["train"]), params.xgb.raw_fit_samples)
    train = (pos["train"][fit], y["train"][fit])
    booster = fit_raw_xgb(params.xgb, params.seed, threads, bars, train, (pos["val"], y["val"]), w)
    fit_s = time.perf_counter() - t0
    reports, frames = {}, []
    t0 = time.perf_counter()
    for s in ("val", "test"):
        p = predict_raw_chunks(booster, bars, pos[s], w)  # what the bundle serves
        reports[s] = classification_report(y[s], p)
        frames.append(predictions.frame(gs.timestamps(s), s, y[s], p, model.at(w)))
    predict_s = time.perf_counter() - t0
    predictions.write(frames, paths.window_predictions(model.stage.name, w))
    save_xgb(booster, paths.xgb_raw_model(w))
    write_json(
        paths.metrics(model.at(w)),
        {"val": reports["val"], "test": reports["test"], "features": 3 * w,
         "best_iteration": int(booster.best_iteration), "n_train": len(y["train"]),
         "n_fit": len(fit)},
    )  # fmt: skip
    per_1000 = 1000 * predict_s / (len(y["val"]) + len(y["test"]))
    record_timings(f"{model.stage.name}@{w}", {"fit_s": fit_s, "predict_s_per_1000": per_1000})
    t = reports["test"]
    print(
        f"xgb_raw w{w}: test acc {t['accuracy']:.4f} (majority {t['majority_rate']:.4f}) "
        f"auc {t['roc_auc']:.4f}, best iteration {booster.best_iteration}, fit {fit_s:.1f} s"
    )


if __name__ == "__main__":
    run_stage(main)
