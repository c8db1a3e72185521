"""The state behind the app: each symbol's bundle and market, the worker lanes its
requests run on, and the tasks that swap champions in and read the guards' log."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gafcnn import clock
from gafcnn.io import InputError
from gafcnn.serving.bundle import Bundle
from gafcnn.serving.desk import Desk
from gafcnn.serving.http.metrics import Metrics
from gafcnn.serving.http.options import DEFAULTS, Options
from gafcnn.serving.http.schemas import BarsIn, PredictIn, Refused, _Body, bot_answer, parse
from gafcnn.serving.market import Market, Snapshot, bars_from_json, iso, stamp_ms
from gafcnn.serving.signals import Stream
from gafcnn.serving.symbols import Served, pointers
from gafcnn.serving.versions import Log

WORKERS = 2  # threads for parsing bars and inference (the machines have 2 cores)


class Service:
    """The state behind the app: each symbol's bundle, a Market per symbol, the
    counters. Its methods run on worker threads, one at a time per symbol (the app's
    locks)."""

    def __init__(self, served: Served, options: Options = DEFAULTS):
        self.served, self.clock, self.guards = served, options.clock, options.guards
        self.max_ahead_ms, self.max_bars = int(options.max_ahead_s * 1000), options.max_bars
        self.log = options.log
        self.symbols = list(served.bundles)
        self.markets: dict[str, Market] = {}
        self.started, self.predictions, self.latency_total = time.time(), 0, 0.0
        self.reloads = 0
        self._counting = threading.Lock()

    def name(self, symbol: str | None, source: str) -> str:
        """The served symbol ``symbol`` names (the default one without)."""
        return self.served.key(symbol, source)

    def market(self, symbol: str | None, source: str) -> tuple[str, Market]:
        name = self.name(symbol, source)
        if name not in self.markets:
            bundle = self.served.bundles[name]
            log = None if self.log is None else Log(self.log, name)
            self.markets[name] = Market(Stream(bundle), Desk(bundle, self.guards, log=log))
        return name, self.markets[name]

    def swap(self, name: str, bundle: Bundle) -> None:
        """Serve ``name`` by ``bundle`` from its next request on (a new champion): every
        bar held and the bar forming stay (run under the symbol's lock)."""
        self.served = Served({**self.served.bundles, name: bundle}, self.served.default,
                             self.served.store)  # fmt: skip
        if name in self.markets:
            self.markets[name].swap(bundle)
        self.reloads += 1

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def not_ahead(self, ms: int, now: int, what: str, source: str) -> None:
        """Refuse a timestamp more than ``max_ahead_ms`` ahead of the clock's ``now``:
        one bad clock must not block a symbol's later, true bars."""
        if ms > now + self.max_ahead_ms:
            raise InputError(source, f"{what} {clock.iso_ms(ms)} "
                             f"is {(ms - now) / 1000:.0f} s ahead of the service clock "
                             f"(at most {self.max_ahead_ms / 1000:g} s allowed)")  # fmt: skip

    def predict(self, body: PredictIn) -> dict[str, Any]:
        start = time.perf_counter()
        name, market = self.market(body.symbol, "/predict")
        if body.price is not None:
            if body.volume is None:
                raise InputError("/predict", "volume: required with price")
            now = self.now_ms()
            ms = stamp_ms(body.timestamp, now, "/predict")
            self.not_ahead(ms, now, "timestamp", "/predict")
            snap = Snapshot(body.price, body.volume, body.open, body.high, body.low)
            market.snapshot(clock.minutes_of_ms(ms), snap, body.close, "/predict")
        elif body.close or {body.volume, body.open, body.high, body.low} != {None}:
            raise InputError("/predict", "price: required with volume, open, high, low or close")
        row = market.answer()
        latency = (time.perf_counter() - start) * 1000
        with self._counting:
            self.predictions += 1
            self.latency_total += latency
        return bot_answer(row, self.served.bundles[name], latency)

    def bars(self, body: BarsIn) -> dict[str, Any]:
        if len(body.bars) > self.max_bars:
            raise Refused(413, f"{len(body.bars)} bars in one request, at most {self.max_bars}")
        name, market = self.market(body.symbol, "/bars")
        frame = bars_from_json(body.bars, "/bars", body.columns)
        last = clock.ms_of_stamp(frame["timestamp"].iloc[-1])
        self.not_ahead(last + clock.MINUTE_MS, self.now_ms(), "a closed bar ending", "/bars")
        market.bars(frame, "/bars")
        return {"symbol": name, "accepted": len(body.bars), **self.held(market)}

    def reset(self, symbol: str) -> dict[str, Any]:
        """Forget ``symbol``'s bars and forming bar; its desk (the live record and the
        guards' state) stays."""
        name, old = self.market(symbol, f"/bars/{symbol}")
        old.desk.forget_bars()
        self.markets[name] = fresh = Market(Stream(self.served.bundles[name]), old.desk)
        return {"symbol": name, "reset": True, **self.held(fresh)}

    def recheck(self, name: str) -> None:
        """Lift ``name``'s breaker if the log says an operator reset it."""
        market = self.markets.get(name)
        if market is not None and market.desk.recheck():
            print(f"{name}: breaker reset by an operator", file=sys.stderr, flush=True)

    @staticmethod
    def held(market: Market) -> dict[str, Any]:
        last = market.stream.last_ms
        return {
            "bars": 0 if market.stream.bars is None else len(market.stream.bars),
            "last_bar": None if last is None else iso(clock.minutes_of_ms(last)),
            "forming": None if market.forming is None else iso(market.forming.minute),
        }

    def health(self) -> dict[str, Any]:
        """The service's state; ``deployed`` and ``decision`` are the bundle's, or with
        a bundle per symbol a mapping by symbol (``served`` has each symbol's)."""
        served = {s: describe(b) for s, b in self.served.bundles.items()}
        one = self.served.single
        return {
            "status": "ok",
            "model_loaded": any(b.deployed is not None for b in self.served.bundles.values()),
            "model_version": self.served.version,
            "uptime_seconds": time.time() - self.started,
            "total_predictions": self.predictions,
            "avg_latency_ms": self.latency_total / max(self.predictions, 1),
            "bundle": self.served.version,
            "deployed": one.deployed if one else {s: d["deployed"] for s, d in served.items()},
            "decision": describe(one)["decision"]
            if one
            else {s: d["decision"] for s, d in served.items()},  # fmt: skip
            "history_bars": max(b.history for b in self.served.bundles.values()),
            "served": served,
            "symbols": {s: self.held(m) for s, m in list(self.markets.items())},
            "live": {s: m.desk.figures() for s, m in list(self.markets.items())},
            "sizing": {s: sizing(self.served.bundles[s], m) for s, m in list(self.markets.items())},
            "reloads": self.reloads,
        }


def sizing(bundle: Bundle, market: Market) -> dict[str, Any] | None:
    """A symbol's volatility forecaster, its forecast at the last closed bar and the
    size it gives (None when its bundle has no forecaster)."""
    if bundle.sizer is None:
        return None
    now = market.stream.size() or {"predicted_vol": None, "recommended_size": None}
    s = bundle.sizer
    return {"model": s.model, "horizon_minutes": s.horizon, "target_vol": s.target_vol,
            "max_leverage": s.max_leverage, **now}  # fmt: skip


def describe(bundle: Bundle) -> dict[str, Any]:
    """What a symbol is served by: its bundle's version, deployed model and decision."""
    decision = (bundle.spec["decision"] or {}).get("decision")
    return {"model_version": bundle.version, "deployed": bundle.deployed, "decision": decision,
            "theta": bundle.theta if bundle.deployed else None}  # fmt: skip


class Lanes:
    """Where requests run: bodies parsed on one thread in arrival order, then each
    symbol's work under its own lock, taken in that order, on ``WORKERS`` threads."""

    def __init__(self, symbols: list[str]):
        self.parser = ThreadPoolExecutor(1, thread_name_prefix="gafcnn-parse")
        self.workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="gafcnn-work")
        self.locks = {s: asyncio.Lock() for s in symbols}

    async def parse(self, kind: type[_Body], body: bytes) -> _Body:
        return await asyncio.get_running_loop().run_in_executor(self.parser, parse, kind, body)

    async def run(self, symbol: str, work: Any, *args: Any) -> Any:
        """``work(*args)`` on a worker thread, after every earlier request of ``symbol``."""
        async with self.locks[symbol]:
            return await asyncio.get_running_loop().run_in_executor(self.workers, work, *args)


