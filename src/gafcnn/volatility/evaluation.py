"""The volatility forecasters judged on their predictions, the one to serve chosen,
and the sizing backtests on test: what the `sizing` stage and `gafcnn volatility`
report (:mod:`gafcnn.volatility.judgement`, :mod:`gafcnn.volatility.backtest`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gafcnn import clock, registry
from gafcnn.evaluation.bootstrap import block_length
from gafcnn.params import Params
from gafcnn.volatility import backtest, judgement
from gafcnn.volatility.sizing import recommended_size


@dataclass(frozen=True)
class Rules:
    """How forecasters are judged and sized: the reference each is paired with (HAR),
    the reality check's benchmark (persistence), the bootstrap's block, resamples and
    seed, the horizon and the size's target and cap."""

    reference: str
    benchmark: str
    block: int
    reps: int
    seed: int
    horizon: int
    target_vol: float
    max_leverage: float


def rules(params: Params) -> Rules:
    """The judging and sizing rules of ``params`` (blocks span a window and a horizon)."""
    sz = params.sizing
    return Rules(
        reference=registry.VOL_REFERENCE.name, benchmark=registry.VOL_BENCHMARK.name,
        block=block_length(max(params.gaf.windows), sz.horizon, params.gaf.stride),
        reps=params.evaluate.bootstrap_reps, seed=params.seed, horizon=sz.horizon,
        target_vol=sz.target_vol, max_leverage=sz.max_leverage)  # fmt: skip


def wide(frame: pd.DataFrame, segment: str,
         names: list[str]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:  # fmt: skip
    """One segment's decision timestamps (ms, sorted), realized volatility and each
    forecaster's forecast, joined by timestamp."""
    part = frame[frame["segment"] == segment]
    table = part.pivot(index="ts", columns="model", values="predicted").sort_index()
    realized = part.drop_duplicates("ts").set_index("ts")["realized"].reindex(table.index)
    return (table.index.to_numpy(np.int64), realized.to_numpy(np.float64),
            {n: table[n].to_numpy(np.float64) for n in names})  # fmt: skip


def judge(frame: pd.DataFrame, names: list[str], rules: Rules) -> dict:
    """Each forecaster's val and test table, the served one (chosen on val) with its
    test row, the reality check on test, and the served forecaster's test sizes."""
    tables = {}
    for segment in ("val", "test"):
        _, rv, fc = wide(frame, segment, names)
        tables[segment] = judgement.score_table(rv, fc, rules.reference, rules.benchmark,
                                                rules.block, rules.reps, rules.seed)  # fmt: skip
    served, why = judgement.choose(tables["val"], rules.reference)
    _, rv, fc = wide(frame, "test", names)
    check = judgement.family_check(rv, fc, rules.benchmark, rules.block, rules.reps, rules.seed)
    return {"served": {"model": served, "reason": why, "test": tables["test"]["models"][served]},
            "val": tables["val"], "test": tables["test"], "reality_check": check}  # fmt: skip


def sizes_on_test(frame: pd.DataFrame, served: str, rules: Rules) -> dict[int, float]:
    """The served forecaster's size at each test decision minute (where it has one), in
    time order."""
    part = frame[(frame["segment"] == "test") & (frame["model"] == served)].sort_values("ts")
    size = recommended_size(part["predicted"].to_numpy(np.float64), rules.target_vol,
                            rules.max_leverage)  # fmt: skip
    minutes = clock.minutes_of_ms(part["ts"].to_numpy(np.int64))
    return {int(m): float(s) for m, s in zip(minutes, size, strict=True) if np.isfinite(s)}


def assess(frame: pd.DataFrame, names: list[str], prices: Prices, cost_bps: float,
           rules: Rules) -> tuple[dict, dict[int, float]]:  # fmt: skip
    """What the `sizing` stage and `gafcnn volatility` report of the forecasters'
    predictions ``frame``: the judgement (:func:`judge`), the served forecaster's test
    sizes summed up and always long unsized against sized; and those sizes by minute."""
    judged = judge(frame, names, rules)
    sizes = sizes_on_test(frame, judged["served"]["model"], rules)
    s = np.array(list(sizes.values()))
    summed = {"mean": float(s.mean()), "median": float(np.median(s)),
              "at_cap": float(np.mean(s >= rules.max_leverage))}  # fmt: skip
    figures = {"horizon_minutes": rules.horizon, "target_vol": rules.target_vol,
               "max_leverage": rules.max_leverage, "cost_per_side_bps": cost_bps,
               "served": judged.pop("served"), "sizes": summed, **judged,
               "backtests": {"always_long": always_long(prices, sizes, cost_bps, rules)},
               }  # fmt: skip
    return figures, sizes


def span(sizes: dict[int, float]) -> float:
    """Minutes from the first test decision with a size to the last."""
    return float(max(sizes) - min(sizes)) if sizes else 0.0


@dataclass(frozen=True)
class Prices:
    """The bars a backtest reads: close, low and high by bar position, and minutes."""

    close: np.ndarray
    low: np.ndarray
    high: np.ndarray
    minutes: np.ndarray

    def positions(self, minutes: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.minutes, minutes)


def always_long(prices: Prices, sizes: dict[int, float], cost_bps: float, rules: Rules) -> dict:
    """Always long, rebalanced every horizon on the test decisions with a size, unsized
    and sized, costs on turnover (:func:`gafcnn.volatility.backtest.compare`)."""
    at = np.array(sorted(sizes), dtype=np.int64)
    pos = prices.positions(at)
    entry, exit_ = backtest.always_long(prices.minutes, pos, rules.horizon)
    s = np.array([sizes[int(prices.minutes[e])] for e in entry])
    gross = prices.close[exit_] / prices.close[entry] - 1
    exc = backtest.adverse_excursion(prices.close, prices.low, prices.high, entry, exit_,
                                     np.ones(len(entry), dtype=np.int64))  # fmt: skip
    cost = cost_bps / 1e4
    flat = np.full(len(s), s.mean()) if len(s) else s
    return backtest.compare(gross, exc, s, backtest.turnover_costs(entry, exit_, s, cost),
                            backtest.turnover_costs(entry, exit_, flat, cost), span(sizes),
                            rules.max_leverage, rules.reps, rules.seed)  # fmt: skip


def policy(prices: Prices, trades: pd.DataFrame, sizes: dict[int, float],
           rules: Rules) -> dict:  # fmt: skip
    """A direction policy's test trades (``entry``/``exit`` minutes, ``side``, ``gross``
    and ``cost`` at size 1), unsized and sized by the size at each entry."""
    t = trades[[int(m) in sizes for m in trades["entry"]]]
    if len(t) < 10:
        return {"periods": len(t), "skipped": "fewer than 10 trades with a forecast"}
    s = np.array([sizes[int(m)] for m in t["entry"]])
    e, x = prices.positions(t["entry"].to_numpy()), prices.positions(t["exit"].to_numpy())
    exc = backtest.adverse_excursion(prices.close, prices.low, prices.high, e, x,
                                     t["side"].to_numpy())  # fmt: skip
    c = t["cost"].to_numpy(np.float64)
    return backtest.compare(t["gross"].to_numpy(np.float64), exc, s, s * c, s.mean() * c,
                            span(sizes), rules.max_leverage, rules.reps, rules.seed)  # fmt: skip
