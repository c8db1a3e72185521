"""Paper trading: a bundle's policy traded bar by bar, as a live bot would trade it.

A :class:`Trader` sees one bar at a time. At a decision time (a bar whose minute is a
multiple of ``gaf.stride``, as the pipeline's samples) with no position open it takes
the side :func:`gafcnn.evaluation.backtest.sides` gives the served P(up) at the
model's theta, entering at that bar's close; the position closes at the close of the
bar exactly ``label.horizon`` minutes later and pays the bundle's costs through
:func:`gafcnn.evaluation.backtest.net_returns`. If that bar never comes (a gap), the
trade is void: logged without returns and left out of the summary; the backtest has
no such trade, since that decision time has no label. P(up) comes from the bundle's
serving hooks, the code `gafcnn predict` runs. The evaluate stage's backtest of the
same model on the same decision times gives the same trades
(``tests/test_paper.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data.bars import OHLCV, minute_index
from gafcnn.evaluation.backtest import net_returns, sides, trade_log


@dataclass(frozen=True)
class Policy:
    """What a paper trader needs from a bundle for one served model."""

    model: str
    theta: float
    horizon: int  # minutes a position is held
    stride: int  # decision times: minutes that are a multiple of it
    cost_bps: float  # per side

    @classmethod
    def of(cls, bundle, model: str) -> Policy:
        spec = bundle.spec
        return cls(
            model=model,
            theta=float((spec["policy"] or {})[model]),
            horizon=int(spec["label_horizon"]),
            stride=int(spec["params"]["gaf"]["stride"]),
            cost_bps=float(spec["costs"]["per_side_bps"]),
        )


@dataclass
class Trade:
    entry: int  # epoch minute of the decision (entry at its close)
    side: int
    p_up: float
    entry_close: float
    gross: float = math.nan
    net: float = math.nan
    void: bool = False  # the exit bar never came


class Trader:
    """One position at a time, opened at a decision and held ``horizon`` minutes."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.position: Trade | None = None
        self.closed: list[Trade] = []

    def step(self, minute: int, close: float, p_up: float | None) -> Trade | None:
        """One bar: close the position due at (or, through a gap, before) this bar,
        then, given a P(up) (a decision time), open one if flat and the policy says so.
        Returns the trade closed at this bar, if any."""
        done = self.position
        if done is not None and minute >= done.entry + self.policy.horizon:
            if minute == done.entry + self.policy.horizon:
                move = np.array([close / done.entry_close - 1.0])
                side = np.array([float(done.side)])
                done.gross = float(side[0] * move[0])
                done.net = float(net_returns(side, move, self.policy.cost_bps)[0])
            else:
                done.void = True
            self.closed.append(done)
            self.position = None
        else:
            done = None
        if self.position is None and p_up is not None and math.isfinite(p_up):
            side = int(sides(np.array([p_up]), self.policy.theta)[0])
            if side:
                self.position = Trade(minute, side, float(p_up), float(close))
        return done


def decision_probabilities(
    bundle, bars: pd.DataFrame, policy: Policy, start_minute: int | None = None,
    last_only: bool = False,
) -> np.ndarray:  # fmt: skip
    """Per bar (the last one alone with ``last_only``), the model's served P(up) at
    decision times from ``start_minute`` on with a whole history, the bundle not
    expired; NaN elsewhere (no decision)."""
    minutes = minute_index(bars)
    positions = np.arange(len(minutes) - 1 if last_only else 0, len(minutes))
    m = minutes[positions]
    decide = m % policy.stride == 0
    if start_minute is not None:
        decide &= m >= start_minute
    if bundle.expires_after is not None:
        decide &= m <= bundle.expires_after
    positions = positions[decide]
    positions = positions[bundle.ready(minutes, positions)]
    p = np.full(len(minutes), np.nan)
    if len(positions):
        arrays = {k: bars[k].to_numpy(np.float64) for k in OHLCV}
        p[positions] = bundle.predict_all(arrays, minutes, positions)[policy.model]
    return p[-1:] if last_only else p


def replay(trader: Trader, bars: pd.DataFrame, p_up: np.ndarray) -> list[Trade]:
    """Feed every bar, in order, to ``trader``; the trades closed (void ones included)."""
    minutes, close = minute_index(bars), bars["close"].to_numpy(np.float64)
    for m, c, p in zip(minutes, close, p_up, strict=True):
        trader.step(int(m), float(c), None if np.isnan(p) else float(p))
    return trader.closed


def log(trades: list[Trade], horizon: int) -> pd.DataFrame:
    """The trade log (:func:`gafcnn.evaluation.backtest.trade_log`'s columns) plus
    ``void``."""
    frame = trade_log(
        np.array([t.entry for t in trades], dtype=np.int64),
        horizon,
        np.array([t.side for t in trades]),
        np.array([t.p_up for t in trades], dtype=np.float64),
        np.array([t.gross for t in trades], dtype=np.float64),
        np.array([t.net for t in trades], dtype=np.float64),
    )
    return frame.assign(void=np.array([t.void for t in trades], dtype=bool))


def summary(trader: Trader) -> dict:
    """Closed trades' figures, as the backtest reports them (void ones counted apart)."""
    done = [t for t in trader.closed if not t.void]
    net = np.array([t.net for t in done])
    gross = np.array([t.gross for t in done])
    pol = trader.policy
    return {
        "model": pol.model,
        "theta": pol.theta,
        "cost_bps_per_side": pol.cost_bps,
        "horizon_minutes": pol.horizon,
        "trades": len(done),
        "void_trades": len(trader.closed) - len(done),
        "open_at_end": trader.position is not None,
        "long": int(sum(t.side > 0 for t in done)),
        "short": int(sum(t.side < 0 for t in done)),
        "win_rate": float(np.mean(net > 0)) if len(net) else math.nan,
        "mean_net_return": float(net.mean()) if len(net) else math.nan,
        "total_net_return": float(net.sum()),
        "compounded_return": float(np.prod(1 + net) - 1),
        "break_even_bps": float(gross.mean() / 2 * 1e4) if len(net) else math.nan,
        "first_entry": clock.iso_minute(done[0].entry) if done else None,
        "last_entry": clock.iso_minute(done[-1].entry) if done else None,
    }
