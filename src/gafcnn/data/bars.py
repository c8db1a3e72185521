"""The canonical 1-minute bar frame and the minute arithmetic every stage shares.

The frame has ``timestamp`` (UTC, ms resolution), ``open``, ``high``, ``low``,
``close``, ``volume`` (float64) and ``filled`` (bool, True only for bars created
by ``data.fill_gaps``), and the order-flow columns :data:`FLOW` (float64) when every
file read carries them. Missing minutes stay missing unless filling was asked
for; :func:`gap_summary` counts them. Files are read by :mod:`gafcnn.data.readers`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, paths
from gafcnn.io import InputError

OHLCV = ["open", "high", "low", "close", "volume"]
COLUMNS = ["timestamp", *OHLCV, "filled"]
# order flow, kept when every file read carries it: the number of trades in the bar
# and the base volume bought by takers (market buys)
FLOW = ["trades", "taker_buy_base"]


def taker_imbalance(volume: np.ndarray, taker_buy: np.ndarray) -> np.ndarray:
    """``2 * taker_buy / volume - 1`` per bar (+1: every trade a market buy), 0 where
    nothing traded."""
    v = np.asarray(volume, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(v > 0, 2 * np.asarray(taker_buy, dtype=np.float64) / v - 1, 0.0)


def bar_arrays(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """The OHLCV columns, and the order flow where the frame carries it, as float64
    arrays: what the models read from bars."""
    return {k: bars[k].to_numpy(np.float64) for k in (*OHLCV, *FLOW) if k in bars}


def minute_index(bars: pd.DataFrame) -> np.ndarray:
    """Integer minutes since the epoch for each bar (the key arithmetic uses)."""
    return clock.minutes_of(bars["timestamp"])


class NotABar(ValueError):
    """Decision timestamps that are not bars: the samples come from other bars."""

    def __init__(self, missing: int, total: int, first: str):
        self.missing, self.total, self.first = missing, total, first
        super().__init__(
            f"decision timestamps not found among the bars: {missing} of {total}, the first {first}"
        )


def positions(minutes: np.ndarray, stamps_ms: np.ndarray) -> np.ndarray:
    """Bar positions of decision timestamps (epoch ms); every one must be a bar."""
    stamps = clock.minutes_of_ms(stamps_ms)
    pos = np.searchsorted(minutes, stamps)
    found = pos < len(minutes)
    found[found] = minutes[pos[found]] == stamps[found]
    if not found.all():
        when = clock.iso_minute(stamps[~found][0])
        raise NotABar(int((~found).sum()), len(stamps), when)
    return pos


def bar_positions(minutes: np.ndarray, stamps_ms: np.ndarray, source: str | Path) -> np.ndarray:
    """Bar positions of decision timestamps read from ``source``; when they are not
    among the bars, one line names the two outputs that disagree."""
    try:
        return positions(minutes, stamps_ms)
    except NotABar as exc:
        raise InputError(
            source,
            f"{exc.missing} of its {exc.total} decision timestamps (the first {exc.first}) are "
            f"not bars of {paths.BARS}: the two were built from different bars (an experiment "
            "stopped part way?); `dvc repro` rebuilds them",
        ) from None


def load_bars(
    columns: tuple[str, ...] | None = None, path: str | Path = paths.BARS
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The bars' ``columns`` (None: OHLCV and the order flow where the bars carry it,
    what models read) as arrays (float64; ``filled`` bool) and their minutes since the
    epoch, read from parquet a row group at a time into arrays allocated once, so
    reading holds one row group beyond the columns themselves (no DataFrame, no table)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:
        names = pf.schema_arrow.names
        if columns is None:
            columns = (*OHLCV, *(k for k in FLOW if k in names))
        missing = [k for k in columns if k not in names]
        if missing:
            flow = (
                " (order flow: the bars' source files carry none)"
                if set(missing) & set(FLOW)
                else ""
            )
            raise InputError(path, f"no column {', '.join(missing)}{flow}")
        n = pf.metadata.num_rows
        arrays = {k: np.empty(n, dtype=bool if k == "filled" else np.float64) for k in columns}
        minutes = np.empty(n, dtype=np.int64)
        a = 0
        for g in range(pf.metadata.num_row_groups):  # one row group decoded at a time
            group = pf.read_row_group(g, columns=["timestamp", *columns], use_threads=False)
            b = a + group.num_rows
            ts = group.column("timestamp")
            ms = ts.cast(pa.timestamp("ms", tz=ts.type.tz)).cast(pa.int64())
            minutes[a:b] = clock.minutes_of_ms(ms.to_numpy())
            for k in columns:
                arrays[k][a:b] = group.column(k).to_numpy()
            a = b
    return arrays, minutes


def gap_summary(bars: pd.DataFrame) -> dict[str, int]:
    """Count holes in the minute grid and the minutes they miss."""
    minutes = minute_index(bars)
    if len(minutes) < 2:
        return {"count": 0, "minutes": 0}
    step = np.diff(minutes)
    holes = step > 1
    return {"count": int(holes.sum()), "minutes": int((step[holes] - 1).sum())}
