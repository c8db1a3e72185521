"""The original plan's grid (its Step 3.1) and the alternatives it lists, as queued DVC
experiments, and one report over all of them with selection bias corrected.

    python -m gafcnn.experiments.grid queue [--only plan2,mtf] [--weights weights/resnet18.pth]
    dvc queue start -j 1                 # or `make grid`, which does all three
    python -m gafcnn.experiments.grid report --out reports/grid.md

On several machines (one DVC worker each; DVC's queue has open races with more than
one worker, treeverse/dvc#10673), every machine clones the repository and runs its
share, then one coordinator collects them:

    python -m gafcnn.experiments.grid worker --only plan1,plan3      # `make worker EXPS=...`
    python -m gafcnn.experiments.grid collect --out reports/grid.md    # `make collect`

``worker`` pulls the baseline's outputs from the DVC remote (so an experiment
reruns only the stages its params change), runs each named config with
``dvc exp run --temp`` (a temporary copy: the workspace's params stay the
baseline's), and pushes each finished experiment with ``dvc exp push origin``
(git refs to origin, outputs to the DVC remote). ``collect`` pulls every
experiment of HEAD from origin (``dvc exp pull origin``) and writes the report.

``queue`` adds one experiment per config (``dvc exp run --queue -n <name> -S ...``),
each told the grid's trials (``evaluate.trials``, :func:`grid_trials`: the baseline
and every config of the grid, however many of them this launch runs) so its own
decision is corrected for them; ``worker`` and the report use the same count.
``epochs`` is raised to ``EPOCHS_PER_PATIENCE`` x ``patience`` so a patience of 30-50
is not silently capped. The ResNet-18 configs use ImageNet weights when the
local file exists and train from scratch otherwise (the report says which).

``report`` reads the baseline (HEAD) and every experiment of the grid from
``dvc exp show --json`` and their test predictions from the DVC cache, puts every
(experiment, model) pair on the shared test decisions, and writes one row per config
(params it changed, each main model's accuracy with its interval, the best backtest,
its decision) and the corrected figures across all pairs: the reality check and SPA
p-values of the best, the deflated Sharpe ratio of the best backtest, and the
probability of backtest overfitting (:mod:`gafcnn.evaluation.selection_bias`).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd

from gafcnn import paths, registry
from gafcnn.evaluation.grid_report import grid_report, report_markdown
from gafcnn.experiments import studied_market
from gafcnn.io import InputError, run_stage, write_bytes, write_json
from gafcnn.params import Params

WEIGHTS = "weights/resnet18.pth"
EPOCHS_PER_PATIENCE = 3
PLAN: dict[str, dict[str, Any]] = {
    "plan1": {"arch": "resnet18", "pretrained": WEIGHTS, "lr": 1e-4, "dropout": 0.5,
               "batch_size": 64, "patience": 10},
    "plan2": {"lr": 1e-5, "dropout": 0.5, "batch_size": 64, "patience": 30},
    "plan3": {"lr": 1e-5, "dropout": 0.3, "batch_size": 32, "patience": 30},
    "plan4": {"lr": 1e-6, "dropout": 0.2, "batch_size": 64, "patience": 50},
    "plan5": {"arch": "resnet18", "pretrained": WEIGHTS, "lr": 5e-5, "dropout": 0.3,
               "batch_size": 64, "patience": 30},
}  # fmt: skip
ALTERNATIVES: dict[str, dict[str, Any]] = {
    "mtf": {"gaf.channels": ["gasf", "gadf", "mtf"]},
    "recurrence": {"gaf.channels": ["gasf", "gadf", "rp"]},
    "conv1d": {"arch": "conv1d"},
    "resnet18_scratch": {"arch": "resnet18"},
}


def configs(weights: str | None = WEIGHTS) -> dict[str, dict[str, Any]]:
    """Every config of the grid with its ``-S`` overrides; ``pretrained`` dropped (from
    scratch) when the weights file does not exist."""
    out = {}
    for name, sets in {**PLAN, **ALTERNATIVES}.items():
        sets = dict(sets)
        if "pretrained" in sets:
            if weights and Path(weights).exists():
                sets["pretrained"] = weights
            else:
                sets["pretrained"] = None
        if "patience" in sets:
            sets["epochs"] = EPOCHS_PER_PATIENCE * int(sets["patience"])
        out[name] = sets
    return out


def grid_trials() -> int:
    """How many configurations a grid's winner is picked from: the baseline and every
    config of the grid. The one count of the selection-bias correction, whichever way
    the grid is launched (``queue``, ``worker``, ``--only`` a share of it): running a
    part of the grid does not make picking from the whole of it any less a search."""
    return 1 + len(configs(None))


def set_args(sets: dict[str, Any]) -> list[str]:
    """``-S key=value`` arguments (YAML values, so lists and null survive)."""
    args = []
    for key, value in sets.items():
        args += ["-S", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    return args


def _known(names: list[str], grid: dict[str, Any]) -> None:
    unknown = sorted(set(names) - set(grid))
    if unknown:
        raise InputError("grid", f"unknown configs {unknown}; known: {sorted(grid)}")


def queue(names: list[str], weights: str | None, dvc: str = "dvc") -> list[list[str]]:
    """Queue the named configs as DVC experiments; returns the commands run."""
    grid = configs(weights)
    _known(names, grid)
    cmds = []
    for name in names:
        cmd = [dvc, "exp", "run", "--queue", "-n", name,
               *set_args({**grid[name], "evaluate.trials": grid_trials()})]  # fmt: skip
        subprocess.run(cmd, check=True)
        cmds.append(cmd)
    return cmds


def _run(cmds: list[list[str]]) -> None:
    """Each command, printed then run; the first that fails stops the rest."""
    for cmd in cmds:
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)


def worker(
    names: list[str],
    weights: str | None,
    remote: str = "origin",
    push: bool = True,
    dvc: str = "dvc",
) -> list[list[str]]:
    """One machine's share of the grid: pull the baseline's outputs, run each config in
    a temporary directory, push it to the git remote ``remote`` (and its outputs to
    the DVC remote), each told the whole grid's trials (:func:`grid_trials`), not
    this share's. Returns the commands run; stops at the first that fails."""
    grid = configs(weights)
    _known(names, grid)
    cmds = [[dvc, "pull", "--allow-missing"]]
    for name in names:
        sets = {**grid[name], "evaluate.trials": grid_trials()}
        cmds.append([dvc, "exp", "run", "--temp", "-n", name, *set_args(sets)])
        if push:
            cmds.append([dvc, "exp", "push", remote, name])
    _run(cmds)
    return cmds


