"""`walkforward` stage: every model refitted from scratch in each walk-forward fold.

With ``walkforward.folds: 0`` (the default) it writes an empty record and the
decision rests on the single split. Otherwise, for each fold
(:mod:`gafcnn.evaluation.walkforward`), it runs the single-split stages - ``split``, ``gaf``
per window, ``baseline``, ``train`` per window, ``phase1``, ``ensemble``,
``hybrid`` - as they are, in a scratch folder holding only the fold's bars and a
``params.yaml`` whose split is the fold's, then keeps each model's predictions on
the fold's test block. It checks that no model of a fold saw a bar of its test
block, and writes the pooled out-of-sample predictions (every decision time tested
once) to ``data/walkforward/predictions.parquet`` in the shared layout, the folds
to ``data/walkforward/folds.json`` and a per-fold table to
``metrics/walkforward.json``; ``evaluate`` compares the pooled set.

With ``walkforward.scheme: cpcv`` it runs combinatorial purged cross-validation
(:mod:`gafcnn.evaluation.cpcv`) instead: the same stages once per split, on every
bar, with ``split.method: ranges`` naming the split's train, val and test ranges;
it checks the purge and embargo on the samples each split's models saw, reassembles
the paths (every path scores each decision time once) into
``data/walkforward/paths.parquet`` and writes each path's accuracy, net return and
PBO, and their spread, to ``metrics/walkforward.json``. The decision still rests on
the single split; the report shows the paths.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gafcnn import clock, paths, registry
from gafcnn.data.bars import minute_index, positions
from gafcnn.data.labels import forward_returns
from gafcnn.data.split import Split, split_purge
from gafcnn.evaluation.cpcv import (
    CpcvSplit,
    leaks,
    make_splits,
    path_figures,
    path_positions,
    split_params,
    summary,
)
from gafcnn.evaluation.metrics import accuracy, majority_rate
from gafcnn.evaluation.walkforward import Fold, fold_split_params, make_folds
from gafcnn.images.imageset import GafSet
from gafcnn.io import InputError, read_json, run_stage, write_json, write_parquet
from gafcnn.models import predictions
from gafcnn.params import Params, read_params


def fold_stages(windows: list[int]) -> list[list[str]]:
    """The single-split stages a fold runs, in order (module and arguments): every
    stage of :data:`gafcnn.registry.PIPELINE`, a matrix stage once per window."""
    return [cmd for stage in registry.PIPELINE for cmd in stage.commands(windows)]


def run_pipeline(work: Path, params: dict, split: dict, bars: pd.DataFrame, label: str,
                 windows: list[int]) -> None:  # fmt: skip
    """Run the single-split stages in ``work`` on ``bars`` with ``params`` whose split
    section is ``split`` (and no walk-forward of their own)."""
    fold_params = dict(params, split=split)
    fold_params["walkforward"] = {**params.get("walkforward", {}), "folds": 0,
                                  "scheme": "expanding"}  # fmt: skip
    (work / "params.yaml").write_text(yaml.safe_dump(fold_params, sort_keys=False))
    interim = work / Path(paths.BARS).parent
    interim.mkdir(parents=True)
    bars.to_parquet(work / paths.BARS, index=False)
    for cmd in fold_stages(windows):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", *cmd], cwd=work, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{label}: {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        name = " ".join([cmd[0].rsplit(".", 1)[-1], *cmd[1:]])
        print(f"  {label} {name} ({time.perf_counter() - t0:.0f} s) {last}", flush=True)


def run_fold(
    fold: Fold,
    bars: pd.DataFrame,
    minutes: np.ndarray,
    params: dict,
    windows: list[int],
    work: Path,
) -> None:
    """Run the fold's pipeline in ``work`` (its own params.yaml and bars)."""
    split = fold_split_params(params["split"], fold, minutes)
    fold_bars = bars.iloc[fold.first_bar : fold.stop_bar]
    run_pipeline(work, params, split, fold_bars, f"walk-forward fold {fold.index}", windows)


