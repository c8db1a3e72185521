"""The one runner for every splitter (:mod:`gafcnn.evaluation.resampling`): each fold
refits the registry's pipeline from scratch, its scored decisions are checked for
leaks and reassembled into paths, and the figures take one shape for every scheme.

Every scratch run of the pipeline - a fold, a universe's pooled fit, a retrain - goes
through :func:`scratch_run` with params from :func:`run_params`, and the folds run
as tasks of the one executor (:mod:`gafcnn.executor`).

A fold runs the single-split stages (:data:`gafcnn.registry.PIPELINE`, a matrix stage
once per window) as they are, in a scratch folder holding every bar and a
``params.yaml`` whose split names the fold's ranges (``split.method: ranges``), so
labels, dead-zone cut points, scalers and every model are fitted on the fold's own
train (and val) only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gafcnn import clock, paths, registry
from gafcnn.data.bars import minute_index, positions
from gafcnn.data.labels import forward_returns
from gafcnn.evaluation.resampling import Fold, Splitter, fold_ranges, leaks
from gafcnn.executor import Executor, from_params
from gafcnn.images.imageset import GafSet
from gafcnn.io import read_json, record_timings
from gafcnn.models import predictions
from gafcnn.models.metrics import accuracy, majority_rate
from gafcnn.params import Params, market_params
from gafcnn.trading.backtest import backtest


def fold_stages(windows: list[int], after: tuple[registry.Stage, ...] = ()) -> list[list[str]]:
    """The single-split stages a fold runs, in order (module and arguments): every
    stage of :data:`gafcnn.registry.PIPELINE`, a matrix stage once per window, then
    those of the stages ``after`` (a pooled fit's checks, a retrain's checks and export)."""
    return [cmd for stage in registry.PIPELINE + after for cmd in stage.commands(windows)]


def run_params(params: Params, ranges: dict, symbol: str | None = None,
               trials: int | None = None,
               source: str | None = None) -> tuple[dict, dict]:  # fmt: skip
    """A scratch run's params.yaml and split section: the project's params, no
    resampling of their own, the split's ``ranges``; given ``symbol``, on that symbol
    alone (:func:`gafcnn.params.market_params`); ``trials`` replaces
    ``evaluate.trials`` and ``source`` names the csv file the bars came from (a
    retrain's ``--bars``)."""
    raw = dict(params.raw) if symbol is None else market_params(params, symbol)
    if source is not None:
        raw["data"] = {**raw.get("data", {}), "source": "csv", "path": str(source), "files": None}
    if trials is not None:
        raw["evaluate"] = {**raw.get("evaluate", {}), "trials": trials}
    raw["walkforward"] = {**raw.get("walkforward", {}), "folds": 0, "scheme": "expanding"}
    return raw, {**raw.get("split", {}), "method": "ranges", "ranges": ranges}


def run_pipeline(work: Path, run: tuple[dict, dict], bars: pd.DataFrame, label: str,
                 commands: list[list[str]], inputs: dict | None = None) -> None:  # fmt: skip
    """Run the stage ``commands`` in ``work`` on ``bars`` with ``run`` (a params.yaml and
    its split section, :func:`run_params`); ``inputs``: other files the stages read
    (path: a frame, or a dict as JSON)."""
    raw, split = run
    (work / "params.yaml").write_text(yaml.safe_dump(dict(raw, split=split), sort_keys=False))
    for path, data in {paths.BARS: bars, **(inputs or {})}.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, dict):
            (work / path).write_text(json.dumps(data))
        else:
            data.to_parquet(work / path, index=False)
    for cmd in commands:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", *cmd], cwd=work, capture_output=True,
                              text=True)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"{label}: {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        name = " ".join([cmd[0].rsplit(".", 1)[-1], *cmd[1:]])
        print(f"  {label} {name} ({time.perf_counter() - t0:.0f} s) {last}", flush=True)


