"""`patterns` stage: a learnable task for the same encoding + CNN - candlestick patterns.

Each window of ``patterns.window`` bars is labelled by rule-based candlestick-pattern
detectors applied to its last bars (:func:`gafcnn.labels.pattern_labels`), encoded
as GASF images of its close, upper-shadow, lower-shadow and real-body series (the
CULR channels of Chen & Tsai, 2020), classes balanced, and classified by a
multi-class SimpleCNN. The label is a function of the window itself, so this shows
whether the encoding and the CNN can learn what *is* learnable - it says nothing
about forecasting direction.

Train and test are chronological (test is the last part of the ingested bars,
purged by a window). Two trainings are reported: on real bars only, and on real bars
topped up with windows of the synthetic generator for classes with few real
examples. Testing is always on held-out ingested bars, balanced per class.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from torch import nn

from gafcnn.bars import minute_index
from gafcnn.encodings import Encoder, window_series
from gafcnn.io import InputError, load_params, run_stage, write_json
from gafcnn.labels import PATTERNS, pattern_labels
from gafcnn.models import SimpleCNN
from gafcnn.samples import window_complete
from gafcnn.synthetic import SyntheticConfig, generate
from gafcnn.training import batches, seed_everything

OHLC = ("open", "high", "low", "close")


def labelled_windows(
    bars: dict[str, np.ndarray], minutes: np.ndarray | None, window: int, trend: int
):
    """Positions whose gap-free window holds the pattern and its trend context, and labels."""
    y = pattern_labels(*(bars[k] for k in OHLC), trend_bars=trend)
    ok = np.zeros(len(y), dtype=bool)
    ok[window - 1 :] = True
    if minutes is not None:
        ok &= window_complete(minutes, window)
    pos = np.flatnonzero(ok)
    return pos, y[pos]


def balance(pos: np.ndarray, y: np.ndarray, per_class: int, rng: np.random.Generator):
    """Up to ``per_class`` samples of every class, drawn without replacement."""
    keep = []
    for k in range(len(PATTERNS)):
        idx = np.flatnonzero(y == k)
        keep.append(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    keep = np.sort(np.concatenate(keep))
    return pos[keep], y[keep]


def fit_classifier(x, y, x_val, y_val, cfg: dict, seed: int) -> nn.Module:
    """Multi-class SimpleCNN, early-stopped on validation loss (best epoch restored)."""
    seed_everything(seed, 2)
    model = SimpleCNN(x.shape[1], int(cfg["width"]), float(cfg["dropout"]), len(PATTERNS))
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val.astype(np.int64))
    rng = np.random.default_rng(seed)
    best, best_loss, waited = copy.deepcopy(model.state_dict()), np.inf, 0
    for _ in range(int(cfg["epochs"])):
        model.train()
        for idx in batches(rng.permutation(len(y)), int(cfg["batch_size"])):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(model(xv), yv))
        if val_loss < best_loss - 1e-5:
            best, best_loss, waited = copy.deepcopy(model.state_dict()), val_loss, 0
        else:
            waited += 1
            if waited >= int(cfg["patience"]):
                break
    model.load_state_dict(best)
    return model


def scores(model: nn.Module, x: np.ndarray, y: np.ndarray) -> dict:
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    recall = {
        p: float(np.mean(pred[y == k] == k)) for k, p in enumerate(PATTERNS) if (y == k).any()
    }
    return {
        "accuracy": float(np.mean(pred == y)),
        "mean_class_recall": float(np.mean(list(recall.values()))),
        "per_class_recall": recall,
        "n_test": len(y),
    }


def main() -> None:
    params = load_params()
    cfg, seed = params["patterns"], int(params.get("seed", 0))
    window, trend = int(cfg["window"]), int(cfg["trend_bars"])
    rng = np.random.default_rng(seed)
    df = pd.read_parquet("data/interim/bars.parquet")
    bars = {k: df[k].to_numpy(np.float64) for k in OHLC}
    pos, y = labelled_windows(bars, minute_index(df), window, trend)
    cut = int(len(df) * float(cfg["train_fraction"]))
    train_sel, test_sel = pos < cut, pos >= cut + window  # purge: no shared bar
    enc = Encoder(cfg["channels"], window, threads=2)

    def images(b: dict, p: np.ndarray) -> np.ndarray:
        return enc.encode(window_series(b, p, window, enc.series_needed), dtype=np.float32)

    # balanced real test set: every class as often as the rarest one
    t_pos, t_y = pos[test_sel], y[test_sel]
    n_test = int(np.bincount(t_y, minlength=len(PATTERNS)).min())
    if n_test == 0:
        missing = [p for k, p in enumerate(PATTERNS) if not (t_y == k).any()]
        raise InputError(
            "data/interim/bars.parquet", f"no test windows of {missing}; need more bars"
        )
    t_pos, t_y = balance(t_pos, t_y, n_test, rng)
    x_test = images(bars, t_pos)

    r_pos, r_y = balance(pos[train_sel], y[train_sel], int(cfg["per_class"]), rng)
    real_counts = np.bincount(r_y, minlength=len(PATTERNS))
    n_real = int(real_counts.min())
    rr_pos, rr_y = balance(r_pos, r_y, n_real, rng)  # real only, balanced

    syn = generate(
        SyntheticConfig(
            n_bars=int(cfg["synthetic_bars"]), seed=int(cfg["synthetic_seed"]), signal=0.0
        )
    )
    sbars = {k: syn.bars[k].to_numpy(np.float64) for k in OHLC}
    s_pos, s_y = labelled_windows(sbars, None, window, trend)
    need = int(cfg["per_class"]) - real_counts  # top every class up to per_class
    extra = [rng.choice(np.flatnonzero(s_y == k), size=max(int(need[k]), 0), replace=False)
             for k in range(len(PATTERNS))]  # fmt: skip
    extra = np.sort(np.concatenate(extra))

    results = {}
    for name, x, yy in (
        ("real_only", images(bars, rr_pos), rr_y),
        ("mixed", np.concatenate([images(bars, r_pos), images(sbars, s_pos[extra])]),
         np.concatenate([r_y, s_y[extra]])),
    ):  # fmt: skip
        order = rng.permutation(len(yy))
        n_val = len(yy) // 6
        val, tr = order[:n_val], order[n_val:]
        model = fit_classifier(x[tr], yy[tr], x[val], yy[val], cfg, seed)
        per_class = np.bincount(yy, minlength=len(PATTERNS)).tolist()
        results[name] = {
            **scores(model, x_test, t_y),
            "n_train": len(tr),
            "train_per_class": per_class,
        }
    metrics = {
        "patterns": list(PATTERNS),
        "channels": [c.name for c in enc.channels],
        "window": window,
        "chance": 1 / len(PATTERNS),
        "real_counts_train": np.bincount(y[train_sel], minlength=len(PATTERNS)).tolist(),
        "real_counts_test": np.bincount(y[test_sel], minlength=len(PATTERNS)).tolist(),
        "test_per_class": n_test,
        **results,
    }
    write_json("metrics/patterns.json", metrics)
    for name in ("real_only", "mixed"):
        r = results[name]
        print(f"patterns {name}: test accuracy {r['accuracy']:.4f} on {r['n_test']} balanced "
              f"real windows, trained on {r['n_train']}")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
