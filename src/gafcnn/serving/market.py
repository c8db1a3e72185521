"""Bars as a live service receives them: JSON bars in `ingest`'s layouts, and a trading
bot's price snapshots built into 1-minute bars.

:func:`bars_from_json` reads bars given as JSON (objects with a timestamp and OHLCV
fields, or the rows of a headerless layout as arrays: Binance klines, Kraken OHLCVT)
with `ingest`'s own reader, so a bar the pipeline would refuse is refused here with
the same one-line reason.

:class:`Market` is one symbol: a :class:`~gafcnn.serving.signals.Stream` of closed
bars and the bar still forming from snapshots. A snapshot (``price`` and ``volume``,
optionally ``open``/``high``/``low`` of the bar so far, as an exchange's kline stream
gives them) belongs to the minute of its ``timestamp`` or, without one, of the
service's clock. The forming bar closes when a snapshot of a later minute arrives,
or at once with ``close: true``; a closed bar is final. Its volume is the last
snapshot's (the bar's volume so far), its open the first price and its high and
low the extremes of the prices and the open, each unless given.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data.bars import OHLCV
from gafcnn.data.readers import ReadReport, check_ohlcv, combine, parse_text
from gafcnn.io import InputError
from gafcnn.serving.signals import Stream

Scalar = str | int | float


def _csv(rows: list[list], source: str, header: int) -> str:
    """CSV text of JSON rows (floats exactly, by repr), ``header`` rows of names first;
    a value that is not a number or a string is an error."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for k, row in enumerate(rows):
        for v in row:
            if isinstance(v, bool) or not isinstance(v, str | int | float):
                what = f"{json.dumps(v)} is not a number or string"
                raise InputError(source, f"bar {k + 1 - header}: {what}")
        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return buf.getvalue()


def bars_from_json(
    items: list[dict | list], source: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """Canonical bars (as `ingest` reads them, in time order) from JSON bars: all
    objects (their keys are the header) or all arrays (a headerless layout, named by
    ``columns`` when not Binance's 12 or Kraken's 6-7 columns)."""
    if all(isinstance(b, dict) for b in items):
        keys, header = list(items[0]), 1
        for k, bar in enumerate(items):
            if list(bar) != keys:
                raise InputError(source, f"bar {k + 1} has fields {list(bar)}, bar 1 {keys}")
        text = _csv([keys, *([bar[key] for key in keys] for bar in items)], source, header)
    elif all(isinstance(b, list) for b in items):
        text, header = _csv(items, source, 0), 0
    else:
        raise InputError(source, "bars must be all objects or all arrays")
    try:
        return combine([(Path(source), parse_text(text, source, columns))], ReadReport())
    except InputError as exc:  # the reader's line numbers, as the bars' numbers
        where = "" if exc.line is None else f"bar {exc.line - header}: "
        raise InputError(source, where + exc.message) from None


def stamp_ms(stamp: Scalar | None, now_ms: int, source: str) -> int:
    """The epoch ms of a snapshot: its ``timestamp`` (ISO, naive as UTC, or epoch ms)
    or, without one, the clock's ``now_ms``."""
    return now_ms if stamp is None else clock.parse_ms(stamp, source)


def iso(minute: int) -> str:
    return clock.iso_minute(minute)


@dataclass(frozen=True)
class Bar:
    """The bar forming from snapshots: its epoch minute and OHLCV so far."""

    minute: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    def frame(self) -> pd.DataFrame:
        """The bar as a one-row canonical frame."""
        stamp = clock.datetimes_of_minutes(np.array([self.minute]))
        return pd.DataFrame({
            "timestamp": stamp,
            **{k: np.array([getattr(self, k)], dtype=np.float64) for k in OHLCV},
            "filled": np.zeros(1, dtype=bool),
        })  # fmt: skip


@dataclass
class Snapshot:
    """A price snapshot: ``price`` and the bar's ``volume`` so far, optionally its
    ``open``/``high``/``low`` so far."""

    price: float
    volume: float
    open: float | None = None
    high: float | None = None
    low: float | None = None


class Market:
    """One symbol's closed bars (a Stream) and the bar forming from snapshots."""

    def __init__(self, stream: Stream, desk: Any = None):
        self.stream, self.desk = stream, desk  # desk: the live record (gafcnn.serving.desk)
        self.forming: Bar | None = None

    def _append(self, frame: pd.DataFrame, source: str) -> None:
        """Closed bars into the stream, then into the desk's record."""
        self.stream.append(frame, source)
        if self.desk is not None:
            self.desk.on_bars(self.stream, len(frame))

    def answer(self) -> dict | None:
        """The decision at the last closed bar, with the desk's guards applied."""
        row = self.stream.answer()
        return row if self.desk is None else self.desk.overlay(row, self.stream)

    def swap(self, bundle: Any) -> None:
        """Answer with ``bundle`` from the next request on, keeping every bar held and the
        bar forming."""
        self.stream.swap(bundle)
        if self.desk is not None:
            self.desk.swap(bundle)

    def _fold(self, minute: int, s: Snapshot) -> Bar:
        """The forming bar after snapshot ``s`` of ``minute`` (a new bar if none is
        forming for that minute): the open, high and low given, else the first price
        and the extremes of the prices and the open."""
        bar = self.forming if self.forming is not None and self.forming.minute == minute else None
        if bar is None:
            bar = Bar(minute, s.price, s.price, s.price, s.price, s.volume)
        o = bar.open if s.open is None else s.open
        high = max(bar.high, s.price, o) if s.high is None else s.high
        low = min(bar.low, s.price, o) if s.low is None else s.low
        return Bar(minute, o, high, low, s.price, s.volume)

    def snapshot(self, minute: int, s: Snapshot, close: bool, source: str) -> None:
        """Fold ``s`` into the forming bar; close the bar before it if ``minute`` is
        later, and this one if ``close``. An error leaves the market as it was."""
        last = self.stream.last_ms
        if last is not None and clock.ms_of_minutes(minute) <= last:
            raise InputError(source, f"snapshot of {iso(minute)} is not later than the last "
                             f"closed bar, {iso(clock.minutes_of_ms(last))}")  # fmt: skip
        if self.forming is not None and minute < self.forming.minute:
            raise InputError(source, f"snapshot of {iso(minute)} is earlier than the bar "
                             f"forming, {iso(self.forming.minute)}")  # fmt: skip
        bar = self._fold(minute, s)
        check_ohlcv(source, {k: [getattr(bar, k)] for k in OHLCV})
        if self.forming is not None and self.forming.minute < minute:
            self._append(self.forming.frame(), source)
        self.forming = bar
        if close:
            self._append(bar.frame(), source)
            self.forming = None

    def bars(self, frame: pd.DataFrame, source: str) -> None:
        """Append closed bars; a bar still forming whose minute they reach is dropped
        (closed bars are final)."""
        self._append(frame, source)
        forming = self.forming
        if forming is not None and clock.ms_of_minutes(forming.minute) <= self.stream.last_ms:
            self.forming = None
