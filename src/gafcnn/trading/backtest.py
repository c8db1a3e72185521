"""A cost-aware backtest of P(up): the position engine (:mod:`gafcnn.trading.engine`) run
over a segment's decision times, and the figures and log of any list of its trades,
computed once for the backtest and `gafcnn paper` alike."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.trading.engine import Policy, PositionEngine, Trade

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
    horizon: int = 0  # minutes each position is held
    p_up: np.ndarray | None = None  # the P(up) that opened each trade


def trade_figures(net: np.ndarray, gross: np.ndarray) -> dict[str, float]:
    """Settled trades' win rate (share with a positive *net* return, not accuracy), mean
    and total net return, compounded return and break-even cost per side (bps)."""
    n = len(net)
    return {
        "win_rate": float(np.mean(net > 0)) if n else math.nan,
        "mean_net_return": float(net.mean()) if n else math.nan,
        "total_net_return": float(net.sum()),
        "compounded_return": float(np.prod(1 + net) - 1),
        "break_even_bps": float(gross.mean() / 2 * 1e4) if n else math.nan,
    }


def settled(trades: list[Trade]) -> tuple[np.ndarray, np.ndarray]:
    """Net and gross returns of the trades that settled (void ones left out)."""
    done = [t for t in trades if not t.void]
    return (np.array([t.net for t in done], dtype=np.float64),
            np.array([t.gross for t in done], dtype=np.float64))  # fmt: skip


def backtest(
    minutes: np.ndarray,
    p_up: np.ndarray,
    forward_return: np.ndarray,
    horizon: int,
    cost_bps: float,
    period_minutes: float,
    theta: float = 0.0,
) -> Backtest:
    """The position engine over decision ``minutes`` (``forward_return`` each decision's
    ``close[t+h]/close[t] - 1``), at ``theta``, paying ``cost_bps`` per side.
    Sharpe is annualised from the trades per year of the ``period_minutes``."""
    minutes = np.asarray(minutes)
    engine = PositionEngine(Policy(theta, horizon, cost_bps))
    trades = engine.run(minutes, p_up, forward_return)
    net, gross = settled(trades)
    figures = trade_figures(net, gross)
    equity = np.cumprod(1 + net)
    peak = np.maximum.accumulate(np.r_[1.0, equity])
    drawdown = float(np.max(1 - np.r_[1.0, equity] / peak)) if len(net) else 0.0
    years = period_minutes / (365 * MINUTES_PER_DAY)
    per_year = len(net) / years if years > 0 else 0.0
    sd = float(net.std(ddof=1)) if len(net) > 1 else 0.0
    return Backtest(
        trades=len(net),
        win_rate=figures["win_rate"],
        mean_net_return=figures["mean_net_return"],
        sharpe=float(net.mean() / sd * math.sqrt(per_year)) if sd > 0 else 0.0,
        max_drawdown=drawdown,
        exposure=float(len(net) * horizon / period_minutes) if period_minutes > 0 else 0.0,
        equity=equity,
        trade_times=np.array([t.entry for t in trades], dtype=minutes.dtype),
        net=net,
        gross=gross,
        side=np.array([float(t.side) for t in trades], dtype=np.float64),
        coverage=float(len(net) / len(minutes)) if len(minutes) else 0.0,
        turnover_per_day=float(2 * len(net) * MINUTES_PER_DAY / period_minutes)
        if period_minutes > 0
        else 0.0,
        break_even_bps=figures["break_even_bps"],
        horizon=horizon,
        p_up=np.array([t.p_up for t in trades], dtype=np.float64),
    )


TRADE_COLUMNS = ("entry", "exit", "side", "p_up", "gross", "net")


def trade_frame(entry: np.ndarray, side: np.ndarray, p_up: np.ndarray, gross: np.ndarray,
                net: np.ndarray, horizon: int) -> pd.DataFrame:  # fmt: skip
    """One row per trade: entry and exit time (UTC), side (+1 long, -1 short), the P(up)
    that opened it, its return before and after costs. The backtest's and paper
    trading's logs are both this frame (paper's adds ``void``)."""
    entry = np.asarray(entry, dtype=np.int64)
    return pd.DataFrame({"entry": clock.datetimes_of_minutes(entry),
                         "exit": clock.datetimes_of_minutes(entry + horizon),
                         "side": np.asarray(side).astype(np.int8),
                         "p_up": np.asarray(p_up, dtype=np.float64),
                         "gross": np.asarray(gross, dtype=np.float64),
                         "net": np.asarray(net, dtype=np.float64)})  # fmt: skip


def trade_log(trades: list[Trade], horizon: int) -> pd.DataFrame:
    """:func:`trade_frame` of the engine's trades."""
    return trade_frame(*(np.array([getattr(t, k) for t in trades]) for k in
                         ("entry", "side", "p_up", "gross", "net")), horizon)  # fmt: skip


def backtest_log(b: Backtest) -> pd.DataFrame:
    """:func:`trade_frame` of a backtest's trades, from its arrays (a backtest keeps no
    trade objects: every evaluated model's would be held at once)."""
    return trade_frame(b.trade_times, b.side, b.p_up, b.gross, b.net, b.horizon)
