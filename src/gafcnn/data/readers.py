"""Reading and validating 1-minute OHLCV files: every accepted layout, one error per bad input.

Accepted inputs (per file, detected from the content):

* Binance public-archive klines, ``.csv`` or a ``.zip`` holding one csv: 12
  columns, spot files without a header, futures files with one; ``open_time``
  in epoch milliseconds or microseconds (detected per file, mixing is an error).
* Kraken OHLCVT exports: no header, 6 or 7 columns - time in epoch seconds, open,
  high, low, close, volume and, optionally, the trade count.
* Generic OHLCV CSVs with a header: a timestamp column (``timestamp``,
  ``open_time``, ``time``, ``datetime`` or ``date``; ISO strings with or without
  offset, naive ones read as UTC, or epoch s/ms/us) and open/high/low/close/volume.
* Any other headerless file, with its column names given (``data.columns``): one
  timestamp name, the five OHLCV names, and any extra names (quote volume, VWAP),
  which are read past.

Order flow is kept where a layout carries it (:data:`gafcnn.data.bars.FLOW`): the
trade count (Binance ``count``, Kraken's seventh column, a ``trades`` column) and
the taker-buy base volume (Binance ``taker_buy_volume``, a ``taker_buy_base``
column); a column is kept only when every file read has it.

Any of these may be gzipped (``.gz``, e.g. ``.csv.gz``). Freqtrade candle files
(``<BASE>_<QUOTE>-<timeframe>.feather|parquet|json|json.gz``) are read by
:mod:`gafcnn.data.freqtrade` and validated here the same way.

Only the ``ingest`` stage reads files, so only it depends on this module; the
canonical frame it returns is described in :mod:`gafcnn.data.bars`.
"""

from __future__ import annotations

import glob as globlib
import gzip
import hashlib
import io
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data import freqtrade
from gafcnn.data.bars import FLOW, OHLCV, minute_index
from gafcnn.data.sources import is_data_file
from gafcnn.io import InputError

BINANCE_COLUMNS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
]
TIMESTAMP_NAMES = ("timestamp", "open_time", "time", "datetime", "date")
KRAKEN_COLUMNS = ["time", *OHLCV, "trades"]
FLOW_NAMES = {"trades": "trades", "count": "trades", "taker_buy_base": "taker_buy_base",
              "taker_buy_volume": "taker_buy_base"}  # fmt: skip


@dataclass
class ReadReport:
    """What ingestion did besides returning bars."""

    files: list[dict] = field(default_factory=list)
    duplicates_dropped: int = 0
    filled_minutes: int = 0


