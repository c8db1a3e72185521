"""A cost-aware backtest of P(up): non-overlapping long/short positions held for the
label horizon, fees on each side."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Backtest:
    trades: int
    win_rate: float
    mean_net_return: float
    sharpe: float
    max_drawdown: float
    exposure: float
    equity: np.ndarray  # compounded equity after each trade
    trade_times: np.ndarray  # decision minute of each trade
    net: np.ndarray  # net return of each trade, after fees


def backtest(
    minutes: np.ndarray,
    p_up: np.ndarray,
    forward_return: np.ndarray,
    horizon: int,
    fee_bps: float,
    period_minutes: float,
) -> Backtest:
    """Long when ``p_up >= 0.5``, short otherwise, at each decision time while no
    position is open; each position is held ``horizon`` minutes (non-overlapping) and
    pays ``fee_bps`` per side. ``forward_return`` is ``close[t+h]/close[t] - 1``.

    Win rate is the share of trades whose *net* return is positive - not accuracy.
    Sharpe is annualised from the trades per year of the test period.
    """
    minutes = np.asarray(minutes)
    taken, free_at = [], -np.inf
    for i, t in enumerate(minutes):
        if t >= free_at:
            taken.append(i)
            free_at = t + horizon
    taken = np.asarray(taken, dtype=np.int64)
    side = np.where(np.asarray(p_up)[taken] >= 0.5, 1.0, -1.0)
    net = side * np.asarray(forward_return)[taken] - 2 * fee_bps / 1e4
    equity = np.cumprod(1 + net)
    peak = np.maximum.accumulate(np.r_[1.0, equity])
    drawdown = float(np.max(1 - np.r_[1.0, equity] / peak)) if len(net) else 0.0
    years = period_minutes / (365 * 24 * 60)
    per_year = len(net) / years if years > 0 else 0.0
    sd = float(net.std(ddof=1)) if len(net) > 1 else 0.0
    return Backtest(
        trades=len(net),
        win_rate=float(np.mean(net > 0)) if len(net) else float("nan"),
        mean_net_return=float(net.mean()) if len(net) else float("nan"),
        sharpe=float(net.mean() / sd * math.sqrt(per_year)) if sd > 0 else 0.0,
        max_drawdown=drawdown,
        exposure=float(len(net) * horizon / period_minutes) if period_minutes > 0 else 0.0,
        equity=equity,
        trade_times=minutes[taken],
        net=net,
    )