def check_no_leak(fold: Fold, work: Path, minutes: np.ndarray, test_ts: np.ndarray) -> None:
    """No bar of train or val, nor any model's training sample, reaches the test block."""
    split = Split.from_dict(read_json(work / paths.SPLIT))
    first_test_minute = minutes[fold.test_segment_start]
    for seg in split.segments:
        if seg.name == "test":
            continue
        last_minute = minutes[fold.first_bar + seg.stop - 1]
        if last_minute + split.purge > first_test_minute:
            raise RuntimeError(f"fold {fold.index}: {seg.name} reaches its test block")
    for meta_file in sorted((work / paths.CNN_MODELS).glob("w*.json")):
        last = clock.parse_ms(read_json(meta_file)["train_timestamps"][1], str(meta_file))
        if last >= test_ts.min():
            raise RuntimeError(f"fold {fold.index}: {meta_file.name} trained on its test block")


def check_cpcv_leak(s: CpcvSplit, work: Path, minutes: np.ndarray, window: int, horizon: int,
                    embargo: int) -> None:  # fmt: skip
    """Stop unless no train or val sample the split's models saw (read back from its
    image set) touches a test stretch or its embargo."""
    gs = GafSet(work / paths.gaf_dir(window))
    seen = {seg: positions(minutes, gs.timestamps(seg)) for seg in ("train", "val")}
    found = leaks(s, seen, window, horizon, embargo)
    if found:
        raise RuntimeError(f"cpcv split {s.index}: {found[0]}")


