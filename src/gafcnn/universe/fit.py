"""Fitting a universe: each symbol's single pipeline, and one pooled pipeline over
every symbol's samples (:class:`gafcnn.universe.layout.Lanes`), both on the common
split and both run by the one scratch runner (the walk-forward's) with the one
``run_params``."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from gafcnn import paths, registry
from gafcnn.evaluation import resample_runner
from gafcnn.evaluation.resample_runner import fold_stages, run_params
from gafcnn.io import read_json
from gafcnn.models import predictions
from gafcnn.params import Params
from gafcnn.universe.evaluation import trials
from gafcnn.universe.layout import Lanes

KEPT = ("audit", "latency", "split", "evaluate", "decision")  # metrics copied out


def collect(work: Path, out: Path, names: tuple[str, ...]) -> pd.DataFrame:
    """Copy the run's metrics ``names`` into ``out``; return every model's predictions."""
    for name in names:
        src = work / paths.metrics(name)
        if src.exists():
            shutil.copy(src, out / f"{name}.json")
    return predictions.read(work / paths.PREDICTIONS)


@contextmanager
def scratch_run(label: str, params: Params, run: tuple[dict, dict], bars: pd.DataFrame,
                after: tuple[registry.Stage, ...], inputs: dict) -> Iterator[Path]:  # fmt: skip
    """The one scratch runner on the pipeline and the stages ``after``, its stage
    timings kept as ``<label> > <stage>``: what dominates a universe fit."""
    stages = fold_stages(list(params.gaf.windows), after)
    with resample_runner.scratch_run(label, run, bars, stages, inputs) as work:
        resample_runner.keep_timings(resample_runner.stage_timings(work, label))
        yield work


def fit_symbol(params: Params, symbol: str, ranges: dict, out: Path, bundle: Path) -> None:
    """The single pipeline on ``symbol`` alone, evaluated and exported: its predictions,
    metrics and report into ``out``, its bundle into ``bundle``."""
    inputs = {
        paths.ORACLE: pd.read_parquet(paths.symbol_oracle(symbol)),
        paths.metrics("ingest"): read_json(paths.symbol_metrics(symbol, "ingest")),
    }
    bars = pd.read_parquet(paths.symbol_bars(symbol))
    split = run_params(params, ranges, symbol, trials(params))
    after = registry.CHECKS + registry.DEPLOY
    with scratch_run(symbol, params, split, bars, after, inputs) as work:
        collect(work, out, KEPT).to_parquet(out / "predictions.parquet", index=False)
        shutil.copy(work / paths.REPORT_MD, out / "report.md")
        shutil.copytree(work / paths.BUNDLE, bundle)


def in_lanes(lanes: Lanes, path: Callable[[str], Path]) -> pd.DataFrame:
    """Every symbol's frame at ``path(symbol)`` (bars or oracle), moved into its lane."""
    frames = [lanes.moved(pd.read_parquet(path(s)), s) for s in lanes.symbols]
    return pd.concat(frames, ignore_index=True)


def fit_pooled(params: Params, lanes: Lanes, ranges: dict, out: Path) -> None:
    """One pipeline over every symbol's bars in its lane: each model fitted once on
    every symbol's train (and val); predictions back at their own time, by symbol."""
    split = run_params(params, lanes.ranges(ranges), lanes.symbols[0], trials(params))
    inputs = {
        paths.ORACLE: in_lanes(lanes, paths.symbol_oracle),
        paths.metrics("ingest"): read_json(paths.symbol_metrics(lanes.symbols[0], "ingest")),
    }
    with scratch_run("pooled", params, split, in_lanes(lanes, paths.symbol_bars), registry.CHECKS,
                     inputs) as work:  # fmt: skip
        preds = lanes.back(collect(work, out, KEPT))
    preds.to_parquet(out / "predictions.parquet", index=False)
