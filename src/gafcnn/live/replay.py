"""A long history replayed as it would have been lived, and the walk-forward it equals.

:func:`replay` feeds the bars one at a time to a :class:`~gafcnn.serving.market.Market`
(the service's own path: a Stream of closed bars and a :class:`~gafcnn.serving.desk.Desk`
stepping the served trades), retrains on the schedule
(:meth:`gafcnn.evaluation.resampling.Rolling.ends`),
judges each challenger against the champion, and swaps a promoted one in between two
bars, as `gafcnn serve` does on a pointer change. Before the first promotion nothing
serves and the symbol is flat. It writes the store, the promotions log, the
timeline (every promotion, refusal, drift flag, breaker trip and trade, in time
order) and a summary.

:func:`walk_forward` is the offline evaluation of the same schedule: each stretch
between promotions traded by the champion of that stretch, its P(up) computed at
once from the whole history (`gafcnn paper`'s batch path), one position engine
across the stretches. With the guards off, the replay's trades equal it exactly.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data.bars import minute_index
from gafcnn.evaluation.document import Document, Paragraph, Section, Table, to_markdown
from gafcnn.io import write_json
from gafcnn.live.evidence import HEADER, record_row
from gafcnn.live.retrain import retrain, rolling
from gafcnn.params import Params
from gafcnn.serving import paper
from gafcnn.serving.bundle import Bundle
from gafcnn.serving.desk import Desk
from gafcnn.serving.market import Market
from gafcnn.serving.signals import KEEP, Stream
from gafcnn.serving.versions import Event, Versions, store
from gafcnn.trading.backtest import settled, trade_figures
from gafcnn.trading.engine import Trade
from gafcnn.trading.trader import Trader

TIMELINE, SUMMARY, LOG, REPORT = "timeline.jsonl", "summary.json", "promotions.jsonl", "report.md"


def replay(params: Params, bars: pd.DataFrame, symbol: str, out: Path, guards: bool = True,
           source: str | None = None) -> dict:  # fmt: skip
    """Replay ``bars`` of ``symbol`` into ``out`` (emptied first); the summary."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    versions = store(out / "versions", symbol, out / LOG)
    minutes = minute_index(bars)
    due = rolling(params).ends(int(minutes[0]), int(minutes[-1]))
    retrain_at = np.searchsorted(minutes, due)  # the first bar at or after each retrain
    market: Market | None = None
    k = 0
    for i in range(len(bars)):
        while k < len(due) and retrain_at[k] == i:
            retrain(params, bars.iloc[:i], due[k], symbol, versions, out, source)
            market = _serve(versions, market, bars.iloc[max(0, i - KEEP) : i], guards)
            k += 1
        if market is not None:
            market.bars(bars.iloc[i : i + 1], "replay")
    return _write(out, versions, market, bars, len(due))


def _serve(versions: Versions, market: Market | None, history: pd.DataFrame,
           guards: bool) -> Market | None:  # fmt: skip
    """The market after a retrain: the champion swapped in when it changed, or the first
    champion's market with the bars before it held (as a bot loads history)."""
    champion = versions.champion()
    if champion is None:
        return market
    path = versions.path(champion)
    if market is None:
        bundle = Bundle(path)
        market = Market(Stream(bundle), Desk(bundle, guards, keep_trades=True))
        if len(history):  # held, not traded: nothing served before the champion
            market.stream.append(history.reset_index(drop=True), "replay")
    elif market.stream.bundle.path != path:
        market.swap(Bundle(path))
    return market


def _trade_row(version: str, t: Trade) -> dict:
    return {"at": clock.iso_minute(t.entry), "kind": "trade", "version": version,
            "side": t.side, "p_up": t.p_up, "gross": None if t.void else t.gross,
            "net": None if t.void else t.net, "void": t.void}  # fmt: skip