def run_cpcv(params: Params, bars: pd.DataFrame, minutes: np.ndarray) -> None:
    """Every CPCV split refitted from scratch; the paths reassembled and scored."""
    spec, horizon, windows = params.walkforward, params.label.horizon, list(params.gaf.windows)
    try:
        splits = make_splits(len(bars), spec.groups, spec.test_groups, max(windows), horizon,
                             spec.embargo)  # fmt: skip
    except ValueError as exc:
        raise InputError("params.yaml", f"walkforward: {exc}") from None
    tested = {}
    for s in splits:
        t0 = time.perf_counter()
        print(f"cpcv: split {s.index + 1}/{len(splits)}, test groups {s.test_groups}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"gafcnn-cpcv{s.index}.") as tmp:
            work = Path(tmp)
            split = split_params(params.raw["split"], s, minutes)
            run_pipeline(work, params.raw, split, bars, f"cpcv split {s.index}", windows)
            preds = predictions.read(work / paths.PREDICTIONS)
            check_cpcv_leak(s, work, minutes, max(windows), horizon, spec.embargo)
        preds = preds[preds["segment"] == "test"]
        at = positions(minutes, clock.ms_of(preds["timestamp"]))
        tested[s.index] = preds.assign(position=at)
        print(f"cpcv: split {s.index} done in {time.perf_counter() - t0:.0f} s", flush=True)
    oracle = pd.read_parquet(paths.ORACLE)
    forward = forward_returns(bars["close"].to_numpy(), minutes, horizon)
    cost = params.evaluate.costs.per_side_bps
    frames, per_path = [], []
    for j, pieces in enumerate(path_positions(splits, spec.groups, len(bars))):
        parts = [tested[i][(tested[i]["position"] >= a) & (tested[i]["position"] < b)]
                 for i, a, b in pieces]  # fmt: skip
        path = pd.concat(parts, ignore_index=True)[list(predictions.COLUMNS)]
        if len(oracle):
            path = pd.concat([path, oracle_rows(oracle, path)], ignore_index=True)
        per_path.append({"path": j, **path_figures(path, forward, minutes, horizon, cost,
                         params.evaluate.pbo_partitions, registry.ORACLE)})  # fmt: skip
        frames.append(path.assign(path=j))
    write_parquet(pd.concat(frames, ignore_index=True), paths.CPCV_PATHS)
    predictions.write([frames[0][list(predictions.COLUMNS)]], paths.WALKFORWARD_PREDICTIONS)
    write_json(paths.WALKFORWARD_FOLDS, {"splits": [s.to_dict() for s in splits]})
    pbos = [p["pbo"] for p in per_path if p["pbo"] is not None]
    write_json(paths.metrics("walkforward"), {
        "folds": 0, "scheme": "cpcv", "groups": spec.groups, "test_groups": spec.test_groups,
        "embargo": spec.embargo, "splits": len(splits), "paths": len(per_path),
        "no_leak": True,  # check_cpcv_leak stops the stage otherwise
        "accuracy": summary(per_path, "accuracy"),
        "mean_net_return": summary(per_path, "mean_net_return"),
        "pbo": {"mean": float(np.mean(pbos)), "min": min(pbos), "max": max(pbos)} if pbos else None,
        "per_path": per_path,
    })  # fmt: skip
    print(f"cpcv: {len(splits)} splits, {len(per_path)} paths; PBO over paths "
          f"{np.mean(pbos) if pbos else float('nan'):.2f}")  # fmt: skip


def oracle_rows(oracle: pd.DataFrame, path: pd.DataFrame) -> pd.DataFrame:
    """The synthetic market's P(up) at the path's decisions, as rows of the layout."""
    first = path[path["model"] == path["model"].iloc[0]]
    ts = clock.ms_of(first["timestamp"])
    return predictions.frame(ts, "test", first["label"], oracle_at(oracle, ts), registry.ORACLE)


def oracle_at(oracle: pd.DataFrame, stamps_ms: np.ndarray) -> np.ndarray:
    """The synthetic market's P(up) at decision timestamps (epoch ms)."""
    p = oracle.set_index(clock.ms_of(oracle["timestamp"]))["p_up"]
    return p.reindex(stamps_ms).to_numpy()


def main() -> None:
    params = read_params()
    spec = params.walkforward
    windows = list(params.gaf.windows)
    horizon = params.label.horizon
    if spec.scheme == "cpcv":
        bars = pd.read_parquet(paths.BARS)
        run_cpcv(params, bars, minute_index(bars))
        return
    if spec.folds == 0:
        predictions.write(
            [predictions.frame([], "test", [], [], "none")], paths.WALKFORWARD_PREDICTIONS
        )
        write_json(paths.WALKFORWARD_FOLDS, {"folds": []})
        write_json(paths.metrics("walkforward"), {"folds": 0, "scheme": spec.scheme})
        print("walkforward: off (walkforward.folds: 0); the decision rests on the single split")
        return
    bars = pd.read_parquet(paths.BARS)
    minutes = minute_index(bars)
    try:
        purge = split_purge(params.split, windows, horizon)
        folds = make_folds(len(bars), spec, windows, horizon, purge)
    except ValueError as exc:
        raise InputError("params.yaml", f"walkforward: {exc}") from None
    oracle = pd.read_parquet(paths.ORACLE)
    pooled, rows = [], []
    for fold in folds:
        t0 = time.perf_counter()
        row = fold.to_dict(minutes)
        print(f"walkforward: fold {fold.index + 1}/{len(folds)}: {row}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"gafcnn-wf{fold.index}.") as tmp:
            work = Path(tmp)
            run_fold(fold, bars, minutes, params.raw, windows, work)
            preds = predictions.read(work / paths.PREDICTIONS)
            preds = preds[preds["segment"] == "test"]
            pos = positions(minutes, clock.ms_of(preds["timestamp"]))
            preds = preds[(pos >= fold.test_start) & (pos < fold.test_stop)]
            test_ts = clock.ms_of(preds["timestamp"])
            check_no_leak(fold, work, minutes, test_ts)
        pooled.append(preds)
        any_model = preds[preds["model"] == preds["model"].iloc[0]]
        y = any_model["label"].to_numpy()
        row["samples"] = len(any_model)
        row["majority_rate"] = majority_rate(y)
        if len(oracle):
            p = oracle_at(oracle, clock.ms_of(any_model["timestamp"]))
            row["oracle_accuracy"] = accuracy(y, p)
        row["accuracy"] = {
            model: accuracy(g["label"].to_numpy(), g["p_up"].to_numpy())
            for model, g in preds.groupby("model", sort=True)
        }
        rows.append(row)
        print(f"walkforward: fold {fold.index} done in {time.perf_counter() - t0:.0f} s "
              f"({row['samples']} test samples)", flush=True)  # fmt: skip
    all_preds = pd.concat(pooled, ignore_index=True)
    predictions.write([all_preds], paths.WALKFORWARD_PREDICTIONS)
    write_json(paths.WALKFORWARD_FOLDS, {"folds": [f.to_dict(minutes) for f in folds]})
    write_json(
        paths.metrics("walkforward"),
        {
            "folds": len(folds),
            "scheme": spec.scheme,
            "test_samples": int(sum(r["samples"] for r in rows)),
            "no_leak": True,  # check_no_leak stops the stage otherwise
            "per_fold": rows,
        },
    )
    print(f"walkforward: {len(folds)} folds, {sum(r['samples'] for r in rows)} pooled test samples")


if __name__ == "__main__":
    run_stage(main)
