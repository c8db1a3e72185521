"""Per-bar features of raw windows (the 1-D CNN's input), the technical indicators and
the order flow the indicator models read (:func:`model_inputs`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gafcnn.data.bars import FLOW, taker_imbalance

BAR_FEATURES = ("logret", "range", "log_volume")


def window_bar_features(
    bars: dict[str, np.ndarray], positions: np.ndarray, window: int
) -> np.ndarray:
    """``(N, 3, window)``: each bar's log(close/open), log(high/low), and log1p(volume)
    z-scored within the window (volume levels drift; their shape is what matters)."""
    idx = np.asarray(positions)[:, None] + np.arange(1 - window, 1)[None, :]
    logret = np.log(bars["close"][idx] / bars["open"][idx])  # the images' logret series
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
    if len(x) == 0:
        return x.copy()
    flat = x.reshape(len(x), -1)
    return ema_rows(lambda a, b: flat[a:b], len(x), span).reshape(x.shape)


def ema_rows(
    rows: Callable[[int, int], np.ndarray], n: int, span: int, at: np.ndarray | None = None
) -> np.ndarray:
    """:func:`ema` of an ``n``-row series given as ``rows(a, b)`` (its rows a..b-1, 1-D
    or 2-D), computed ``EMA_BLOCK`` rows at a time; only the rows at positions ``at``
    (in their order; every row when None) are kept. Neither the input nor the output need
    ever be whole, so memory is bounded by the block (and ``len(at)``)."""
    first = np.asarray(rows(0, 1), dtype=np.float64)
    cols = 1 if first.ndim == 1 else first.shape[1]
    alpha = 2.0 / (span + 1.0)
    d = 1.0 - alpha
    c = int(min(n, max(1, np.log(1e3) // -np.log(d)))) if d > 0 else 1
    pw = np.cumprod(np.r_[1.0, np.full(c - 1, d)])[:, None]  # d**i within a chunk
    decay = d * pw  # weight of the carry (the previous chunk's last EMA value) at i
    back = None
    if at is not None:
        at = np.asarray(at, dtype=np.int64)
        if len(at) > 1 and np.any(np.diff(at) < 0):  # kept in order, computed sorted
            back, at = np.argsort(at, kind="stable"), np.sort(at, kind="stable")
    out = np.empty((n if at is None else len(at), cols))
    block = c * max(1, EMA_BLOCK // c)  # a multiple of c: chunks fall where they would at once
    last = first.reshape(1, cols)[0]  # the seed: y[-1] = x[0] makes y[0] = x[0]
    for a in range(0, n, block):
        seg = np.asarray(rows(a, min(a + block, n)), dtype=np.float64).reshape(-1, cols)
        m = -(-len(seg) // c)
        chunks = np.zeros((m * c, cols))
        chunks[: len(seg)] = seg
        chunks = chunks.reshape(m, c, -1)
        part = alpha * pw * np.cumsum(chunks / pw, axis=1)  # each chunk's EMA from 0
        carry = np.empty((m, cols))
        for k in range(m):
            carry[k] = last
            last = part[k, -1] + decay[-1] * last
        y = (part + carry[:, None] * decay).reshape(m * c, -1)[: len(seg)]
        if at is None:
            out[a : a + len(seg)] = y
        else:
            lo, hi = np.searchsorted(at, [a, a + len(seg)])
            out[lo:hi] = y[at[lo:hi] - a]
    if back is not None:
        out[back] = out.copy()
    return out if first.ndim > 1 else out[:, 0]


ROLLING_CHUNK = 1 << 20  # window values gathered at once by rolling()
EMA_BLOCK = 1 << 16  # rows of an EMA computed at once
POSITION_BLOCK = 1 << 15  # positions whose indicators are computed at once


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
    bars: dict[str, np.ndarray],
    minutes: np.ndarray,
    positions: np.ndarray | None = None,
    dtype: np.dtype | type = np.float64,
) -> np.ndarray:
    """``(len(positions), len(INDICATORS))`` features at bar ``positions`` (every bar when
    None); the row of bar t uses bars ``<= t`` only, and is the same whichever other
    positions are asked for (a live decision asks for one).

    Price-level indicators are divided by the close so they are comparable across
    price levels. Rows without enough history are NaN (XGBoost handles missing values).
    Computed over bar positions: a gap in the data is treated as adjacent bars.
    ``dtype`` is the result's (XGBoost reads float32 anyway: float32 halves it).

    The recursions (EMAs) run over every bar a block at a time (:func:`ema_rows`); the
    rest is computed ``POSITION_BLOCK`` positions at a time, so memory beyond the
    bars and the result does not grow with the history.
    """
    h, lo, c, v = (
        np.asarray(bars[k], dtype=np.float64) for k in ("high", "low", "close", "volume")
    )
    n = len(c)
    p_all = np.arange(n) if positions is None else np.asarray(positions, dtype=np.int64)
    out = np.empty((len(p_all), len(INDICATORS)), dtype=dtype)  # each feature in place
    col = {k: j for j, k in enumerate(INDICATORS)}

    def prev(x: np.ndarray, a: int, b: int) -> np.ndarray:  # x[t-1] for t in a..b-1
        return np.r_[np.nan, x[: b - 1]] if a == 0 else x[a - 1 : b - 1]

    def up(a: int, b: int) -> np.ndarray:
        return np.nan_to_num(np.maximum(c[a:b] - prev(c, a, b), 0))

    def down(a: int, b: int) -> np.ndarray:
        return np.nan_to_num(np.maximum(-(c[a:b] - prev(c, a, b)), 0))

    def true_range(a: int, b: int) -> np.ndarray:  # fmax skips NaN as nanmax does
        pc = prev(c, a, b)
        return np.fmax(np.fmax(h[a:b] - lo[a:b], np.abs(h[a:b] - pc)), np.abs(lo[a:b] - pc))

    # recursions over every bar, kept at the positions only; Wilder's 14 ~ span 27
    gain, loss, atr = (ema_rows(f, n, 27, p_all) for f in (up, down, true_range))

    def macd_and_signal() -> tuple[np.ndarray, np.ndarray]:  # the full EMAs end here
        ema12, ema26 = ema(c, 12), ema(c, 26)
        signal = ema_rows(lambda a, b: ema12[a:b] - ema26[a:b], n, 9, p_all)
        return ema12[p_all] - ema26[p_all], signal

    macd, signal = macd_and_signal()
    logc = np.log(c)
    r1 = np.r_[np.nan, np.diff(logc)]
    del logc
    lv = np.log1p(v)
    for a in range(0, len(p_all), POSITION_BLOCK):
        blk = slice(a, a + POSITION_BLOCK)
        p, cp = p_all[blk], c[p_all[blk]]
        put = out[blk]
        for lag in (1, 5, 15, 30, 60):
            r = np.full(len(p), np.nan)
            ok = p >= lag
            r[ok] = np.log(c[p[ok]]) - np.log(c[p[ok] - lag])
            put[:, col[f"ret_{lag}"]] = r
        g, lo_ = gain[blk], loss[blk]
        rsi = 100 - 100 / (1 + g / np.where(lo_ > 0, lo_, np.nan))
        put[:, col["rsi_14"]] = np.where((lo_ == 0) & (g > 0), 100.0, rsi)
        m, sg = macd[blk], signal[blk]
        put[:, col["macd"]] = m / cp
        put[:, col["macd_signal"]] = sg / cp
        put[:, col["macd_hist"]] = (m - sg) / cp
        mean20, sd20 = rolling(c, 20, "mean", p), rolling(c, 20, "std", p)
        band = 2 * sd20
        put[:, col["bb_pctb"]] = (cp - (mean20 - band)) / np.where(band > 0, 2 * band, np.nan)
        put[:, col["bb_width"]] = 2 * band / mean20
        put[:, col["atr_14"]] = atr[blk] / cp
        put[:, col["rv_15"]] = rolling(r1, 15, "std", p)
        put[:, col["rv_60"]] = rolling(r1, 60, "std", p)
        vm, vs = rolling(lv, 60, "mean", p), rolling(lv, 60, "std", p)
        put[:, col["volume_z"]] = (lv[p] - vm) / np.where(vs > 0, vs, np.nan)
        phase = 2 * np.pi * (np.asarray(minutes)[p] % 1440) / 1440.0
        put[:, col["tod_sin"]] = np.sin(phase)
        put[:, col["tod_cos"]] = np.cos(phase)
    return out


# ---------------------------------------------------------------- order flow

# From the bars' trade count and taker-buy volume (:data:`gafcnn.data.bars.FLOW`): the
# taker imbalance ``2 * taker_buy / volume - 1`` (+1: every trade a market buy) over the
# bar and the last 5 bars, its z-score over a day of bars, and trades per bar (log) with
# its z-score.
FLOW_FEATURES = ("taker_imbalance", "taker_imbalance_5", "taker_imbalance_z",
                 "trades_log", "trades_z")  # fmt: skip
Z_BARS = 1440  # a day of 1-minute bars: the z-scores' trailing window


def _z(x: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
    mean, sd = rolling(x, n, "mean", positions), rolling(x, n, "std", positions)
    return (x[positions] - mean) / np.where(sd > 0, sd, np.nan)


def flow_features(bars: dict[str, np.ndarray], positions: np.ndarray,
                  z_bars: int = Z_BARS) -> np.ndarray:  # fmt: skip
    """``(len(positions), len(FLOW_FEATURES))``: the order flow at each bar position,
    from that bar and earlier ones only (NaN without enough history or volume)."""
    missing = [k for k in FLOW if k not in bars]
    if missing:
        raise ValueError(f"order-flow features need the bars' {', '.join(missing)}")
    p = np.asarray(positions, dtype=np.int64)
    v = np.asarray(bars["volume"], dtype=np.float64)
    tb = np.asarray(bars["taker_buy_base"], dtype=np.float64)
    imb = taker_imbalance(v, tb)
    cv, ctb = np.r_[0.0, np.cumsum(v)], np.r_[0.0, np.cumsum(tb)]
    lo = np.maximum(p - 4, 0)
    v5, tb5 = cv[p + 1] - cv[lo], ctb[p + 1] - ctb[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        imb5 = np.where((v5 > 0) & (p >= 4), 2 * tb5 / v5 - 1, np.nan)
    trades = np.log1p(np.asarray(bars["trades"], dtype=np.float64))
    return np.column_stack([imb[p], imb5, _z(imb, p, z_bars), trades[p], _z(trades, p, z_bars)])


def input_names(flow: bool) -> list[str]:
    """The indicator models' inputs, in order: the indicators, then the order flow."""
    return [*INDICATORS, *(FLOW_FEATURES if flow else ())]


def model_inputs(bars: dict[str, np.ndarray], minutes: np.ndarray, positions: np.ndarray,
                 flow: bool, dtype: np.dtype | type = np.float64) -> np.ndarray:  # fmt: skip
    """What the indicator models (xgb_indicators, the hybrid's first columns) read at
    bar ``positions``: :func:`indicators`, and with ``flow`` :func:`flow_features`."""
    x = indicators(bars, minutes, positions, dtype)
    if not flow:
        return x
    return np.column_stack([x, flow_features(bars, positions).astype(dtype)])


def reads_flow(width: int, base: int) -> bool:
    """Whether a model fitted on ``width`` inputs read the order flow, given the
    ``base`` inputs it has without: one error for any other width."""
    if width not in (base, base + len(FLOW_FEATURES)):
        raise ValueError(f"fitted on {width} inputs; this code builds {base} (without order "
                         f"flow) or {base + len(FLOW_FEATURES)} (with)")  # fmt: skip
    return width > base
