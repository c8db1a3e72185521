"""Where a universe's symbols meet: one split cut at the same timestamps for every
symbol, and the lanes that lay every symbol's bars end to end for a pooled fit.

Each symbol's ingest records its span (first and last bar, :func:`span_record`);
the split common to every market is cut from those spans alone
(:func:`market_split`), so each market's pipeline is independent of the others'
outputs and a symbol added to a universe changes the others' only when it shrinks
the span they share.

The split is cut over the symbols' common span (the latest first bar to the earliest
last bar), so no symbol's test precedes another's training. Its ranges are
``split.method: ranges`` pairs, so each symbol's pipeline keeps a sample only when
every bar it touches lies inside one range (the purge, as in every split).

A pooled fit runs the single-symbol pipeline once over every symbol's bars laid end
to end: symbol ``k`` moved ``k`` lanes later, a lane being a whole number of weeks
longer than the universe's span, so times of day and week are kept, no window or
label reaches another lane, and predictions move back by their lane. The technical
indicators run over bar positions (a gap is adjacent bars), so a lane's first bars
would read the previous lane's last ones: training starts ``warmup`` minutes after
the common start, for every symbol and both fits alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gafcnn import clock, paths
from gafcnn.io import InputError, read_json
from gafcnn.params import Params, SplitSpec

WEEK = 7 * 1440  # minutes
WARMUP = 1440  # minutes of bars before the first training sample (indicator warm-up)


def common_span(spans: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """``[start, stop)`` minutes every symbol covers: the latest first bar to one past
    the earliest last bar (``spans``: each symbol's first and last minute)."""
    start = max(a for a, _ in spans.values())
    stop = min(b for _, b in spans.values()) + 1
    if stop <= start:
        named = ", ".join(
            f"{s} {clock.iso_minute(a)}..{clock.iso_minute(b)}" for s, (a, b) in spans.items()
        )
        raise ValueError(f"the symbols share no minute ({named})")
    return start, stop


def common_ranges(span: tuple[int, int], spec: SplitSpec, warmup: int = WARMUP) -> dict:
    """``split.ranges`` (ISO minutes) cutting ``span`` for every symbol: ``fraction``
    cuts the span after ``warmup`` by the split's fractions; ``date`` at its
    ``val_start`` and ``test_start``; ``ranges`` are taken as given."""
    if spec.method == "ranges":
        return {k: [list(p) for p in getattr(spec.ranges, k)] for k in ("train", "val", "test")}
    start, stop = span[0] + warmup, span[1]
    if spec.method == "date":
        val = int(clock.parse_minute(spec.val_start, "params.yaml", "split.val_start"))
        test = int(clock.parse_minute(spec.test_start, "params.yaml", "split.test_start"))
    else:
        total = spec.train + spec.val + spec.test
        val = start + int(round((stop - start) * spec.train / total))
        test = val + int(round((stop - start) * spec.val / total))
    if not start < val < test < stop:
        raise ValueError(
            f"split: the common span {clock.iso_minute(span[0])}.."
            f"{clock.iso_minute(span[1] - 1)} leaves an empty segment"
        )
    iso = clock.iso_minute
    return {
        "train": [[iso(start), iso(val)]],
        "val": [[iso(val), iso(test)]],
        "test": [[iso(test), iso(stop)]],
    }


def trials(params: Params) -> int:
    """Experiments a symbol's decision is one of: the run's ``evaluate.trials`` times
    the symbols times the trainings times the horizons ``label.horizon`` lists (the
    served one is picked among them; models and thresholds are counted inside)."""
    n = len(params.data.symbols)
    return (
        params.evaluate.trials * n * len(params.universe.trainings(n)) * len(params.label.horizons)
    )


def span_of(bars: pd.DataFrame) -> tuple[int, int]:
    """A symbol's first and last minute with a real bar (invented fill bars left out)."""
    real = clock.minutes_of(bars["timestamp"][~bars["filled"].to_numpy()])
    return int(real[0]), int(real[-1])


def span_record(bars: pd.DataFrame) -> dict:
    """A symbol's span as its ingest records it (:func:`span_of`, ISO minutes)."""
    return dict(zip(("first", "last"), map(clock.iso_minute, span_of(bars)), strict=True))


def read_spans(symbols: list[str]) -> dict[str, tuple[int, int]]:
    """Each symbol's first and last minute, as its ingest recorded it."""
    spans = {}
    for s in symbols:
        where = paths.span_file(s)
        if not where.exists():
            raise InputError(where, f"no span recorded for {s}: run its ingest (`dvc repro`)")
        rec = read_json(where)
        spans[s] = tuple(int(clock.parse_minute(rec[k], str(where), k)) for k in ("first", "last"))
    return spans


def market_split(params: Params, spans: dict[str, tuple[int, int]]) -> dict:
    """The split section of every market: the project's own for one symbol; for a
    universe, ``split.method: ranges`` cut over the span the symbols share
    (:func:`common_ranges`)."""
    split = dict(params.raw.get("split", {}))
    if len(spans) < 2:
        return split
    try:
        ranges = common_ranges(common_span(spans), params.split)
    except ValueError as exc:
        raise InputError(paths.SPANS, str(exc)) from None
    return {**split, "method": "ranges", "ranges": ranges}


@dataclass(frozen=True)
class Lanes:
    """Symbol ``k``'s bars moved ``k * width`` minutes later (``origin``: the
    universe's first minute; ``width``: whole weeks, wider than every symbol's span)."""

    symbols: tuple[str, ...]
    origin: int
    width: int

    @classmethod
    def of(cls, symbols: list[str], spans: dict[str, tuple[int, int]], margin: int) -> Lanes:
        origin = min(a for a, _ in spans.values())
        reach = max(b for _, b in spans.values()) - origin + 1 + margin
        return cls(tuple(symbols), origin, -(-reach // WEEK) * WEEK)

    def shift(self, symbol: str) -> int:
        return self.symbols.index(symbol) * self.width

    def moved(self, frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
        """``frame`` with its ``timestamp`` moved into the symbol's lane."""
        ms = clock.ms_of(frame["timestamp"]) + clock.ms_of_minutes(self.shift(symbol))
        return frame.assign(timestamp=clock.datetimes(ms))

    def ranges(self, common: dict) -> dict:
        """The common ranges repeated in every lane."""
        out: dict = {k: [] for k in common}
        for s in self.symbols:
            for k, pairs in common.items():
                for a, b in pairs:
                    lo = clock.parse_minute(str(a), "split", k) + self.shift(s)
                    hi = clock.parse_minute(str(b), "split", k) + self.shift(s)
                    out[k].append([clock.iso_minute(lo), clock.iso_minute(hi)])
        return out

    def back(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows of lane-moved ``timestamp`` back at their own time, with ``symbol``."""
        minutes = clock.minutes_of(frame["timestamp"])
        lane = (minutes - self.origin) // self.width
        ms = clock.ms_of_minutes(minutes - lane * self.width)
        out = frame.assign(timestamp=clock.datetimes(ms))
        out.insert(0, "symbol", np.asarray(self.symbols)[lane])
        return out
