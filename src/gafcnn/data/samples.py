"""Decision samples shared by every window: one set of timestamps, one set of labels.

A decision time t is kept only if, for every window size, the window ending at t
is complete and free of gaps, every bar it touches lies inside one split segment,
and its label exists (and is outside the dead zone). The same positions,
timestamps and labels therefore serve the 15, 30 and 60-bar windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gafcnn.data.labels import LabelSpec, direction_labels, fit_dead_zone, forward_returns
from gafcnn.data.split import SEGMENTS, Split, bar_segments


def window_complete(minutes: np.ndarray, window: int) -> np.ndarray:
    """True where the ``window`` bars ending at each position are consecutive minutes."""
    minutes = np.asarray(minutes, dtype=np.int64)
    ok = np.zeros(len(minutes), dtype=bool)
    if window <= len(minutes):
        ok[window - 1 :] = (
            minutes[window - 1 :] - minutes[: len(minutes) - window + 1] == window - 1
        )
    return ok


@dataclass
class Samples:
    position: np.ndarray  # bar position of each decision time
    minute: np.ndarray  # decision timestamp, minutes since the epoch (the sample key)
    segment: np.ndarray  # 0 train, 1 val, 2 test
    label: np.ndarray  # 1 up, 0 down
    forward_return: np.ndarray
    band: tuple[float, float]  # dead zone actually applied
    dropped_dead_zone: dict[str, int]  # per segment
    candidates: dict[str, int]  # per segment, before the dead zone

    def of(self, name: str) -> np.ndarray:
        """Boolean mask of samples in segment ``name``."""
        return self.segment == SEGMENTS.index(name)


def build_samples(
    minutes: np.ndarray,
    close: np.ndarray,
    windows: list[int],
    spec: LabelSpec,
    split: Split,
    stride: int = 1,
    band: tuple[float, float] | None = None,
) -> Samples:
    """The shared decision samples for ``windows``; dead-zone cut points fit on train only
    (or ``band`` as given, e.g. cut points fitted earlier)."""
    if stride < 1:
        raise ValueError(f"gaf.stride must be >= 1, got {stride}")
    minutes = np.asarray(minutes, dtype=np.int64)
    n = len(minutes)
    seg = bar_segments(n, max(windows), spec.horizon, split.segments)
    ok = seg >= 0
    for w in windows:
        ok &= window_complete(minutes, w)
    returns = forward_returns(close, minutes, spec.horizon)
    ok &= np.isfinite(returns)
    if stride > 1:
        ok &= minutes % stride == 0
    train = ok & (seg == SEGMENTS.index("train"))
    if band is None:
        band = fit_dead_zone(spec, returns[train])
    y = direction_labels(returns, band)
    keep = ok & (y >= 0)
    candidates = {name: int((ok & (seg == k)).sum()) for k, name in enumerate(SEGMENTS)}
    dropped = {name: int((ok & (seg == k) & (y < 0)).sum()) for k, name in enumerate(SEGMENTS)}
    return Samples(
        position=np.flatnonzero(keep),
        minute=minutes[keep],
        segment=seg[keep],
        label=y[keep],
        forward_return=returns[keep],
        band=band,
        dropped_dead_zone=dropped,
        candidates=candidates,
    )


def longest_run(minutes: np.ndarray) -> int:
    """Bars in the longest stretch of consecutive minutes (0 for no bars)."""
    minutes = np.asarray(minutes, dtype=np.int64)
    if len(minutes) == 0:
        return 0
    breaks = np.flatnonzero(np.diff(minutes) != 1)
    edges = np.r_[-1, breaks, len(minutes) - 1]
    return int(np.diff(edges).max())


def segment_coverage(minutes: np.ndarray, samples: Samples, split: Split) -> dict[str, dict]:
    """Per segment: its bars, its longest gap-free run of bars, and the samples found."""
    minutes = np.asarray(minutes, dtype=np.int64)
    out: dict[str, dict] = {}
    for s in split.segments:  # a segment of several ranges: summed, longest run of any
        c = out.setdefault(s.name, {"bars": 0, "longest_run": 0,
                                    "samples": int(samples.of(s.name).sum())})  # fmt: skip
        c["bars"] += max(s.size, 0)
        run = longest_run(minutes[s.start : max(s.stop, s.start)])
        c["longest_run"] = max(c["longest_run"], run)
    return out


def _one_of(items: list[str]) -> str:
    """'a', 'a or b', 'a, b, or c'."""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])}{',' if len(items) > 2 else ''} or {items[-1]}"


def shortfalls(
    coverage: dict[str, dict], windows: list[int], horizon: int, stride: int, min_samples: int
) -> list[str]:
    """One message per segment with fewer than ``min_samples`` samples: what was found,
    what a sample needs, and the remedies."""
    need = max(windows)
    out = []
    for name, c in coverage.items():
        if c["samples"] >= min_samples:
            continue
        remedies = []
        if c["longest_run"] < c["bars"]:
            remedies.append("set data.fill_gaps: true")
        if c["longest_run"] < need + horizon:
            remedies.append("use smaller gaf.windows")
        if stride > 1:
            remedies.append("use a smaller gaf.stride")
        remedies.append("give a longer period")
        out.append(
            f"split segment {name} has {c['samples']} samples (split.min_samples is "
            f"{min_samples}); its longest gap-free run is {c['longest_run']:,} of "
            f"{c['bars']:,} bars, and a sample needs {need} consecutive bars "
            f"(max of gaf.windows) plus the bar {horizon} minutes later (label.horizon), "
            f"{need + horizon} minutes in all"
            + (f", at a minute divisible by gaf.stride {stride}" if stride > 1 else "")
            + f" - {_one_of(remedies)}"
        )
    return out


def evenly(n: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` of ``n`` ordered samples, evenly spaced (all of them
    when there are no more): a bounded fitting sample that still spans the period."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))
