"""One symbol's live record under its champion: the trades its answers make, their
scorecard and breaker, and the drift gate.

The desk steps the one bar-by-bar trader (:class:`~gafcnn.trading.trader.Trader`, on
the backtest's position engine) on every closed bar, as `gafcnn paper` does: at a decision time (a
minute that is a multiple of ``gaf.stride``) with no position open it takes the side
of the answer served at that bar; the position settles at the close ``horizon``
minutes later and its net return goes to the scorecard. Two guards can turn an
answer flat, each with its reason: the breaker (live net per trade below the
backtest's lower bound after ``min_trades``; it stays tripped until a new champion)
and drift (the PSI of any input over the last ``drift.bars`` bars, or of the P(up)
served there, above ``drift.threshold``; it lifts when the window is back). The
volatility forecast served at each decision time is scored against the realized
volatility that follows it (:class:`~gafcnn.serving.sizing.VolCard`), beside the
backtest's interval; it stops nothing.

:meth:`Desk.swap` puts a new champion in: the bars, a position still open (it settles
under the new policy's horizon, outside the new scorecard) and the drift window stay;
the scorecard and the breaker start afresh.

With a promotions ``log`` (:class:`~gafcnn.serving.versions.Log`, the service's), every
change of a guard is appended to it (``trip``, ``drift_on``, ``drift_off``) and a new
desk starts as the log left its symbol: a breaker tripped on the champion it serves
stays tripped until the log says an operator reset it (``gafcnn breaker reset``,
picked up by :meth:`Desk.recheck`) or another champion serves; a drift flat holds
until a full drift window is judged back within the threshold. So neither a client
that resets its bars nor a restart of the service lifts a safety stop.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from gafcnn import clock
from gafcnn.data.bars import OHLCV, minute_index
from gafcnn.serving.guards import Scorecard, drift, drift_reason
from gafcnn.serving.sizing import VolCard
from gafcnn.serving.versions import Event, Log
from gafcnn.trading.engine import Trade
from gafcnn.trading.trader import Trader

LIFTS_BREAKER = ("promote", "rollback", "reset")  # a new champion, or an operator


def held(events: list[Event], version: str | None) -> tuple[str | None, str | None]:
    """What the log's ``events`` leave holding a symbol served by ``version`` flat: the
    breaker's reason (tripped on ``version``, any with None, and not lifted since) and
    drift's."""
    tripped, drifting = None, None
    for e in events:
        if e.action in LIFTS_BREAKER:
            tripped = None
        elif e.action == "trip":
            tripped = (e.champion, e.reason)
        elif e.action in ("drift_on", "drift_off"):
            drifting = e.reason if e.action == "drift_on" else None
    on = tripped is not None and version in (None, tripped[0])
    return (tripped[1] if on else None), drifting


@dataclass(frozen=True)
class Flag:
    """A change of a guard's state: when (epoch minute), which guard, on or off, why."""

    minute: int
    guard: str  # drift | breaker
    on: bool
    reason: str


