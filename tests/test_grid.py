"""The original plan's grid as queued experiments, and the report across them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pipeline import MARKET, metrics, run, scratch_project

from gafcnn.clock import MINUTE_MS
from gafcnn.data.synthetic import SyntheticConfig, generate
from gafcnn.evaluation.grid_report import changed, grid_report, report_markdown
from gafcnn.experiments.grid import EPOCHS_PER_PATIENCE, PLAN, configs, experiments, set_args
from gafcnn.io import InputError
from gafcnn.models import predictions


def test_configs_are_the_original_plans_five_and_the_alternatives(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = configs()
    assert list(grid)[:5] == ["plan1", "plan2", "plan3", "plan4", "plan5"]
    assert {"mtf", "recurrence", "conv1d", "resnet18_scratch"} <= set(grid)
    for name, sets in PLAN.items():  # patience is never capped by the default epochs
        assert grid[name]["epochs"] == EPOCHS_PER_PATIENCE * sets["patience"] > sets["patience"]
    assert grid["plan1"]["pretrained"] is None  # no local weights: from scratch
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "resnet18.pth").write_bytes(b"x")
    assert configs()["plan5"]["pretrained"] == "weights/resnet18.pth"


def test_set_args_keep_lists_and_null():
    args = set_args({"gaf.channels": ["gasf", "mtf"], "pretrained": None, "lr": 1e-05})
    assert args == ["-S", 'gaf.channels=["gasf", "mtf"]', "-S", "pretrained=null",
                    "-S", "lr=1e-05"]  # fmt: skip


def test_changed_params_leave_out_the_grid_size():
    base = {"lr": 0.001, "gaf": {"channels": ["gasf"]}, "evaluate": {"trials": 1}}
    exp = {"lr": 1e-5, "gaf": {"channels": ["gasf"]}, "evaluate": {"trials": 9}}
    assert changed(exp, base) == {"lr": 1e-5}


def test_experiments_read_only_finished_runs(tmp_path, monkeypatch):
    """A queued or running experiment is listed by ``dvc exp show`` with the baseline's
    metrics; only finished ones are read, the rest are named with their state."""

    def exp(name, state, error=None):
        data = {"params": {"params.yaml": {"data": {"lr": 0.1}}}, "metrics": {"m": {}}}
        rev = {"rev": f"rev-{name}", "name": name, "error": error, "data": data}
        return {"name": name, "executor": state and {"state": state}, "revs": [rev]}

    shown = [
        {"rev": "workspace", "data": {}},
        {"rev": "base", "data": {"params": {"params.yaml": {"data": {"lr": 0.001}}}},
         "experiments": [exp("done", "success"), exp("here", None), exp("busy", "running"),
                         exp("later", "queued"), exp("broke", "failed", {"msg": "x"}),
                         exp("other", "success")]},
    ]  # fmt: skip
    (tmp_path / "shown.json").write_text(json.dumps(shown))
    fake = tmp_path / "dvc"
    fake.write_text(f"#!/bin/sh\ncat {tmp_path / 'shown.json'}\n")
    fake.chmod(0o755)
    monkeypatch.setattr("gafcnn.experiments.grid.read_metrics", lambda rev: {"rev": rev})
    names = ["done", "here", "busy", "later", "broke", "never"]
    base, found, missing = experiments(names, dvc=str(fake))
    assert base == {"lr": 0.001}
    assert [e["name"] for e in found] == ["baseline", "done", "here"]
    assert found[1]["metrics"] == {"rev": "rev-done"}
    assert missing == {"busy": "running", "later": "queued", "broke": "failed",
                       "never": "not run"}  # fmt: skip


def _fake_grid(n_exps: int, edge_exp: int | None):
    """Experiments whose models are coin flips, except one model of ``edge_exp`` that
    sees the label 70% of the time."""
    market = generate(SyntheticConfig(n_bars=6000, signal=0.0, seed=3))
    bars = {k: market.bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume")}
    minutes = market.minutes
    ts = minutes[100:5900:2] * MINUTE_MS
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, len(ts))
    params = {"gaf": {"windows": [15], "stride": 2}, "label": {"horizon": 5},
              "evaluate": {"bootstrap_reps": 299, "costs": {"fee_bps": 5.0}, "pbo_partitions": 8},
              "seed": 0, "ensemble": {"method": "weighted"}, "epochs": 9,
              "patience": 3}  # fmt: skip
    exps, preds = [], {}
    for k in range(n_exps):
        frames, table, bt = [], {}, {}
        for model in ("majority", "cnn_w15", "xgb_indicators", "hybrid", "ensemble_weighted"):
            p = rng.uniform(0, 1, len(ts))
            if model == "majority":
                p = np.full(len(ts), 0.6)
            if k == edge_exp and model == "hybrid":
                p = np.where(rng.uniform(size=len(ts)) < 0.7, y, 1 - y) * 0.2 + 0.4
            frames.append(predictions.frame(ts, "test", y, p, model))
            acc = float(np.mean((p >= 0.5) == y))
            table[model] = {"accuracy": acc, "accuracy_ci": [acc - 0.02, acc + 0.02],
                            "majority_rate": 0.5}  # fmt: skip
            bt[model] = {"mean_net_return": -0.001}
        alias = frames[-1].assign(model="ensemble")  # as read_predictions adds it
        frames.append(alias)
        table["ensemble"], bt["ensemble"] = table["ensemble_weighted"], bt["ensemble_weighted"]
        found = {"metrics/evaluate.json": {"table": table, "backtest": bt},
                 "metrics/decision.json": {"decision": "deploy nothing"},
                 # e0 still improving at the epoch limit; the others stopped by patience
                 "metrics/train_w15.json": {"epochs_run": 9 if k == 0 else 5,
                                            "best_epoch": 9 if k == 0 else 2}}  # fmt: skip
        exps.append({"name": f"e{k}", "rev": "x", "params": {**params, "lr": 10.0**-k},
                     "metrics": found})  # fmt: skip
        preds[f"e{k}"] = pd.concat(frames, ignore_index=True)
    return exps, params, preds, bars, minutes


def test_grid_report_over_noise_finds_nothing_and_over_an_edge_finds_it():
    exps, base, preds, bars, minutes = _fake_grid(6, edge_exp=None)
    noise = grid_report(exps, base, preds, bars, minutes, trials=10)
    assert len(noise["experiments"]) == 6
    # the alias is not a pair; the majority model, the same in every experiment, is one
    assert noise["pairs"] == 6 * 4 + 1 and noise["repeated_pairs"] == 5
    assert noise["selection"]["reality_check"]["p_value"] > 0.05
    assert noise["experiments"][1]["changed"] == {"lr": 0.1}
    md = report_markdown(noise)
    assert len(re.findall(r"\n\| e\d ", md)) == 2 * 6 and "reality-check p-value" in md
    assert [r["training"]["15"]["stopped"] for r in noise["experiments"][:2]] == ["cap", "patience"]
    assert "| e0 | 9, 3 | 9 (9, cap) |" in md and "| e1 | 9, 3 | 5 (2) |" in md
    exps, base, preds, bars, minutes = _fake_grid(6, edge_exp=4)
    edge = grid_report(exps, base, preds, bars, minutes, 10, {"e9": "running"})
    assert "Not in this report (no finished experiment): e9 (running)." in report_markdown(edge)
    assert "Not in this report" not in md
    seeds = {
        "hybrid": {"accuracy": {"sd": 0.02, "n": 5}},
        "cnn_w15": {"accuracy": {"sd": 0.1, "n": 5}},
    }
    marked = report_markdown(edge, seeds)  # beside the seed noise, against e0 (the first row)
    assert "| *seed sd* | the baseline config over 5 seeds | *0.1000* |" in marked
    e4 = next(line for line in marked.splitlines() if line.startswith("| e4 | "))
    assert e4.count("**> 2 sd**") == 1 and e4.count("(< 2 sd)") == 1  # hybrid; cnn_w15
    assert edge["selection"]["reality_check"]["best"] == "e4/hybrid"
    assert edge["selection"]["reality_check"]["p_value"] < 0.01


@pytest.mark.slow
def test_make_grid_end_to_end(tmp_path):
    """Two configs queued, run by the DVC queue and reported, on a small market."""
    root = scratch_project(
        tmp_path,
        **{"data.synthetic.n_bars": 8000, "gaf.windows": [15, 30], "epochs": 2, "width": 8,
           "patterns.synthetic.n_bars": 60000, "patterns.per_class": 200,
           "patterns.real_per_class": 100, "patterns.epochs": 1, "patterns.width": 8},
    )  # fmt: skip
    run(["dvc", "repro"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "baseline"], root)
    proc = run(["python", "-m", "gafcnn.experiments.grid", "run", "--only", "conv1d,mtf"], root)
    print(proc.stdout[-3000:])
    report = json.loads((root / MARKET / "reports" / "grid.json").read_text())
    assert [r["experiment"] for r in report["experiments"]] == ["baseline", "conv1d", "mtf"]
    assert report["experiments"][1]["changed"] == {"arch": "conv1d"}
    every = report["pairs"] + report["repeated_pairs"]  # every model of each experiment
    assert every >= 3 * 12 and every % 3 == 0
    assert report["repeated_pairs"] >= 2 * 3  # xgb_indicators, majority, return baselines: once
    assert 0 < report["selection"]["reality_check"]["p_value"] <= 1
    assert "| conv1d | arch=conv1d |" in (root / MARKET / "reports" / "grid.md").read_text()
    assert metrics(root, "decision")["trials"] == 1  # the workspace is the baseline again


def test_worker_runs_its_share_in_temp_dirs_and_pushes_each(tmp_path):
    """`gafcnn.experiments.grid worker`: baseline pulled, each config run with --temp (the
    workspace stays the baseline) and told the whole grid's size, each pushed; it
    stops at the first failure."""
    log = tmp_path / "calls"
    fake = tmp_path / "dvc"
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\n'
        'case "$*" in *"-n mtf"*) exit 3;; esac\n'
    )  # fmt: skip
    fake.chmod(0o755)
    from gafcnn.experiments.grid import grid_trials, worker

    worker(["conv1d", "recurrence"], None, remote="up", dvc=str(fake))
    calls = log.read_text().splitlines()
    assert calls[0] == "pull --allow-missing"
    assert calls[1].startswith("exp run --temp -n conv1d -S arch=conv1d")
    assert f"-S evaluate.trials={grid_trials()}" in calls[1]
    assert calls[2] == "exp push up conv1d" and calls[4] == "exp push up recurrence"
    log.unlink()
    with pytest.raises(subprocess.CalledProcessError):
        worker(["mtf", "conv1d"], None, dvc=str(fake))
    assert not any("conv1d" in c for c in log.read_text().splitlines())
    with pytest.raises(InputError, match="unknown configs"):
        worker(["nope"], None, dvc=str(fake))


def test_grid_workflow_runs_the_tested_commands():
    """The cloud workflow's steps are the make targets the two-worker test exercises."""
    root = Path(__file__).resolve().parents[1]
    flow = yaml.safe_load((root / ".github" / "workflows" / "grid.yml").read_text())
    steps = lambda job: " ".join(s.get("run", "") for s in flow["jobs"][job]["steps"])  # noqa: E731
    assert 'make worker EXPS="${{ matrix.exp }}"' in steps("worker")
    assert "make collect" in steps("collect") and flow["jobs"]["collect"]["needs"] == "worker"
    make = (root / "Makefile").read_text()
    assert (
        "-m gafcnn.experiments.grid worker --only" in make
        and "-m gafcnn.experiments.grid collect" in make
    )


def test_trials_are_the_whole_grid_however_it_is_launched(tmp_path):
    """The queue with --only a share, the queue of all, a worker's share and the report
    all count the same trials: the baseline and every config of the grid."""
    from gafcnn.experiments.grid import grid_trials, queue, worker

    log, fake = tmp_path / "calls", tmp_path / "dvc"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    every = list(configs(None))
    assert grid_trials() == 1 + len(every) == 10
    queue(["conv1d"], None, dvc=str(fake))
    queue(every, None, dvc=str(fake))
    worker(["mtf", "plan2"], None, push=False, dvc=str(fake))
    runs = [c for c in log.read_text().splitlines() if c.startswith("exp run")]
    assert len(runs) == 1 + len(every) + 2
    counts = {re.search(r"-S evaluate\.trials=(\d+)", c).group(1) for c in runs}
    assert counts == {"10"}
    exps, base, preds, bars, minutes = _fake_grid(3, edge_exp=None)
    report = grid_report(exps, base, preds, bars, minutes, grid_trials())
    assert report["selection"]["trials"] == 10 and report["selection"]["experiments_found"] == 3
    assert "picked from 10 configurations" in report_markdown(report)
