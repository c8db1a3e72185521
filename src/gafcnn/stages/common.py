"""Small helpers the model stages share: the shared samples and bar arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn.bars import MINUTE_MS, minute_index
from gafcnn.gafdata import GafSet
from gafcnn.split import SEGMENTS

BARS = "data/interim/bars.parquet"


def gaf_sets(params: dict) -> dict[int, GafSet]:
    return {int(w): GafSet(Path("data/gaf") / f"w{w}") for w in params["gaf"]["windows"]}


def load_bars() -> tuple[dict[str, np.ndarray], np.ndarray]:
    bars = pd.read_parquet(BARS)
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
    """The shared samples (timestamp ms, split, label) of an image set."""
    parts = [
        pd.DataFrame({"ts": gs.timestamps(s), "split": s, "label": gs.labels(s)}) for s in SEGMENTS
    ]
    return pd.concat(parts, ignore_index=True)


def prediction_frame(
    ts_ms: np.ndarray, split: str | np.ndarray, y: np.ndarray, p: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(ts_ms, unit="ms", utc=True).as_unit("ms"),
            "split": split,
            "label": np.asarray(y).astype(np.int8),
            "p_up": p,
        }
    )


def ms(timestamps: pd.Series) -> np.ndarray:
    return timestamps.dt.as_unit("ms").astype("int64").to_numpy()
