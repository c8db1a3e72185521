"""A seeded 1-minute market generator with a planted, tunable predictive pattern.

The process, per minute t:

* volatility: ``sigma_t = sigma * exp(v_t + season(minute of day))`` where ``v_t`` is
  a stationary AR(1) (volatility clustering) and ``season`` a U-shape peaking at
  the busiest hours (intraday seasonality);
* standardised returns: ``z_t = -signal * mean(z_{t-L..t-1}) * sqrt(L) + e_t`` with
  ``e_t`` a unit-variance Student-t (heavy tails). ``signal`` is the strength of a
  short-horizon mean reversion over the last ``L = lookback`` bars; 0 makes the
  returns an i.i.d. symmetric sequence scaled by an independent volatility, so no
  function of the past predicts the direction;
* log return ``r_t = sigma_t * z_t``; OHLC come from a Brownian-bridge path of
  ``substeps`` points inside the minute (open = previous close), prices snapped to
  ``tick`` (high rounded up, low down, so OHLC stay consistent);
* volume ~ base * seasonality * (0.3 + |z_t|) * lognormal noise: tied to |return|,
  never to its sign.

Because the volatility is independent of ``z`` and the noise is symmetric, the
best possible direction forecast uses only the conditional law of the future
returns given the past; :func:`oracle_probabilities` estimates ``P(up)`` for each
decision time by Monte-Carlo continuation of the exact state, and the oracle
accuracy is the hit rate of ``P(up) > 0.5`` against the realised labels.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from gafcnn import clock
from gafcnn.params import SyntheticConfig


def _season(minute_of_day: np.ndarray, amplitude: float) -> np.ndarray:
    """Log-volatility seasonality: a smooth daily cycle peaking mid-afternoon UTC."""
    phase = 2 * np.pi * (minute_of_day - 14.5 * 60) / 1440.0
    return amplitude * (np.cos(phase) + 0.35 * np.cos(2 * phase))


def _student_t(rng: np.random.Generator, df: float, size) -> np.ndarray:
    """Unit-variance Student-t draws (heavy tails); Gaussian when df is infinite."""
    if not np.isfinite(df):
        return rng.standard_normal(size)
    return rng.standard_t(df, size) / np.sqrt(df / (df - 2.0))


def _shocks(rng: np.random.Generator, cfg: SyntheticConfig, size, common=None) -> np.ndarray:
    """Unit-variance return shocks: Student-t draws, mixed with a shock ``common`` to
    every symbol of a universe at weight ``sqrt(correlation)`` (so two symbols'
    shocks correlate by ``correlation``). The oracle continues with fresh draws of
    the same mixture."""
    own = _student_t(rng, cfg.tail_df, size)
    if cfg.correlation == 0:
        return own
    if common is None:
        common = _student_t(rng, cfg.tail_df, size)
    return np.sqrt(1 - cfg.correlation) * own + np.sqrt(cfg.correlation) * common


def common_shocks(cfg: SyntheticConfig) -> np.ndarray:
    """The shocks every symbol of a universe shares (from the universe's base seed)."""
    return _student_t(np.random.default_rng([cfg.seed, 2]), cfg.tail_df, cfg.n_bars)


def symbol_config(cfg: SyntheticConfig, symbols: list[str], symbol: str) -> SyntheticConfig:
    """The ``k``-th symbol's market of a synthetic universe: seed ``seed + k`` and its
    planted signal (``signals[k]``, else ``signal``); its shocks share
    :func:`common_shocks`."""
    k = symbols.index(symbol)
    signal = cfg.signals[k] if cfg.signals else cfg.signal
    return dataclasses.replace(cfg, seed=cfg.seed + k, signal=signal)


def _reversion_weight(cfg: SyntheticConfig) -> float:
    """Coefficient on each of the last L standardised returns."""
    return -cfg.signal / np.sqrt(cfg.lookback)


def _ar_filter(cfg: SyntheticConfig) -> np.ndarray:
    """Denominator of the IIR filter z_t - w * sum_{k=1..L} z_{t-k} = e_t."""
    return np.r_[1.0, np.full(cfg.lookback, -_reversion_weight(cfg))]


def _vol_state(cfg: SyntheticConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """Stationary AR(1) log-volatility state with std ``vol_of_vol``."""
    phi = cfg.vol_persistence
    innov = rng.standard_normal(n) * cfg.vol_of_vol * np.sqrt(1 - phi**2)
    v0 = rng.standard_normal() * cfg.vol_of_vol
    v, _ = lfilter([1.0], [1.0, -phi], innov, zi=[phi * v0])
    return v


@dataclass
class SyntheticMarket:
    bars: pd.DataFrame
    z: np.ndarray  # standardised returns (the state the oracle continues from)
    v: np.ndarray  # log-volatility state
    minutes: np.ndarray  # minute index since epoch


CHUNK = 65_536  # bars whose sub-minute paths are held at once


def _bridge(
    rng: np.random.Generator,
    cfg: SyntheticConfig,
    sig: np.ndarray,
    r: np.ndarray,
    log_open: np.ndarray,
) -> np.ndarray:
    """``(m, substeps)`` log-price paths inside m minutes, each a Brownian bridge from
    its open to its close (``log_open + r``)."""
    k = cfg.substeps
    steps = rng.standard_normal((len(r), k)) * (sig[:, None] / np.sqrt(k))
    walk = np.cumsum(steps, axis=1)
    frac = np.arange(1, k + 1) / k
    return log_open[:, None] + (walk - frac[None, :] * (walk[:, -1:] - r[:, None]))


def generate(cfg: SyntheticConfig, common: np.ndarray | None = None) -> SyntheticMarket:
    """Generate ``cfg.n_bars`` 1-minute bars; same config and seed give the same bars.
    ``common``: the universe's shared shocks (:func:`common_shocks`), when
    ``cfg.correlation`` > 0."""
    if cfg.n_bars < 2:
        raise ValueError("data.synthetic.n_bars must be at least 2")
    if not 0 <= cfg.signal < 1:
        raise ValueError("data.synthetic.signal must be in [0, 1)")
    if not 0 <= cfg.trade_prob <= 1:
        raise ValueError("data.synthetic.trade_prob must be in [0, 1]")
    rng = np.random.default_rng(cfg.seed)
    n = cfg.n_bars
    start = clock.parse(cfg.start, "params.yaml", "data.synthetic.start")
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    minute0 = int(clock.minutes_of_ms(clock.ms_of_stamp(start.floor("min"))))
    minutes = minute0 + np.arange(n, dtype=np.int64)
    mod = (minutes % 1440).astype(np.float64)

    v = _vol_state(cfg, rng, n)
    sig = cfg.sigma * np.exp(v + _season(mod, cfg.seasonality))
    if cfg.correlation and common is None:
        common = common_shocks(cfg)
    eps = _shocks(rng, cfg, n, common)
    z = lfilter([1.0], _ar_filter(cfg), eps)
    r = sig * z

    log_close = np.log(cfg.price0) + np.cumsum(r)
    log_open = np.r_[np.log(cfg.price0), log_close[:-1]]
    # Brownian bridge inside each minute from log_open to log_close, built CHUNK bars
    # at a time (the (n, substeps) path would grow with the history). Chunked draws
    # give the same numbers as one draw of the whole array.
    close = np.round(np.exp(log_close) / cfg.tick) * cfg.tick
    if cfg.trade_prob > 0:
        # Discrete trades: each substep but the last holds a trade with probability
        # trade_prob; the close is a trade at the end of the minute. Open, high and low
        # come from the traded prices only, so the open need not equal the previous
        # close and a minute with one trade has no range - as on a thin exchange.
        # The trade draws follow all the path draws: a copy of the generator replays
        # the path while the original, moved past it, draws the trades.
        replay = copy.deepcopy(rng)
        for a in range(0, n, CHUNK):
            rng.standard_normal((min(a + CHUNK, n) - a, cfg.substeps))
        open_, high, low = np.empty(n), np.empty(n), np.empty(n)
        for a in range(0, n, CHUNK):
            b = min(a + CHUNK, n)
            path = _bridge(replay, cfg, sig[a:b], r[a:b], log_open[a:b])
            traded = rng.random(path.shape) < cfg.trade_prob
            traded[:, -1] = True
            first = traded.argmax(axis=1)
            tick = cfg.tick
            open_[a:b] = np.round(np.exp(path[np.arange(b - a), first]) / tick) * tick
            high[a:b] = np.round(np.exp(np.where(traded, path, -np.inf).max(axis=1)) / tick) * tick
            low[a:b] = np.round(np.exp(np.where(traded, path, np.inf).min(axis=1)) / tick) * tick
    else:
        open_ = np.r_[np.round(cfg.price0 / cfg.tick) * cfg.tick, close[:-1]]
        high, low = np.empty(n), np.empty(n)
        for a in range(0, n, CHUNK):
            b = min(a + CHUNK, n)
            path = _bridge(rng, cfg, sig[a:b], r[a:b], log_open[a:b])
            high[a:b] = np.ceil(np.exp(path.max(axis=1)) / cfg.tick) * cfg.tick
            low[a:b] = np.floor(np.exp(path.min(axis=1)) / cfg.tick) * cfg.tick
    high = np.round(np.maximum(high, np.maximum(open_, close)), 8)
    low = np.round(np.minimum(low, np.minimum(open_, close)), 8)
    close = np.round(close, 8)
    open_ = np.round(open_, 8)

    vol_season = np.exp(0.8 * _season(mod, cfg.seasonality))
    volume = cfg.volume_base * vol_season * (0.3 + np.abs(z)) * rng.lognormal(0.0, 0.5, n)
    volume = np.round(volume, 6)

    bars = pd.DataFrame(
        {
            "timestamp": clock.datetimes_of_minutes(minutes),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "filled": np.zeros(n, dtype=bool),
        }
    )
    return SyntheticMarket(bars=bars, z=z, v=v, minutes=minutes)


def oracle_probabilities(
    market: SyntheticMarket,
    cfg: SyntheticConfig,
    horizon: int,
    threshold: float = 0.0,
    n_paths: int = 256,
    chunk: int = 1024,
) -> np.ndarray:
    """P(label = up | everything known at t) for every bar t, by Monte-Carlo continuation.

    The label is up when the log return over the next ``horizon`` bars exceeds
    ``log1p(threshold)`` and down when it is below ``log1p(-threshold)``; the
    probability is conditional on the sample not falling in that dead zone. Bars
    whose label does not exist (the last ``horizon``) get NaN. Seeded from the
    generator's seed, so it is deterministic.
    """
    rng = np.random.default_rng([cfg.seed, 1])
    n = len(market.z)
    L = cfg.lookback
    w = _reversion_weight(cfg)
    phi = cfg.vol_persistence
    vstd = cfg.vol_of_vol * np.sqrt(1 - phi**2)
    up_cut, down_cut = np.log1p(threshold), np.log1p(-threshold) if threshold < 1 else -np.inf
    z_pad = np.r_[np.zeros(L), market.z]
    p = np.full(n, np.nan)
    last = n - horizon
    for a in range(0, last, chunk):
        b = min(a + chunk, last)
        t = np.arange(a, b)
        # history of the last L standardised returns, shape (m, L), oldest first
        hist = np.stack([z_pad[t + 1 + j] for j in range(L)], axis=1)
        hist = np.repeat(hist[:, None, :], n_paths, axis=1)
        v = np.repeat(market.v[t][:, None], n_paths, axis=1)
        total = np.zeros((len(t), n_paths))
        for k in range(1, horizon + 1):
            v = phi * v + rng.standard_normal(v.shape) * vstd
            mod = (market.minutes[t + k] % 1440).astype(np.float64)
            sig = cfg.sigma * np.exp(v + _season(mod, cfg.seasonality)[:, None])
            z_new = w * hist.sum(axis=2) + _shocks(rng, cfg, v.shape)
            total += sig * z_new
            hist = np.concatenate([hist[:, :, 1:], z_new[:, :, None]], axis=2)
        up = (total > up_cut).sum(axis=1)
        down = (total < down_cut).sum(axis=1)
        p[a:b] = np.where(up + down > 0, up / np.maximum(up + down, 1), 0.5)
    return p


def oracle_accuracy(p_up: np.ndarray, labels: np.ndarray) -> float:
    """Hit rate of the Bayes decision ``p_up > 0.5`` on labelled samples (labels 0/1)."""
    keep = (labels >= 0) & np.isfinite(p_up)
    if not keep.any():
        return float("nan")
    return float(np.mean((p_up[keep] > 0.5) == (labels[keep] == 1)))
