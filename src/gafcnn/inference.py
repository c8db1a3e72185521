"""Deployment-time prediction from raw bars, and its speed and memory.

:class:`Predictor` loads the trained models (the three CNNs, the ensemble's
weights, Phase 1 and the hybrid) and turns the most recent raw bars into P(up) for
each - the work a live system does at every decision time. :func:`measure` times
it in a child process (p50/p99 latency for one sample, batch throughput, peak RSS);
`benchmarks/inference.py` and the `evaluate` stage both call it.

    python -m gafcnn.inference [--models models]   # prints the measurement as JSON
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
import torch

from gafcnn import paths
from gafcnn.encodings import Encoder, window_series
from gafcnn.features import indicators, window_bar_features
from gafcnn.io import InputError, run_stage
from gafcnn.models import build_model

HISTORY = 300  # bars of history handed to the predictor for one decision


def require_outputs(*files: str | Path) -> None:
    """One clear error when a pipeline output a script needs is absent."""
    for f in files:
        if not Path(f).exists():
            raise InputError(
                f, "missing pipeline output; run `make repro` (or `dvc pull` from the remote)"
            )


def model_files(models_dir: str | Path = paths.MODELS) -> list[Path]:
    """The files :class:`Predictor` loads from ``models_dir``."""
    d = Path(models_dir)
    require_outputs(d / "ensemble.json")
    windows = json.loads((d / "ensemble.json").read_text())["windows"]
    cnn = [d / "cnn" / f"w{w}{ext}" for w in windows for ext in (".pt", ".json")]
    return [d / "ensemble.json", *cnn, d / "phase1.ubj", d / "hybrid.ubj"]


class Predictor:
    def __init__(self, models_dir: str | Path = paths.MODELS):
        d = Path(models_dir)
        require_outputs(*model_files(d))
        self.cnns = {}
        ens = json.loads((d / "ensemble.json").read_text())
        self.windows = [int(w) for w in ens["windows"]]
        self.weights = np.array([ens["weights"][f"w{w}"] for w in self.windows])
        for w in self.windows:
            meta = json.loads((d / "cnn" / f"w{w}.json").read_text())
            p = meta["params"]
            model = build_model(meta["arch"], meta["input_shape"][0], p["width"], p["dropout"])
            model.load_state_dict(
                torch.load(d / "cnn" / f"w{w}.pt", map_location="cpu", weights_only=True)
            )
            model.eval()
            enc = None
            if meta["arch"] != "conv1d":
                enc = Encoder(meta["channels"], meta["image_size"], meta["mtf_bins"], threads=1)
            self.cnns[w] = (model, enc, meta)
        from xgboost import XGBClassifier

        self.phase1 = XGBClassifier()
        self.phase1.load_model(d / "phase1.ubj")
        self.hybrid = XGBClassifier()
        self.hybrid.load_model(d / "hybrid.ubj")

    @torch.no_grad()
    def cnn_probabilities(self, bars: dict[str, np.ndarray], positions: np.ndarray) -> np.ndarray:
        """(N, n_windows) P(up) of each CNN at bar ``positions``."""
        out = np.empty((len(positions), len(self.windows)))
        for j, w in enumerate(self.windows):
            model, enc, meta = self.cnns[w]
            if enc is None:
                scale = np.asarray(meta["normalisation"]["feature_scale"])
                x = window_bar_features(bars, positions, w) / scale[None, :, None]
            else:
                x = enc.encode(window_series(bars, positions, w, enc.series_needed))
            out[:, j] = torch.sigmoid(model(torch.from_numpy(np.asarray(x, np.float32)))).numpy()
        return out

    def predict(
        self, bars: dict[str, np.ndarray], minutes: np.ndarray, positions: np.ndarray
    ) -> dict:
        """P(up) of every deployed candidate at bar ``positions`` of ``bars``."""
        cnn = self.cnn_probabilities(bars, positions)
        feats = indicators(bars, minutes)[positions]
        out = {f"cnn_w{w}": cnn[:, j] for j, w in enumerate(self.windows)}
        out["ensemble"] = cnn @ self.weights
        out["phase1"] = self.phase1.predict_proba(feats)[:, 1]
        out["hybrid"] = self.hybrid.predict_proba(np.column_stack([feats, cnn]))[:, 1]
        return out


def _measure_here(models_dir: str, bars_path: str, singles: int, batch: int) -> dict:
    import pandas as pd

    from gafcnn.bars import minute_index

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    pred = Predictor(models_dir)
    load_s = time.perf_counter() - t0
    df = pd.read_parquet(bars_path)
    arrays = {k: df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")}
    minutes = minute_index(df)
    n = len(minutes)
    rng = np.random.default_rng(0)
    ends = rng.integers(HISTORY, n, size=singles + 5)
    lat = []
    for k, end in enumerate(ends):  # one decision from the last HISTORY bars, as live
        sl = slice(end - HISTORY, end)
        recent = {key: v[sl] for key, v in arrays.items()}
        t = time.perf_counter()
        pred.predict(recent, minutes[sl], np.array([HISTORY - 1]))
        if k >= 5:  # warm-up calls excluded
            lat.append(time.perf_counter() - t)
    pos = np.sort(rng.choice(np.arange(HISTORY, n), size=min(batch, n - HISTORY), replace=False))
    t = time.perf_counter()
    pred.predict(arrays, minutes, pos)
    batch_s = time.perf_counter() - t
    import resource

    return {
        "load_s": load_s,
        "latency_ms_p50": float(np.percentile(lat, 50) * 1e3),
        "latency_ms_p99": float(np.percentile(lat, 99) * 1e3),
        "batch_size": len(pos),
        "batch_samples_per_s": len(pos) / batch_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(
    models_dir: str | Path = paths.MODELS,
    bars_path: str | Path = paths.BARS,
    singles: int = 200,
    batch: int = 2048,
) -> dict:
    """Run the measurement in a fresh child process (so peak RSS is its own)."""
    require_outputs(*model_files(models_dir), bars_path)
    cmd = [sys.executable, "-m", "gafcnn.inference", "--models", str(models_dir),
           "--bars", str(bars_path),
           "--singles", str(singles), "--batch", str(batch)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"inference measurement failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description="measure deployment inference")
    ap.add_argument("--models", default=str(paths.MODELS))
    ap.add_argument("--bars", default=paths.BARS)
    ap.add_argument("--singles", type=int, default=200)
    ap.add_argument("--batch", type=int, default=2048)
    a = ap.parse_args()
    print(json.dumps(_measure_here(a.models, a.bars, a.singles, a.batch)))


if __name__ == "__main__":
    run_stage(main)
