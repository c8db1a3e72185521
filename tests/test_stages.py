"""Stages end to end: DVC runs them, bad input writes nothing, params steer them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REAL_CSV
from pipeline import dvc, metrics, scratch_project


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
        [sys.executable, "-m", "gafcnn.stages.ingest"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert "Traceback" not in proc.stderr
    assert not (root / "data" / "interim").exists()
    assert not (root / "metrics").exists()


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
        [sys.executable, "-m", "gafcnn.stages.ingest"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    ing = metrics(root, "ingest")
    assert ing["rows"] == 5 and ing["files"][0]["layout"] == "declared"


@pytest.mark.skipif(not REAL_CSV.exists(), reason=f"real data file not present at {REAL_CSV}")
def test_exp_run_on_real_csv(project):
    dvc(project, "exp", "run", "-S", "data.source=csv", "-S", f"data.path={REAL_CSV}")
    ing = metrics(project, "ingest")
    assert ing["rows"] == 30_240
    assert ing["gaps"] == {"count": 0, "minutes": 0}
    assert ing["flat_bars"] == 1616
    assert "oracle_accuracy" not in ing
