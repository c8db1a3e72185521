"""Small helpers the model stages share: the shared samples and bar arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.bars import MINUTE_MS
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


OHLCV = ("open", "high", "low", "close", "volume")


def load_bars(columns: tuple[str, ...] = OHLCV) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The bars' ``columns`` as arrays (float64; ``filled`` bool) and their minutes since
    the epoch, read from parquet a row group at a time into arrays allocated once, so
    reading holds one row group beyond the columns themselves (no DataFrame, no table)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(paths.BARS) as pf:
        n = pf.metadata.num_rows
        arrays = {k: np.empty(n, dtype=bool if k == "filled" else np.float64) for k in columns}
        minutes = np.empty(n, dtype=np.int64)
        a = 0
        for g in range(pf.metadata.num_row_groups):  # one row group decoded at a time
            group = pf.read_row_group(g, columns=["timestamp", *columns], use_threads=False)
            b = a + group.num_rows
            ts = group.column("timestamp")
            ms = ts.cast(pa.timestamp("ms", tz=ts.type.tz)).cast(pa.int64())
            minutes[a:b] = ms.to_numpy() // MINUTE_MS
            for k in columns:
                arrays[k][a:b] = group.column(k).to_numpy()
            a = b
    return arrays, minutes


def samples_frame(gs: GafSet) -> pd.DataFrame:
    """The shared samples (timestamp ms, segment, label) of an image set."""
    parts = [
        pd.DataFrame({"ts": gs.timestamps(s), "segment": s, "label": gs.labels(s)})
        for s in SEGMENTS
    ]
    return pd.concat(parts, ignore_index=True)
