"""Per-bar features of raw windows (the 1-D CNN's input)."""

from __future__ import annotations

import numpy as np

from gafcnn.encodings import window_series

BAR_FEATURES = ("logret", "range", "log_volume")


def window_bar_features(
    bars: dict[str, np.ndarray], positions: np.ndarray, window: int
) -> np.ndarray:
    """``(N, 3, window)``: each bar's log(close/open), log(high/low), and log1p(volume)
    z-scored within the window (volume levels drift; their shape is what matters)."""
    idx = np.asarray(positions)[:, None] + np.arange(1 - window, 1)[None, :]
    logret = window_series(bars, positions, window, {"logret"})["logret"]
    rng = np.log(bars["high"][idx] / bars["low"][idx])
    vol = np.log1p(bars["volume"][idx])
    sd = vol.std(axis=1, keepdims=True)
    vol = (vol - vol.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    return np.stack([logret, rng, vol], axis=1)


def feature_scale(x: np.ndarray) -> np.ndarray:
    """Per-feature scale (std over samples and bars) fitted on train; 1 where constant."""
    sd = x.std(axis=(0, 2))
    return np.where(sd > 0, sd, 1.0)
