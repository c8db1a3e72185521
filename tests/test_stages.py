"""Stages end to end: DVC runs them, bad input writes nothing, params steer them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import REAL_CSV, kraken_rows
from pipeline import MARKET, dvc, metrics, scratch_project


def test_repro_runs_ingest_and_split(project):
    ing = metrics(project, "ingest")
    assert ing["rows"] == 8000 and ing["source"] == "synthetic"
    assert ing["gaps"] == {"count": 0, "minutes": 0}
    assert 0.55 < ing["oracle_accuracy"] < 0.7
    sp = metrics(project, "split")
    assert sp["purge_bars"] == 65 == sp["purge_required"]
    assert sp["train"]["bars"] + sp["val"]["bars"] + sp["test"]["bars"] + 130 == 8000
    assert sp["train"]["last_timestamp"] < sp["val"]["first_timestamp"]
    status = dvc(project, "status").stdout
    assert "up to date" in status


def test_metrics_show_lists_stage_metrics(project):
    out = dvc(project, "metrics", "show").stdout
    assert "metrics/ingest.json" in out and "metrics/split.json" in out


BAD_FILES = {
    "high below": (
        "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,10,9,8,10,1\n",
        "bad.csv:2: high < max(open, close)",
    ),
    "zero price": (
        "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,0,9,0,8,1\n",
        "bad.csv:2: non-positive price",
    ),
    "unknown headerless layout": (
        "1704067200,10,11,9,10,1,5,6\n",
        "bad.csv: no header; first row looks like data with 8 columns",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_fails_cleanly_and_writes_nothing(tmp_path, case):
    text, message = BAD_FILES[case]
    root = scratch_project(tmp_path, **{"data.source": "csv", "data.path": "data/external/bad.csv"})
    bad = root / "data" / "external" / "bad.csv"
    bad.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "gafcnn.stages.ingest", "--symbol", "BTCUSDT"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert "Traceback" not in proc.stderr
    assert not (root / MARKET / "data" / "interim").exists()
    assert not (root / MARKET / "metrics").exists()


def test_headerless_file_ingests_with_declared_columns(tmp_path):
    rows = "".join(
        f"{1704067200 + 60 * k},{9.9 + k},{10.5 + k},{9.5 + k},{10 + k},1.5,42,{10 + k}\n"
        for k in range(5)
    )
    root = scratch_project(
        tmp_path,
        **{"data.source": "csv", "data.path": "data/external/other.csv",
           "data.columns": ["time", "open", "high", "low", "close", "volume", "trades", "vwap"]},
    )  # fmt: skip
    (root / "data" / "external" / "other.csv").write_text(rows)
    proc = subprocess.run(
        [sys.executable, "-m", "gafcnn.stages.ingest", "--symbol", "BTCUSDT"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    ing = metrics(root, "ingest")
    assert ing["rows"] == 5 and ing["files"][0]["layout"] == "declared"


real_file = pytest.mark.skipif(
    not REAL_CSV.exists(), reason=f"real data file not present at {REAL_CSV}"
)


def _real_experiment(project, tmp_path, *targets: str):
    """`dvc exp run` on the shared real file, in a copy: a workspace experiment leaves
    its params and outputs behind, and the session's project must stay synthetic."""
    copy = tmp_path / "real"
    shutil.copytree(project, copy, symlinks=True)
    dvc(copy, "exp", "run", "-S", "data.source=csv", "-S", f"data.path={REAL_CSV}", *targets)
    return copy


@real_file
@pytest.mark.slow  # 12 s; `make test-slow` also runs the whole pipeline on the real file
def test_exp_run_on_real_csv(project, tmp_path):
    copy = _real_experiment(project, tmp_path, "split")
    ing = metrics(copy, "ingest")
    assert ing["rows"] == 30_240
    assert ing["gaps"] == {"count": 0, "minutes": 0}
    assert ing["flat_bars"] == 1616
    assert "oracle_accuracy" not in ing
    sp = metrics(copy, "split")
    assert sp["train"]["bars"] + sp["val"]["bars"] + sp["test"]["bars"] + 2 * 65 == 30_240
    assert sp["train"]["first_timestamp"].startswith("2023-03-01T00:00")
    assert metrics(project, "ingest")["source"] == "synthetic"  # the shared one untouched


