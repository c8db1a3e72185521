"""Volatility targeting: the position a forecast gives, as a multiple of equity."""

from __future__ import annotations

import numpy as np


def recommended_size(predicted_vol: np.ndarray | float, target_vol: float,
                     max_leverage: float) -> np.ndarray:  # fmt: skip
    """``min(max_leverage, target_vol / predicted_vol)`` per forecast (volatility over
    the same horizon as ``target_vol``); NaN where no positive forecast exists."""
    if not (target_vol > 0 and max_leverage > 0):
        raise ValueError(f"target_vol and max_leverage must be > 0, got {target_vol}, "
                         f"{max_leverage}")  # fmt: skip
    pv = np.asarray(predicted_vol, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.minimum(max_leverage, target_vol / pv)
    return np.where(np.isfinite(pv) & (pv > 0), size, np.nan)
