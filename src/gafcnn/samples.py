"""Decision samples shared by every window: one set of timestamps, one set of labels.

A decision time t is kept only if, for every window size, the window ending at t
is complete and free of gaps, every bar it touches lies inside one split segment,
and its label exists (and is outside the dead zone). The same positions,
timestamps and labels therefore serve the 15, 30 and 60-bar windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gafcnn.labels import (
    LabelSpec,
    direction_labels,
    fit_dead_zone,
    forward_returns,
    pattern_labels,
    pattern_span,
)
from gafcnn.split import SEGMENTS, Split, sample_segments


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
    minutes = np.asarray(minutes, dtype=np.int64)
    n = len(minutes)
    pos = np.arange(n)
    seg = sample_segments(pos, max(windows), spec.horizon, split.segments)
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
        position=pos[keep],
        minute=minutes[keep],
        segment=seg[keep],
        label=y[keep],
        forward_return=returns[keep],
        band=band,
        dropped_dead_zone=dropped,
        candidates=candidates,
    )


def pattern_windows(
    bars: dict[str, np.ndarray], minutes: np.ndarray | None, window: int, trend_bars: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions whose gap-free ``window`` holds a whole pattern with its trend, and labels.

    The label (:func:`gafcnn.labels.pattern_labels`) reads the last
    :func:`~gafcnn.labels.pattern_span` bars, so the window must be at least that long.
    ``minutes`` None means the bars have no gaps (synthetic).
    """
    span = pattern_span(trend_bars)
    if window < span:
        raise ValueError(f"patterns.window {window} is shorter than the {span} bars a label reads")
    y = pattern_labels(bars["open"], bars["high"], bars["low"], bars["close"], trend_bars)
    ok = np.zeros(len(y), dtype=bool)
    ok[window - 1 :] = True
    if minutes is not None:
        ok &= window_complete(minutes, window)
    pos = np.flatnonzero(ok)
    return pos, y[pos]


def balanced_draw(
    y: np.ndarray,
    per_class: int | np.ndarray,
    n_classes: int,
    rng: np.random.Generator,
    repeat: bool = False,
) -> np.ndarray:
    """Sorted indices with ``per_class`` of every class (or ``per_class[k]`` of class k):
    without replacement, so rarer classes keep all they have, unless ``repeat`` (then
    rarer classes are resampled)."""
    wanted = np.broadcast_to(np.asarray(per_class, dtype=np.int64), (n_classes,))
    keep = []
    for k in range(n_classes):
        idx = np.flatnonzero(y == k)
        if len(idx) == 0:
            continue
        if repeat and len(idx) < wanted[k]:
            keep.append(rng.choice(idx, size=wanted[k], replace=True))
        else:
            keep.append(rng.choice(idx, size=min(wanted[k], len(idx)), replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