@pytest.mark.slow
@real_file
def test_whole_pipeline_on_real_csv(project, tmp_path):
    """Every stage on the real month: one test segment for every model, no leak found."""
    copy = _real_experiment(project, tmp_path)
    assert json.loads(dvc(copy, "status", "--json").stdout) == {}
    table = metrics(copy, "evaluate")["table"]
    assert {"cnn_w15", "cnn_w30", "cnn_w60", "ensemble", "xgb_indicators", "hybrid"} <= set(table)
    assert len({row["n"] for row in table.values()}) == 1
    decision = metrics(copy, "decision")
    assert decision["checklist"]["no_leakage"] and decision["checklist"]["tested_out_of_sample"]


def _gap_heavy_kraken(path, minutes: int = 10_000, keep: float = 0.45) -> tuple[int, int]:
    """A gzipped Kraken OHLCVT file of a synthetic market where most minutes have no
    trade (no bar), as on a thin pair; returns the bars written and the minutes spanned."""
    import gzip

    import numpy as np
    import pandas as pd

    from gafcnn.data.synthetic import SyntheticConfig, generate

    bars = generate(SyntheticConfig(n_bars=minutes, seed=3)).bars
    kept = bars[np.random.default_rng(0).random(len(bars)) < keep].reset_index(drop=True)
    path.write_bytes(gzip.compress(kraken_rows(kept).encode(), mtime=0))
    span = (kept["timestamp"].iloc[-1] - kept["timestamp"].iloc[0]) // pd.Timedelta(minutes=1)
    return len(kept), int(span) + 1


