"""The position engine: the one definition of a position held ``horizon`` minutes.

A :class:`Policy` turns P(up) into a side: long when P(up) >= 0.5 + theta, short when
<= 0.5 - theta, flat between (theta 0: always in). A :class:`PositionEngine` is
stepped decision time by decision time (or bar by bar): a position due at (or, through
a gap, before) the step closes first; then, flat and given a P(up), it opens the side
the policy says. One position at a time, so positions never overlap. A position pays
``cost_bps`` on entry and on exit (:func:`net_returns`, the one place costs apply).

What a position earns is known one of two ways. The backtest knows each decision's
forward return (``close[t+h] / close[t] - 1``) when it opens, so the position settles
at whichever step first reaches its exit. Paper and live trading know only prices: the
position settles at the close of the bar exactly ``horizon`` minutes after entry, and
is void (logged, without returns) when that bar never comes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def sides(p_up: np.ndarray, theta: float = 0.0) -> np.ndarray:
    """+1 (long) where ``p_up >= 0.5 + theta``, -1 (short) where ``p_up <= 0.5 - theta``
    (``< 0.5`` for theta 0: always in), 0 (flat) between."""
    p = np.asarray(p_up, dtype=np.float64)
    if theta == 0:
        return np.where(p >= 0.5, 1.0, -1.0)
    return np.where(p >= 0.5 + theta, 1.0, np.where(p <= 0.5 - theta, -1.0, 0.0))


def net_returns(
    side: np.ndarray | float, forward_return: np.ndarray | float, cost_bps: float
) -> np.ndarray | float:
    """Each trade's return after paying ``cost_bps`` on entry and on exit."""
    return side * forward_return - 2 * cost_bps / 1e4


@dataclass(frozen=True)
class Policy:
    """How a model's P(up) is traded: its threshold, holding time, cost per side, and
    which minutes are decision times (multiples of ``stride``)."""

    theta: float
    horizon: int  # minutes a position is held
    cost_bps: float  # per side
    stride: int = 1  # decision times: minutes that are a multiple of it
    model: str = ""  # the model whose P(up) it trades

    def side(self, p_up: float) -> int:
        """The side one P(up) asks for: +1, -1 or 0 (:func:`sides`)."""
        return int(sides(np.array([p_up]), self.theta)[0])

    def decides(self, minutes: np.ndarray) -> np.ndarray:
        """Which epoch minutes are decision times (multiples of ``stride``, as the
        pipeline's samples): the one rule, for a batch of bars and for one bar."""
        return np.asarray(minutes) % self.stride == 0


@dataclass
class Trade:
    entry: int  # epoch minute of the decision (entry at its close)
    side: int
    p_up: float
    entry_close: float = math.nan  # the entry bar's close, when priced by bars
    move: float | None = None  # the forward return, when known at entry (backtest)
    gross: float = math.nan
    net: float = math.nan
    void: bool = False  # priced by bars, and the exit bar never came


class PositionEngine:
    """One position at a time, opened at a decision and held ``policy.horizon`` minutes."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.position: Trade | None = None
        self.closed: list[Trade] = []

    def step(
        self, minute: int, p_up: float | None, close: float = math.nan,
        move: float | None = None, side: int | None = None,
    ) -> Trade | None:  # fmt: skip
        """One decision time or bar: close the position due, then, flat and given a
        finite P(up), open the policy's side (``side`` when the caller computed it with
        :func:`sides`). ``move`` is the forward return when known now. Returns the
        trade closed at this step, if any."""
        done = self._close_due(minute, close)
        if self.position is None and p_up is not None and math.isfinite(p_up):
            side = self.policy.side(p_up) if side is None else int(side)
            if side:
                self.position = Trade(minute, side, float(p_up), float(close), move)
        return done

    def due(self, minute: int) -> bool:
        """Whether ``minute`` is a decision the policy takes: a decision time (a multiple
        of ``stride``) with no position open after this step (none, or the one open due
        now). The one decision-time rule: callers ask for a P(up) only then."""
        pos = self.position
        return bool(self.policy.decides(minute)) and (
            pos is None or minute >= pos.entry + self.policy.horizon)  # fmt: skip

    def switch(self, policy: Policy) -> Trade | None:
        """Trade by ``policy`` from the next step on (a new champion); the position open,
        if any, stays and settles under the new policy's horizon. Returns it."""
        self.policy = policy
        return self.position

    def run(self, minutes: np.ndarray, p_up: np.ndarray, moves: np.ndarray) -> list[Trade]:
        """Step every decision time with its known forward return, then settle the
        position still open (its return is known): the backtest's trades."""
        want = sides(p_up, self.policy.theta)
        for t, p, s, m in zip(minutes.tolist(), np.asarray(p_up, dtype=np.float64).tolist(),
                              want.tolist(), np.asarray(moves).tolist(), strict=True):  # fmt: skip
            self.step(t, p, move=m, side=s)
        if self.position is not None and self.position.move is not None:
            self._settle(self.position, self.position.move)
        return self.closed

    def _close_due(self, minute: int, close: float) -> Trade | None:
        t = self.position
        if t is None or minute < t.entry + self.policy.horizon:
            return None
        if t.move is not None:
            self._settle(t, t.move)
        elif minute == t.entry + self.policy.horizon:
            self._settle(t, close / t.entry_close - 1.0)
        else:
            t.void = True
            self.closed.append(t)
            self.position = None
        return t

    def _settle(self, t: Trade, move: float) -> None:
        t.gross = float(t.side) * move
        t.net = float(net_returns(float(t.side), move, self.policy.cost_bps))
        self.closed.append(t)
        self.position = None