async def reload_champions(service: Service, lanes: Lanes, metrics: Metrics,
                           root: str | Path, every_s: float) -> None:  # fmt: skip
    """Every ``every_s`` seconds, read the store's champion pointers and swap each served
    symbol's new champion (another version) in, under the symbol's lock (between its
    requests). A champion that fails to load is said once on the log, counted, and the
    one serving stays."""
    loop, failed = asyncio.get_running_loop(), set()
    while True:
        await asyncio.sleep(every_s)
        try:
            now = await loop.run_in_executor(lanes.workers, pointers, root)
        except Exception as exc:  # a pointer half-read or unreadable: try again later
            print(f"error: reading champions in {root}: {exc}", file=sys.stderr, flush=True)
            continue
        for name, (path, version) in now.items():
            current = service.served.bundles.get(name)
            if current is None or current.version == version or (path, version) in failed:
                continue
            try:
                bundle = await loop.run_in_executor(lanes.workers, Bundle, path)
            except Exception as exc:
                failed.add((path, version))
                metrics.reload_errors.labels(name).inc()
                said = f"error: {name}: champion {version} not loaded; {current.version} stays"
                print(f"{said}: {exc}", file=sys.stderr, flush=True)
                continue
            await lanes.run(name, service.swap, name, bundle)
            metrics.reloads.labels(name).inc()
            print(f"reloaded {name}: {bundle.version} ({path})", file=sys.stderr, flush=True)


async def watch_log(service: Service, lanes: Lanes, log: Path, every_s: float) -> None:
    """Every ``every_s`` seconds, when the promotions log has grown, let each symbol's
    desk lift a breaker an operator has reset (under the symbol's lock)."""
    size = None
    while True:
        await asyncio.sleep(every_s)
        now = log.stat().st_size if log.exists() else 0
        if now == size:
            continue
        size = now
        for name in list(service.markets):
            try:
                await lanes.run(name, service.recheck, name)
            except Exception as exc:  # a line half-written or unreadable: try again later
                size = None
                print(f"error: reading {log}: {exc}", file=sys.stderr, flush=True)
