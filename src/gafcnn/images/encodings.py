"""Image encodings of time-series windows: GASF, GADF, Markov transition field, recurrence plot.

All functions work on a whole batch of windows at once (rows of a 2-D array), with
no Python loop per window, and match ``pyts.image`` to float64 rounding:

* Gramian angular fields: each window (after piecewise aggregate approximation to
  ``image_size`` points when that is smaller than the window - never interpolation
  upsampling) is min-max scaled to ``[-1, 1]``; with ``x = cos(phi)`` and
  ``sqrt(1 - x^2) = sin(phi)``,
  ``GASF[i, j] = cos(phi_i + phi_j) = x_i x_j - s_i s_j`` and
  ``GADF[i, j] = sin(phi_i - phi_j) = s_i x_j - x_i s_j``. A constant window scales
  to the lower bound -1 (as sklearn/pyts do), so GASF = 1 and GADF = 0, no NaN.
  GASF alone cannot tell a window from its mirror image (``x -> -x`` leaves it
  unchanged), so it carries no sign of the trend; GADF flips sign and does.
* Markov transition field: per-window quantile bins, first-order transition
  matrix, ``MTF[i, j] = P(bin_i -> bin_j)``, averaged over blocks to ``image_size``.
* Recurrence plot: ``|x_i - x_j|`` (or the distance between delay-embedded
  trajectories), unthresholded.

:class:`Encoder` builds the channels a stage asks for straight into a
preallocated ``(N, C, S, S)`` array in cache-sized chunks on a few threads
(numpy releases the GIL inside its kernels).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from gafcnn.data.bars import FLOW, OHLCV, taker_imbalance
from gafcnn.params import channel_spec

RELATIVE = ("close_rel", "upper_rel", "lower_rel", "body_rel")  # over the window's range
PRESCALED = (*RELATIVE, "taker_imbalance")  # in [-1, 1]: no min-max
_TINY = 10 * np.finfo(np.float64).eps  # sklearn's threshold for a zero range


# ---------------------------------------------------------------- core functions


def segment_bounds(n: int, size: int) -> np.ndarray:
    """PAA segment boundaries (pyts ``segmentation`` without overlap): ``size + 1`` ints."""
    if not 1 <= size <= n:
        raise ValueError(f"image size {size} must be between 1 and the window length {n}")
    return np.linspace(0, n, size + 1).astype(np.int64)


def paa(x: np.ndarray, size: int) -> np.ndarray:
    """Piecewise aggregate approximation of each row to ``size`` segment means."""
    n = x.shape[-1]
    if size == n:
        return x
    bounds = segment_bounds(n, size)
    sums = np.add.reduceat(x, bounds[:-1], axis=-1)
    return sums / np.diff(bounds).astype(x.dtype)


def minmax_scale(x: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """Scale each row to ``[lo, hi]``; a constant row maps to ``lo``. Clipped into range."""
    xmin = x.min(axis=-1, keepdims=True)
    rng = x.max(axis=-1, keepdims=True) - xmin
    scale = np.divide(hi - lo, rng, out=np.zeros_like(rng), where=rng >= _TINY)
    scaled = x - xmin
    scaled *= scale
    scaled += lo
    return np.clip(scaled, lo, hi, out=scaled)


def polar(
    x: np.ndarray, image_size: int | None = None, scale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(cos, sin)`` of the angular encoding of each row (PAA, then scaling; with
    ``scale=False`` the values must already lie in [-1, 1], as pyts' ``sample_range=None``)."""
    size = x.shape[-1] if image_size is None else image_size
    cos = minmax_scale(paa(x, size)) if scale else np.clip(paa(x, size), -1.0, 1.0)
    sin = np.multiply(cos, cos)
    np.subtract(1.0, sin, out=sin)
    np.maximum(sin, 0.0, out=sin)
    return cos, np.sqrt(sin, out=sin)