def _write(out: Path, versions: Versions, market: Market | None, bars: pd.DataFrame,
           retrains: int) -> dict:  # fmt: skip
    """The timeline and the summary, written into ``out``."""
    events = versions.events()
    rows = [{"at": e.at, "kind": e.action, "champion": e.champion, "challenger": e.challenger,
             "reason": e.reason, "figures": e.figures} for e in events]  # fmt: skip
    desk = None if market is None else market.desk
    trades = [] if desk is None else [t for _, t in desk.trades]
    if desk is not None:
        rows += [{"at": clock.iso_minute(f.minute), "kind": f.guard + (" on" if f.on else " off"),
                  "reason": f.reason} for f in desk.flags]  # fmt: skip
        rows += [_trade_row(v, t) for v, t in desk.trades]
    rows.sort(key=lambda r: r["at"])  # stable: a promotion before the trades it makes
    with open(out / TIMELINE, "w") as fh:
        fh.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    net, gross = settled(trades)
    kinds = [r["kind"] for r in rows]
    first, last = minute_index(bars)[[0, -1]]
    summary = {
        "bars": len(bars), "first_bar": clock.iso_minute(int(first)),
        "last_bar": clock.iso_minute(int(last)), "retrains": retrains,
        "promotions": kinds.count("promote"), "refusals": kinds.count("refuse"),
        "drift_flags": kinds.count("drift on"), "breaker_trips": kinds.count("breaker on"),
        "champion": versions.champion(), "trades": len(net),
        "void_trades": sum(t.void for t in trades),
        **{k: (None if isinstance(v, float) and math.isnan(v) else v)
           for k, v in trade_figures(net, gross).items()},
        "buy_and_hold_return": float(bars["close"].iloc[-1] / bars["close"].iloc[0] - 1),
    }  # fmt: skip
    write_json(out / SUMMARY, summary)
    _report(out, versions.symbol, events, summary)
    return summary


def _report(out: Path, symbol: str | None, events: list[Event], summary: dict) -> None:
    """``report.md``: the summary and, per retrain (its promotion or refusal among the
    store's ``events``), the record it was judged on (its size and the smallest edge
    it detects) and the verdict."""
    judged = [e for e in events if e.action in ("promote", "refuse")]
    rows = tuple(record_row(e.at, e.action, e.figures, e.reason) for e in judged)
    facts = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in summary.items() if v is not None)  # fmt: skip
    doc = Document(f"Replay of {symbol}", (
        Section("", (Paragraph(facts),)),
        Section("Each retrain and the record it was judged on", (Table(HEADER, rows),)),
    ))  # fmt: skip
    (out / REPORT).write_text(to_markdown(doc, out))


def champions(log: list[dict]) -> list[tuple[str, str]]:
    """(first ISO minute served, version) of each champion, from the timeline's rows."""
    return [(r["at"], r["champion"]) for r in log if r["kind"] in ("promote", "rollback")]


def walk_forward(bars: pd.DataFrame, served: list[tuple[int, Bundle]]) -> list[Trade]:
    """The trades of the schedule ``served`` (epoch minute from which each bundle serves,
    in order) traded offline: P(up) of each stretch's deployed model from the whole
    history at once, one trader across the stretches (a position open at a swap is
    carried over, as the desk carries it)."""
    minutes = minute_index(bars)
    close = bars["close"].to_numpy(np.float64)
    bounds = [m for m, _ in served[1:]] + [int(minutes[-1]) + 1]
    trader: Trader | None = None
    for (start, bundle), stop in zip(served, bounds, strict=True):
        if trader is None:
            trader = Trader(bundle.policy(), bundle.version)
        else:
            trader.switch(bundle.policy(), bundle.version)
        p = np.full(len(bars), np.nan)
        if bundle.deployed is not None:
            p = paper.decision_probabilities(bundle, bars, bundle.deployed_policy, start)
        inside = (minutes >= start) & (minutes < stop)
        trader.run(minutes[inside], close[inside], p[inside])
    return [] if trader is None else trader.closed
