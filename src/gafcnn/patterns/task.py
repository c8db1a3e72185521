"""The candlestick-pattern task, whole: held-out windows, the two training sets, and
a :class:`~gafcnn.models.cnn.PatternCNN` trained on each by the shared training loop
(:func:`gafcnn.models.training.fit`, class logits and cross-entropy).

Train and test are chronological segments of the ingested bars (:func:`gafcnn.data.split.holdout`);
a window belongs to a segment only if all its bars do (:func:`gafcnn.data.split.bar_segments`),
and a pattern label reads its own window only, so no test label or window touches a
training bar. Two models are trained on class-balanced sets and both tested on every
held-out window and on a balanced draw of them:

* ``real_only``: ingested train windows, each class resampled to ``real_per_class``;
* ``mixed``: the same bars (up to ``per_class`` per class) topped up to ``per_class``
  with windows of the synthetic generator (``patterns.synthetic``, no planted signal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from gafcnn import paths
from gafcnn.data.bars import minute_index
from gafcnn.data.split import bar_segments, holdout
from gafcnn.data.synthetic import generate
from gafcnn.images.encodings import Encoder, window_series
from gafcnn.io import InputError
from gafcnn.models.cnn import PATTERN_ARCH, PatternCNN
from gafcnn.models.device import seed_everything
from gafcnn.models.inference import predict_classes
from gafcnn.models.metrics import multiclass_report
from gafcnn.models.sources import ArraySource
from gafcnn.models.training import Loop, fit
from gafcnn.params import PatternConfig, SyntheticConfig
from gafcnn.patterns.candles import candle_profile
from gafcnn.patterns.labels import PATTERNS, balanced_draw, pattern_windows

RUNS = ("real_only", "mixed")
OHLC = ("open", "high", "low", "close")
# Bars in no segment between train and test: the last training window ends a bar
# before the first test window begins.
PURGE = 1


@dataclass
class Trained:
    """One run's model, its checkpoint metadata, and its held-out predictions."""

    model: PatternCNN
    meta: dict
    pred: np.ndarray


@dataclass
class Outcome:
    """The task's metrics, each run's model, the held-out labels and the indices of
    their balanced draw (every class as often as the rarest)."""

    metrics: dict
    trained: dict[str, Trained]
    held_out: np.ndarray
    balanced: np.ndarray


def train_and_test(
    cfg: PatternConfig, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, seed: int,
    threads: int = 2,
) -> tuple[PatternCNN, list[dict], np.ndarray]:  # fmt: skip
    """A PatternCNN standardised on and fitted to ``x`` (every epoch, one-cycle
    schedule: no held-out set is spent on choosing an epoch); its history and its
    predicted classes on ``x_test``."""
    seed_everything(seed, threads)
    model = PatternCNN(x.shape[1], x.shape[2], cfg.width, cfg.dropout, len(PATTERNS), cfg.hidden)
    model.standardize.fit(torch.from_numpy(x))
    seed_everything(seed, threads)  # dropout masks independent of the initial draws
    loop = Loop(cfg.epochs, cfg.lr, cfg.batch_size, cfg.weight_decay, seed,
                classes=len(PATTERNS), one_cycle=True)  # fmt: skip
    result = fit(model, ArraySource(x, y), None, loop, torch.device("cpu"))
    return model, result.history, predict_classes(model, x_test)


def checkpoint_meta(cfg: PatternConfig, x: np.ndarray) -> dict:
    """What rebuilds a trained PatternCNN (:func:`gafcnn.models.cnn.load_checkpoint`)."""
    return {
        "arch": PATTERN_ARCH,
        "input_shape": list(x.shape[1:]),
        "params": {"width": cfg.width, "dropout": cfg.dropout, "hidden": cfg.hidden},
        "classes": list(PATTERNS),
        "channels": cfg.channels,
        "window": cfg.window,
    }


def run(cfg: PatternConfig, seed: int, df: pd.DataFrame, threads: int = 2) -> Outcome:
    """The whole task on the ingested bars ``df``."""
    syn_cfg = SyntheticConfig.from_params({"signal": 0.0, **cfg.synthetic}, "patterns.synthetic")
    rng = np.random.default_rng(seed)
    bars = {k: df[k].to_numpy(np.float64) for k in OHLC}
    pos, y = pattern_windows(bars, minute_index(df), cfg.window, cfg.trend_bars)
    segments = holdout(len(df), cfg.train_fraction, PURGE)
    where = bar_segments(len(df), cfg.window, 0, segments)[pos]
    train_sel, test_sel = where == 0, where == 1
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
    results, trained = {}, {}
    for name in RUNS:
        x, yy = sets[name]
        model, history, pred = train_and_test(cfg, x, yy, x_test, seed, threads)
        report = multiclass_report(t_y, pred, PATTERNS)
        trained[name] = Trained(model, checkpoint_meta(cfg, x), pred)
        results[name] = {
            "test": {k: v for k, v in report.items() if k != "confusion"},
            "test_balanced_accuracy": multiclass_report(t_y[bal], pred[bal], PATTERNS)["accuracy"],
            "train_per_class": np.bincount(yy, minlength=len(PATTERNS)).tolist(),
            "train_real_per_class": (
                np.bincount(r_y[only], minlength=len(PATTERNS))
                if name == "real_only"
                else real_counts
            ).tolist(),  # fmt: skip
            "final_train_loss": history[-1]["train_loss"],
            "final_train_accuracy": history[-1]["train_accuracy"],
        }
    cut = segments[0].stop
    metrics = {
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
    }
    return Outcome(metrics, trained, t_y, bal)