def gasf(x: np.ndarray, image_size: int | None = None) -> np.ndarray:
    """Gramian angular summation field of each row: ``(N, S, S)``."""
    cos, sin = polar(np.asarray(x, dtype=np.float64), image_size)
    return np.clip(cos[:, :, None] * cos[:, None, :] - sin[:, :, None] * sin[:, None, :], -1, 1)


def gadf(x: np.ndarray, image_size: int | None = None) -> np.ndarray:
    """Gramian angular difference field of each row: ``(N, S, S)``."""
    cos, sin = polar(np.asarray(x, dtype=np.float64), image_size)
    return np.clip(sin[:, :, None] * cos[:, None, :] - cos[:, :, None] * sin[:, None, :], -1, 1)


def quantile_bins(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Per-row quantile bin index in ``0..n_bins-1`` (pyts ``KBinsDiscretizer``).

    Repeated edges (rows with ties) are merged as pyts does, so such rows use fewer bins.
    """
    edges = np.percentile(x, np.linspace(0, 100, n_bins + 1)[1:-1], axis=1).T  # (N, B-1)
    if n_bins > 2:
        dup = np.isclose(0, np.diff(edges, axis=1), rtol=0, atol=1e-8)
        edges[:, :-1][dup] = np.inf  # a merged edge never counts
    return (edges[:, None, :] < x[:, :, None]).sum(axis=2)


def markov_transition_field(
    x: np.ndarray, image_size: int | None = None, n_bins: int = 8
) -> np.ndarray:
    """Markov transition field of each row, aggregated to ``image_size``: ``(N, S, S)``."""
    x = np.asarray(x, dtype=np.float64)
    n_samples, n = x.shape
    size = n if image_size is None else image_size
    bins = quantile_bins(x, n_bins)
    flat = (np.arange(n_samples)[:, None] * n_bins + bins[:, :-1]) * n_bins + bins[:, 1:]
    counts = np.bincount(flat.ravel(), minlength=n_samples * n_bins * n_bins)
    mtm = counts.reshape(n_samples, n_bins, n_bins).astype(np.float64)
    rows = mtm.sum(axis=2, keepdims=True)
    mtm /= np.where(rows == 0, 1.0, rows)
    field = mtm[np.arange(n_samples)[:, None, None], bins[:, :, None], bins[:, None, :]]
    if size == n:
        return field
    bounds = segment_bounds(n, size)
    sums = np.add.reduceat(np.add.reduceat(field, bounds[:-1], axis=1), bounds[:-1], axis=2)
    widths = np.diff(bounds).astype(np.float64)
    return sums / (widths[:, None] * widths[None, :])


def recurrence_plot(x: np.ndarray, dimension: int = 1, time_delay: int = 1) -> np.ndarray:
    """Unthresholded recurrence plot (distances between delay-embedded points)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[1]
    m = n - (dimension - 1) * time_delay
    if m < 1:
        raise ValueError("dimension and time_delay leave no trajectory")
    if dimension == 1:
        return np.abs(x[:, :, None] - x[:, None, :])
    traj = np.stack([x[:, d * time_delay : d * time_delay + m] for d in range(dimension)], axis=2)
    diff = traj[:, :, None, :] - traj[:, None, :, :]
    return np.sqrt((diff * diff).sum(axis=3))


# ---------------------------------------------------------------- stage encoder


@dataclass(frozen=True)
class Channel:
    """One image channel: an encoding ``method`` of one ``series`` of the window."""

    method: str
    series: str = "close"

    @classmethod
    def parse(cls, spec: str) -> Channel:
        return cls(*channel_spec(spec))

    @property
    def name(self) -> str:
        return f"{self.method}:{self.series}"


_CANDLE = frozenset({"open", "high", "low", "close"})
SERIES_COLUMNS: dict[str, frozenset[str]] = {
    "close": frozenset({"close"}),
    "logret": frozenset({"open", "close"}),
    "volume": frozenset({"volume"}),
    "upper": frozenset({"high", "open", "close"}),
    "lower": frozenset({"low", "open", "close"}),
    "body": frozenset({"open", "close"}),
    **{name: _CANDLE for name in RELATIVE},
    "taker_imbalance": frozenset({"volume", "taker_buy_base"}),
    "trades": frozenset({"trades"}),
}


def bar_columns(series: set[str]) -> tuple[str, ...]:
    """The bar columns :func:`window_series` reads for ``series`` (so a stage loads
    only those)."""
    need = set().union(*(SERIES_COLUMNS[s] for s in series))
    return tuple(c for c in (*OHLCV, *FLOW) if c in need)


def window_series(
    bars: dict[str, np.ndarray], positions: np.ndarray, window: int, needed: set[str]
) -> dict[str, np.ndarray]:
    """The ``(N, window)`` windows ending at ``positions`` for each series in ``needed``.

    ``close``: closes; ``logret``: each bar's log(close/open), so the window uses its
    own bars only; ``volume``: volumes; ``upper``, ``lower``, ``body``: the candle's
    upper shadow ``high - max(open, close)``, lower shadow ``min(open, close) - low``
    and real body ``close - open`` (with ``close``, the CULR series of Chen & Tsai),
    each min-max scaled on its own by the encoder. ``close_rel``, ``upper_rel``,
    ``lower_rel``, ``body_rel``: the same four on one scale, divided by the window's
    high-low range (the close after subtracting the window's low), so a shadow twice
    the body stays twice the body; they lie in [-1, 1] and are encoded unscaled.
    ``taker_imbalance`` (in [-1, 1], encoded unscaled: a window of market buys is not
    one of sells) and ``trades`` (log of trades per bar): the order flow, from bars
    that carry it.
    """
    idx = np.asarray(positions)[:, None] + np.arange(1 - window, 1)[None, :]
    out = {}
    cache: dict[str, np.ndarray] = {}

    def take(key: str) -> np.ndarray:  # each bar column gathered at most once
        if key not in cache:
            cache[key] = bars[key][idx]
        return cache[key]

    if "close" in needed:
        out["close"] = take("close")
    if "logret" in needed:
        out["logret"] = np.log(take("close") / take("open"))
    if "volume" in needed:
        out["volume"] = take("volume")
    if "taker_imbalance" in needed:
        out["taker_imbalance"] = taker_imbalance(take("volume"), take("taker_buy_base"))
    if "trades" in needed:
        out["trades"] = np.log1p(take("trades"))
    if "upper" in needed:
        out["upper"] = take("high") - np.maximum(take("open"), take("close"))
    if "lower" in needed:
        out["lower"] = np.minimum(take("open"), take("close")) - take("low")
    if "body" in needed:
        out["body"] = take("close") - take("open")
    if needed & set(RELATIVE):
        span = take("high").max(axis=1, keepdims=True) - take("low").min(axis=1, keepdims=True)
        span = np.where(span > 0, span, 1.0)
        if "close_rel" in needed:
            out["close_rel"] = (take("close") - take("low").min(axis=1, keepdims=True)) / span
        if "upper_rel" in needed:
            out["upper_rel"] = (take("high") - np.maximum(take("open"), take("close"))) / span
        if "lower_rel" in needed:
            out["lower_rel"] = (np.minimum(take("open"), take("close")) - take("low")) / span
        if "body_rel" in needed:
            out["body_rel"] = (take("close") - take("open")) / span
    return out


class Encoder:
    """Builds the configured channels for batches of windows into a preallocated array."""

    def __init__(
        self,
        channels: list[str] | list[Channel],
        image_size: int,
        mtf_bins: int = 8,
        threads: int | None = None,
        chunk: int = 512,
    ):
        self.channels = [c if isinstance(c, Channel) else Channel.parse(c) for c in channels]
        if not self.channels:
            raise ValueError("at least one channel is needed")
        self.image_size = int(image_size)
        self.mtf_bins = int(mtf_bins)
        if self.mtf_bins < 2 and any(c.method == "mtf" for c in self.channels):
            raise ValueError(f"the Markov transition field needs mtf_bins >= 2, got {mtf_bins}")
        self.threads = max(1, threads or min(2, os.cpu_count() or 1))
        self.chunk = int(chunk)

    @classmethod
    def of_meta(cls, meta: dict, threads: int = 1) -> Encoder:
        """The encoder that made an image set (its ``meta.json``, or a served CNN's
        metadata): the same channels, size and bins, so images match bit for bit."""
        return cls(meta["channels"], meta["image_size"], meta["mtf_bins"], threads=threads)

    @property
    def series_needed(self) -> set[str]:
        return {c.series for c in self.channels}

    def encode_into(self, windows: dict[str, np.ndarray], out: np.ndarray) -> np.ndarray:
        """Fill ``out[:, c]`` with channel c for every window; ``out`` is (N, C, S, S).

        Works in chunks of ``self.chunk`` windows across ``self.threads`` threads;
        computes in ``out``'s dtype if float32/float64, otherwise (float16) in float32
        per chunk and casts into ``out``.
        """
        n = next(iter(windows.values())).shape[0]
        size = self.image_size
        if out.shape != (n, len(self.channels), size, size):
            raise ValueError(
                f"out has shape {out.shape}, expected {(n, len(self.channels), size, size)}"
            )
        direct = out.dtype in (np.float32, np.float64)
        work = out.dtype if direct else np.dtype(np.float32)
        chunks = list(range(0, n, self.chunk))
        workers = min(self.threads, len(chunks))
        if workers == 0:  # no windows
            return out

        def run(k: int) -> None:
            buf = None if direct else np.empty((self.chunk, *out.shape[1:]), dtype=work)
            for a in chunks[k::workers]:
                b = min(a + self.chunk, n)
                dest = out[a:b] if direct else buf[: b - a]
                self._encode_chunk({s: w[a:b] for s, w in windows.items()}, dest, work)
                if not direct:
                    out[a:b] = dest

        if workers <= 1:
            run(0)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, range(workers)))
        return out

    def encode(self, windows: dict[str, np.ndarray], dtype=np.float32) -> np.ndarray:
        n = next(iter(windows.values())).shape[0]
        out = np.empty((n, len(self.channels), self.image_size, self.image_size), dtype=dtype)
        return self.encode_into(windows, out)

    def _encode_chunk(self, windows: dict[str, np.ndarray], dest: np.ndarray, work) -> None:
        size = self.image_size
        polar_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for c, ch in enumerate(self.channels):
            x = windows[ch.series]
            if ch.method in ("gasf", "gadf"):
                if ch.series not in polar_cache:
                    scale = ch.series not in PRESCALED
                    cos, sin = polar(np.asarray(x, dtype=np.float64), size, scale)
                    # Shrink by a few ulps so that rounding in the products can never
                    # leave [-1, 1]: cheaper than clipping the images afterwards.
                    shrink = 1.0 - 3 * np.finfo(work).eps
                    cos *= shrink
                    sin *= shrink
                    polar_cache[ch.series] = (cos.astype(work), sin.astype(work))
                cos, sin = polar_cache[ch.series]
                if ch.method == "gasf":  # [x, s] . [x, -s]^T
                    a, b = np.stack([cos, sin], axis=2), np.stack([cos, -sin], axis=1)
                else:  # [s, -x] . [x, s]^T
                    a, b = np.stack([sin, -cos], axis=2), np.stack([cos, sin], axis=1)
                np.matmul(a, b, out=dest[:, c])
            elif ch.method == "mtf":
                dest[:, c] = 2.0 * markov_transition_field(x, size, self.mtf_bins) - 1.0
            else:  # rp of the scaled series: distances in [0, 2] -> [-1, 1]
                scaled = minmax_scale(paa(np.asarray(x, dtype=np.float64), size))
                dest[:, c] = recurrence_plot(scaled) - 1.0
