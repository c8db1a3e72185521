"""Small helpers the model stages share: the shared samples and bar arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.bars import minute_index
from gafcnn.gafdata import GafSet
from gafcnn.io import InputError
from gafcnn.split import SEGMENTS, parse_windows


def windows(params: dict) -> list[int]:
    """``gaf.windows``, checked: a bad value is one line naming params.yaml."""
    try:
        return parse_windows(params["gaf"]["windows"])
    except ValueError as exc:
        raise InputError("params.yaml", str(exc)) from None


def stride(params: dict) -> int:
    """``gaf.stride``, checked (keep decision times whose minute is a multiple of it)."""
    raw = params["gaf"].get("stride", 1)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 1 or (value != raw and str(value) != str(raw)):
        raise InputError("params.yaml", f"gaf.stride must be an integer >= 1, got {raw!r}")
    return value


def gaf_sets(params: dict) -> dict[int, GafSet]:
    return {w: GafSet(paths.gaf_dir(w)) for w in windows(params)}


def load_bars() -> tuple[dict[str, np.ndarray], np.ndarray]:
    bars = pd.read_parquet(paths.BARS)
    arrays = {
        k: bars[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume")
    }
    return arrays, minute_index(bars)


def samples_frame(gs: GafSet) -> pd.DataFrame:
    """The shared samples (timestamp ms, segment, label) of an image set."""
    parts = [
        pd.DataFrame({"ts": gs.timestamps(s), "segment": s, "label": gs.labels(s)})
        for s in SEGMENTS
    ]
    return pd.concat(parts, ignore_index=True)
