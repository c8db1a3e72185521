"""Realized volatility by timestamp: the square root of the sum of squared one-minute
log returns over a span of minutes, ahead of a decision (the target) or behind it
(an input). A span with a missing minute has no value (NaN), never a shorter sum; a
long input span may instead be read from the minutes it has (``min_known``), scaled to
the whole span."""

from __future__ import annotations

import numpy as np


def _grid(close: np.ndarray, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each minute from the first to the last bar: the squared one-minute log return
    ending there (0 where unknown) and whether it is known."""
    close = np.asarray(close, dtype=np.float64)
    minutes = np.asarray(minutes, dtype=np.int64)
    if len(minutes) != len(close) or np.any(np.diff(minutes) <= 0):
        raise ValueError("bars must be one per minute, in strictly increasing time")
    slot = minutes - minutes[0]
    logc = np.full(int(slot[-1]) + 1 if len(slot) else 0, np.nan)
    logc[slot] = np.log(close)
    r = np.r_[np.nan, np.diff(logc)]
    known = np.isfinite(r)
    return np.where(known, r * r, 0.0), known


def _window_sums(sq: np.ndarray, known: np.ndarray, first: np.ndarray, span: int,
                 min_known: float = 1.0) -> np.ndarray:  # fmt: skip
    """Sum of ``sq`` over grid minutes ``first .. first + span - 1``, scaled by
    ``span / known minutes``; NaN off the grid or when fewer than ``min_known`` of the
    span's minutes are known (1.0: every one)."""
    c_sq = np.r_[0.0, np.cumsum(sq)]
    c_n = np.r_[0, np.cumsum(known)]
    last = first + span
    ok = (first >= 0) & (last <= len(sq))
    out = np.full(len(first), np.nan)
    f, e = first[ok], last[ok]
    n = c_n[e] - c_n[f]
    enough = n >= span if min_known >= 1.0 else n >= max(1.0, min_known * span)
    total = c_sq[e[enough]] - c_sq[f[enough]]
    out[np.flatnonzero(ok)[enough]] = total * (span / n[enough])
    return out


def forward(close: np.ndarray, minutes: np.ndarray, horizon: int) -> np.ndarray:
    """Per bar t: the realized volatility of the ``horizon`` one-minute returns after it
    (t -> t+1, ..., t+h-1 -> t+h), NaN where a minute is missing."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 minute, got {horizon}")
    sq, known = _grid(close, minutes)
    at = np.asarray(minutes, dtype=np.int64) - int(minutes[0])
    return np.sqrt(_window_sums(sq, known, at + 1, horizon))


def trailing(close: np.ndarray, minutes: np.ndarray, span: int,
             min_known: float = 1.0) -> np.ndarray:  # fmt: skip
    """Per bar t: the realized volatility of the ``span`` one-minute returns up to it
    (t-span -> t-span+1, ..., t-1 -> t); NaN where a minute is missing, or, with
    ``min_known`` < 1, where fewer than that share are known (the known ones' sum is
    then scaled to the span)."""
    if span < 1:
        raise ValueError(f"span must be >= 1 minute, got {span}")
    sq, known = _grid(close, minutes)
    at = np.asarray(minutes, dtype=np.int64) - int(minutes[0])
    return np.sqrt(_window_sums(sq, known, at - span + 1, span, min_known))
