"""The deployed model's signal at a bar: P(up), the action and why, for `gafcnn predict`
(a file, or bars followed on stdin) and `gafcnn serve` (bars over HTTP) alike.

A decision at a bar's timestamp is what the backtest trades there: ``long`` if the
deployed model's P(up) >= 0.5 + theta, ``short`` if <= 0.5 - theta (theta: its
threshold chosen on val), ``flat`` with the reason inside that band, when nothing is
deployed, when the model has expired, or when history is too short (fewer than the
bundle's ``history_bars``, or a gap inside the longest window).

:class:`Stream` holds one market's bars as they arrive, one or a few at a time: the
last :data:`KEEP` bars (the direction models read those), or as many as the bundle's
volatility forecaster reads (a week), each later than the one before. Following stdin and serving
over HTTP both append to a Stream and answer from it, so the same bars give the same
answers, bit for bit, whichever way they came.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data.bars import COLUMNS, bar_arrays, minute_index
from gafcnn.io import InputError

FIELDS = ("timestamp", "p_up", "action", "reason", "predicted_vol", "recommended_size")
ACTIONS = {1: "long", -1: "short", 0: "flat"}  # the backtest's sides
KEEP = 2000  # bars the direction models read: indicators' EMAs forget older ones
NOT_LATER = "bar is not later than the one before it"


def warn_expired(bundle, minute: int) -> str | None:
    """Why a decision at ``minute`` may not trade on ``bundle`` (expired), said once on
    stderr per process; None while it may."""
    expired = bundle.expired(minute)
    if expired and not bundle.warned_expired:
        print(f"warning: {expired}", file=sys.stderr, flush=True)
        bundle.warned_expired = True
    return expired


def _row(bundle, minute: int, ready: bool, p: float) -> tuple:
    """(P(up) or None, action, reason) of one decision."""
    expired = warn_expired(bundle, minute)
    if bundle.deployed is None:
        decision = bundle.spec["decision"]["decision"] if bundle.spec["decision"] else "none"
        return None, "flat", f"decision: {decision}"
    if expired:
        return None, "flat", "model expired"
    if not ready:
        need = max(bundle.windows)
        return (None, "flat", f"history too short: needs {bundle.history} bars, the last "
                f"{need} of them consecutive minutes")  # fmt: skip
    action = ACTIONS[bundle.deployed_policy.side(p)]
    reason = "" if action != "flat" else f"below threshold ({bundle.theta:g} from 0.5)"
    return float(p), action, reason


def _number(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def direction_rows(bundle, bars: pd.DataFrame, positions: np.ndarray) -> list[dict]:
    """One row per bar position: its timestamp (ISO, UTC), P(up), action and reason."""
    minutes = minute_index(bars)
    arrays = bar_arrays(bars)
    complete = bundle.ready(minutes, positions)
    p = np.full(len(positions), np.nan)
    if bundle.deployed is not None and complete.any():
        p[complete] = bundle.predict(arrays, minutes, positions[complete])
    rows = []
    for k, pos in enumerate(positions):
        stamp = clock.iso_minute(minutes[pos])
        row = _row(bundle, int(minutes[pos]), bool(complete[k]), p[k])
        rows.append(dict(zip(FIELDS[:4], (stamp, *row), strict=True)))
    return rows


def size_fields(bundle, bars: pd.DataFrame, positions: np.ndarray) -> list[dict]:
    """Per bar position, the bundle's volatility forecast over its horizon and the size
    it gives (None without a forecaster, or where its inputs are incomplete: a gap in
    the last horizon, or fewer bars than it reads), whatever the direction decides."""
    vol = np.full(len(positions), np.nan)
    if bundle.sizer is not None and len(positions):
        arrays = bar_arrays(bars)
        vol = bundle.sizer.forecast(arrays, minute_index(bars), positions)
    size = vol if bundle.sizer is None else bundle.sizer.size(vol)
    return [{"predicted_vol": _number(v), "recommended_size": _number(z)}
            for v, z in zip(vol, size, strict=True)]  # fmt: skip


def decision_rows(bundle, bars: pd.DataFrame, positions: np.ndarray) -> list[dict]:
    """One row per bar position (:data:`FIELDS`): its timestamp (ISO, UTC), P(up),
    action and reason, the predicted volatility and the recommended size."""
    sizes = size_fields(bundle, bars, positions)
    return [r | z for r, z in zip(direction_rows(bundle, bars, positions), sizes, strict=True)]


class Stream:
    """One market's bars as they arrive (canonical frames, as `ingest` reads them): the
    last ``keep`` bars, and the decision at the last one, computed once per bar."""

    def __init__(self, bundle, keep: int = KEEP):
        self.bundle = bundle
        self.keep = self.holding(bundle, keep)
        self.bars: pd.DataFrame | None = None
        self._answer: dict | None = None
        self._size: dict | None = None

    @staticmethod
    def holding(bundle, keep: int) -> int:
        """Bars to hold: ``keep``, or the bundle's volatility forecaster's history."""
        sizer = getattr(bundle, "sizer", None)
        return max(keep, 0 if sizer is None else sizer.history)

    @property
    def last_ms(self) -> int | None:
        """The last bar's timestamp in epoch ms, or None before the first."""
        if self.bars is None:
            return None
        return clock.ms_of_stamp(self.bars["timestamp"].iloc[-1])

    def check(self, bars: pd.DataFrame, source: str, line: int | None = None) -> None:
        """Error unless ``bars`` (in time order) start later than the last bar held and
        carry every column the bundle's models read."""
        if self.bundle is not None:
            self.bundle.check_bars(bars, source, line)
        first = clock.ms_of_stamp(bars["timestamp"].iloc[0])
        if self.last_ms is not None and first <= self.last_ms:
            raise InputError(source, NOT_LATER, line)

    def append(self, bars: pd.DataFrame, source: str = "<bars>", line: int | None = None) -> None:
        """Add ``bars`` (validated, in time order) after the last bar held; an error
        leaves the stream as it was."""
        self.check(bars, source, line)
        bars = bars[[*COLUMNS, *getattr(self.bundle, "bar_columns", ())]]  # what is read
        frames = [bars] if self.bars is None else [self.bars, bars]
        self.bars = pd.concat(frames, ignore_index=True).iloc[-self.keep :]
        self.bars = self.bars.reset_index(drop=True)
        self._answer = self._size = None

    def swap(self, bundle) -> None:
        """Answer from ``bundle`` on, every bar held kept (a new champion, hot-reloaded)
        unless they lack a column it reads: then it waits for bars that carry it."""
        self.bundle, self._answer, self._size = bundle, None, None
        self.keep = self.holding(bundle, self.keep)
        if self.bars is not None and any(c not in self.bars for c in bundle.bar_columns):
            self.bars = None

    def answer(self) -> dict | None:
        """The decision at the last bar (a :data:`FIELDS` row), or None before the first."""
        if self.bars is None:
            return None
        if self._answer is None:
            recent = self.bars.iloc[-KEEP:].reset_index(drop=True)
            row = direction_rows(self.bundle, recent, np.array([len(recent) - 1]))[0]
            self._answer = row | (self.size() or {})
        return self._answer

    def size(self) -> dict | None:
        """The volatility forecast and size at the last bar (:func:`size_fields`),
        computed once per bar, or None before the first."""
        if self.bars is None:
            return None
        if self._size is None:
            self._size = size_fields(self.bundle, self.bars, np.array([len(self.bars) - 1]))[0]
        return self._size
