"""The one layout of every model's predictions: long, keyed by decision timestamp.

Each row is ``timestamp`` (the decision time, UTC, ms), ``segment`` (train / val /
test), ``model`` (e.g. ``cnn_w15``, ``xgb_indicators``, ``ensemble_weighted``), ``label``
(1 up / 0 down) and ``p_up``. Every stage writes this layout and every reader goes
through :func:`read`, so models are compared and joined by key, never by position.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.io import InputError, write_parquet

COLUMNS = ("timestamp", "segment", "model", "label", "p_up")


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of P(up), clipped away from 0 and 1: the stacking combiner's input,
    the same when fitted (:class:`gafcnn.models.ensemble.Stacker`) and when served."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def frame(
    ts_ms: np.ndarray, segment: str | np.ndarray, labels: np.ndarray, p_up: np.ndarray, model: str
) -> pd.DataFrame:
    """Predictions of one model in the shared layout (timestamps in epoch ms)."""
    return pd.DataFrame(
        {
            "timestamp": clock.datetimes(ts_ms),
            "segment": segment,
            "model": model,
            "label": np.asarray(labels).astype(np.int8),
            "p_up": np.asarray(p_up, dtype=np.float64),
        }
    )


def write(frames: list[pd.DataFrame], path: str | os.PathLike[str]) -> None:
    """Concatenate ``frames`` (already in the layout) and write them atomically."""
    out = pd.concat(frames, ignore_index=True)
    missing = [c for c in COLUMNS if c not in out.columns]
    if missing:
        raise ValueError(f"predictions lack columns {missing}")
    write_parquet(out[list(COLUMNS)], path)


def read(path: str | os.PathLike[str]) -> pd.DataFrame:
    """One predictions file, or every ``*.parquet`` below a folder, in the layout."""
    p = Path(path)
    files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    if not files or not all(f.exists() for f in files):
        raise InputError(p, "no predictions found; run `dvc repro` (or `dvc pull`) first")
    parts = []
    for f in files:
        df = pd.read_parquet(f)
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise InputError(f, f"not in the predictions layout: missing columns {missing}")
        parts.append(df[list(COLUMNS)])
    out = pd.concat(parts, ignore_index=True)
    dup = out.duplicated(["model", "timestamp"])
    if dup.any():
        row = out[dup].iloc[0]
        raise InputError(p, f"model {row['model']} has timestamp {row['timestamp']} twice")
    return out


def of_model(preds: pd.DataFrame, model: str) -> pd.DataFrame:
    """The rows of one model, sorted by timestamp; an error names the missing model."""
    sel = preds[preds["model"] == model]
    if sel.empty:
        raise KeyError(f"no predictions of model {model!r}")
    return sel.sort_values("timestamp", ignore_index=True)
