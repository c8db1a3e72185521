"""Block-bootstrap intervals and paired resamples of the test decisions.

Test samples come from overlapping windows and overlapping label horizons, so
neighbouring samples are not independent. Intervals and p-values therefore come
from a moving-block bootstrap whose block spans ``max(window) + horizon`` minutes
of decision times; every model is resampled with the same blocks (paired).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

CHUNK_BYTES = 32 * 2**20  # index rows expanded at once: bounded, whatever the test length


def block_length(max_window: int, horizon: int, stride: int) -> int:
    """Samples per bootstrap block: enough decision times to span a window plus a horizon."""
    return max(1, math.ceil((max_window + horizon) / max(stride, 1)))


BLOCK_RULES = ("window", "optimal")


def optimal_block(series: np.ndarray) -> int:
    """The largest Politis-White (2004, corrected 2009) circular-bootstrap block length
    over the columns of ``series`` (``arch.bootstrap.optimal_block_length``), rounded up."""
    from arch.bootstrap import optimal_block_length

    x = np.asarray(series, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    x = x[:, np.std(x, axis=0) > 0]  # a constant column has no dependence to measure
    if x.shape[1] == 0:
        return 1
    return max(1, math.ceil(float(optimal_block_length(x)["circular"].max())))


def choose_block(rule: str, window_rule: int, series: np.ndarray) -> dict:
    """The block length ``rule`` picks (``window``: a window plus a horizon of decision
    times; ``optimal``: :func:`optimal_block` of ``series``), with both lengths."""
    if rule not in BLOCK_RULES:
        raise ValueError(f"block rule must be one of {BLOCK_RULES}, got {rule!r}")
    optimal = optimal_block(series)
    used = window_rule if rule == "window" else optimal
    return {"rule": rule, "block_samples": used, "window_samples": window_rule,
            "optimal_samples": optimal}  # fmt: skip


class Resamples:
    """``(reps, n)`` moving-block bootstrap resamples of ``range(n)`` (circular blocks),
    kept as block starts and expanded a chunk of resamples at a time, so memory does
    not grow with ``reps x n``. ``np.asarray`` gives the whole index matrix."""

    def __init__(self, n: int, block: int, reps: int, seed: int):
        rng = np.random.default_rng(seed)
        self.n, self.block = n, block
        self.starts = rng.integers(0, n, size=(reps, math.ceil(n / block)))

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.starts), self.n)

    def rows(self, a: int, b: int) -> np.ndarray:
        """Resamples ``a:b`` as index rows: each block start and the block's next
        positions, wrapped past the end (a subtraction, not a modulo: the starts lie
        below ``n``, so one wrap suffices when a block is no longer than ``n``)."""
        idx = np.empty((b - a, self.starts.shape[1], self.block), dtype=np.int64)
        np.add(self.starts[a:b, :, None], np.arange(self.block), out=idx)
        if self.block <= self.n:
            np.subtract(idx, self.n, out=idx, where=idx >= self.n)
        else:
            np.remainder(idx, self.n, out=idx)
        return idx.reshape(b - a, -1)[:, : self.n]

    def chunks(self, max_bytes: int = CHUNK_BYTES) -> Iterator[np.ndarray]:
        """The index rows, ``max_bytes`` of them at a time (at least one row)."""
        step = max(1, max_bytes // (8 * max(self.n, 1)))
        for a in range(0, len(self.starts), step):
            yield self.rows(a, min(a + step, len(self.starts)))

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        whole = self.rows(0, len(self.starts))
        return whole if dtype is None else whole.astype(dtype)


def bootstrap_indices(n: int, block: int, reps: int, seed: int) -> Resamples:
    """``(reps, n)`` moving-block bootstrap resamples of ``range(n)`` (circular blocks)."""
    return Resamples(n, block, reps, seed)


def per_resample(idx: np.ndarray | Resamples, fn: Callable[[np.ndarray], np.ndarray],
                 max_bytes: int = CHUNK_BYTES) -> np.ndarray:  # fmt: skip
    """``fn`` (a ``(r, n)`` index matrix -> one value per row) over every resample,
    a chunk of rows (``max_bytes`` of indices) at a time for :class:`Resamples`: an
    ``fn`` that makes several temporaries of its rows' size passes a smaller one."""
    if isinstance(idx, Resamples):
        return np.concatenate([fn(rows) for rows in idx.chunks(max_bytes)])
    return fn(np.asarray(idx))


def _balanced(hit: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    pos = (y == 1)[idx]
    h = hit[idx]
    n_pos = pos.sum(axis=1)
    n_neg = idx.shape[1] - n_pos
    tpr = (h & pos).sum(axis=1) / np.maximum(n_pos, 1)
    tnr = (h & ~pos).sum(axis=1) / np.maximum(n_neg, 1)
    return (tpr + tnr) / 2


@dataclass
class BootstrapResult:
    accuracy_ci: tuple[float, float]
    balanced_accuracy_ci: tuple[float, float]
    p_value_vs_majority: float
    accuracy_se: float  # standard deviation of the resampled accuracies


def bootstrap(
    y: np.ndarray, pred: np.ndarray, idx: np.ndarray | Resamples, confidence: float = 0.95
) -> BootstrapResult:
    """Percentile intervals for accuracy and balanced accuracy, and the one-sided
    p-value of ``accuracy <= majority rate`` (paired on the same resamples)."""
    y = np.asarray(y).astype(np.int64)
    hit = np.asarray(pred).astype(np.int64) == y
    acc = per_resample(idx, lambda rows: hit[rows].mean(axis=1))
    bal = per_resample(idx, lambda rows: _balanced(hit, y, rows))
    up = per_resample(idx, lambda rows: (y == 1)[rows].mean(axis=1))
    majority = np.maximum(up, 1 - up)
    a = (1 - confidence) / 2
    p = (1 + np.sum(acc - majority <= 0)) / (len(acc) + 1)
    return BootstrapResult(
        accuracy_ci=(float(np.quantile(acc, a)), float(np.quantile(acc, 1 - a))),
        balanced_accuracy_ci=(float(np.quantile(bal, a)), float(np.quantile(bal, 1 - a))),
        p_value_vs_majority=float(p),
        accuracy_se=float(np.std(acc, ddof=1)) if len(acc) > 1 else math.nan,
    )
