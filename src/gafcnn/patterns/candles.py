"""How candles look, to compare synthetic bars with real ones before mixing them."""

from __future__ import annotations

import numpy as np


def candle_profile(bars: dict[str, np.ndarray]) -> dict[str, float]:
    """How candles look: medians of each part over the bar's range, the share of bars
    with no range, and the share opening exactly at the previous close. Used to check
    that synthetic bars resemble the real ones before mixing them for training."""
    o, h, lo, c = (np.asarray(bars[k], dtype=np.float64) for k in ("open", "high", "low", "close"))
    span = h - lo
    has = span > 0

    def median_share(part: np.ndarray) -> float:  # of bars that have a range
        return float(np.median(part[has] / span[has])) if has.any() else 0.0

    return {
        "bars": len(c),
        "upper_share_median": median_share(h - np.maximum(o, c)),
        "lower_share_median": median_share(np.minimum(o, c) - lo),
        "body_share_median": median_share(np.abs(c - o)),
        "no_range_share": float(np.mean(~has)),
        "open_at_prev_close_share": float(np.mean(o[1:] == c[:-1])) if len(c) > 1 else 0.0,
    }
