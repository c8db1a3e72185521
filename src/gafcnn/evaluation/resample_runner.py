"""The one runner for every splitter (:mod:`gafcnn.evaluation.resampling`): each fold
refits the registry's pipeline from scratch, its scored decisions are checked for
leaks and reassembled into paths, and the figures take one shape for every scheme.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gafcnn import clock, paths, registry
from gafcnn.data.bars import minute_index, positions
from gafcnn.data.labels import forward_returns
from gafcnn.evaluation.metrics import accuracy, majority_rate
from gafcnn.evaluation.resampling import Fold, Splitter, leaks, split_params
from gafcnn.images.imageset import GafSet
from gafcnn.models import predictions
from gafcnn.params import Params
from gafcnn.trading.backtest import backtest


def fold_stages(windows: list[int]) -> list[list[str]]:
    """The single-split stages a fold runs, in order (module and arguments): every
    stage of :data:`gafcnn.registry.PIPELINE`, a matrix stage once per window."""
    return [cmd for stage in registry.PIPELINE for cmd in stage.commands(windows)]


def run_pipeline(work: Path, params: dict, split: dict, bars: pd.DataFrame, label: str,
                 windows: list[int], commands: list[list[str]] | None = None,
                 inputs: dict[str, pd.DataFrame | dict] | None = None) -> None:  # fmt: skip
    """Run the single-split stages (or ``commands``) in ``work`` on ``bars`` with
    ``params`` whose split section is ``split`` (and no resampling of their own);
    ``inputs``: other files the stages read (path: a frame, or a dict as JSON)."""
    fold_params = dict(params, split=split)
    fold_params["walkforward"] = {**params.get("walkforward", {}), "folds": 0,
                                  "scheme": "expanding"}  # fmt: skip
    (work / "params.yaml").write_text(yaml.safe_dump(fold_params, sort_keys=False))
    for path, data in {paths.BARS: bars, **(inputs or {})}.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, dict):
            (work / path).write_text(json.dumps(data))
        else:
            data.to_parquet(work / path, index=False)
    for cmd in commands or fold_stages(windows):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", *cmd], cwd=work, capture_output=True,
                              text=True)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"{label}: {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        name = " ".join([cmd[0].rsplit(".", 1)[-1], *cmd[1:]])
        print(f"  {label} {name} ({time.perf_counter() - t0:.0f} s) {last}", flush=True)


def check_leaks(fold: Fold, work: Path, minutes: np.ndarray, windows: list[int], horizon: int,
                embargo: int) -> None:  # fmt: skip
    """Stop unless no train or val sample the fold's models saw (read back from every
    window's image set) touches a test stretch or the ``embargo`` after it."""
    for w in windows:
        gs = GafSet(work / paths.gaf_dir(w))
        seen = {seg: positions(minutes, gs.timestamps(seg)) for seg in ("train", "val")}
        found = leaks(fold, seen, max(windows), horizon, embargo)
        if found:
            raise RuntimeError(f"fold {fold.index} (w{w}): {found[0]}")


def scored(preds: pd.DataFrame, minutes: np.ndarray, fold: Fold) -> pd.DataFrame:
    """The fold's test predictions at the decisions it scores, with their bar position."""
    preds = preds[preds["segment"] == "test"]
    at = positions(minutes, clock.ms_of(preds["timestamp"]))
    keep = np.zeros(len(at), dtype=bool)
    for a, b in fold.decisions:
        keep |= (at >= a) & (at < b)
    return preds[keep].assign(position=at[keep])


def fit_folds(splitter: Splitter, folds: list[Fold], bars: pd.DataFrame, minutes: np.ndarray,
              params: dict, windows: list[int], horizon: int,
              embargo: int) -> dict[int, pd.DataFrame]:  # fmt: skip
    """Per fold, its scored test predictions, each fold refitted in a scratch folder."""
    out = {}
    for f in folds:
        t0 = time.perf_counter()
        label = f"{splitter.scheme} fold {f.index + 1}/{len(folds)}"
        print(f"{label}: {f.to_dict(minutes)['decisions_times']}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"gafcnn-fold{f.index}.") as tmp:
            work = Path(tmp)
            run_pipeline(work, params, split_params(params["split"], f, minutes), bars, label,
                         windows)  # fmt: skip
            preds = predictions.read(work / paths.PREDICTIONS)
            check_leaks(f, work, minutes, windows, horizon, embargo)
        out[f.index] = scored(preds, minutes, f)
        print(f"{label} done in {time.perf_counter() - t0:.0f} s "
              f"({out[f.index]['position'].nunique()} decisions)", flush=True)  # fmt: skip
    return out


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


def fold_figures(fold: Fold, preds: pd.DataFrame, minutes: np.ndarray,
                 oracle: Callable[[np.ndarray], np.ndarray] | None) -> dict:  # fmt: skip
    """One fold's row: its ranges (and times), scored samples, majority rate, the
    oracle's accuracy when known, and each model's accuracy."""
    row = fold.to_dict(minutes)
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
             params: Params) -> Resampled:  # fmt: skip
    """Refit the pipeline per fold, check each for leaks, reassemble the paths and
    score folds and paths (the oracle's P(up) beside them on synthetic data)."""
    minutes, horizon, windows = minute_index(bars), params.label.horizon, list(params.gaf.windows)
    embargo = params.walkforward.embargo if splitter.scheme == "cpcv" else 0
    tested = fit_folds(splitter, folds, bars, minutes, params.raw, windows, horizon, embargo)
    p_oracle = oracle_of(oracle)
    frames = assemble(splitter, folds, tested, p_oracle)
    forward = forward_returns(bars["close"].to_numpy(), minutes, horizon)
    cost, parts = params.evaluate.costs.per_side_bps, params.evaluate.pbo_partitions
    return Resampled(
        folds=[f.to_dict(minutes) for f in folds],
        splits=[fold_figures(f, tested[f.index], minutes, p_oracle) for f in folds],
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
        "no_leak": True if splits else None,  # check_leaks stops the stage on a leak
        "splits": splits,
        "paths": per_path,
        "accuracy": spread(per_path, "accuracy") if per_path else {},
        "mean_net_return": spread(per_path, "mean_net_return") if per_path else {},
        "pbo": {"mean": float(np.mean(pbos)), "min": min(pbos), "max": max(pbos)} if pbos else None,
    }
