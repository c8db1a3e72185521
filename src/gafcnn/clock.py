"""Time, defined once: epoch minutes (the key every sample, bar and trade is joined by),
epoch milliseconds, ISO text (UTC) and the parsing of a user's timestamp.

Every module converts through these functions; ``tests/test_clock.py`` fails if a
module formats or converts minutes itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn.io import InputError

MINUTE_MS = 60_000
_NS_PER_MS = 1_000_000


def minutes_of_ms(ms: np.ndarray | int) -> np.ndarray | int:
    """Epoch minutes of epoch milliseconds (floored): an int for an int."""
    return ms // MINUTE_MS if isinstance(ms, int | np.integer) else np.asarray(ms) // MINUTE_MS


def ms_of_minutes(minutes: np.ndarray | int) -> np.ndarray | int:
    """Epoch milliseconds of epoch minutes: an int for an int."""
    if isinstance(minutes, int | np.integer):
        return int(minutes) * MINUTE_MS
    return np.asarray(minutes, dtype=np.int64) * MINUTE_MS


def ms_of(stamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Epoch milliseconds of a timestamp column."""
    values = stamps.dt if isinstance(stamps, pd.Series) else stamps
    return values.as_unit("ms").astype("int64").to_numpy()


def minutes_of(stamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Epoch minutes of a timestamp column (the key arithmetic uses)."""
    return ms_of(stamps) // MINUTE_MS


def ms_of_stamp(stamp: pd.Timestamp) -> int:
    """Epoch milliseconds of one timestamp."""
    return int(stamp.value // _NS_PER_MS)


def datetimes(ms: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps (ms resolution) of epoch milliseconds: the frames' column type."""
    return pd.to_datetime(np.asarray(ms), unit="ms", utc=True).as_unit("ms")


def datetimes_of_minutes(minutes: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps (ms resolution) of epoch minutes."""
    return datetimes(ms_of_minutes(np.asarray(minutes)))


def iso(stamp: pd.Timestamp) -> str:
    """ISO text of one timestamp."""
    return stamp.isoformat()


def iso_ms(ms: int) -> str:
    """ISO text (UTC) of epoch milliseconds."""
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").isoformat()


def iso_minute(minute: int) -> str:
    """ISO text (UTC) of an epoch minute."""
    return iso_ms(int(minute) * MINUTE_MS)


def now_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return ms_of_stamp(pd.Timestamp.now(tz="UTC"))


def parse(stamp: str | int | pd.Timestamp, source: str, what: str = "timestamp") -> pd.Timestamp:
    """A user's timestamp as a UTC Timestamp: ISO text (naive read as UTC) or epoch ms
    (an int); one error naming ``source`` otherwise."""
    try:
        t = pd.Timestamp(stamp, unit="ms") if isinstance(stamp, int) else pd.Timestamp(stamp)
    except (ValueError, TypeError, OverflowError):
        raise InputError(source, f"{what} {stamp!r}: not a timestamp") from None
    if t is pd.NaT:
        raise InputError(source, f"{what} {stamp!r}: not a timestamp")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def days_between(start: str, stop: str, source: str) -> float:
    """Days from ``start`` to ``stop`` (ISO text), as a float."""
    return (parse(stop, source) - parse(start, source)).total_seconds() / 86_400


def parse_iso_column(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A file's column of ISO timestamps as epoch ms, and where a cell is not one (its
    ms then meaningless): the readers name the first such line."""
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    return ms_of(parsed.fillna(pd.Timestamp(0, tz="UTC"))), bad


def is_iso(cell: str) -> bool:
    """Whether one cell is an ISO timestamp."""
    return not pd.isna(pd.to_datetime(cell, utc=True, errors="coerce", format="ISO8601"))


def parse_ms(stamp: str | int | pd.Timestamp, source: str, what: str = "timestamp") -> int:
    """:func:`parse`, as epoch milliseconds."""
    return ms_of_stamp(parse(stamp, source, what))


def parse_minute(stamp: str | int | pd.Timestamp, source: str, what: str = "timestamp") -> int:
    """:func:`parse`, as an epoch minute (floored)."""
    return parse_ms(stamp, source, what) // MINUTE_MS
