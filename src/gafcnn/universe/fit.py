"""Fitting a universe: each symbol's single pipeline, and one pooled pipeline over
every symbol's samples (:class:`gafcnn.universe.layout.Lanes`), both on the common
split and both run by the walk-forward's runner in a scratch folder."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from gafcnn import paths, registry
from gafcnn.evaluation.resample_runner import fold_stages, run_pipeline
from gafcnn.io import read_json
from gafcnn.models import predictions
from gafcnn.params import Params
from gafcnn.universe.evaluation import trials
from gafcnn.universe.layout import Lanes

KEPT = ("audit", "latency", "split", "evaluate", "decision")  # metrics copied out


def commands(windows: list[int], after: tuple[registry.Stage, ...]) -> list[list[str]]:
    """The pipeline's stage commands, then those of the stages ``after``."""
    return fold_stages(windows) + [c for stage in after for c in stage.commands(windows)]


def run_params(params: Params, ranges: dict, symbols: list[str]) -> tuple[dict, dict]:
    """The scratch run's params.yaml (``symbols`` as its data.symbols, ``trials``
    counted over the universe) and its split section (the common ranges)."""
    raw = dict(params.raw)
    synthetic = {**raw["data"].get("synthetic", {}), "signals": []}  # the bars are given
    raw["data"] = {**raw["data"], "symbols": symbols[:1], "synthetic": synthetic}
    raw["evaluate"] = {**raw["evaluate"], "trials": trials(params)}
    split = {**raw["split"], "method": "ranges", "ranges": ranges}
    return raw, split


def collect(work: Path, out: Path, names: tuple[str, ...]) -> pd.DataFrame:
    """Copy the run's metrics ``names`` into ``out``; return every model's predictions."""
    for name in names:
        src = work / paths.metrics(name)
        if src.exists():
            shutil.copy(src, out / f"{name}.json")
    return predictions.read(work / paths.PREDICTIONS)


def fit_symbol(params: Params, symbol: str, ranges: dict, out: Path, bundle: Path) -> None:
    """The single pipeline on ``symbol`` alone, evaluated and exported: its predictions,
    metrics and report into ``out``, its bundle into ``bundle``."""
    windows = list(params.gaf.windows)
    raw, split = run_params(params, ranges, [symbol])
    src = paths.symbol_dir(symbol)
    inputs = {
        paths.ORACLE: pd.read_parquet(src / "oracle.parquet"),
        paths.metrics("ingest"): read_json(paths.symbol_metrics(symbol, "ingest")),
    }
    with tempfile.TemporaryDirectory(prefix="gafcnn-symbol.") as tmp:
        work = Path(tmp)
        run_pipeline(
            work,
            raw,
            split,
            pd.read_parquet(src / "bars.parquet"),
            symbol,
            windows,
            commands(windows, registry.CHECKS + registry.DEPLOY),
            inputs,
        )
        collect(work, out, KEPT).to_parquet(out / "predictions.parquet", index=False)
        shutil.copy(work / paths.REPORT_MD, out / "report.md")
        shutil.copytree(work / paths.BUNDLE, bundle)


def fit_pooled(params: Params, lanes: Lanes, ranges: dict, out: Path) -> None:
    """One pipeline over every symbol's bars in its lane: each model fitted once on
    every symbol's train (and val); predictions back at their own time, by symbol."""
    windows = list(params.gaf.windows)
    symbols = list(lanes.symbols)
    raw, split = run_params(params, lanes.ranges(ranges), symbols)
    bars = pd.concat(
        [lanes.moved(pd.read_parquet(paths.symbol_dir(s) / "bars.parquet"), s) for s in symbols],
        ignore_index=True,
    )
    oracle = pd.concat(
        [lanes.moved(pd.read_parquet(paths.symbol_dir(s) / "oracle.parquet"), s) for s in symbols],
        ignore_index=True,
    )
    ingest = read_json(paths.symbol_metrics(symbols[0], "ingest"))
    with tempfile.TemporaryDirectory(prefix="gafcnn-pooled.") as tmp:
        work = Path(tmp)
        run_pipeline(
            work,
            raw,
            split,
            bars,
            "pooled",
            windows,
            commands(windows, registry.CHECKS),
            {paths.ORACLE: oracle, paths.metrics("ingest"): ingest},
        )
        preds = lanes.back(collect(work, out, KEPT))
    preds.to_parquet(out / "predictions.parquet", index=False)
