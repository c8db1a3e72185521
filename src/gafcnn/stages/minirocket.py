"""`minirocket` stage (one DVC matrix entry per window): MiniRocket (``aeon``) on the
window's per-bar series, the reference simple model of time-series classification,
with a logistic head fitted on train whose L2 strength (``minirocket.C``) is chosen
on val log loss. The transform and head are fitted on at most ``minirocket.fit_samples``
train decisions (evenly spaced over train); val and test are scored in full, by chunks.

Writes ``models/minirocket/w{W}.npz`` (the transform's parameters and the head),
``data/predictions/minirocket/w{W}.parquet`` and ``metrics/minirocket_w{W}.json``;
fit and predict times go to the untracked timings file.
"""

from __future__ import annotations

import time

from gafcnn import paths, registry
from gafcnn.data.bars import load_bars
from gafcnn.images.imageset import GafSet
from gafcnn.io import record_timings, run_stage, write_json
from gafcnn.models import predictions
from gafcnn.models.metrics import classification_report
from gafcnn.models.series import fit_rocket
from gafcnn.params import read_params
from gafcnn.stages.common import split_positions, window_arg


def main() -> None:
    w = window_arg(__doc__)
    params = read_params()
    cfg, model = params.minirocket, registry.MINIROCKET
    gs = GafSet(paths.gaf_dir(w))
    bars, minutes = load_bars()
    pos = split_positions(gs, minutes)
    y = {s: gs.labels(s) for s in pos}
    t0 = time.perf_counter()
    rocket, losses = fit_rocket(bars, (pos["train"], y["train"]), (pos["val"], y["val"]), w, cfg,
                                params.seed)  # fmt: skip
    fit_s = time.perf_counter() - t0
    reports, frames = {}, []
    t0 = time.perf_counter()
    for s in ("val", "test"):
        p = rocket.predict(bars, pos[s])  # what the bundle serves
        reports[s] = classification_report(y[s], p)
        frames.append(predictions.frame(gs.timestamps(s), s, y[s], p, model.at(w)))
    predict_s = time.perf_counter() - t0
    predictions.write(frames, paths.window_predictions(model.stage.name, w))
    rocket.save(paths.minirocket_model(w))
    write_json(
        paths.metrics(model.at(w)),
        {"val": reports["val"], "test": reports["test"], "features": len(rocket.coef),
         "C": rocket.c, "C_at_grid_edge": rocket.c in (min(cfg.C), max(cfg.C)),
         "val_log_loss": {str(c): v for c, v in losses.items()},
         "n_train": len(y["train"]), "n_fit": min(len(y["train"]), cfg.fit_samples)},
    )  # fmt: skip
    per_1000 = 1000 * predict_s / (len(y["val"]) + len(y["test"]))
    record_timings(f"{model.stage.name}@{w}", {"fit_s": fit_s, "predict_s_per_1000": per_1000})
    if rocket.c in (min(cfg.C), max(cfg.C)):
        print(f"minirocket w{w}: the chosen C {rocket.c:g} is at the end of minirocket.C "
              f"{cfg.C}; the best may lie beyond it")  # fmt: skip
    t = reports["test"]
    print(
        f"minirocket w{w}: {len(rocket.coef)} features, C {rocket.c:g}, test acc "
        f"{t['accuracy']:.4f} (majority {t['majority_rate']:.4f}) auc {t['roc_auc']:.4f}, "
        f"fit {fit_s:.1f} s"
    )


if __name__ == "__main__":
    run_stage(main)
