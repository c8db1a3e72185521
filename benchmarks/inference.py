"""Deployment inference from raw bars: latency (p50/p99 for one decision), batch
throughput and peak memory of a process that loads every model and predicts.

Uses the deployment bundle ``models/bundle/`` and bars in ``data/interim/`` (`make repro`,
or `dvc pull` from the team's remote, first; a missing file stops it with one line).
The reference in the same run is the CNNs' forward pass alone on prebuilt tensors,
so the printed ratio shows what encoding, indicators and XGBoost add.

    python benchmarks/inference.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from gafcnn import paths
from gafcnn.bundle import Bundle
from gafcnn.inference import measure
from gafcnn.io import run_stage


def model_only_ms(reps: int = 200) -> float:
    """p50 of the CNNs' forward passes for one sample (no encoding, no indicators)."""
    torch.set_num_threads(1)
    pred = Bundle(paths.BUNDLE)
    xs = []
    for w in pred.windows:
        model, _, meta = pred.cnns[w]
        xs.append((model, torch.zeros(1, *meta["input_shape"])))
    times = []
    with torch.no_grad():
        for _ in range(reps):
            t = time.perf_counter()
            for model, x in xs:
                model(x)
            times.append(time.perf_counter() - t)
    return float(np.percentile(times[10:], 50) * 1e3)


RSS_TARGET_MB = 400  # load the bundle and serve one decision
LATENCY_TARGET = 2.0  # one decision / the CNN forward passes alone


def main() -> None:
    m = measure()
    floor = model_only_ms()
    p50, p99 = m["latency_ms_p50"], m["latency_ms_p99"]
    ratio = p50 / floor
    print(f"load bundle: {m['load_s']:.2f} s")
    print(f"one decision from the last 300 raw bars, every candidate: p50 {p50:.2f} ms, "
          f"p99 {p99:.2f} ms")  # fmt: skip
    print(f"CNN forward passes alone (reference, same run): p50 {floor:.2f} ms")
    print(f"one decision / CNN forward passes: {ratio:.1f}x (target <= {LATENCY_TARGET:.0f}x: "
          f"{'met' if ratio <= LATENCY_TARGET else 'NOT met'})")  # fmt: skip
    print(f"peak RSS loading the bundle and serving: {m['peak_rss_mb']:.0f} MB = "
          f"{m['peak_rss_mb'] / RSS_TARGET_MB:.2f}x the {RSS_TARGET_MB} MB target "
          f"({'met' if m['peak_rss_mb'] <= RSS_TARGET_MB else 'NOT met'}); "
          f"{m['peak_rss_mb'] / 2048:.2f}x the guide's 2 GB")  # fmt: skip
    print(f"batch of {m['batch_size']}: {m['batch_samples_per_s']:,.0f} samples/s, "
          f"peak RSS {m['batch_peak_rss_mb']:.0f} MB")  # fmt: skip
    print(f"p99 latency: {p99 / 100:.2f}x the guide's 100 ms limit")


if __name__ == "__main__":
    run_stage(main)
