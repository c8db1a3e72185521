"""Paper trading: a bundle's policy traded bar by bar, as a live bot would trade it.

The one bar-by-bar trader (:class:`gafcnn.trading.trader.Trader`, on the position
engine the backtest runs) sees one bar at a time. At a decision time (a bar whose minute is a
multiple of ``gaf.stride``, as the pipeline's samples) with no position open it takes
the side the bundle's :class:`~gafcnn.trading.engine.Policy` gives the served P(up),
entering at that bar's close; the position closes at the close of the bar exactly
``label.horizon`` minutes later and pays the bundle's costs. If that bar never comes
(a gap), the trade is void: logged without returns and left out of the summary; the
backtest has no such trade, since that decision time has no label. P(up) comes from
the bundle's serving hooks, the code `gafcnn predict` runs; the log gives each trade
the size the bundle recommended at its entry (the trades themselves are unsized, as
the backtest's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data.bars import bar_arrays, minute_index
from gafcnn.serving.signals import size_fields
from gafcnn.trading.backtest import trade_log
from gafcnn.trading.engine import Policy, Trade
from gafcnn.trading.trader import Trader


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
    decide = policy.decides(m)
    if start_minute is not None:
        decide &= m >= start_minute
    if bundle.expires_after is not None:
        decide &= m <= bundle.expires_after
    positions = positions[decide]
    positions = positions[bundle.ready(minutes, positions)]
    p = np.full(len(minutes), np.nan)
    if len(positions):
        arrays = bar_arrays(bars)
        p[positions] = bundle.predict_all(arrays, minutes, positions)[policy.model]
    return p[-1:] if last_only else p


def replay(trader: Trader, bars: pd.DataFrame, p_up: np.ndarray) -> list[Trade]:
    """Feed every bar, in order, to ``trader``; the trades closed (void ones included)."""
    return trader.run(minute_index(bars), bars["close"].to_numpy(np.float64), p_up)


def log(trades: list[Trade], horizon: int, sizes: list[float | None] | None = None) -> pd.DataFrame:
    """The trade log (:func:`gafcnn.trading.backtest.trade_log`'s columns) plus ``void``
    and the ``recommended_size`` at each entry (``sizes``; None where there is none)."""
    frame = trade_log(trades, horizon)
    sized = [None] * len(trades) if sizes is None else sizes
    return frame.assign(void=np.array([t.void for t in trades], dtype=bool),
                        recommended_size=np.array(sized, dtype=np.float64))  # fmt: skip


def entry_sizes(bundle, bars: pd.DataFrame, trades: list[Trade]) -> list[float | None]:
    """The bundle's recommended size at each trade's entry bar, from the bars up to it
    (what `gafcnn predict` answered there)."""
    pos = np.searchsorted(minute_index(bars), [t.entry for t in trades])
    return [row["recommended_size"] for row in size_fields(bundle, bars, pos)]


def summary(trader: Trader) -> dict:
    """Closed trades' figures (:meth:`Trader.figures`, the backtest's
    :func:`~gafcnn.trading.backtest.trade_figures`), void ones counted apart."""
    done = [t for t in trader.closed if not t.void]
    pol = trader.policy
    figures = trader.figures()
    return {
        "model": pol.model,
        "theta": pol.theta,
        "cost_bps_per_side": pol.cost_bps,
        "horizon_minutes": pol.horizon,
        "trades": figures.pop("trades"),
        "void_trades": figures.pop("void_trades"),
        "open_at_end": trader.position is not None,
        "long": int(sum(t.side > 0 for t in done)),
        "short": int(sum(t.side < 0 for t in done)),
        **figures,
        "first_entry": clock.iso_minute(done[0].entry) if done else None,
        "last_entry": clock.iso_minute(done[-1].entry) if done else None,
    }
