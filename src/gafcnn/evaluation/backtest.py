"""A cost-aware backtest of P(up) under a trading policy: long when P(up) >= 0.5 + theta,
short when <= 0.5 - theta, flat between; non-overlapping positions held for the label
horizon, costs on each side (:func:`net_returns`, the one place costs are applied)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gafcnn import clock

MINUTES_PER_DAY = 24 * 60


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
    net: np.ndarray  # net return of each trade, after costs
    gross: np.ndarray  # the trade's return before costs
    side: np.ndarray  # +1 long, -1 short
    coverage: float  # share of decision times traded
    turnover_per_day: float  # sides traded (opening and closing) per day
    break_even_bps: float  # cost per side at which the mean net return is zero


def sides(p_up: np.ndarray, theta: float = 0.0) -> np.ndarray:
    """+1 (long) where ``p_up >= 0.5 + theta``, -1 (short) where ``p_up <= 0.5 - theta``
    (``< 0.5`` for theta 0: always in), 0 (flat) between."""
    p = np.asarray(p_up, dtype=np.float64)
    if theta == 0:
        return np.where(p >= 0.5, 1.0, -1.0)
    return np.where(p >= 0.5 + theta, 1.0, np.where(p <= 0.5 - theta, -1.0, 0.0))


def net_returns(side: np.ndarray, forward_return: np.ndarray, cost_bps: float) -> np.ndarray:
    """Each trade's return after paying ``cost_bps`` on entry and on exit."""
    return side * forward_return - 2 * cost_bps / 1e4


def backtest(
    minutes: np.ndarray,
    p_up: np.ndarray,
    forward_return: np.ndarray,
    horizon: int,
    cost_bps: float,
    period_minutes: float,
    theta: float = 0.0,
) -> Backtest:
    """Trade :func:`sides` at each decision time while no position is open; each position
    is held ``horizon`` minutes (non-overlapping) and pays ``cost_bps`` per side.
    ``forward_return`` is ``close[t+h]/close[t] - 1``.

    Win rate is the share of trades whose *net* return is positive - not accuracy.
    Sharpe is annualised from the trades per year of the test period.
    """
    minutes = np.asarray(minutes)
    want = sides(p_up, theta)
    taken, free_at = [], -np.inf
    for i, t in enumerate(minutes):
        if t >= free_at and want[i] != 0:
            taken.append(i)
            free_at = t + horizon
    taken = np.asarray(taken, dtype=np.int64)
    side = want[taken]
    gross = side * np.asarray(forward_return)[taken]
    net = net_returns(side, np.asarray(forward_return)[taken], cost_bps)
    equity = np.cumprod(1 + net)
    peak = np.maximum.accumulate(np.r_[1.0, equity])
    drawdown = float(np.max(1 - np.r_[1.0, equity] / peak)) if len(net) else 0.0
    years = period_minutes / (365 * MINUTES_PER_DAY)
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
        gross=gross,
        side=side,
        coverage=float(len(net) / len(minutes)) if len(minutes) else 0.0,
        turnover_per_day=float(2 * len(net) * MINUTES_PER_DAY / period_minutes)
        if period_minutes > 0
        else 0.0,
        break_even_bps=float(gross.mean() / 2 * 1e4) if len(net) else float("nan"),
    )


TRADE_COLUMNS = ("entry", "exit", "side", "p_up", "gross", "net")


def trade_log(
    entry_minutes: np.ndarray, horizon: int, side: np.ndarray, p_up: np.ndarray,
    gross: np.ndarray, net: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    """One row per trade: entry and exit time (UTC), side (+1 long, -1 short), the P(up)
    that opened it, its return before and after costs. The backtest's and paper
    trading's logs are both this frame, so they compare column by column."""
    entry = np.asarray(entry_minutes, dtype=np.int64)
    return pd.DataFrame({"entry": clock.datetimes_of_minutes(entry),
                         "exit": clock.datetimes_of_minutes(entry + horizon),
                         "side": np.asarray(side, dtype=np.int8), "p_up": p_up,
                         "gross": gross, "net": net})  # fmt: skip


def backtest_log(b: Backtest, minutes: np.ndarray, p_up: np.ndarray, horizon: int) -> pd.DataFrame:
    """:func:`trade_log` of a backtest over decision ``minutes`` with these P(up)."""
    at = np.searchsorted(np.asarray(minutes), b.trade_times)
    return trade_log(b.trade_times, horizon, b.side, np.asarray(p_up)[at], b.gross, b.net)
