"""Small helpers the model stages share: the shared samples and bar arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.bars import MINUTE_MS, minute_index
from gafcnn.gafdata import GafSet
from gafcnn.split import SEGMENTS


def windows(params: dict) -> list[int]:
    return [int(w) for w in params["gaf"]["windows"]]


def gaf_sets(params: dict) -> dict[int, GafSet]:
    return {w: GafSet(paths.gaf_dir(w)) for w in windows(params)}


def load_bars() -> tuple[dict[str, np.ndarray], np.ndarray]:
    bars = pd.read_parquet(paths.BARS)
    arrays = {
        k: bars[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume")
    }
    return arrays, minute_index(bars)


def positions(minutes: np.ndarray, stamps_ms: np.ndarray) -> np.ndarray:
    """Bar positions of decision timestamps (epoch ms)."""
    pos = np.searchsorted(minutes, stamps_ms // MINUTE_MS)
    if np.any(minutes[np.minimum(pos, len(minutes) - 1)] != stamps_ms // MINUTE_MS):
        raise ValueError("decision timestamps not found among the bars")
    return pos


def samples_frame(gs: GafSet) -> pd.DataFrame:
    """The shared samples (timestamp ms, segment, label) of an image set."""
    parts = [
        pd.DataFrame({"ts": gs.timestamps(s), "segment": s, "label": gs.labels(s)})
        for s in SEGMENTS
    ]
    return pd.concat(parts, ignore_index=True)
