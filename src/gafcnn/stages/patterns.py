"""`patterns` stage: a learnable task for the same encoding + CNN - candlestick patterns.

Each window of ``patterns.window`` bars is labelled by rule-based candlestick-pattern
detectors applied to its last bars (:func:`gafcnn.patterns.labels.pattern_labels`), encoded as
GAF images of its close, upper-shadow, lower-shadow and real-body series (the CULR
channels of Chen & Tsai, 2020; here all four on one scale, the window's high-low
range, so the candle parts keep their proportions), and classified by
:class:`gafcnn.models.cnn.PatternCNN`. The label is a function of the window itself, so
this shows whether the encoding and the CNN learn what *is* learnable - it says
nothing about forecasting direction.

Train and test are chronological segments of the ingested bars; two models (trained
on real windows only, and on real windows topped up with synthetic ones) are tested
on every held-out window (per-class recall, and their mean: the accuracy on a test
set with all classes equally often) and on a balanced draw of them, whose confusion
matrix goes to ``plots/patterns/`` (:mod:`gafcnn.patterns.task` runs it all).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.io import run_stage, write_csv, write_json
from gafcnn.models.cnn import save_checkpoint
from gafcnn.params import read_params, runtime_setting
from gafcnn.patterns import task
from gafcnn.patterns.labels import PATTERNS


def write_confusion(path: str | Path, y: np.ndarray, pred: np.ndarray) -> None:
    """One row per window (actual, predicted) for DVC's confusion template."""
    frame = pd.DataFrame({"actual": np.array(PATTERNS)[y], "predicted": np.array(PATTERNS)[pred]})
    write_csv(frame, path)


def main() -> None:
    params = read_params()
    threads = runtime_setting(params, "threads")
    out = task.run(params.patterns, params.patterns.seed, pd.read_parquet(paths.BARS), threads)
    y, bal = out.held_out, out.balanced
    for name, trained in out.trained.items():
        write_confusion(paths.pattern_confusion(name), y[bal], trained.pred[bal])
        save_checkpoint(trained.model, trained.meta, paths.pattern_model(name))
    write_json(paths.metrics("patterns"), out.metrics)
    for name in task.RUNS:
        r, n_bal = out.metrics[name], out.metrics["test_balanced_per_class"]
        print(f"patterns {name}: mean recall {r['test']['mean_recall']:.4f} over "
              f"{r['test']['n']} held-out windows; balanced-draw accuracy "
              f"{r['test_balanced_accuracy']:.4f} ({n_bal} per class)")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
