"""Chronological train / val / test segments with purge gaps.

Segments are half-open ranges of bar positions. Between consecutive segments
lie ``purge`` bars that belong to no segment, at least ``max(windows) + horizon``
of them, and a sample belongs to a segment only if every bar it touches - its
window ``[t-W+1, t]`` and its label bar ``t+h`` - lies inside that segment
(:func:`bar_segments`). So no window and no label of one segment touches a
bar of another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from gafcnn import clock
from gafcnn.params import SplitSpec

SEGMENTS = ("train", "val", "test")


@dataclass(frozen=True)
class Segment:
    name: str
    start: int  # first bar position
    stop: int  # one past the last bar position

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass
class Split:
    segments: list[Segment]
    purge: int

    def segment(self, name: str) -> Segment:
        return next(s for s in self.segments if s.name == name)

    def to_dict(self, minutes: np.ndarray | None = None) -> dict:
        def seg(s: Segment) -> dict:
            d = asdict(s)
            if minutes is not None and s.size > 0:
                d["first_timestamp"] = clock.iso_minute(minutes[s.start])
                d["last_timestamp"] = clock.iso_minute(minutes[s.stop - 1])
            return d

        return {
            "purge": self.purge,
            "segments": [seg(s) for s in self.segments],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        def seg(x: dict) -> Segment:
            return Segment(x["name"], int(x["start"]), int(x["stop"]))

        return cls(
            segments=[seg(s) for s in d["segments"]],
            purge=int(d["purge"]),
        )


def required_purge(windows: list[int], horizon: int) -> int:
    """The smallest purge that keeps every window and label inside its segment."""
    return int(max(windows)) + int(horizon)


def split_purge(spec: SplitSpec, windows: list[int], horizon: int) -> int:
    """The purge in bars: ``split.purge``, or the required one for ``auto``; one
    below the required purge is an error."""
    need = required_purge(windows, horizon)
    if spec.purge == "auto":
        return need
    purge = int(spec.purge)
    if purge < need:
        raise ValueError(
            f"split.purge={purge} is below max(window) + horizon = {need}; "
            "windows or labels would cross segments"
        )
    return purge


def _first_at_or_after(minutes: np.ndarray, when: str) -> int:
    minute = clock.parse_minute(when, "params.yaml", "split")
    return int(np.searchsorted(minutes, minute, side="left"))


def make_split(minutes: np.ndarray, spec: SplitSpec, windows: list[int], horizon: int) -> Split:
    """Chronological segments over ``len(minutes)`` bars, purged."""
    n = len(minutes)
    purge = split_purge(spec, windows, horizon)
    if spec.method == "fraction":
        total = spec.train + spec.val + spec.test
        if min(spec.train, spec.val, spec.test) <= 0 or abs(total - 1.0) > 1e-9:
            raise ValueError("split fractions must be positive and sum to 1")
        usable = n - 2 * purge
        n_train = int(round(usable * spec.train))
        n_val = int(round(usable * spec.val))
        val_begin = n_train + purge
        test_begin = val_begin + n_val + purge
    elif spec.method == "date":
        if not spec.val_start or not spec.test_start:
            raise ValueError("split.method=date needs split.val_start and split.test_start")
        val_begin = _first_at_or_after(minutes, spec.val_start)
        test_begin = _first_at_or_after(minutes, spec.test_start)
    elif spec.method == "ranges":
        return ranges_split(minutes, spec, windows, horizon)
    else:
        raise ValueError(
            f"split.method must be 'fraction', 'date' or 'ranges', got {spec.method!r}"
        )
    segments = [
        Segment("train", 0, val_begin - purge),
        Segment("val", val_begin, test_begin - purge),
        Segment("test", test_begin, n),
    ]
    need = required_purge(windows, horizon)
    for s in segments:
        if s.size < need:
            raise ValueError(
                f"segment {s.name} has {max(s.size, 0)} bars; it needs at least "
                f"max(window) + horizon = {need} to hold one sample "
                f"(data has {n} bars, purge {purge})"
            )
    return Split(segments=segments, purge=purge)


def ranges_split(minutes: np.ndarray, spec: SplitSpec, windows: list[int], horizon: int) -> Split:
    """Segments from ``split.ranges``: each a list of ``[start, stop)`` timestamps, in
    any order of time; the ranges of all segments must be disjoint. Samples lie wholly
    inside one range, so disjoint ranges share no bar of any window or label (the
    purge is the ranges' own; ``Split.purge`` is 0)."""
    segments = []
    for name in SEGMENTS:
        pairs = getattr(spec.ranges, name)
        if not pairs:
            raise ValueError(f"split.method=ranges needs split.ranges.{name}")
        for start, stop in pairs:
            a, b = _first_at_or_after(minutes, str(start)), _first_at_or_after(minutes, str(stop))
            segments.append(Segment(name, a, b))
    ordered = sorted(segments, key=lambda s: s.start)
    for x, y in zip(ordered, ordered[1:], strict=False):
        if y.start < x.stop:
            raise ValueError(f"split.ranges: a {y.name} range overlaps a {x.name} range")
    need = required_purge(windows, horizon)
    for name in SEGMENTS:
        longest = max(s.size for s in segments if s.name == name)
        if longest < need:
            raise ValueError(
                f"segment {name}: its longest range has {max(longest, 0)} bars; it needs at "
                f"least max(window) + horizon = {need} to hold one sample"
            )
    return Split(segments=segments, purge=0)


def holdout(n: int, train_fraction: float, purge: int) -> list[Segment]:
    """Train on the first ``train_fraction`` of ``n`` bars, then ``purge`` bars in no
    segment, then test on the rest (a task without a validation segment)."""
    cut = int(n * train_fraction)
    return [Segment("train", 0, cut), Segment("test", cut + purge, n)]


def segment_shares(mask: np.ndarray, split: Split) -> dict[str, float]:
    """Share of each segment's bars where ``mask`` is True (e.g. bars invented by
    ``data.fill_gaps``); 0.0 for an empty segment."""
    mask = np.asarray(mask, dtype=bool)
    out = {}
    for name in dict.fromkeys(s.name for s in split.segments):
        parts = [mask[s.start : s.stop] for s in split.segments if s.name == name and s.size > 0]
        out[name] = float(np.concatenate(parts).mean()) if parts else 0.0
    return out


def bar_segments(n: int, window: int, horizon: int, segments: list[Segment]) -> np.ndarray:
    """Index of the segment that holds every bar of the sample at each bar position
    ``0..n-1``, or -1 (int8): segments are numbered by name, in order of first
    appearance (a segment of several ranges has one number).

    A sample at bar position t uses bars ``t-window+1 .. t`` and its label bar, which
    lies at most ``horizon`` positions later (bars are at least a minute apart), so a
    segment holds the samples at ``start + window - 1 <= t < stop - horizon``.
    """
    out = np.full(n, -1, dtype=np.int8)
    index = {name: k for k, name in enumerate(dict.fromkeys(s.name for s in segments))}
    for s in segments:
        a, b = max(s.start + window - 1, 0), min(s.stop - horizon, n)
        if b > a:
            out[a:b] = index[s.name]
    return out
