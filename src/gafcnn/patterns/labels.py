"""Candlestick-pattern labels, the windows that hold them, and class-balanced draws.

Rule-based detectors in the spirit of Chen & Tsai (2020), "Encoding candlesticks as
images for pattern classification using convolutional neural networks": the label of
a window is the pattern formed by its last bars, given the trend before them. The
label is a function of the window itself, so a model *can* learn it perfectly.
"""

from __future__ import annotations

import numpy as np

from gafcnn.data.samples import window_complete

PATTERNS = (
    "none",
    "morning_star",
    "evening_star",
    "bullish_engulfing",
    "bearish_engulfing",
    "hammer",
    "inverted_hammer",
    "shooting_star",
    "hanging_man",
)


def pattern_span(trend_bars: int) -> int:
    """Bars a pattern label reads: up to three pattern bars, the trend before them and
    the close the trend starts from."""
    return trend_bars + 4


def pattern_labels(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    trend_bars: int = 5,
) -> np.ndarray:
    """Pattern index (into :data:`PATTERNS`) of the bars ending at every position.

    Trend: the close-to-close move over ``trend_bars`` bars before the pattern's first
    bar; a star's first body is "long" against the mean body of those trend bars. So a
    label reads only the last :func:`pattern_span` bars. Three-bar patterns take
    precedence over two-bar, two-bar over one-bar ones. Positions without enough
    history are ``none``.
    """
    o, h, lo, c = (np.asarray(a, dtype=np.float64) for a in (open_, high, low, close))
    n = len(c)
    body = c - o
    size = np.abs(body)
    rng = h - lo
    upper = h - np.maximum(o, c)
    lower = np.minimum(o, c) - lo
    # mean body of the ``trend_bars`` bars ending at each position (inside the window)
    avg = np.convolve(size, np.ones(trend_bars) / trend_bars, mode="full")[:n]

    def shift(x: np.ndarray, k: int) -> np.ndarray:
        out = np.full(n, np.nan)
        if k < n:
            out[k:] = x[: n - k]
        return out

    def trend_before(k: int) -> np.ndarray:  # move into the first bar of a k-bar pattern
        return shift(c, k) - shift(c, k + trend_bars)

    label = np.zeros(n, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        valid = rng > 0
        # one bar: long shadow >= 2 bodies, the other shadow short, body not tiny
        small_other = lambda other: other <= 0.15 * rng  # noqa: E731
        hammer_shape = valid & (lower >= 2 * size) & small_other(upper) & (size > 0.05 * rng)
        inv_shape = valid & (upper >= 2 * size) & small_other(lower) & (size > 0.05 * rng)
        down1, up1 = trend_before(1) < 0, trend_before(1) > 0
        label[hammer_shape & down1] = PATTERNS.index("hammer")
        label[hammer_shape & up1] = PATTERNS.index("hanging_man")
        label[inv_shape & down1] = PATTERNS.index("inverted_hammer")
        label[inv_shape & up1] = PATTERNS.index("shooting_star")
        # two bars: the second body engulfs the first, opposite colours
        b1, o1, c1, s1 = shift(body, 1), shift(o, 1), shift(c, 1), shift(size, 1)
        down2, up2 = trend_before(2) < 0, trend_before(2) > 0
        bull_eng = (b1 < 0) & (body > 0) & (o <= c1) & (c >= o1) & (size > s1) & (s1 > 0)
        bear_eng = (b1 > 0) & (body < 0) & (o >= c1) & (c <= o1) & (size > s1) & (s1 > 0)
        label[bull_eng & down2] = PATTERNS.index("bullish_engulfing")
        label[bear_eng & up2] = PATTERNS.index("bearish_engulfing")
        # three bars: a long body, a small one, then a strong move back past the midpoint
        b2, o2, c2, s2 = shift(body, 2), shift(o, 2), shift(c, 2), shift(size, 2)
        long1 = s2 > shift(avg, 3)
        small_mid = s1 < 0.3 * s2
        mid = (o2 + c2) / 2
        down3, up3 = trend_before(3) < 0, trend_before(3) > 0
        morning = long1 & (b2 < 0) & small_mid & (body > 0) & (c > mid) & down3
        evening = long1 & (b2 > 0) & small_mid & (body < 0) & (c < mid) & up3
        label[morning] = PATTERNS.index("morning_star")
        label[evening] = PATTERNS.index("evening_star")
    return label


def pattern_windows(
    bars: dict[str, np.ndarray], minutes: np.ndarray | None, window: int, trend_bars: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions whose gap-free ``window`` holds a whole pattern with its trend, and labels.

    The label (:func:`pattern_labels`) reads the last
    :func:`pattern_span` bars, so the window must be at least that long.
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
