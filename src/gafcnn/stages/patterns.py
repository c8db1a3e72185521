"""`patterns` stage: a learnable task for the same encoding + CNN - candlestick patterns.

Each window of ``patterns.window`` bars is labelled by rule-based candlestick-pattern
detectors applied to its last bars (:func:`gafcnn.patterns.labels.pattern_labels`), encoded as
GAF images of its close, upper-shadow, lower-shadow and real-body series (the CULR
channels of Chen & Tsai, 2020; here all four on one scale, the window's high-low
range, so the candle parts keep their proportions), and classified by
:class:`gafcnn.patterns.model.PatternCNN`. The label is a function of the window itself, so
this shows whether the encoding and the CNN learn what *is* learnable - it says
nothing about forecasting direction.

Train and test are chronological: test is the last part of the ingested bars, purged
by a window. Two models are trained on class-balanced sets and both tested on every
held-out ingested window (per-class recall, and their mean: the accuracy on a test
set with all classes equally often) and on a balanced draw of them, whose confusion
matrix goes to ``plots/patterns/``:

* ``real_only``: ingested train windows, each class resampled to ``real_per_class``;
* ``mixed``: the same bars (up to ``per_class`` per class) topped up to ``per_class``
  with windows of the synthetic generator (``patterns.synthetic``, no planted signal).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.data.bars import minute_index
from gafcnn.data.synthetic import generate
from gafcnn.evaluation.metrics import multiclass_report
from gafcnn.images.encodings import Encoder, window_series
from gafcnn.io import InputError, run_stage, save_torch, write_csv, write_json
from gafcnn.params import SyntheticConfig, read_params, runtime_setting
from gafcnn.patterns.candles import candle_profile
from gafcnn.patterns.labels import PATTERNS, balanced_draw, pattern_windows
from gafcnn.patterns.task import RUNS, train_and_test

OHLC = ("open", "high", "low", "close")


def write_confusion(path: str | Path, y: np.ndarray, pred: np.ndarray) -> None:
    """One row per window (actual, predicted) for DVC's confusion template."""
    frame = pd.DataFrame({"actual": np.array(PATTERNS)[y], "predicted": np.array(PATTERNS)[pred]})
    write_csv(frame, path)


def main() -> None:
    params = read_params()
    cfg, seed = params.patterns, params.seed
    syn_cfg = SyntheticConfig.from_params({"signal": 0.0, **cfg.synthetic}, "patterns.synthetic")
    rng = np.random.default_rng(seed)
    threads = int(runtime_setting(params, "threads", 2))
    df = pd.read_parquet(paths.BARS)
    bars = {k: df[k].to_numpy(np.float64) for k in OHLC}
    pos, y = pattern_windows(bars, minute_index(df), cfg.window, cfg.trend_bars)
    cut = int(len(df) * cfg.train_fraction)
    train_sel, test_sel = pos < cut, pos >= cut + cfg.window  # purged: no shared bar
    t_pos, t_y = pos[test_sel], y[test_sel]
    missing = [p for k, p in enumerate(PATTERNS) if not (t_y == k).any()]
    if missing or not train_sel.any():
        raise InputError(
            paths.BARS, f"no held-out windows of {missing or 'any class'}; need more bars"
        )
    enc = Encoder(cfg.channels, cfg.window, threads=threads)

    def images(b: dict[str, np.ndarray], p: np.ndarray) -> np.ndarray:
        return enc.encode(window_series(b, p, cfg.window, enc.series_needed), dtype=np.float32)

    x_test = images(bars, t_pos)
    n_bal = int(np.bincount(t_y, minlength=len(PATTERNS)).min())
    bal = balanced_draw(t_y, n_bal, len(PATTERNS), rng)  # every class as often as the rarest

    r_pos, r_y = pos[train_sel], y[train_sel]
    only = balanced_draw(r_y, cfg.real_per_class, len(PATTERNS), rng, repeat=True)
    capped = balanced_draw(r_y, cfg.per_class, len(PATTERNS), rng)
    real_counts = np.bincount(r_y[capped], minlength=len(PATTERNS))

    syn = generate(syn_cfg).bars
    sbars = {k: syn[k].to_numpy(np.float64) for k in OHLC}
    s_pos, s_y = pattern_windows(sbars, None, cfg.window, cfg.trend_bars)
    need = np.maximum(cfg.per_class - real_counts, 0)
    have = np.bincount(s_y, minlength=len(PATTERNS))
    if (have < need).any():
        short = {p: int(need[k] - have[k]) for k, p in enumerate(PATTERNS) if have[k] < need[k]}
        raise InputError("params.yaml", f"patterns.synthetic.n_bars too small: short of {short}")
    extra = balanced_draw(s_y, need, len(PATTERNS), rng)

    sets = {
        "real_only": (images(bars, r_pos[only]), r_y[only]),
        "mixed": (
            np.concatenate([images(bars, r_pos[capped]), images(sbars, s_pos[extra])]),
            np.concatenate([r_y[capped], s_y[extra]]),
        ),
    }
    results = {}
    for name in RUNS:
        x, yy = sets[name]
        model, history, pred = train_and_test(cfg, x, yy, x_test, seed, threads)
        report = multiclass_report(t_y, pred, PATTERNS)
        write_confusion(paths.pattern_confusion(name), t_y[bal], pred[bal])
        save_torch({"state_dict": model.state_dict(), "channels": cfg.channels,
                    "window": cfg.window, "patterns": list(PATTERNS)},
                   paths.pattern_model(name))  # fmt: skip
        results[name] = {
            "test": {k: v for k, v in report.items() if k != "confusion"},
            "test_balanced_accuracy": multiclass_report(t_y[bal], pred[bal], PATTERNS)["accuracy"],
            "train_per_class": np.bincount(yy, minlength=len(PATTERNS)).tolist(),
            "train_real_per_class": (
                np.bincount(r_y[only], minlength=len(PATTERNS))
                if name == "real_only"
                else real_counts
            ).tolist(),  # fmt: skip
            "final_train_loss": history[-1]["loss"],
            "final_train_accuracy": history[-1]["acc"],
        }
    write_json(
        paths.metrics("patterns"),
        {
            "patterns": list(PATTERNS),
            "channels": [c.name for c in enc.channels],
            "window": cfg.window,
            "chance": 1 / len(PATTERNS),
            "real_counts_train": np.bincount(r_y, minlength=len(PATTERNS)).tolist(),
            "real_counts_test": np.bincount(t_y, minlength=len(PATTERNS)).tolist(),
            "test_balanced_per_class": n_bal,
            "candles": {
                "ingested_train": candle_profile({k: v[:cut] for k, v in bars.items()}),
                "synthetic": candle_profile(sbars),
            },
            **results,
        },
    )
    for name in RUNS:
        r = results[name]
        print(f"patterns {name}: mean recall {r['test']['mean_recall']:.4f} over "
              f"{r['test']['n']} held-out windows; balanced-draw accuracy "
              f"{r['test_balanced_accuracy']:.4f} ({n_bal} per class)")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