def resolve_sources(path: str) -> list[Path]:
    """A file, a directory (its .csv/.zip files) or a glob -> sorted list of files."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if is_data_file(f))
        if not files:
            raise InputError(path, "directory holds no .csv, .csv.gz or .zip files")
        return files
    matches = sorted(Path(m) for m in globlib.glob(path) if Path(m).is_file())
    if not matches:
        raise InputError(path, "no such file, directory or glob match")
    return matches


def _read_text(path: Path) -> str:
    """The CSV text of a file, unpacking a zip that holds exactly one csv or a gzip."""
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(path, f"corrupt gzip ({exc})") from None
    elif path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise InputError(path, f"zip must hold exactly one csv, found {len(names)}")
                data = zf.read(names[0])
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
            raise InputError(path, f"corrupt zip ({exc})") from None
    else:
        data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "not a UTF-8 text file") from None


def _is_int_text(s: str) -> bool:
    s = s.strip()
    return s.lstrip("-").isdigit()


def _looks_like_data(cell: str) -> bool:
    """A first cell that is a number or a date: the file has no header row."""
    try:
        float(cell)
        return True
    except ValueError:
        pass
    return any(ch.isdigit() for ch in cell) and clock.is_iso(cell)


def _numeric(path: Path, table: pd.DataFrame, columns: list[str], first_line: int) -> pd.DataFrame:
    """Parse text columns as float64; error on the first non-numeric, NaN or inf."""
    out = {}
    for col in columns:
        text = table[col].str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raw = text.iloc[i]
            low = raw.lower()
            if low in ("", "nan", "na", "n/a", "null", "none"):
                what = "NaN/empty value"
            elif low.lstrip("+-") in ("inf", "infinity"):
                what = "infinite value"
            elif np.isinf(values[i]):
                what = f"infinite value {raw!r}"
            else:
                what = f"non-numeric value {raw!r}"
            raise InputError(path, f"{what} in column '{col}'", line=first_line + i)
        out[col] = values
    return pd.DataFrame(out)


def _epoch_to_ms(path: Path, raw: pd.Series, first_line: int, allow_seconds: bool) -> np.ndarray:
    """Integer epoch text -> int64 ms, detecting s/ms/us per file and rejecting a mix."""
    ints = raw.str.strip().astype(np.int64).to_numpy()
    magnitude = np.abs(ints)
    unit = np.where(magnitude >= 10**14, 2, np.where(magnitude >= 10**11, 1, 0))  # us, ms, s
    if not allow_seconds and (unit == 0).any():
        i = int(np.flatnonzero(unit == 0)[0])
        raise InputError(path, f"open_time {ints[i]} is not epoch ms or us", line=first_line + i)
    if (unit != unit[0]).any():
        i = int(np.flatnonzero(unit != unit[0])[0])
        names = ["seconds", "milliseconds", "microseconds"]
        raise InputError(
            path,
            f"file mixes timestamp units ({names[unit[0]]} at the start, {names[unit[i]]} here)",
            line=first_line + i,
        )
    if unit[0] == 2:
        if (ints % 1000 != 0).any():
            i = int(np.flatnonzero(ints % 1000 != 0)[0])
            raise InputError(path, "microsecond timestamp is not a whole ms", line=first_line + i)
        return ints // 1000
    if unit[0] == 0:
        return ints * 1000
    return ints


def _parse_timestamps(path: Path, raw: pd.Series, first_line: int) -> np.ndarray:
    """Generic timestamp column: epoch integers or ISO strings -> int64 ms (UTC)."""
    text = raw.str.strip()
    if len(text) and text.map(_is_int_text).all():
        return _epoch_to_ms(path, text, first_line, allow_seconds=True)
    ms, bad = clock.parse_iso_column(text)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"unparseable timestamp {text.iloc[i]!r}", line=first_line + i)
    return ms


def _declared_columns(path: Path, columns: list[str]) -> list[str]:
    names = [str(c).strip().lower() for c in columns]
    ts = [c for c in names if c in TIMESTAMP_NAMES]
    missing = [c for c in OHLCV if c not in names]
    if len(ts) != 1 or missing or len(set(names)) != len(names):
        raise InputError(
            "params.yaml",
            f"data.columns {columns} must name one timestamp column "
            f"({', '.join(TIMESTAMP_NAMES)}), each of {', '.join(OHLCV)}, and no name twice "
            f"(reading {path})",
        )
    return names


def read_file(path: str | os.PathLike[str], columns: list[str] | None = None) -> pd.DataFrame:
    """Read and validate one file; returns timestamp_ms + OHLCV + ``line`` (source line,
    or row for a freqtrade candle file, :mod:`gafcnn.data.freqtrade`).

    ``columns`` names the columns of a headerless file in another layout; extra names
    are allowed and read past."""
    path = Path(path)
    if freqtrade.PAIR_FILE.match(path.name):
        frame = freqtrade.read_pair_file(path)
        values = frame[OHLCV].to_numpy()
        bad = ~np.isfinite(values)
        if bad.any():
            i, j = (int(k[0]) for k in np.nonzero(bad))
            raise InputError(path, f"{OHLCV[j]} is {values[i, j]}", line=i + 1)
        check_ohlcv(path, frame, 1)
        return frame
    return parse_text(_read_text(path), path, columns)


def parse_text(
    text: str, path: str | os.PathLike[str], columns: list[str] | None = None
) -> pd.DataFrame:
    """Validate CSV ``text`` in any accepted layout (``path`` names it in errors, e.g.
    ``<stdin>``); returns timestamp_ms + OHLCV + ``line``, as :func:`read_file`."""
    path = Path(path)
    first = text.split("\n", 1)[0].strip()
    if not first:
        raise InputError(path, "empty file")
    cells = [c.strip().lower() for c in first.split(",")]
    looks_like_data = _looks_like_data(first.split(",")[0].strip())
    if columns:
        names = _declared_columns(path, columns)
        if not looks_like_data:
            raise InputError(path, "data.columns is set, but the file starts with a header row")
        if len(cells) != len(names):
            raise InputError(
                path, f"data.columns names {len(names)} columns, the file has {len(cells)}", line=1
            )
        header, layout = None, "declared"
    elif len(cells) == 12 and _is_int_text(cells[0]):
        header, names, layout = None, BINANCE_COLUMNS, "binance-spot"
    elif len(cells) in (6, 7) and _is_int_text(cells[0]):
        header, names, layout = None, KRAKEN_COLUMNS[: len(cells)], "kraken-ohlcvt"
    elif cells == BINANCE_COLUMNS:
        header, names, layout = 0, None, "binance-futures"
    elif looks_like_data:
        raise InputError(
            path,
            f"no header; first row looks like data with {len(cells)} columns, which matches "
            "no known layout (Binance: 12, Kraken OHLCVT: 6 or 7) - name them with data.columns",
        )
    else:
        header, names, layout = 0, None, "generic"
    try:
        table = pd.read_csv(
            io.StringIO(text),
            header=header,
            names=names,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(path, f"cannot parse CSV ({str(exc).strip()})") from None
    first_line = 1 if header is None else 2
    if table.empty:
        raise InputError(path, "empty file (no data rows)")
    table.columns = [str(c).strip().lower() for c in table.columns]

    if layout in ("declared", "kraken-ohlcvt"):
        ts_col = next(c for c in table.columns if c in TIMESTAMP_NAMES)
        ts = _parse_timestamps(path, table[ts_col], first_line)
    elif layout == "generic":
        ts_cols = [c for c in table.columns if c in TIMESTAMP_NAMES]
        missing = [c for c in OHLCV if c not in table.columns]
        if not ts_cols:
            missing.insert(0, "timestamp")
        if missing:
            raise InputError(path, f"missing columns: {', '.join(missing)}")
        if len(ts_cols) > 1:
            raise InputError(path, f"several timestamp columns: {', '.join(ts_cols)}")
        unknown = [c for c in table.columns if c not in (*ts_cols, *OHLCV, *FLOW)]
        if unknown:
            raise InputError(path, f"unknown columns: {', '.join(unknown)}")
        ts = _parse_timestamps(path, table[ts_cols[0]], first_line)
    else:
        if table.shape[1] != 12:
            raise InputError(path, f"expected 12 Binance kline columns, found {table.shape[1]}")
        nonint = ~table["open_time"].map(_is_int_text).to_numpy()
        if nonint.any():
            i = int(np.flatnonzero(nonint)[0])
            raise InputError(
                path, f"unparseable timestamp {table['open_time'].iloc[i]!r}", line=first_line + i
            )
        ts = _epoch_to_ms(path, table["open_time"], first_line, allow_seconds=False)

    frame = _numeric(path, table, OHLCV, first_line)
    check_ohlcv(path, frame, first_line)
    flow = {FLOW_NAMES[c]: c for c in table.columns if c in FLOW_NAMES}
    if flow:
        frame = pd.concat([frame, _flow(path, table, flow, frame["volume"], first_line)], axis=1)
    frame.insert(0, "timestamp_ms", ts)
    frame["line"] = np.arange(first_line, first_line + len(frame))
    frame.attrs["layout"] = layout
    return frame


def _flow(path: Path, table: pd.DataFrame, names: dict[str, str], volume: pd.Series,
          first_line: int) -> pd.DataFrame:  # fmt: skip
    """The order-flow columns (canonical name -> the file's), validated: numeric, not
    negative, and no more taker-buy volume than volume (to a relative 1e-9)."""
    out = _numeric(path, table, list(names.values()), first_line)
    out.columns = list(names)
    for k in out.columns:
        bad = out[k].to_numpy() < 0
        if k == "taker_buy_base":
            bad |= out[k].to_numpy() > volume.to_numpy() * (1 + 1e-9) + 1e-12
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = float(out[k].iat[i])
            what = "negative" if value < 0 else f"above the bar's volume {volume.iat[i]:g}"
            raise InputError(path, f"{names[k]} {value:g} is {what}", line=first_line + i)
    return out[[k for k in FLOW if k in out.columns]]


def check_ohlcv(path: str | os.PathLike[str], frame: Any, first_line: int | None = None) -> None:
    """Error on the first bar (at line ``first_line`` + its row, if given) whose finite
    OHLCV values (``frame``: a DataFrame or any mapping of the OHLCV names to values) do
    not make a bar: a non-positive price, a high below the open or close, a low above
    them, or a negative volume."""
    o, h, lo, c, v = (np.asarray(frame[k], dtype=np.float64) for k in OHLCV)
    checks = [
        (np.minimum(np.minimum(o, h), np.minimum(lo, c)) <= 0, "non-positive price"),
        (h < np.maximum(o, c), "high < max(open, close)"),
        (lo > np.minimum(o, c), "low > min(open, close)"),
        (v < 0, "negative volume"),
    ]
    for bad, what in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(Path(path), what, None if first_line is None else first_line + i)


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def combine(
    frames: list[tuple[Path, pd.DataFrame]], report: ReadReport, interval: int = 1
) -> pd.DataFrame:
    """Concatenate validated files in time order, drop exact duplicates, reject conflicts,
    and check that the bars are ``interval``-minute bars (gaps allowed, other spacing not)."""
    parts = []
    flow = [c for c in FLOW if all(c in f.columns for _, f in frames)]
    for k, (_, f) in enumerate(frames):
        parts.append(f.drop(columns=[c for c in FLOW if c in f and c not in flow]).assign(file=k))
    df = pd.concat(parts, ignore_index=True)
    df = df.sort_values(["timestamp_ms", "file", "line"], kind="stable", ignore_index=True)

    def where(i: int) -> tuple[Path, int]:
        return frames[int(df["file"].iat[i])][0], int(df["line"].iat[i])

    same_ts = np.r_[False, np.diff(df["timestamp_ms"].to_numpy()) == 0]
    if same_ts.any():
        vals = df[OHLCV + flow].to_numpy()
        identical = np.r_[False, (vals[1:] == vals[:-1]).all(axis=1)]
        conflict = same_ts & ~identical
        if conflict.any():
            i = int(np.flatnonzero(conflict)[0])
            p, line = where(i)
            p0, line0 = where(i - 1)
            stamp = clock.iso_ms(int(df["timestamp_ms"].iat[i]))
            raise InputError(p, f"conflicting rows for {stamp} (also at {p0}:{line0})", line=line)
        report.duplicates_dropped += int(same_ts.sum())
        df = df[~same_ts].reset_index(drop=True)

    ts = df["timestamp_ms"].to_numpy()
    off_grid = ts % (interval * clock.MINUTE_MS) != 0
    if off_grid.any():
        i = int(np.flatnonzero(off_grid)[0])
        p, line = where(i)
        stamp = clock.iso_ms(int(ts[i]))
        raise InputError(
            p,
            f"timestamp {stamp} is not on a {interval}-minute boundary (bars must be "
            f"{interval}-minute bars)",
            line=line,
        )
    if len(ts) > 1:
        # 1-minute bars with missing minutes (a thin market) have steps of 1, 2, 3, ...
        # minutes; coarser bars have every step a multiple of their interval
        step = int(np.gcd.reduce(clock.minutes_of_ms(np.diff(ts))))
        if step > interval:
            p, _ = where(0)
            raise InputError(
                p,
                f"bars are {step} minutes apart (every step a multiple of {step}); expected "
                f"{interval}-minute bars (missing bars are allowed, other intervals are not)",
            )
    out = pd.DataFrame(
        {
            "timestamp": clock.datetimes(ts),
            **{k: df[k].to_numpy(dtype=np.float64) for k in OHLCV},
            "filled": np.zeros(len(df), dtype=bool),
            **{k: df[k].to_numpy(dtype=np.float64) for k in flow},
        }
    )
    return out


def read_bars(
    path: str | list[Path],
    fill_gaps: bool = False,
    columns: list[str] | None = None,
    interval: int = 1,
) -> tuple[pd.DataFrame, ReadReport]:
    """Read every file behind ``path`` (file, directory or glob, or the list of files)
    into one frame of ``interval``-minute bars; ``columns`` names the columns of
    headerless files in a layout not detected."""
    if fill_gaps and interval != 1:
        raise ValueError("filling missing bars is for 1-minute bars")
    report = ReadReport()
    frames = []
    for f in path if isinstance(path, list) else resolve_sources(path):
        frame = read_file(f, columns)
        frames.append((f, frame))
        report.files.append(
            {
                "path": str(f),
                "sha256": sha256_file(f),
                "rows": len(frame),
                "layout": frame.attrs["layout"],
            }
        )
    bars = combine(frames, report, interval)
    if fill_gaps:
        bars, report.filled_minutes = fill_missing_minutes(bars)
    return bars, report


def fill_missing_minutes(bars: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Insert missing minutes as flat bars at the previous close with zero volume."""
    minutes = minute_index(bars)
    full = np.arange(minutes[0], minutes[-1] + 1)
    if len(full) == len(minutes):
        return bars, 0
    pos = np.searchsorted(minutes, full)
    present = minutes[np.minimum(pos, len(minutes) - 1)] == full
    src = np.searchsorted(minutes, full, side="right") - 1  # last real bar at or before
    close = bars["close"].to_numpy()[src]
    out = {"timestamp": clock.datetimes_of_minutes(full)}
    for k in OHLCV:
        col = bars[k].to_numpy()[src]
        out[k] = np.where(present, col, 0.0 if k == "volume" else close)
    out["filled"] = ~present
    for k in FLOW:
        if k in bars:
            out[k] = np.where(present, bars[k].to_numpy()[src], 0.0)
    return pd.DataFrame(out), int((~present).sum())