@pytest.mark.slow  # a whole run (about 60 s); the stop alone: test_input_errors
def test_gap_heavy_file_stops_before_any_model_and_runs_with_fill_gaps(tmp_path):
    root = scratch_project(
        tmp_path,
        **{"data.source": "csv", "data.path": "data/external", "gaf.windows": [15, 30],
           "epochs": 2, "patience": 1, "width": 4, "baseline.subset": 2000,
           "audit.subset": 1000, "evaluate.bootstrap_reps": 100},
    )  # fmt: skip
    n, span = _gap_heavy_kraken(root / "data" / "external" / "XBTUSDC_1.csv.gz")
    proc = dvc(root, "repro", "evaluate", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, proc.stderr
    for line, segment in zip(errors, ("train", "val", "test"), strict=True):
        assert line.startswith(f"error: data/external: split segment {segment} has 0 samples")
        assert "needs 30 consecutive bars (max of gaf.windows)" in line
        assert "set data.fill_gaps: true, use smaller gaf.windows" in line
    assert "Traceback" not in proc.stderr + proc.stdout
    ing = metrics(root, "ingest")
    assert ing["rows"] == n and ing["files"][0]["layout"] == "kraken-ohlcvt"
    assert ing["filled_minutes"] == 0
    assert not (root / MARKET / "data" / "interim" / "split.json").exists()
    assert not (root / MARKET / "metrics" / "split.json").exists()
    assert not (root / MARKET / "data" / "gaf").exists()

    dvc(root, "exp", "run", "-S", "data.fill_gaps=true", "evaluate")
    ing = metrics(root, "ingest")
    assert ing["rows"] == span and ing["filled_minutes"] == span - n
    assert ing["filled_share"] > 0.5 and ing["gaps"]["minutes"] == span - n
    split = metrics(root, "split")
    assert all(split[s]["filled_share"] > 0.5 for s in ("train", "val", "test"))
    assert all(split[s]["samples"] >= 100 for s in ("train", "val", "test"))
    check = metrics(root, "audit")["checks"]["filled_bars"]
    assert check["status"] == "warn" and check["severity"] == "warn"
    assert check["value"] > 0.5 and check["threshold"] == 0.05
    assert check["samples_touching_filled"]["train"] > 0.99
    decision = metrics(root, "decision")
    assert decision["audit_warnings"] == ["filled_bars"]
    assert any("audit check 'filled_bars'" in r for r in decision["reasons"])
    report = (root / MARKET / "reports" / "report.md").read_text()
    assert "warnings: filled_bars" in report and "minutes filled by data.fill_gaps" in report


@pytest.mark.slow  # two folds of the whole pipeline (about 100 s); fold stages: test_resampling
def test_walkforward_end_to_end(tmp_path):
    """Two folds on a small market: every model refitted per fold, every decision time
    of the later half tested once, and the decision says it rests on walk-forward."""
    import numpy as np
    import pandas as pd

    root = scratch_project(
        tmp_path,
        **{"data.synthetic.n_bars": 7000, "gaf.windows": [15, 30], "epochs": 1, "patience": 1,
           "width": 8, "walkforward.folds": 2, "evaluate.bootstrap_reps": 200},
    )  # fmt: skip
    dvc(root, "repro", "evaluate")
    wf, ev, dec = metrics(root, "walkforward"), metrics(root, "evaluate"), metrics(root, "decision")
    assert wf["folds"] == 2 and len(wf["splits"]) == 2 and len(wf["paths"]) == 1
    checked = [f["leak_check"] for f in wf["splits"]]  # what each fold's leak check read
    assert all(c["train"] > 0 and c["val"] > 0 for c in checked)
    assert wf["leak_checked_samples"] == sum(c["train"] + c["val"] for c in checked)
    assert dec["evaluation"] == "walk-forward" and ev["evaluation"]["method"] == "walk-forward"
    assert dec["reasons"][0].startswith("evaluated walk-forward: 2 folds (expanding)")
    assert "single_split" in ev and set(ev["single_split"]["table"]) == set(ev["table"])
    pooled = pd.read_parquet(root / MARKET / "data" / "walkforward" / "predictions.parquet")
    assert (pooled["segment"] == "test").all()
    stamps = {m: set(g["timestamp"]) for m, g in pooled.groupby("model")}
    assert {"cnn_w15", "cnn_w30", "xgb_indicators", "hybrid", "ensemble_weighted"} <= set(stamps)
    assert len({frozenset(s) for s in stamps.values()}) == 1  # same decision times, once each
    assert not pooled.duplicated(["model", "timestamp"]).any()
    folds = wf["splits"]
    ts = np.sort(pooled["timestamp"].unique())
    first, last = (
        pd.Timestamp(folds[0]["decisions_times"][0][0]),
        pd.Timestamp(folds[1]["decisions_times"][-1][1]),
    )
    assert ts[0] >= first and ts[-1] <= last
    assert sum(f["samples"] for f in folds) == len(ts) == ev["test_samples"]
    md = (root / MARKET / "reports" / "report.md").read_text()
    assert "## Walk-forward folds" in md and "forest.png" in md


@pytest.mark.slow  # six splits of the whole pipeline (several minutes); geometry: test_resampling
def test_cpcv_end_to_end(tmp_path):
    """CPCV with 4 groups, 2 tested per split: six refits, three paths that each score
    every decision once, purge and embargo checked on what each split's models saw, the
    report's path section; the decision still rests on the single split."""
    import pandas as pd

    root = scratch_project(
        tmp_path,
        **{"data.synthetic.n_bars": 7000, "gaf.windows": [15, 30], "epochs": 1, "patience": 1,
           "width": 8, "walkforward.scheme": "cpcv", "walkforward.groups": 4,
           "walkforward.test_groups": 2, "evaluate.bootstrap_reps": 200},
    )  # fmt: skip
    dvc(root, "repro", "evaluate")
    wf, dec = metrics(root, "walkforward"), metrics(root, "decision")
    assert (wf["scheme"], len(wf["splits"]), len(wf["paths"])) == ("cpcv", 6, 3)
    assert all(f["leak_check"]["train"] > 0 for f in wf["splits"])
    assert dec["evaluation"] == "single split"
    paths = pd.read_parquet(root / MARKET / "data" / "walkforward" / "paths.parquet")
    assert sorted(paths["path"].unique()) == [0, 1, 2]
    per_path = paths.groupby(["path", "model"])["timestamp"]
    assert not paths.duplicated(["path", "model", "timestamp"]).any()
    assert len({frozenset(s) for s in per_path.apply(set)}) == 1  # same decisions everywhere
    assert {"cnn_w15", "minirocket_w30", "xgb_raw_w15", "hybrid", "oracle"} <= set(paths["model"])
    assert 0 <= wf["pbo"]["min"] <= wf["pbo"]["mean"] <= wf["pbo"]["max"] <= 1
    assert wf["accuracy"]["hybrid"]["min"] <= wf["accuracy"]["hybrid"]["max"]
    md = (root / MARKET / "reports" / "report.md").read_text()
    assert "## Combinatorial purged cross-validation" in md and "figures/cpcv.png" in md
