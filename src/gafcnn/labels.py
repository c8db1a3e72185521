"""Direction labels: one definition for every window size.

For a decision time t (the last bar of a window) the label is the direction of
``close[t+h] / close[t] - 1`` where ``t+h`` is the bar exactly ``h`` minutes later
(``h = label.horizon``, the same for 15, 30 and 60-bar windows). A dead zone
``[lo, hi]`` drops samples whose return is too small to call:

* ``none``: the band is ``[0, 0]`` - only exactly flat outcomes are dropped
  (real 1-minute data has runs of identical closes; calling them "down" would
  bias the labels);
* ``fixed``: ``[-threshold, +threshold]``;
* ``quantile``: the central ``quantile`` share of the *train* returns; the cut
  points are fitted on train only and applied unchanged to val and test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gafcnn.io import typed_fields

UP, DOWN, DROPPED = 1, 0, -1
DEAD_ZONES = ("none", "fixed", "quantile")


@dataclass(frozen=True)
class LabelSpec:
    horizon: int = 5
    dead_zone: str = "none"
    threshold: float = 0.0
    quantile: float = 0.2

    def __post_init__(self) -> None:
        if self.dead_zone not in DEAD_ZONES:
            raise ValueError(f"label.dead_zone must be one of {DEAD_ZONES}, got {self.dead_zone!r}")
        if self.horizon < 1:
            raise ValueError("label.horizon must be >= 1")
        if self.threshold < 0:
            raise ValueError("label.threshold must be >= 0")
        if not 0 <= self.quantile < 1:
            raise ValueError("label.quantile must be in [0, 1)")

    @classmethod
    def from_params(cls, params: dict) -> LabelSpec:
        return cls(**typed_fields(cls, params))


def forward_returns(close: np.ndarray, minutes: np.ndarray, horizon: int) -> np.ndarray:
    """``close[t+h]/close[t] - 1`` with t+h found by timestamp; NaN where that bar is missing."""
    close = np.asarray(close, dtype=np.float64)
    minutes = np.asarray(minutes, dtype=np.int64)
    target = minutes + horizon
    j = np.searchsorted(minutes, target)
    exists = j < len(minutes)
    exists[exists] = minutes[j[exists]] == target[exists]
    r = np.full(len(close), np.nan)
    r[exists] = close[j[exists]] / close[exists] - 1.0
    return r


def fit_dead_zone(spec: LabelSpec, train_returns: np.ndarray) -> tuple[float, float]:
    """The band of returns to drop, fitted on train returns only (quantile kind)."""
    if spec.dead_zone == "none":
        return 0.0, 0.0
    if spec.dead_zone == "fixed":
        return -spec.threshold, spec.threshold
    r = train_returns[np.isfinite(train_returns)]
    if len(r) == 0:
        raise ValueError("cannot fit a quantile dead zone: no train returns")
    q = spec.quantile
    lo, hi = np.quantile(r, [0.5 - q / 2, 0.5 + q / 2])
    return float(lo), float(hi)


def direction_labels(returns: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """1 above the band, 0 below it, -1 inside it or where the return is missing."""
    lo, hi = band
    y = np.full(len(returns), DROPPED, dtype=np.int8)
    finite = np.isfinite(returns)
    y[finite & (returns > hi)] = UP
    y[finite & (returns < lo)] = DOWN
    return y


# ---------------------------------------------------------------- candlestick patterns
# Rule-based detectors in the spirit of Chen & Tsai (2020), "Encoding candlesticks as
# images for pattern classification using convolutional neural networks": the label of
# a window is the pattern formed by its last bars, given the trend before them. The
# label is a function of the window itself, so a model *can* learn it perfectly.

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
