"""Freqtrade's data directories as a source: ``<exchange dir>/<BASE>_<QUOTE>-<timeframe>.<ext>``,
the way freqtrade users keep candles under ``user_data/data/<exchange>/``.

A pair's candles are one file in one of freqtrade's formats: ``feather`` and
``parquet`` (columns ``date``, open, high, low, close, volume), ``json`` and
``jsongz`` (``.json.gz``: an array of ``[open_time_ms, open, high, low, close,
volume]`` rows). Each is validated as a CSV is (prices, high/low, volume, the
1-minute grid, duplicates) by :mod:`gafcnn.data.readers`. A pair that is missing, a
timeframe other than the one asked for, or one pair in two formats is refused with
one line naming the directory.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data.bars import OHLCV
from gafcnn.io import InputError

FORMATS = {".feather": "feather", ".parquet": "parquet", ".json": "json", ".json.gz": "jsongz"}
PAIR_FILE = re.compile(r"^(?P<pair>[A-Z0-9]+_[A-Z0-9]+)-(?P<timeframe>\w+?)(?P<ext>\.json\.gz|"
                       r"\.json|\.feather|\.parquet)$")  # fmt: skip


def pair_stem(symbol: str, source: str = "params.yaml") -> str:
    """Freqtrade's file stem of a pair: ``BTC/USDT`` (or ``BTC_USDT``) -> ``BTC_USDT``."""
    m = re.fullmatch(r"([A-Za-z0-9]+)[/_]([A-Za-z0-9]+)", symbol.strip())
    if m is None:
        raise InputError(source, f"data.symbols: {symbol!r} is not a pair like BTC/USDT")
    return f"{m.group(1).upper()}_{m.group(2).upper()}"


def pairs_in(directory: Path) -> dict[str, list[Path]]:
    """Every freqtrade candle file in ``directory``, by ``<pair>-<timeframe>``."""
    out: dict[str, list[Path]] = {}
    for f in sorted(directory.iterdir()):
        m = PAIR_FILE.match(f.name)
        if m and f.is_file():
            out.setdefault(f"{m.group('pair')}-{m.group('timeframe')}", []).append(f)
    return out


def pair_file(directory: str | Path, symbol: str, timeframe: str = "1m") -> Path:
    """The one candle file of ``symbol`` at ``timeframe`` in a freqtrade exchange
    directory; one line naming what is wrong otherwise."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a directory (data.path: a freqtrade exchange directory)")
    stem, found = pair_stem(symbol, str(directory)), pairs_in(directory)
    files = found.get(f"{stem}-{timeframe}", [])
    if len(files) > 1:
        raise InputError(directory, f"{symbol} {timeframe} in {len(files)} formats "
                         f"({', '.join(f.name for f in files)}): keep one")  # fmt: skip
    if files:
        return files[0]
    other = sorted(k.split("-", 1)[1] for k in found if k.split("-", 1)[0] == stem)
    if other:
        raise InputError(directory, f"{symbol}: only {', '.join(other)} candles here; "
                         f"gafcnn reads {timeframe} bars")  # fmt: skip
    have = sorted({k.split("-", 1)[0].replace("_", "/") for k in found})
    raise InputError(directory, f"no {symbol} candles (pairs here: {', '.join(have) or 'none'})")


def read_pair_file(path: str | Path) -> pd.DataFrame:
    """One freqtrade candle file as ``timestamp_ms`` + OHLCV + ``line`` (row number from
    1), the frame :func:`gafcnn.data.readers.read_file` returns; not yet validated."""
    path = Path(path)
    m = PAIR_FILE.match(path.name)
    fmt = FORMATS[m.group("ext")] if m else None
    if fmt in ("feather", "parquet"):
        table = _read_columnar(path, fmt)
        missing = [c for c in ("date", *OHLCV) if c not in table.columns]
        if missing:
            raise InputError(path, f"missing columns: {', '.join(missing)}")
        ts = clock.ms_of(pd.Series(pd.DatetimeIndex(table["date"])))
        frame = pd.DataFrame({k: table[k].to_numpy(np.float64) for k in OHLCV})
    elif fmt in ("json", "jsongz"):
        rows = _read_json(path, fmt)
        ts, frame = rows[:, 0].astype(np.int64), pd.DataFrame(rows[:, 1:], columns=OHLCV)
    else:
        raise InputError(path, "not a freqtrade candle file (<BASE>_<QUOTE>-<timeframe>."
                         f"{{{','.join(e.lstrip('.') for e in FORMATS)}}})")  # fmt: skip
    frame.insert(0, "timestamp_ms", ts)
    frame["line"] = np.arange(1, len(frame) + 1)
    frame.attrs["layout"] = f"freqtrade {fmt}"
    return frame


def _read_columnar(path: Path, fmt: str) -> pd.DataFrame:
    try:
        return pd.read_feather(path) if fmt == "feather" else pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise InputError(path, f"unreadable {fmt} file ({type(exc).__name__})") from None


def _read_json(path: Path, fmt: str) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes()) if fmt == "jsongz" else path.read_bytes()
        rows = json.loads(raw)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise InputError(path, f"unreadable {fmt} file ({type(exc).__name__})") from None
    if not isinstance(rows, list):
        rows = None
    bad = None if rows is None else next(
        (i for i, r in enumerate(rows) if not (isinstance(r, list) and len(r) == 6 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in r))), None)  # fmt: skip
    if not rows or bad is not None:
        where = "" if bad is None else f"row {bad + 1}: "
        raise InputError(path, f"{where}expected rows of [open_time_ms, open, high, low, close, "
                         "volume]")  # fmt: skip
    return np.asarray(rows, dtype=np.float64)