@contextmanager
def scratch_run(label: str, run: tuple[dict, dict], bars: pd.DataFrame,
                commands: list[list[str]],
                inputs: dict | None = None) -> Iterator[Path]:  # fmt: skip
    """The one scratch runner: a temporary folder in which the stage ``commands`` have
    run on ``bars`` with ``run`` (:func:`run_params`), removed on exit. Nothing of the
    project's workspace is read or written."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    with tempfile.TemporaryDirectory(prefix=f"gafcnn-{safe}.") as tmp:
        work = Path(tmp)
        run_pipeline(work, run, bars, label, commands, inputs)
        yield work


def stage_timings(work: Path, label: str) -> dict[str, dict]:
    """A scratch run's stage timings, each as ``<label> > <stage>``, for the driver to
    record (:func:`keep_timings`)."""
    if not (work / paths.TIMINGS).exists():
        return {}
    return {f"{label} > {stage}": v for stage, v in read_json(work / paths.TIMINGS).items()}


def keep_timings(timings: dict[str, dict]) -> None:
    """A scratch run's stage timings into the project's (untracked) timings file: the
    driver's part, so that a worker writes nothing of the workspace."""
    for stage, values in timings.items():
        record_timings(stage, values)


def check_leaks(fold: Fold, work: Path, minutes: np.ndarray, windows: list[int], horizon: int,
                embargo: int) -> dict[str, int]:  # fmt: skip
    """Stop unless no train or val sample the fold's models saw (read back from every
    window's image set) touches a test stretch or the ``embargo`` after it; return how
    many samples were read back and checked, per segment (every window counted)."""
    checked = {"train": 0, "val": 0}
    for w in windows:
        gs = GafSet(work / paths.gaf_dir(w))
        seen = {seg: positions(minutes, gs.timestamps(seg)) for seg in ("train", "val")}
        found = leaks(fold, seen, max(windows), horizon, embargo)
        if found:
            raise RuntimeError(f"fold {fold.index} (w{w}): {found[0]}")
        for seg, at in seen.items():
            checked[seg] += len(at)
    return checked


def scored(preds: pd.DataFrame, minutes: np.ndarray, fold: Fold) -> pd.DataFrame:
    """The fold's test predictions at the decisions it scores, with their bar position."""
    preds = preds[preds["segment"] == "test"]
    at = positions(minutes, clock.ms_of(preds["timestamp"]))
    keep = np.zeros(len(at), dtype=bool)
    for a, b in fold.decisions:
        keep |= (at >= a) & (at < b)
    return preds[keep].assign(position=at[keep])


@dataclass(frozen=True)
class FoldTask:
    """One fold's fit, as a worker runs it: everything it reads is here."""

    splitter: str
    fold: Fold
    total: int
    bars: pd.DataFrame
    run: tuple[dict, dict]
    windows: list[int]
    horizon: int
    embargo: int


@dataclass
class FoldResult:
    """What a fold's worker returns: its scored test predictions, the samples its
    leak check read back, and its stage timings."""

    index: int
    scored: pd.DataFrame
    checked: dict[str, int]
    timings: dict[str, dict]


def fit_fold(task: FoldTask) -> FoldResult:
    """Refit the pipeline on one fold in a scratch folder, check it for leaks, and
    return its scored test predictions (a worker's task: it writes no DVC output)."""
    f, minutes = task.fold, minute_index(task.bars)
    label = f"{task.splitter} fold {f.index + 1}/{task.total}"
    print(f"{label}: {f.to_dict(minutes)['decisions_times']}", flush=True)
    t0 = time.perf_counter()
    with scratch_run(label, task.run, task.bars, fold_stages(task.windows)) as work:
        preds = predictions.read(work / paths.PREDICTIONS)
        checked = check_leaks(f, work, minutes, task.windows, task.horizon, task.embargo)
        timings = stage_timings(work, label)
    out = scored(preds, minutes, f)
    print(f"{label} done in {time.perf_counter() - t0:.0f} s "
          f"({out['position'].nunique()} decisions)", flush=True)  # fmt: skip
    return FoldResult(f.index, out, checked, timings)


