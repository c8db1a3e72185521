"""Deployment inference from raw bars: latency (p50/p99 for one decision), batch
throughput and peak memory of a process that loads every model and predicts.

Uses the first market's deployment bundle ``models/bundle/`` and bars in ``data/interim/``
(``markets/<symbol>/``; `make repro`,
or `dvc pull` from the team's remote, first; a missing file stops it with one line).
The reference in the same run is the trained CNNs' forward passes alone (torch, eager,
on prebuilt tensors); the bundle serves the same CNNs as ONNX graphs, whose forward
passes alone are printed too, so the output shows both what the runtime saves and
what encoding, indicators and XGBoost add.

    python benchmarks/inference.py
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from gafcnn import paths, registry
from gafcnn.experiments import studied_market
from gafcnn.io import run_stage
from gafcnn.models.cnn import load_checkpoint
from gafcnn.serving.bundle import Bundle
from gafcnn.serving.latency import measure, require_outputs
from gafcnn.serving.onnx import OnnxCnn


def _p50_ms(fn, reps: int = 300) -> float:
    for _ in range(20):  # warm-up
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 50) * 1e3)


def forward_only_ms() -> tuple[float, float]:
    """p50 of the CNNs' forward passes for one sample on prebuilt inputs (no encoding,
    no indicators): the trained torch models in eager mode (the reference), and the
    ONNX graphs the bundle serves."""
    torch.set_num_threads(1)
    bundle = Bundle(paths.BUNDLE)
    nets, graphs = [], []
    require_outputs(*(paths.cnn_model(w) for w in bundle.windows))
    for w in bundle.windows:
        graph = OnnxCnn(paths.BUNDLE / f"{registry.CNN.at(w)}.onnx")  # as served
        net, meta = load_checkpoint(paths.cnn_model(w))  # as trained
        nets.append((net, torch.zeros(1, *meta["input_shape"])))
        graphs.append((graph, np.zeros((1, *meta["input_shape"]), np.float32)))
    with torch.no_grad():
        eager = _p50_ms(lambda: [net(x) for net, x in nets])
    served = _p50_ms(lambda: [g.predict(x) for g, x in graphs])
    return eager, served


RSS_TARGET_MB = 400  # load the bundle and serve one decision
LATENCY_TARGET = 2.0  # one decision / the CNN forward passes alone


def main() -> None:
    os.chdir(studied_market())  # the first symbol's outputs, as its stages wrote them
    m = measure()
    floor, served = forward_only_ms()
    p50, p99 = m["latency_ms_p50"], m["latency_ms_p99"]
    ratio = p50 / floor
    print(f"load bundle: {m['load_s']:.2f} s")
    print(f"one decision from the last 300 raw bars, every candidate: p50 {p50:.2f} ms, "
          f"p99 {p99:.2f} ms")  # fmt: skip
    print(f"CNN forward passes alone, torch eager (reference, same run): p50 {floor:.2f} ms")
    print(f"CNN forward passes alone, ONNX Runtime as served: p50 {served:.2f} ms "
          f"({floor / served:.1f}x faster); the rest of a decision: "
          f"{p50 - served:.2f} ms")  # fmt: skip
    print(f"one decision / CNN forward passes: {ratio:.1f}x (target <= {LATENCY_TARGET:.0f}x: "
          f"{'met' if ratio <= LATENCY_TARGET else 'NOT met'})")  # fmt: skip
    print(f"peak RSS loading the bundle and serving: {m['peak_rss_mb']:.0f} MB = "
          f"{m['peak_rss_mb'] / RSS_TARGET_MB:.2f}x the {RSS_TARGET_MB} MB target "
          f"({'met' if m['peak_rss_mb'] <= RSS_TARGET_MB else 'NOT met'}); "
          f"{m['peak_rss_mb'] / 2048:.2f}x the original plan's 2 GB")  # fmt: skip
    print(f"batch of {m['batch_size']}: {m['batch_samples_per_s']:,.0f} samples/s, "
          f"peak RSS {m['batch_peak_rss_mb']:.0f} MB")  # fmt: skip
    print(f"p99 latency: {p99 / 100:.2f}x the original plan's 100 ms limit")


if __name__ == "__main__":
    run_stage(main)
