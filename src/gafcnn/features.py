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


# ---------------------------------------------------------------- technical indicators

INDICATORS = (
    "ret_1", "ret_5", "ret_15", "ret_30", "ret_60",
    "rsi_14", "macd", "macd_signal", "macd_hist",
    "bb_pctb", "bb_width", "atr_14", "rv_15", "rv_60",
    "volume_z", "tod_sin", "tod_cos",
)  # fmt: skip


def _ema(x: np.ndarray, span: int) -> np.ndarray:
    """Causal exponential moving average (adjust=False), seeded with the first value."""
    import pandas as pd

    return pd.Series(x).ewm(span=span, adjust=False).mean().to_numpy()


def _rolling(x: np.ndarray, n: int, how: str) -> np.ndarray:
    import pandas as pd

    r = pd.Series(x).rolling(n, min_periods=n)
    return getattr(r, how)().to_numpy()


def indicators(bars: dict[str, np.ndarray], minutes: np.ndarray) -> np.ndarray:
    """``(n_bars, len(INDICATORS))`` features; row t uses bars ``<= t`` only.

    Price-level indicators are divided by the close so they are comparable across
    price levels. Rows without enough history are NaN (XGBoost handles missing values).
    Computed over bar positions: a gap in the data is treated as adjacent bars.
    """
    o, h, lo, c, v = (bars[k] for k in ("open", "high", "low", "close", "volume"))
    logc = np.log(c)
    cols = {}
    for lag in (1, 5, 15, 30, 60):
        r = np.full(len(c), np.nan)
        r[lag:] = logc[lag:] - logc[:-lag]
        cols[f"ret_{lag}"] = r
    diff = np.r_[np.nan, np.diff(c)]
    gain = _ema(np.nan_to_num(np.maximum(diff, 0)), 27)  # Wilder's 14 ~ EMA span 27
    loss = _ema(np.nan_to_num(np.maximum(-diff, 0)), 27)
    cols["rsi_14"] = 100 - 100 / (1 + gain / np.where(loss > 0, loss, np.nan))
    cols["rsi_14"] = np.where((loss == 0) & (gain > 0), 100.0, cols["rsi_14"])
    macd = _ema(c, 12) - _ema(c, 26)
    signal = _ema(macd, 9)
    cols["macd"], cols["macd_signal"], cols["macd_hist"] = macd / c, signal / c, (macd - signal) / c
    mean20, sd20 = _rolling(c, 20, "mean"), _rolling(c, 20, "std")
    band = 2 * sd20
    cols["bb_pctb"] = (c - (mean20 - band)) / np.where(band > 0, 2 * band, np.nan)
    cols["bb_width"] = 2 * band / mean20
    prev_c = np.r_[np.nan, c[:-1]]
    tr = np.nanmax(np.stack([h - lo, np.abs(h - prev_c), np.abs(lo - prev_c)]), axis=0)
    cols["atr_14"] = _ema(tr, 27) / c
    r1 = np.r_[np.nan, np.diff(logc)]
    cols["rv_15"] = _rolling(r1, 15, "std")
    cols["rv_60"] = _rolling(r1, 60, "std")
    lv = np.log1p(v)
    vm, vs = _rolling(lv, 60, "mean"), _rolling(lv, 60, "std")
    cols["volume_z"] = (lv - vm) / np.where(vs > 0, vs, np.nan)
    phase = 2 * np.pi * (np.asarray(minutes) % 1440) / 1440.0
    cols["tod_sin"], cols["tod_cos"] = np.sin(phase), np.cos(phase)
    del o
    return np.stack([cols[k] for k in INDICATORS], axis=1)