def fit_folds(splitter: Splitter, folds: list[Fold], bars: pd.DataFrame, minutes: np.ndarray,
              params: Params, embargo: int,
              executor: Executor | None = None) -> dict[int, FoldResult]:  # fmt: skip
    """Per fold, its result (:func:`fit_fold`), the folds run by ``executor`` (the
    project's, :func:`gafcnn.executor.from_params`, when None) and their timings
    recorded here, in fold order."""
    windows, horizon = list(params.gaf.windows), params.label.horizon
    tasks = [
        FoldTask(splitter.scheme, f, len(folds), bars,
                 run_params(params, fold_ranges(f, minutes)),
                 windows, horizon, embargo)
        for f in folds
    ]  # fmt: skip
    results = (executor or from_params(params)).map(fit_fold, tasks, [t.fold.index for t in tasks])
    for r in results:
        keep_timings(r.timings)
    return {r.index: r for r in results}


def assemble(splitter: Splitter, folds: list[Fold], tested: dict[int, pd.DataFrame],
             oracle: Callable[[np.ndarray], np.ndarray] | None) -> list[pd.DataFrame]:  # fmt: skip
    """Each path's predictions in the shared layout (plus the oracle's, when known)."""
    out = []
    for pieces in splitter.paths(folds):
        parts = [tested[i][(tested[i]["position"] >= a) & (tested[i]["position"] < b)]
                 for i, a, b in pieces]  # fmt: skip
        path = pd.concat(parts, ignore_index=True)[list(predictions.COLUMNS)]
        if oracle is not None:
            first = path[path["model"] == path["model"].iloc[0]]
            ts = clock.ms_of(first["timestamp"])
            rows = predictions.frame(ts, "test", first["label"], oracle(ts), registry.ORACLE)
            path = pd.concat([path, rows], ignore_index=True)
        out.append(path)
    return out


def fold_figures(fold: Fold, result: FoldResult, minutes: np.ndarray,
                 oracle: Callable[[np.ndarray], np.ndarray] | None) -> dict:  # fmt: skip
    """One fold's row: its ranges (and times), scored samples, the train and val
    samples its leak check read back, majority rate, the oracle's accuracy when known,
    and each model's accuracy."""
    preds = result.scored
    row = fold.to_dict(minutes)
    row["leak_check"] = dict(result.checked)
    any_model = preds[preds["model"] == preds["model"].iloc[0]]
    y = any_model["label"].to_numpy()
    row["samples"] = len(any_model)
    row["majority_rate"] = majority_rate(y)
    if oracle is not None:
        row["oracle_accuracy"] = accuracy(y, oracle(clock.ms_of(any_model["timestamp"])))
    row["accuracy"] = {model: accuracy(g["label"].to_numpy(), g["p_up"].to_numpy())
                       for model, g in preds.groupby("model", sort=True)}  # fmt: skip
    return row


def path_figures(path: pd.DataFrame, forward: np.ndarray, minutes: np.ndarray, horizon: int,
                 cost_bps: float, partitions: int) -> dict:  # fmt: skip
    """One path's figures: per model its accuracy and always-in backtest (trades, mean
    net return after costs), and PBO (CSCV over ``partitions`` time slices of the
    path) over every model but the oracle."""
    from gafcnn.evaluation.policy import period
    from gafcnn.evaluation.selection_bias import pbo, period_returns

    out: dict = {"accuracy": {}, "mean_net_return": {}, "trades": {}}
    trades = {}
    for model in sorted(path["model"].unique()):
        g = predictions.of_model(path, model)
        ts = clock.ms_of(g["timestamp"])
        at = clock.minutes_of_ms(ts)
        p, y = g["p_up"].to_numpy(), g["label"].to_numpy()
        b = backtest(at, p, forward[positions(minutes, ts)], horizon, cost_bps,
                     period(at, horizon))  # fmt: skip
        out["accuracy"][model] = accuracy(y, p)
        out["mean_net_return"][model] = b.mean_net_return
        out["trades"][model] = b.trades
        if model != registry.ORACLE:
            trades[model] = (b.trade_times, b.net)
    span = clock.minutes_of(path["timestamp"])
    perf = period_returns(trades, float(span.min()), float(span.max() + horizon), partitions)
    out["pbo"] = pbo(perf, partitions).pbo if len(trades) > 1 else None
    out["samples"] = int(len(path) // max(path["model"].nunique(), 1))
    return out


def spread(per_path: list[dict], key: str) -> dict[str, dict[str, float]]:
    """Per model, the mean, standard deviation, minimum and maximum of ``key`` over
    the paths."""
    out = {}
    for m in sorted(per_path[0][key]):
        v = np.array([p[key][m] for p in per_path], dtype=np.float64)
        out[m] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                  "min": float(v.min()), "max": float(v.max())}  # fmt: skip
    return out


