"""`gafcnn serve` under load: requests/s, p50/p99 latency and the service's peak RSS,
next to the same decisions computed in-process (the `gafcnn predict --follow` path)
in the same run.

Starts the service on 127.0.0.1 with the deployment bundle, then drives it with
``--clients`` bots (one symbol each) at ``--rate`` requests/s in all for ``--seconds``
(:mod:`gafcnn.testing.load`): each hands over ``history_bars`` bars, then sends
snapshots, every ``--close-every``-th closing a bar (a decision computed), the others
asking inside the minute. A live bot closes one bar a minute per symbol; 1 in 10 is
far more decisions than that. Checks that no request failed and no bar was lost
(each symbol holds every bar its client closed). When nothing is deployed the
bundle is served as if ``--deploy`` were, so decisions are computed.

    python benchmarks/serve_load.py [--clients 4] [--seconds 30] [--rate 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.experiments import studied_market
from gafcnn.io import run_stage
from gafcnn.serving.bundle import BUNDLE_FILE, Bundle, redeploy
from gafcnn.serving.latency import require_outputs
from gafcnn.serving.market import bars_from_json
from gafcnn.serving.signals import KEEP, Stream
from gafcnn.testing.load import drive, json_bars, peak_rss_mb, service

P99_TARGET_MS = 10.0  # the bot's latency target
RSS_TARGET_MB = 400


def deployed_copy(src: Path, model: str, folder: Path) -> Path:
    """``src`` as served, or a copy with ``model`` deployed when nothing is."""
    if Bundle(src).deployed is not None:
        return src
    print(f"nothing is deployed in {src}: serving a copy with {model} deployed")
    return redeploy(src, folder / "bundle", model, f"deploy {model} (benchmark)")


def in_process_ms(bundle: Path, bars: pd.DataFrame, history: int, n: int = 200) -> np.ndarray:
    """The follow path in this process: append one bar, compute its decision (ms)."""
    stream = Stream(Bundle(bundle))
    rows = json_bars(bars.iloc[: history + n])
    stream.append(bars_from_json(rows[:history], "<history>"))
    times = []
    for row in rows[history:]:
        bar = bars_from_json([row], "<bar>")
        t = time.perf_counter()
        stream.append(bar)
        stream.answer()
        times.append(time.perf_counter() - t)
    return np.array(times) * 1e3


def _pct(x: np.ndarray) -> str:
    return f"p50 {np.percentile(x, 50):.2f} ms, p99 {np.percentile(x, 99):.2f} ms"


def main() -> None:
    os.chdir(studied_market())  # the first symbol's outputs, as its stages wrote them
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=100.0, help="requests/s in all (0: flat out)")
    ap.add_argument("--close-every", type=int, default=10)
    ap.add_argument("--deploy", default="hybrid", help="model served when nothing is deployed")
    a = ap.parse_args()
    require_outputs(paths.BUNDLE / BUNDLE_FILE, paths.BARS)
    bars = pd.read_parquet(paths.BARS)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = deployed_copy(paths.BUNDLE, a.deploy, Path(tmp))
        history = Bundle(bundle).history
        symbols = [f"SYM{k}USDT" for k in range(a.clients)]
        with service(bundle, symbols) as (base, pid):
            t = time.perf_counter()
            clients = drive(base, bars, symbols, a.seconds, a.rate, history, a.close_every)
            wall = time.perf_counter() - t
            import httpx

            held = httpx.get(f"{base}/health").json()["symbols"]
            rss = peak_rss_mb(pid)
        ref = in_process_ms(bundle, bars, history)
    lat = np.concatenate([c.latencies for c in clients]) * 1e3
    closing = np.concatenate([c.closing for c in clients]).astype(bool)
    errors = [e for c in clients for e in c.errors]
    lost = [c.symbol for c in clients
            if held[c.symbol]["bars"] != min(KEEP, history + c.closed)
            or (c.closed and held[c.symbol]["last_bar"] != c.last_bar)]  # fmt: skip
    print(f"{a.clients} clients, {len(lat)} requests in {wall:.1f} s: {len(lat) / wall:.1f} "
          f"requests/s (asked {a.rate:g}); {int(closing.sum())} closed a bar")  # fmt: skip
    print(f"every request:       {_pct(lat)}")
    print(f"requests closing a bar (a decision computed): {_pct(lat[closing])}")
    print(f"requests inside a minute (answered from the last bar): {_pct(lat[~closing])}")
    served = np.concatenate([c.served_ms for c in clients])
    print(f"the service's own time (latency_ms: snapshot in, decision out): {_pct(served)}; "
          f"closing a bar: {_pct(served[closing])}")  # fmt: skip
    print(f"in-process, same decisions (append a bar + decide): {_pct(ref)}")
    p99 = np.percentile(lat, 99)
    print(f"p99 / bot target {P99_TARGET_MS:g} ms: {p99 / P99_TARGET_MS:.2f}x "
          f"({'met' if p99 < P99_TARGET_MS else 'NOT met'}); p99 closing / in-process p99: "
          f"{np.percentile(lat[closing], 99) / np.percentile(ref, 99):.2f}x")  # fmt: skip
    print(f"service peak RSS: {rss:.0f} MB = {rss / RSS_TARGET_MB:.2f}x the {RSS_TARGET_MB} MB "
          f"target ({'met' if rss < RSS_TARGET_MB else 'NOT met'})")  # fmt: skip
    print(f"errors: {len(errors)}; symbols with lost bars: {len(lost)}")
    for e in errors[:5]:
        print(f"  {e}")


if __name__ == "__main__":
    run_stage(main)
