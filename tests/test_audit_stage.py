"""`audit` and `baseline` stages inside the DVC pipeline."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
from pipeline import MARKET, env, metrics, set_params


def test_audit_passes_on_default(project):
    audit = metrics(project, "audit")
    assert audit["passed"] and audit["fail"] == 0
    assert set(audit["checks"]) >= {
        "label_balance",
        "finite",
        "image_range",
        "chronology",
        "label_definition",
        "dead_zone_fit",
        "alignment",
        "shuffled_label_control",
        "leakage_ceiling",
        "overlap",
    }
    for check in audit["checks"].values():
        assert check["status"] in ("pass", "warn")


def test_baseline_reports_same_metrics_for_every_model(project):
    base = metrics(project, "baseline")
    keys = None
    for w in ("w15", "w30", "w60"):
        for model in ("majority", "logreg_images", "logreg_returns"):
            for split in ("val", "test"):
                rep = base[w][model][split]
                keys = keys or set(rep)
                assert set(rep) == keys
                lo, hi = rep["accuracy_ci"]
                assert lo <= rep["accuracy"] <= hi
        assert base[w]["majority"]["test"]["roc_auc"] == 0.5
        # every model is scored on the same test samples
        assert len({base[w][m]["test"]["n"] for m in ("majority", "logreg_images")}) == 1
    assert base["signal_detected"] is True


def test_audit_stage_stops_on_a_defect(project, tmp_path):
    work = tmp_path / "proj"
    shutil.copytree(project, work, ignore=shutil.ignore_patterns(".dvc", ".git"))
    off = {f"audit.severity.{c}": "off" for c in ("shuffled_label_control", "leakage_ceiling")}
    set_params(work, **off)  # the classifiers' checks (their own tests) off: a third the time
    ts = work / MARKET / "data" / "gaf" / "w60" / "val_timestamps.npy"
    t = np.load(ts)
    np.save(ts, t[::-1].copy())  # val samples out of order
    proc = subprocess.run(
        [sys.executable, "-m", "gafcnn.stages.audit"],
        cwd=work / MARKET,
        env=env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "audit check 'chronology' failed" in proc.stderr
    assert "audit check 'alignment' failed" in proc.stderr
    audit = metrics(work, "audit")
    assert not audit["passed"] and audit["checks"]["alignment"]["status"] == "fail"
