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
from gafcnn.io import InputError, release_arrow_memory, write_parquet

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


def read(path: str | os.PathLike[str], segments: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One predictions file, or every ``*.parquet`` below a folder, in the layout;
    with ``segments``, only their rows, filtered as each file is read (memory then
    follows those segments, not every sample every model ever predicted)."""
    import pyarrow.parquet as pq

    p = Path(path)
    files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    if not files or not all(f.exists() for f in files):
        raise InputError(p, "no predictions found; run `dvc repro` (or `dvc pull`) first")
    keep = None if segments is None else [("segment", "in", list(segments))]
    parts = []
    for f in files:
        missing = [c for c in COLUMNS if c not in pq.read_schema(f).names]
        if missing:
            raise InputError(f, f"not in the predictions layout: missing columns {missing}")
        parts.append(pd.read_parquet(f, columns=list(COLUMNS), filters=keep))
    models = pd.Series([m for q in parts for m in q["model"].unique()])
    shared = set(models[models.duplicated()])  # a model in several files: checked across them
    checks = parts + ([pd.concat([q[q["model"].isin(shared)] for q in parts])] if shared else [])
    for rows in checks:  # each file alone, then the shared models: never one big hash table
        twice = first_repeat(rows)
        if twice is not None:
            row = rows.iloc[twice]
            raise InputError(p, f"model {row['model']} has timestamp {row['timestamp']} twice")
    out = pd.concat(parts, ignore_index=True)
    del parts, checks
    release_arrow_memory()  # the files' own copies, now dropped
    return out


def first_repeat(preds: pd.DataFrame) -> int | None:
    """The position of a row whose (model, timestamp) an earlier row has, or None:
    a sort of integer codes, not a hash table of the pairs."""
    codes = pd.factorize(preds["model"])[0]
    ts = clock.ms_of(preds["timestamp"])
    order = np.lexsort((np.arange(len(ts)), ts, codes))
    same = (np.diff(codes[order]) == 0) & (np.diff(ts[order]) == 0)
    return int(order[1:][same].min()) if same.any() else None


def of_model(preds: pd.DataFrame, model: str) -> pd.DataFrame:
    """The rows of one model, sorted by timestamp; an error names the missing model."""
    sel = preds[preds["model"] == model]
    if sel.empty:
        raise KeyError(f"no predictions of model {model!r}")
    return sel.sort_values("timestamp", ignore_index=True)
