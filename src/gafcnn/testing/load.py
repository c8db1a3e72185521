"""Driving `gafcnn serve` as bots would, for the load benchmark and its test: start the
service in its own process, feed it bars from several clients at a bounded rate, and
count what came back.

Each client is one symbol's bot: it hands over the symbol's history with ``POST
/bars``, then sends ``POST /predict`` snapshots at its share of the rate; every
``close_every``-th snapshot closes the minute's bar (``close: true``), so the service
computes a decision there, and the others ask inside the forming minute (answered
from the last closed bar).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data.bars import OHLCV


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the time of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def service(bundle: str | Path, symbols: list[str], *args: str) -> Iterator[tuple[str, int]]:
    """Run `gafcnn serve` on a free loopback port until the block ends; yields its
    base URL and process id once ``/health`` answers. Its guards' log is a temporary
    file of its own unless ``args`` name one (``--log``)."""
    with tempfile.TemporaryDirectory(prefix="gafcnn-serve.") as tmp:
        log = [] if "--log" in args else ["--log", str(Path(tmp) / "promotions.jsonl")]
        with _serving(bundle, symbols, *args, *log) as served:
            yield served


@contextlib.contextmanager
def _serving(bundle: str | Path, symbols: list[str], *args: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = [sys.executable, "-m", "gafcnn.cli", "serve", "--bundle", str(bundle),
           "--port", str(port), "--symbols", ",".join(symbols), *args]  # fmt: skip
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gafcnn serve exited: {proc.stderr.read().decode()}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gafcnn serve did not answer /health within 120 s")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (Linux ``VmHWM``), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def json_bars(bars: pd.DataFrame) -> list[dict]:
    """Bars as ``POST /bars`` takes them (JSON objects, floats exact)."""
    stamps = [clock.iso(t) for t in bars["timestamp"]]
    values = {k: bars[k].to_numpy(np.float64).tolist() for k in OHLCV}
    return [{"timestamp": s, **{k: values[k][i] for k in OHLCV}} for i, s in enumerate(stamps)]


@dataclass
class Client:
    """What one client sent and got: latencies (s) of its snapshots as it saw them and
    the service's own time for each (``latency_ms``), whether each closed a bar,
    non-200 answers, and the last bar it closed."""

    symbol: str
    latencies: list[float] = field(default_factory=list)
    served_ms: list[float] = field(default_factory=list)
    closing: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    closed: int = 0
    last_bar: str | None = None


def _snapshots(bar: dict, n: int) -> list[dict]:
    """``n`` snapshots building ``bar``: the open first, the close (``close: true``,
    the bar's OHLCV) last."""
    early = {"price": bar["open"], "volume": 0.0, "timestamp": bar["timestamp"]}
    final = {"price": bar["close"], "open": bar["open"], "high": bar["high"], "low": bar["low"],
             "volume": bar["volume"], "timestamp": bar["timestamp"], "close": True}  # fmt: skip
    return [early] * (n - 1) + [final]


def _run_client(base: str, c: Client, history: list[dict], future: list[dict], seconds: float,
                interval: float, close_every: int, phase: float, ready: threading.Barrier,
                ) -> None:  # fmt: skip
    """One client: hand the history over, wait for the others, then send snapshots every
    ``interval`` s from ``phase`` of an interval on, for ``seconds``."""
    with httpx.Client(base_url=base, timeout=10) as http:
        r = http.post("/bars", json={"symbol": c.symbol, "bars": history})
        if r.status_code != 200:
            c.errors.append(f"/bars {r.status_code} {r.text}")
        ready.wait()  # the timed part starts when every client has handed its history over
        if c.errors:
            return
        due = time.perf_counter() + phase * interval
        stop = due + seconds
        skip = round(phase * close_every)  # clients close their bars at different times
        for k, bar in enumerate(future):
            for snap in _snapshots(bar, close_every)[skip if k == 0 else 0 :]:
                due += interval
                time.sleep(max(0.0, due - time.perf_counter()))
                if time.perf_counter() > stop:
                    return
                t = time.perf_counter()
                r = http.post("/predict", json={"symbol": c.symbol, **snap})
                c.latencies.append(time.perf_counter() - t)
                c.closing.append(bool(snap.get("close")))
                if r.status_code != 200:
                    c.errors.append(f"/predict {r.status_code} {r.text}")
                    continue
                c.served_ms.append(r.json()["latency_ms"])
                if snap.get("close"):
                    c.closed, c.last_bar = c.closed + 1, bar["timestamp"]


def drive(base: str, bars: pd.DataFrame, symbols: list[str], seconds: float, rate: float,
          history: int, close_every: int = 10) -> list[Client]:  # fmt: skip
    """Run one client per symbol at ``rate`` requests/s in all (0: as fast as each can):
    each hands over ``history`` bars, then, once all have, sends snapshots for
    ``seconds``, closing later bars; the clients are spread evenly over an interval
    and over the bar (independent bots do not send at the same instant)."""
    clients = [Client(s) for s in symbols]
    rows = json_bars(bars)
    interval = 0.0 if rate <= 0 else len(symbols) / rate
    ready = threading.Barrier(len(symbols))
    threads = [
        threading.Thread(
            target=_run_client,
            args=(
                base,
                c,
                rows[:history],
                rows[history:],
                seconds,
                interval,
                close_every,
                k / len(symbols),
                ready,
            ),
        )  # fmt: skip
        for k, c in enumerate(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return clients