def collect(remote: str = "origin", dvc: str = "dvc") -> None:
    """Pull every experiment of HEAD that the workers pushed to ``remote``, and the
    baseline's bars (the report's backtests read them)."""
    _run([[dvc, "exp", "pull", remote], [dvc, "pull", "ingest"]])


def wait_for_queue(dvc: str = "dvc", poll_s: float = 30.0) -> dict[str, str]:
    """Block until the experiment queue has nothing queued or running; returns each
    task's final status."""
    while True:
        out = subprocess.run([dvc, "queue", "status"], capture_output=True, text=True).stdout
        status = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[-1] in ("Queued", "Running", "Success", "Failed"):
                status[parts[1]] = parts[-1]
        if not any(v in ("Queued", "Running") for v in status.values()):
            return status
        time.sleep(poll_s)


# ---------------------------------------------------------------- report


def experiments(names: list[str], dvc: str = "dvc") -> tuple[dict, list[dict], dict[str, str]]:
    """The baseline's params; per finished named experiment, its name, revision, params
    (``dvc exp show --json``) and metrics (:func:`read_metrics`); and the named ones
    left out, with why (queued, running, failed, not run). A queued or running
    experiment is listed with the baseline's metrics, so it must not be read."""
    proc = subprocess.run([dvc, "exp", "show", "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InputError("dvc exp show", proc.stderr.strip().splitlines()[-1])
    rows = json.loads(proc.stdout)
    base = next(r for r in rows if r["rev"] != "workspace")
    base_params = base["data"]["params"]["params.yaml"]["data"]
    found = [  # the baseline is one of the configs tried
        {"name": "baseline", "rev": base["rev"], "params": base_params,
         "metrics": read_metrics(base["rev"])}
    ]  # fmt: skip
    missing = {n: "not run" for n in names}
    for exp in base.get("experiments") or []:
        rev = (exp.get("revs") or [{}])[0]
        data = rev.get("data") or {}
        name = rev.get("name")
        if name not in missing:  # not asked for, or already found
            continue
        state = (exp.get("executor") or {}).get("state") or "success"  # None: run in place
        if rev.get("error") or not data.get("metrics") or state != "success":
            missing[name] = "failed" if rev.get("error") else state
            continue
        del missing[name]
        found.append(
            {
                "name": name,
                "rev": rev["rev"],
                "params": data["params"]["params.yaml"]["data"],
                "metrics": read_metrics(rev["rev"]),
            }
        )
    order = ["baseline", *names]
    return base_params, sorted(found, key=lambda e: order.index(e["name"])), missing


def read_metrics(rev: str) -> dict[str, Any]:
    """The evaluate and decision metrics of an experiment, whole (``dvc exp show`` keeps
    only their numbers, not the intervals)."""
    import dvc.api

    fs, market = dvc.api.DVCFileSystem(".", rev=rev), studied_market().as_posix()
    names = [paths.metrics("evaluate").as_posix(), paths.metrics("decision").as_posix()]
    found = fs.find(f"{market}/{paths.METRICS.as_posix()}")
    names += sorted(f.removeprefix(f"{market}/") for f in found if "/train_w" in f)
    return {f: json.loads(fs.read_text(f"{market}/{f}")) for f in names}


def read_predictions(rev: str, ensemble_method: str) -> pd.DataFrame:
    """An experiment's test predictions (every model), from the DVC cache."""
    import dvc.api

    fs = dvc.api.DVCFileSystem(".", rev=rev)
    parts = []
    for f in sorted(fs.find((studied_market() / paths.PREDICTIONS).as_posix())):
        if f.endswith(".parquet"):
            parts.append(pd.read_parquet(io.BytesIO(fs.read_bytes(f))))
    preds = pd.concat(parts, ignore_index=True)
    preds = preds[preds["segment"] == "test"]
    ens = registry.ENSEMBLE.name
    alias = preds[preds["model"] == registry.configured_ensemble(ensemble_method)].assign(model=ens)
    return pd.concat([preds, alias], ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queue", help="queue the grid's experiments")
    q.add_argument("--only", default="", help="comma-separated config names (default: all)")
    q.add_argument("--weights", default=WEIGHTS)
    r = sub.add_parser("report", help="write the grid report from the finished experiments")
    r.add_argument("--only", default="")
    r.add_argument("--out", default=str(paths.GRID_REPORT))
    g = sub.add_parser("run", help="queue, run (`dvc queue start -j`) and report")
    g.add_argument("--only", default="")
    g.add_argument("--weights", default=WEIGHTS)
    g.add_argument("-j", "--jobs", type=int, default=1)
    g.add_argument("--out", default=str(paths.GRID_REPORT))
    w = sub.add_parser("worker", help="run configs here and push them (one machine's share)")
    w.add_argument("--only", required=True, help="config names, comma- or space-separated")
    w.add_argument("--weights", default=WEIGHTS)
    w.add_argument("--remote", default="origin", help="git remote for `dvc exp push`")
    w.add_argument("--no-push", action="store_true")
    c = sub.add_parser("collect", help="pull every pushed experiment, then report")
    c.add_argument("--only", default="")
    c.add_argument("--remote", default="origin")
    c.add_argument("--out", default=str(paths.GRID_REPORT))
    a = ap.parse_args()
    names = [n for n in a.only.replace(" ", ",").split(",") if n] or list(configs(None))
    if a.cmd == "worker":
        worker(names, a.weights, a.remote, not a.no_push)
        return
    if a.cmd == "collect":
        collect(a.remote)
    if a.cmd in ("queue", "run"):
        for cmd in queue(names, a.weights):
            print(" ".join(cmd))
        if a.cmd == "queue":
            return
        subprocess.run(["dvc", "queue", "start", "-j", str(a.jobs)], check=True)
        status = wait_for_queue()
        print("grid: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items())))
    base, exps, missing = experiments(names)
    if len(exps) < 2:
        raise InputError("dvc exp show", "found no finished grid experiment beside the baseline")
    preds = {
        e["name"]: read_predictions(e["rev"], Params.from_dict(e["params"]).ensemble.method)
        for e in exps
    }
    from gafcnn.data.bars import load_bars

    bars, minutes = load_bars(path=studied_market() / paths.BARS)
    from gafcnn.experiments.review import load_noise

    report = grid_report(exps, base, preds, bars, minutes, grid_trials(), missing)
    text = report_markdown(report, load_noise(base))
    out = Path(a.out)
    write_bytes(out, text.encode())
    write_json(out.with_suffix(".json"), report)
    print(text)


if __name__ == "__main__":
    run_stage(main)
