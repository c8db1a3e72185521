"""The pooled fit of a universe: one pipeline over every symbol's samples, each
symbol's bars in its lane (:class:`gafcnn.universe.layout.Lanes`), on the split
common to every market, run by the one scratch runner (the walk-forward's) with the
one ``run_params``. Each market's own pipeline is the project's dvc.yaml, run in
``markets/<symbol>/``; this fit is the one that spans them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from gafcnn import paths, registry
from gafcnn.data.ingest import ingest
from gafcnn.data.split import required_purge
from gafcnn.evaluation import resample_runner
from gafcnn.evaluation.resample_runner import fold_stages, run_params
from gafcnn.models import predictions
from gafcnn.params import Params
from gafcnn.universe.layout import Lanes, market_split, span_of

KEPT = ("audit", "latency", "split")  # metrics copied out


def collect(work: Path, out: Path, names: tuple[str, ...]) -> pd.DataFrame:
    """Copy the run's metrics ``names`` into ``out``; return every model's predictions."""
    for name in names:
        src = work / paths.metrics(name)
        if src.exists():
            shutil.copy(src, out / f"{name}.json")
    return predictions.read(work / paths.PREDICTIONS)


def fit_pooled(params: Params, out: Path) -> None:
    """One pipeline over every symbol's bars (ingested as each market's ingest reads
    them) in its lane: each model fitted once on every symbol's train (and val); its
    predictions back at their own time, by symbol, into ``out``."""
    symbols = list(params.data.symbols)
    read = {s: ingest(params, s) for s in symbols}
    spans = {s: span_of(bars) for s, (bars, _, _) in read.items()}
    split = market_split(params, spans)
    margin = required_purge(params.gaf.windows, params.label.longest)
    lanes = Lanes.of(symbols, spans, margin)
    bars = pd.concat([lanes.moved(read[s][0], s) for s in symbols], ignore_index=True)
    oracle = pd.concat([lanes.moved(read[s][1], s) for s in symbols], ignore_index=True)
    run = run_params(params, lanes.ranges(split["ranges"]), symbols[0])
    inputs = {paths.ORACLE: oracle, paths.metrics("ingest"): read[symbols[0]][2]}
    stages = fold_stages(list(params.gaf.windows), registry.CHECKS)
    with resample_runner.scratch_run("pooled", run, bars, stages, inputs) as work:
        resample_runner.keep_timings(resample_runner.stage_timings(work, "pooled"))
        preds = lanes.back(collect(work, out, KEPT))
    preds.to_parquet(out / "predictions.parquet", index=False)
