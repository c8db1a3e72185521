"""What makes CNN training differ between x86-64 machines, measured on this one: the
train stage of one window rerun under settings that change the kernels another CPU
would pick (oneDNN's instruction set, MKL's code path, ATen's vector width, OpenBLAS's
core type) or the thread count; each run's output bytes and val accuracy against the
default run's, and its wall time against the default's (same run).

    python benchmarks/cross_machine.py [--window 15] [--only default,isa_avx]

Needs the pipeline's outputs (`make repro` or `dvc pull`). Runs ``python -m
gafcnn.stages.train --window W`` in place and puts the stage's outputs back as they
were at the end (dvc.lock is not touched).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from gafcnn import paths
from gafcnn.experiments import studied_market
from gafcnn.io import InputError, run_stage
from gafcnn.serving.latency import require_outputs

# name -> (environment, what it simulates)
SETTINGS = {
    "default": ({}, "this machine: 2 threads, kernels chosen for its CPU"),
    "threads_1": ({"GAFCNN_THREADS": "1"}, "runtime.threads 1"),
    "isa_avx2": ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, "oneDNN on a CPU without AVX-512"),
    "avx2_all": (
        {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
        "oneDNN, ATen and MKL on a CPU without AVX-512",
    ),
    "isa_avx": ({"ONEDNN_MAX_CPU_ISA": "AVX"}, "oneDNN on a CPU without AVX2"),
    "isa_sse41": ({"ONEDNN_MAX_CPU_ISA": "SSE41"}, "oneDNN on a CPU without AVX"),
    "aten_default": ({"ATEN_CPU_CAPABILITY": "default"}, "ATen without AVX2 kernels"),
    "mkl_compatible": ({"MKL_CBWR": "COMPATIBLE"}, "MKL's portable code path"),
    "mkl_avx": ({"MKL_CBWR": "AVX"}, "MKL on a CPU without AVX2"),
    "openblas_sandybridge": ({"OPENBLAS_CORETYPE": "Sandybridge"}, "OpenBLAS (NumPy) kernels"),
}
PIN = {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
PINNED = {  # every machine with SSE4.1 runs the pinned kernels; does the thread count still move?
    "pinned": (PIN, "every kernel choice pinned to the oldest path"),
    "pinned_threads_1": ({**PIN, "GAFCNN_THREADS": "1"}, "the pin, 1 thread"),
}


def outputs(window: int) -> list[Path]:
    """The files the train stage of ``window`` writes that identify its result (as
    dvc.yaml lists them; the metrics file last)."""
    model = paths.cnn_model(window)
    return [model, model.with_suffix(".onnx"), model.with_suffix(".json"),
            paths.PREDICTIONS / "cnn" / f"w{window}.parquet",
            paths.PLOTS / "train" / f"w{window}" / "metrics.json",
            paths.metrics(f"train_w{window}")]  # fmt: skip


def written(window: int) -> list[Path]:
    """Every file the stage writes, its per-epoch plot files included (put back after)."""
    plots = sorted(f for f in (paths.PLOTS / "train" / f"w{window}").rglob("*") if f.is_file())
    return list(dict.fromkeys([*outputs(window), *plots]))


def run(window: int, env: dict[str, str]) -> dict:
    """Run the stage under ``env``: its wall time, output digests and val accuracy."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gafcnn.stages.train", "--window", str(window)],
                          env={**os.environ, **env}, capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise InputError("train", proc.stderr.strip().splitlines()[-1])
    files = outputs(window)
    metrics = json.loads(files[-1].read_text())
    sha = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()[:12] for f in files}
    return {"wall_s": wall, "val_accuracy": metrics["val"]["accuracy"], "sha": sha}


def main() -> None:
    os.chdir(studied_market())  # the first symbol's outputs, as its stages wrote them
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", type=int, default=15)
    ap.add_argument("--only", default="", help="settings to run (default: all)")
    a = ap.parse_args()
    files = outputs(a.window)
    require_outputs(*files)
    chosen = {**SETTINGS, **PINNED}
    names = [n for n in a.only.split(",") if n] or list(chosen)
    saved = {f: f.read_bytes() for f in written(a.window)}
    committed = {f.name: hashlib.sha256(saved[f]).hexdigest()[:12] for f in files}
    results = {}
    try:
        for name in names:
            results[name] = run(a.window, chosen[name][0])
            print(f"{name}: {results[name]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    finally:
        for f, data in saved.items():
            f.write_bytes(data)
    ref = {"default": results.get("default"), "pinned": results.get("pinned")}
    if ref["default"]:
        same = "identical" if ref["default"]["sha"] == committed else "DIFFERENT"
        print(f"the default run against the outputs it replaced: {same}")
    print(f"train@{a.window}: each setting against the default run (and the pinned ones "
          f"against the pin alone); wall time / the reference's")  # fmt: skip
    print("| setting | simulates | outputs identical to | val accuracy | wall s | wall ratio |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        base = ref["pinned"] if name.startswith("pinned_") else ref["default"]
        same = [n for n, d in r["sha"].items() if base and d == base["sha"][n]]
        verdict = "all" if len(same) == len(r["sha"]) else (", ".join(same) or "none")
        ratio = f"{r['wall_s'] / ref['default']['wall_s']:.2f}x" if ref["default"] else "-"
        print(f"| {name} | {chosen[name][1]} | {verdict} | {r['val_accuracy']:.4f} | "
              f"{r['wall_s']:.1f} | {ratio} |")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