@dataclass
class Resampled:
    """What a resampling run gives: each fold's record and figures, each path's
    predictions and figures."""

    folds: list[dict]  # each fold's ranges (and their times)
    splits: list[dict]  # each fold's figures (:func:`fold_figures`)
    paths: list[pd.DataFrame]  # each path's predictions, in the shared layout
    path_rows: list[dict]  # each path's figures (:func:`path_figures`)


def oracle_of(oracle: pd.DataFrame) -> Callable[[np.ndarray], np.ndarray] | None:
    """The synthetic market's P(up) at decision timestamps (epoch ms), or None (real data)."""
    if not len(oracle):
        return None
    p = oracle.set_index(clock.ms_of(oracle["timestamp"]))["p_up"]
    return lambda stamps_ms: p.reindex(stamps_ms).to_numpy()


def resample(splitter: Splitter, folds: list[Fold], bars: pd.DataFrame, oracle: pd.DataFrame,
             params: Params, executor: Executor | None = None) -> Resampled:  # fmt: skip
    """Refit the pipeline per fold (each a task of ``executor``), check each for leaks,
    reassemble the paths and score folds and paths (the oracle's P(up) beside them on
    synthetic data)."""
    minutes, horizon = minute_index(bars), params.label.horizon
    embargo = params.walkforward.embargo if splitter.scheme == "cpcv" else 0
    fitted = fit_folds(splitter, folds, bars, minutes, params, embargo, executor)
    tested = {i: r.scored for i, r in fitted.items()}
    p_oracle = oracle_of(oracle)
    frames = assemble(splitter, folds, tested, p_oracle)
    forward = forward_returns(bars["close"].to_numpy(), minutes, horizon)
    cost, parts = params.evaluate.costs.per_side_bps, params.evaluate.pbo_partitions
    return Resampled(
        folds=[f.to_dict(minutes) for f in folds],
        splits=[fold_figures(f, fitted[f.index], minutes, p_oracle) for f in folds],
        paths=frames,
        path_rows=[
            {"path": j, **path_figures(p, forward, minutes, horizon, cost, parts)}
            for j, p in enumerate(frames)
        ],  # fmt: skip
    )


def resampling_metrics(splits: list[dict], per_path: list[dict], params: dict) -> dict:
    """The one metrics shape of every scheme: its parameters (``walkforward``), a row
    per split, a row per path, and the spread of each figure over the paths."""
    pbos = [p["pbo"] for p in per_path if p["pbo"] is not None]
    return {
        **params,
        "test_samples": int(sum(p["samples"] for p in per_path[:1])),
        # every fold's train and val samples, read back from its image sets and checked
        # against its test stretches (check_leaks stops the stage on a leak)
        "leak_checked_samples": int(sum(sum(s["leak_check"].values()) for s in splits)),
        "splits": splits,
        "paths": per_path,
        "accuracy": spread(per_path, "accuracy") if per_path else {},
        "mean_net_return": spread(per_path, "mean_net_return") if per_path else {},
        "pbo": {"mean": float(np.mean(pbos)), "min": min(pbos), "max": max(pbos)} if pbos else None,
    }