class Desk:
    """One symbol's live record (see the module docstring); ``guards`` False turns the
    drift gate and the breaker off (a replay compared with walk-forward)."""

    def __init__(self, bundle, guards: bool = True, keep_trades: bool = False,
                 log: Log | None = None):  # fmt: skip
        self.guards, self.keep_trades, self.log = guards, keep_trades, log
        self.trader: Trader | None = None
        self.bundle = None
        self.flags: list[Flag] = []
        self.trades: list[tuple[str, Trade]] = []  # with keep_trades: (version, trade) closed
        self.p_served: deque[float] = deque()
        self.drift_now: dict[str, float] = {}
        self._drifting: str | None = None
        self._judged_ms: int | None = None
        self.volcard: VolCard | None = None
        self.swap(bundle)
        if self.guards and log is not None:
            self.card.tripped, self._drifting = held(log.events(), self.version)

    def swap(self, bundle) -> None:
        """Serve ``bundle`` from now on (see the module docstring)."""
        spec = bundle.spec.get("guards") or {}
        self.drift_ref = spec.get("drift")
        breaker = spec.get("breaker") or {}
        floor, min_trades = breaker.get("floor"), int(breaker.get("min_trades") or 0)
        on = self.guards and floor is not None and min_trades > 0
        self.card = Scorecard(floor if on else -math.inf, min_trades if on else 1)
        self.bundle = bundle
        if self.trader is None:
            self.trader = Trader(bundle.policy(), bundle.version)
        else:  # a position open stays: the champion before it opened it
            self.trader.switch(bundle.policy(), bundle.version)
        window = int(self.drift_ref["bars"]) if self.drift_ref else 1
        stride = int(bundle.spec["params"]["gaf"]["stride"])
        self.p_served = deque(self.p_served, maxlen=max(1, window // stride))
        self._judged_ms = None
        vol = bundle.spec.get("volatility")
        self.volcard = None if vol is None else VolCard(int(vol["horizon_minutes"]),
                                                        vol["test"].get("qlike_ci"))  # fmt: skip

    @property
    def version(self) -> str:
        return self.bundle.version

    def forget_bars(self) -> None:
        """The client reset its bars: what was judged on them goes; the scorecard, the
        breaker, a drift flat and a position still open (it settles at its exit bar,
        if that comes) stay."""
        self.drift_now, self._judged_ms = {}, None

    def recheck(self) -> bool:
        """Lift a tripped breaker the log says an operator has reset (the reset is the
        log's line); whether it did."""
        if self.log is None or not self.card.tripped:
            return False
        if held(self.log.events(), self.version)[0] is not None:
            return False
        self.card.reset()
        return True

    def _flag(self, flag: Flag) -> None:
        """Keep ``flag``, and append it to the log when there is one."""
        self.flags.append(flag)
        if self.log is None:
            return
        breaker = flag.guard == "breaker"  # the desk trips it; an operator resets it
        action = "trip" if breaker else ("drift_on" if flag.on else "drift_off")
        figures = self.card.figures() if breaker else dict(self.drift_now)
        self.log.record(Event(clock.iso_minute(flag.minute), action, self.version, None,
                              flag.reason, figures, self.log.symbol))  # fmt: skip

    def judge_drift(self, stream) -> dict[str, float]:
        """The PSI of each input over the last ``drift.bars`` bars held (empty until that
        many are, or when the bundle has no reference), once per bar."""
        last = stream.last_ms
        if last == self._judged_ms:
            return self.drift_now
        self._judged_ms, self.drift_now = last, {}
        n = int(self.drift_ref["bars"]) if self.drift_ref else 0
        if not self.guards or n == 0 or stream.bars is None or len(stream.bars) < n:
            return self.drift_now
        tail = stream.bars.iloc[-n:]
        arrays = {k: tail[k].to_numpy(np.float64) for k in OHLCV}
        p = np.asarray(self.p_served, dtype=np.float64)
        if len(p) < (self.p_served.maxlen or 1) // 2:  # too few served yet to judge
            p = np.array([np.nan])
        self.drift_now = drift(self.drift_ref, arrays, p)
        return self.drift_now

    def gate(self, stream) -> str | None:
        """Why the symbol must answer flat now (breaker, then drift), or None."""
        if not self.guards:
            return None
        if self.card.tripped:
            return f"breaker: {self.card.tripped}"
        figures = self.judge_drift(stream)
        threshold = float(self.drift_ref["threshold"]) if self.drift_ref else 0.0
        reason = drift_reason(figures, threshold)
        if not figures and self.drift_ref:  # nothing judged yet (fresh bars): a flat holds
            reason = self._drifting
        minute = int(clock.minutes_of_ms(stream.last_ms))
        if (reason is None) != (self._drifting is None):
            self._flag(Flag(minute, "drift", reason is not None,
                            reason or "back within the threshold"))  # fmt: skip
        self._drifting = reason
        return reason

    def overlay(self, row: dict | None, stream) -> dict | None:
        """The answer ``row`` (a `gafcnn predict` row), flat with the guard's reason when
        a guard says so."""
        if row is None:
            return None
        why = self.gate(stream)
        if why is None or row["action"] == "flat" and row["p_up"] is None:
            return row
        return {**row, "action": "flat", "reason": why}

    def on_bars(self, stream, added: int) -> None:
        """Trade the ``added`` bars just appended to ``stream``: each settles what is due;
        at the last one, a decision, the served answer may open a position."""
        bars = stream.bars.iloc[-added:]
        minutes, close = minute_index(bars), bars["close"].to_numpy(np.float64)
        for m, c in zip(minutes[:-1].tolist(), close[:-1].tolist(), strict=True):
            self._settled(self.trader.bar(m, c))
        m, p = int(minutes[-1]), None
        self._track_volatility(stream, m, added)
        if self.trader.due(m):
            row = stream.answer()
            if row["p_up"] is not None:
                self.p_served.append(row["p_up"])
            row = self.overlay(row, stream)
            if row["action"] != "flat":
                p = row["p_up"]
        self._settled(self.trader.bar(m, float(close[-1]), p))

    def _track_volatility(self, stream, minute: int, added: int) -> None:
        """At a decision time, the forecast served there into the volatility card; then
        every forecast whose horizon the bars now cover, scored."""
        card = self.volcard
        if card is None:
            return
        if minute % self.trader.policy.stride == 0:
            card.forecast(minute, (stream.size() or {}).get("predicted_vol"))
        tail = stream.bars.iloc[-(card.horizon + added + self.trader.policy.stride + 1) :]
        card.settle(minute_index(tail), tail["close"].to_numpy(np.float64))

    def _settled(self, trade: Trade | None) -> None:
        """A closed trade into the record: kept (with the version that opened it) and,
        when the champion serving opened it and it settled, scored."""
        if trade is None:
            return
        opened_by = self.trader.opened_by(trade)
        if self.keep_trades:
            self.trades.append((opened_by, trade))
        if trade.void or opened_by != self.version:  # a champion before this one opened it
            return
        was = self.card.tripped
        self.card.add(trade.net, trade.gross)
        if self.card.tripped and not was:
            self._flag(Flag(trade.entry + self.trader.policy.horizon, "breaker", True,
                            self.card.tripped))  # fmt: skip

    def figures(self) -> dict:
        """What /health shows: the champion, its live scorecard beside the backtest's
        interval, the drift statistics and the guard that holds the symbol flat."""
        test = (self.bundle.spec.get("test_metrics") or {}).get("policy") or {}
        ci = test.get("mean_net_return_ci")
        live = self.card.figures()
        if not math.isfinite(live["floor_bps"]):
            live["floor_bps"] = None  # the breaker is off
        return {
            "model_version": self.version,
            "live": live,
            "backtest_net_bps_ci": None if ci is None else [c * 1e4 for c in ci],
            "drift_psi": {k: (v if math.isfinite(v) else None) for k, v in self.drift_now.items()},
            "flat_by": self.card.tripped and "breaker" or (self._drifting and "drift"),
            "volatility": None if self.volcard is None else self.volcard.figures(),
        }
