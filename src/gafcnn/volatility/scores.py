"""How a volatility forecast is scored: QLIKE (the loss that ranks variance forecasts
correctly under a noisy realized proxy; 0 for a perfect one) and the R² of log
realized volatility."""

from __future__ import annotations

import numpy as np


def _pairs(realized: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rv, pv = np.asarray(realized, np.float64), np.asarray(predicted, np.float64)
    if rv.shape != pv.shape:
        raise ValueError(f"realized and predicted differ in shape: {rv.shape} {pv.shape}")
    ok = np.isfinite(rv) & np.isfinite(pv) & (rv > 0) & (pv > 0)
    return rv[ok], pv[ok]


def losses(realized: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per row, QLIKE on variances: ``rv²/pv² - ln(rv²/pv²) - 1``."""
    ratio = (np.asarray(realized, np.float64) / np.asarray(predicted, np.float64)) ** 2
    return ratio - np.log(ratio) - 1


def qlike(realized: np.ndarray, predicted: np.ndarray) -> float:
    """Mean QLIKE of predicted against realized volatility (:func:`losses`; rows
    without both, positive, left out)."""
    return float(np.mean(losses(*_pairs(realized, predicted))))


def r2_log(realized: np.ndarray, predicted: np.ndarray) -> float:
    """R² of log predicted against log realized volatility (1 - SSE / SST)."""
    rv, pv = _pairs(realized, predicted)
    y, f = np.log(rv), np.log(pv)
    return float(1 - np.sum((y - f) ** 2) / np.sum((y - y.mean()) ** 2))
