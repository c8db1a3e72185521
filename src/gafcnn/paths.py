"""Where every stage reads and writes: each path is named once, here.

Stages import these names instead of repeating string constants; dvc.yaml spells
the same paths for DVC (a test checks that each stage's deps and outs agree).
"""

from __future__ import annotations

from pathlib import Path

BARS = "data/interim/bars.parquet"
ORACLE = "data/interim/oracle.parquet"
SPLIT = "data/interim/split.json"
GAF_DIR = Path("data/gaf")
PREDICTIONS = Path("data/predictions")
CNN_PREDICTIONS = PREDICTIONS / "cnn"
MODELS = Path("models")
CNN_MODELS = MODELS / "cnn"
BUNDLE = MODELS / "bundle"  # the deployment bundle (export stage)
WALKFORWARD = Path("data/walkforward")  # pooled out-of-sample predictions, folds
METRICS = Path("metrics")
PLOTS = Path("plots")
REPORTS = Path("reports")
# Untracked and git-ignored: speed, wall time, latency and memory of the last run.
TIMINGS = REPORTS / "timings.json"
TIMINGS_MD = REPORTS / "timings.md"


def gaf_dir(window: int) -> Path:
    return GAF_DIR / f"w{window}"


def cnn_model(window: int) -> Path:
    return CNN_MODELS / f"w{window}.pt"


def cnn_onnx(window: int) -> Path:
    """The served form of the window's CNN (:mod:`gafcnn.runtime`)."""
    return CNN_MODELS / f"w{window}.onnx"


def cnn_meta(window: int) -> Path:
    return CNN_MODELS / f"w{window}.json"


def cnn_predictions(window: int) -> Path:
    return CNN_PREDICTIONS / f"w{window}.parquet"


def gaf_samples_plot(window: int) -> Path:
    return PLOTS / "gaf" / f"w{window}_samples.png"


def metrics(name: str) -> Path:
    return METRICS / f"{name}.json"
