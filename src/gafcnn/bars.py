"""The canonical 1-minute bar frame and the minute arithmetic every stage shares.

The frame has ``timestamp`` (UTC, ms resolution), ``open``, ``high``, ``low``,
``close``, ``volume`` (float64) and ``filled`` (bool, True only for bars created
by ``data.fill_gaps``). Missing minutes stay missing unless filling was asked
for; :func:`gap_summary` counts them. Files are read by :mod:`gafcnn.readers`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

OHLCV = ["open", "high", "low", "close", "volume"]
COLUMNS = ["timestamp", *OHLCV, "filled"]
MINUTE_MS = 60_000


def minute_index(bars: pd.DataFrame) -> np.ndarray:
    """Integer minutes since the epoch for each bar (the key arithmetic uses)."""
    stamps = bars["timestamp"].dt.as_unit("ms").astype("int64").to_numpy()
    return stamps // MINUTE_MS


def positions(minutes: np.ndarray, stamps_ms: np.ndarray) -> np.ndarray:
    """Bar positions of decision timestamps (epoch ms); every one must be a bar."""
    stamps = np.asarray(stamps_ms) // MINUTE_MS
    pos = np.searchsorted(minutes, stamps)
    if np.any(minutes[np.minimum(pos, len(minutes) - 1)] != stamps):
        raise ValueError("decision timestamps not found among the bars")
    return pos


def gap_summary(bars: pd.DataFrame) -> dict[str, int]:
    """Count holes in the minute grid and the minutes they miss."""
    minutes = minute_index(bars)
    if len(minutes) < 2:
        return {"count": 0, "minutes": 0}
    step = np.diff(minutes)
    holes = step > 1
    return {"count": int(holes.sum()), "minutes": int((step[holes] - 1).sum())}
