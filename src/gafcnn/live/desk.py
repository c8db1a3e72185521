"""One symbol's live record under its champion: the trades its answers make, their
scorecard and breaker, and the drift gate.

The desk steps the policy's position engine (:class:`~gafcnn.trading.engine.PositionEngine`,
the backtest's) on every closed bar, as `gafcnn paper` does: at a decision time (a
minute that is a multiple of ``gaf.stride``) with no position open it takes the side
of the answer served at that bar; the position settles at the close ``horizon``
minutes later and its net return goes to the scorecard. Two guards can turn an
answer flat, each with its reason: the breaker (live net per trade below the
backtest's lower bound after ``min_trades``; it stays tripped until a new champion)
and drift (the PSI of any input over the last ``drift.bars`` bars, or of the P(up)
served there, above ``drift.threshold``; it lifts when the window is back).

:meth:`Desk.swap` puts a new champion in: the bars, a position still open (it settles
under the new policy's horizon, outside the new scorecard) and the drift window stay;
the scorecard and the breaker start afresh.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from gafcnn import clock
from gafcnn.data.bars import OHLCV, minute_index
from gafcnn.live.guards import Scorecard, drift
from gafcnn.trading.engine import PositionEngine, Trade


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

    def __init__(self, bundle, guards: bool = True, keep_trades: bool = False):
        self.guards, self.keep_trades = guards, keep_trades
        self.engine: PositionEngine | None = None
        self.bundle, self.carried, self.carried_by = None, None, ""
        self.flags: list[Flag] = []
        self.trades: list[tuple[str, Trade]] = []  # with keep_trades: (version, trade) closed
        self.p_served: deque[float] = deque()
        self.drift_now: dict[str, float] = {}
        self._drifting: str | None = None
        self._judged_ms: int | None = None
        self.swap(bundle)

    def swap(self, bundle) -> None:
        """Serve ``bundle`` from now on (see the module docstring)."""
        spec = bundle.spec.get("guards") or {}
        self.drift_ref = spec.get("drift")
        breaker = spec.get("breaker") or {}
        floor, min_trades = breaker.get("floor"), int(breaker.get("min_trades") or 0)
        on = self.guards and floor is not None and min_trades > 0
        self.card = Scorecard(floor if on else -math.inf, min_trades if on else 1)
        carried = None if self.engine is None else self.engine.position
        if carried is not None:  # opened by the champion before: recorded as its trade
            self.carried_by = self.bundle.version if self.carried is None else self.carried_by
        self.carried = carried
        self.bundle = bundle
        self.engine = PositionEngine(bundle.policy())
        self.engine.position = carried
        window = int(self.drift_ref["bars"]) if self.drift_ref else 1
        stride = int(bundle.spec["params"]["gaf"]["stride"])
        self.p_served = deque(self.p_served, maxlen=max(1, window // stride))
        self._judged_ms = None

    @property
    def version(self) -> str:
        return self.bundle.version

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
        worst = max(((v, k) for k, v in figures.items() if math.isfinite(v)), default=None)
        reason = None
        if threshold > 0 and worst is not None and worst[0] > threshold:
            reason = f"drift: PSI of {worst[1]} {worst[0]:.3f} above {threshold:g}"
        minute = int(clock.minutes_of_ms(stream.last_ms))
        if (reason is None) != (self._drifting is None):
            self.flags.append(Flag(minute, "drift", reason is not None,
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
        """Step the engine over the ``added`` bars just appended to ``stream``: each
        settles what is due; at the last one, a decision time with no position left
        open, the served answer may open one."""
        bars = stream.bars.iloc[-added:]
        minutes, close = minute_index(bars), bars["close"].to_numpy(np.float64)
        for m, c in zip(minutes[:-1].tolist(), close[:-1].tolist(), strict=True):
            self._settled(self.engine.step(m, None, c))
        m, p = int(minutes[-1]), None
        pos, policy = self.engine.position, self.engine.policy
        if m % policy.stride == 0 and (pos is None or m >= pos.entry + policy.horizon):
            row = stream.answer()
            if row["p_up"] is not None:
                self.p_served.append(row["p_up"])
            row = self.overlay(row, stream)
            if row["action"] != "flat":
                p = row["p_up"]
        self._settled(self.engine.step(m, p, float(close[-1])))

    def _settled(self, trade: Trade | None) -> None:
        if trade is None:
            return
        carried = trade is self.carried
        if carried:
            self.carried = None
        if self.keep_trades:
            self.trades.append((self.carried_by if carried else self.version, trade))
        if trade.void or carried:
            return
        was = self.card.tripped
        self.card.add(trade.net)
        if self.card.tripped and not was:
            self.flags.append(Flag(trade.entry + self.engine.policy.horizon, "breaker", True,
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
        }
