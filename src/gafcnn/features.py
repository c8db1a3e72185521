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


def ema(x: np.ndarray, span: int) -> np.ndarray:
    """Causal exponential moving average down axis 0 (each column of a 2-D ``x`` on its
    own), ``alpha = 2 / (span + 1)``, seeded with the first value: ``y[0] = x[0]``,
    ``y[t] = (1 - alpha) y[t-1] + alpha x[t]`` (pandas' ``ewm(span, adjust=False)``, to
    about 1e-15 relative).

    Vectorised in chunks short enough that the decay's inverse powers stay below 1e3
    (rounding stays near machine precision); only the chunks' carries loop in Python,
    so 300 bars take microseconds. Row t depends on ``x[:t+1]`` only, exactly.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0:
        return x.copy()
    flat = x.reshape(n, -1)
    alpha = 2.0 / (span + 1.0)
    d = 1.0 - alpha
    c = int(min(n, max(1, np.log(1e3) // -np.log(d)))) if d > 0 else 1
    pw = np.cumprod(np.r_[1.0, np.full(c - 1, d)])[:, None]  # d**i within a chunk
    decay = d * pw  # weight of the carry (the previous chunk's last EMA value) at i
    out = np.empty_like(flat)
    block = c * max(1, EMA_BLOCK // c)  # rows at once; a multiple of c: same chunks
    last = flat[0]  # the seed: y[-1] = x[0] makes y[0] = x[0]
    for a in range(0, n, block):
        seg = flat[a : a + block]
        m = -(-len(seg) // c)
        chunks = np.zeros((m * c, flat.shape[1]))
        chunks[: len(seg)] = seg
        chunks = chunks.reshape(m, c, -1)
        part = alpha * pw * np.cumsum(chunks / pw, axis=1)  # each chunk's EMA from 0
        carry = np.empty((m, flat.shape[1]))
        for k in range(m):
            carry[k] = last
            last = part[k, -1] + decay[-1] * last
        out[a : a + len(seg)] = (part + carry[:, None] * decay).reshape(m * c, -1)[: len(seg)]
    return out.reshape(x.shape)


ROLLING_CHUNK = 1 << 20  # window values gathered at once by rolling()
EMA_BLOCK = 1 << 16  # rows of an EMA computed at once


def rolling(x: np.ndarray, n: int, how: str, positions: np.ndarray | None = None) -> np.ndarray:
    """Trailing ``n``-bar mean or sample std (ddof 1) of ``x`` at ``positions`` (every
    position when None); NaN until ``n`` values are seen and wherever the window holds a
    NaN (pandas' ``rolling(n, min_periods=n)``, computed in two passes, so a constant
    window has std exactly 0). The value at one position does not depend on which
    other positions are asked for."""
    x = np.asarray(x, dtype=np.float64)
    p = np.arange(len(x)) if positions is None else np.asarray(positions, dtype=np.int64)
    out = np.full(len(p), np.nan)
    rows = np.flatnonzero(p >= n - 1)
    step = max(1, ROLLING_CHUNK // n)  # (step, n) windows at a time: bounded memory
    for a in range(0, len(rows), step):
        r = rows[a : a + step]
        w = x[p[r, None] + np.arange(1 - n, 1)]
        out[r] = w.mean(axis=1) if how == "mean" else w.std(axis=1, ddof=1)
    return out


def indicators(
    bars: dict[str, np.ndarray], minutes: np.ndarray, positions: np.ndarray | None = None
) -> np.ndarray:
    """``(len(positions), len(INDICATORS))`` features at bar ``positions`` (every bar when
    None); the row of bar t uses bars ``<= t`` only, and is the same whichever other
    positions are asked for (a live decision asks for one).

    Price-level indicators are divided by the close so they are comparable across
    price levels. Rows without enough history are NaN (XGBoost handles missing values).
    Computed over bar positions: a gap in the data is treated as adjacent bars.
    """
    h, lo, c, v = (
        np.asarray(bars[k], dtype=np.float64) for k in ("high", "low", "close", "volume")
    )
    p = np.arange(len(c)) if positions is None else np.asarray(positions, dtype=np.int64)
    logc = np.log(c)
    cp = c[p]
    cols = {}
    for lag in (1, 5, 15, 30, 60):
        r = np.full(len(p), np.nan)
        ok = p >= lag
        r[ok] = logc[p[ok]] - logc[p[ok] - lag]
        cols[f"ret_{lag}"] = r
    diff = np.r_[np.nan, np.diff(c)]
    prev_c = np.r_[np.nan, c[:-1]]
    # true range; fmax skips NaN as nanmax does, without a (3, n) stack
    tr = np.fmax(np.fmax(h - lo, np.abs(h - prev_c)), np.abs(lo - prev_c))
    del prev_c
    # Wilder's 14 ~ span 27; an EMA's columns are independent, so one at a time
    gain = ema(np.nan_to_num(np.maximum(diff, 0)), 27)[p]
    loss = ema(np.nan_to_num(np.maximum(-diff, 0)), 27)[p]
    atr = ema(tr, 27)[p]
    del diff, tr
    cols["rsi_14"] = 100 - 100 / (1 + gain / np.where(loss > 0, loss, np.nan))
    cols["rsi_14"] = np.where((loss == 0) & (gain > 0), 100.0, cols["rsi_14"])
    macd = ema(c, 12) - ema(c, 26)
    signal = ema(macd, 9)[p]
    macd = macd[p]
    cols["macd"], cols["macd_signal"], cols["macd_hist"] = (
        macd / cp,
        signal / cp,
        (macd - signal) / cp,
    )
    mean20, sd20 = rolling(c, 20, "mean", p), rolling(c, 20, "std", p)
    band = 2 * sd20
    cols["bb_pctb"] = (cp - (mean20 - band)) / np.where(band > 0, 2 * band, np.nan)
    cols["bb_width"] = 2 * band / mean20
    cols["atr_14"] = atr / cp
    r1 = np.r_[np.nan, np.diff(logc)]
    cols["rv_15"] = rolling(r1, 15, "std", p)
    cols["rv_60"] = rolling(r1, 60, "std", p)
    lv = np.log1p(v)
    vm, vs = rolling(lv, 60, "mean", p), rolling(lv, 60, "std", p)
    cols["volume_z"] = (lv[p] - vm) / np.where(vs > 0, vs, np.nan)
    phase = 2 * np.pi * (np.asarray(minutes)[p] % 1440) / 1440.0
    cols["tod_sin"], cols["tod_cos"] = np.sin(phase), np.cos(phase)
    return np.stack([cols[k] for k in INDICATORS], axis=1)
