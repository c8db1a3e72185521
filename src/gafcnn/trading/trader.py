"""The one bar-by-bar trader: closed bars in, the policy's positions on the one
:class:`~gafcnn.trading.engine.PositionEngine`, settled trades and their figures out.

Paper trading (a bars file, or bars followed on stdin), the service's live record
(:mod:`gafcnn.serving.desk`), a replay, the walk-forward that checks it and a
retrain's judging all trade through it: at each closed bar the position due settles
at its close; at a decision (:meth:`~gafcnn.trading.engine.PositionEngine.due`) the
P(up) given opens the policy's side. A new champion's policy is switched in with the
position still open (:meth:`Trader.switch`), which settles under it; each trade keeps
the label (a bundle version) it was opened under (:meth:`Trader.opened_by`). Void
trades (the exit bar never came) are kept in the log and left out of every figure
(:func:`~gafcnn.trading.backtest.settled`).
"""

from __future__ import annotations

import math

import numpy as np

from gafcnn.trading.backtest import settled, trade_figures
from gafcnn.trading.engine import Policy, PositionEngine, Trade


class Trader:
    """One policy traded bar by bar (see the module docstring), under ``label``;
    ``closed`` holds every trade closed, void ones included, in order."""

    def __init__(self, policy: Policy, label: str = ""):
        self.engine, self.label = PositionEngine(policy), label
        self._labels: dict[int, str] = {}  # id of each trade opened: the label then

    @property
    def policy(self) -> Policy:
        return self.engine.policy

    @property
    def closed(self) -> list[Trade]:
        return self.engine.closed

    @property
    def position(self) -> Trade | None:
        return self.engine.position

    def due(self, minute: int) -> bool:
        """Whether a P(up) at ``minute`` would be traded (ask for one only then)."""
        return self.engine.due(minute)

    def bar(self, minute: int, close: float, p_up: float | None = None) -> Trade | None:
        """One closed bar: settle the position due at its close, then, at a decision,
        open on ``p_up`` (None or NaN: no decision). The trade closed here, if any."""
        p = None if p_up is None or not math.isfinite(p_up) or not self.due(minute) else p_up
        before = self.engine.position
        done = self.engine.step(int(minute), p, float(close))
        if self.engine.position is not None and self.engine.position is not before:
            self._labels[id(self.engine.position)] = self.label
        return done

    def opened_by(self, trade: Trade) -> str:
        """The label ``trade`` was opened under."""
        return self._labels[id(trade)]

    def run(self, minutes: np.ndarray, close: np.ndarray, p_up: np.ndarray) -> list[Trade]:
        """:meth:`bar` over every bar in order (``p_up`` NaN where none); the trades
        closed on the way."""
        start = len(self.closed)
        for m, c, p in zip(minutes.tolist(), np.asarray(close, np.float64).tolist(),
                           np.asarray(p_up, np.float64).tolist(), strict=True):  # fmt: skip
            self.bar(m, c, p)
        return self.closed[start:]

    def switch(self, policy: Policy, label: str = "") -> Trade | None:
        """Trade by ``policy`` under ``label`` from the next bar on; the position open,
        if any, is carried over (and returned)."""
        self.label = label
        return self.engine.switch(policy)

    def figures(self) -> dict:
        """The settled trades' figures (:func:`~gafcnn.trading.backtest.trade_figures`),
        void ones counted apart."""
        return {**trade_figures(*settled(self.closed)),
                "trades": int(sum(not t.void for t in self.closed)),
                "void_trades": int(sum(t.void for t in self.closed))}  # fmt: skip

    def nets(self) -> np.ndarray:
        """Net returns of the settled trades, in order."""
        return settled(self.closed)[0]
