"""Deployment-time prediction speed and memory, through the deployment bundle.

:func:`measure` loads a bundle (:mod:`gafcnn.serving.bundle`) in a fresh child process and
times one decision from the most recent raw bars through every candidate - the work
a live system does at every decision time - with p50/p99 latency, batch throughput
and peak RSS. `benchmarks/inference.py` and the `latency` stage both call it;
:func:`within_limits` turns a measurement into the original plan's two serving checks.

    python -m gafcnn.serving.latency [--bundle models/bundle]   # prints the measurement as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gafcnn import paths
from gafcnn.evaluation.decision import LIMITS
from gafcnn.io import InputError, peak_rss_mb, run_stage
from gafcnn.serving.bundle import BUNDLE_FILE, Bundle

HISTORY = 300  # bars of history handed to the predictor for one decision


def within_limits(measured: dict) -> dict:
    """The original plan's serving checks of a measurement, as booleans: no timings, so a
    tracked file holding them does not change from run to run."""
    return {
        "inference_under_100ms": bool(measured["latency_ms_p99"] < LIMITS["latency_ms_p99"]),
        "memory_under_2gb": bool(measured["peak_rss_mb"] < LIMITS["peak_rss_mb"]),
    }


def require_outputs(*files: str | Path) -> None:
    """One clear error when a pipeline output a script needs is absent."""
    for f in files:
        if not Path(f).exists():
            raise InputError(
                f, "missing pipeline output; run `make repro` (or `dvc pull` from the remote)"
            )


def _measure_here(bundle_dir: str, bars_path: str, singles: int, batch: int) -> dict:
    import pandas as pd

    from gafcnn.data.bars import bar_arrays, minute_index

    t0 = time.perf_counter()
    pred = Bundle(bundle_dir)
    load_s = time.perf_counter() - t0
    df = pd.read_parquet(bars_path)
    arrays = bar_arrays(df)
    minutes = minute_index(df)
    n = len(minutes)
    rng = np.random.default_rng(0)
    ends = rng.integers(HISTORY, n, size=singles + 5)
    lat = []
    for k, end in enumerate(ends):  # one decision from the last HISTORY bars, as live
        sl = slice(end - HISTORY, end)
        recent = {key: v[sl] for key, v in arrays.items()}
        t = time.perf_counter()
        pred.predict_all(recent, minutes[sl], np.array([HISTORY - 1]))
        if k >= 5:  # warm-up calls excluded
            lat.append(time.perf_counter() - t)
    serving_rss = peak_rss_mb()
    pos = np.sort(rng.choice(np.arange(HISTORY, n), size=min(batch, n - HISTORY), replace=False))
    t = time.perf_counter()
    pred.predict_all(arrays, minutes, pos)
    batch_s = time.perf_counter() - t
    return {
        "load_s": load_s,
        "latency_ms_p50": float(np.percentile(lat, 50) * 1e3),
        "latency_ms_p99": float(np.percentile(lat, 99) * 1e3),
        "batch_size": len(pos),
        "batch_samples_per_s": len(pos) / batch_s,
        # loading the bundle and serving single decisions (what a live bot does)
        "peak_rss_mb": serving_rss,
        "batch_peak_rss_mb": peak_rss_mb(),
    }


def measure(
    bundle_dir: str | Path = paths.BUNDLE,
    bars_path: str | Path = paths.BARS,
    singles: int = 200,
    batch: int = 2048,
) -> dict:
    """Run the measurement in a fresh child process (so peak RSS is its own)."""
    require_outputs(Path(bundle_dir) / BUNDLE_FILE, bars_path)
    cmd = [sys.executable, "-m", "gafcnn.serving.latency", "--bundle", str(bundle_dir),
           "--bars", str(bars_path),
           "--singles", str(singles), "--batch", str(batch)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"inference measurement failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description="measure deployment inference")
    ap.add_argument("--bundle", default=str(paths.BUNDLE))
    ap.add_argument("--bars", default=paths.BARS)
    ap.add_argument("--singles", type=int, default=200)
    ap.add_argument("--batch", type=int, default=2048)
    a = ap.parse_args()
    print(json.dumps(_measure_here(a.bundle, a.bars, a.singles, a.batch)))


if __name__ == "__main__":
    run_stage(main)
