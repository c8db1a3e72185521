"""Reruns give the same bytes, and `make review` lists exactly what a change changed."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from pipeline import MARKET, dvc, metrics, run, scratch_project

from gafcnn.io import InputError, save_torch, save_xgb


def digest(root: Path, rels: list[str]) -> dict[str, str]:
    """md5 of every file under ``rels`` (files or folders), by relative path."""
    out = {}
    for rel in rels:
        p = root / rel
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            out[f.relative_to(root).as_posix()] = hashlib.md5(f.read_bytes()).hexdigest()
    return out


def test_model_files_do_not_record_the_temporary_name(tmp_path):
    import torch
    from xgboost import XGBClassifier

    state = {"w": torch.arange(6.0).reshape(2, 3)}
    save_torch(state, tmp_path / "a.pt")
    save_torch(state, tmp_path / "b.pt")
    a, b = (tmp_path / "a.pt").read_bytes(), (tmp_path / "b.pt").read_bytes()
    assert a == b and b".tmp" not in a
    torch.testing.assert_close(torch.load(tmp_path / "a.pt", weights_only=True)["w"], state["w"])
    x = torch.rand(64, 3, generator=torch.Generator().manual_seed(0)).numpy()
    model = XGBClassifier(n_estimators=3, max_depth=2).fit(x, (x[:, 0] > 0.5).astype(int))
    save_xgb(model, tmp_path / "a.ubj")
    save_xgb(model, tmp_path / "b.ubj")
    assert (tmp_path / "a.ubj").read_bytes() == (tmp_path / "b.ubj").read_bytes()
    again = XGBClassifier()
    again.load_model(tmp_path / "a.ubj")
    assert (again.predict_proba(x) == model.predict_proba(x)).all()


def test_no_tracked_metric_holds_a_timing(project):
    timing = re.compile(r"per_s\b|wall|latency|rss|load_s\b|time_s\b|seconds", re.IGNORECASE)
    for f in sorted((project / MARKET / "metrics").glob("*.json")):
        keys = re.findall(r'"([^"]+)":', f.read_text())
        assert not [k for k in keys if timing.search(k)], f"{f.name} holds timings"
    for f in (project / MARKET / "models" / "cnn").glob("*.json"):
        assert not timing.search(" ".join(json.loads(f.read_text())))


def test_forced_rerun_changes_no_byte(project):
    """Two forced runs of a slice (train, xgb_indicators, ensemble, hybrid): same bytes
    everywhere, and the same dvc.lock."""
    outs = ["dvc.lock", *(f"{MARKET}/{o}" for o in ("models", "metrics", "data/predictions",
                                                    "plots/train"))]  # fmt: skip
    before = digest(project, outs)
    dvc(project, "repro", "-f", "-s", "train@BTCUSDT-15", "xgb_indicators", "ensemble", "hybrid")
    after = digest(project, outs)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"a forced rerun changed {changed}"
    assert "up to date" in dvc(project, "status").stdout


@pytest.mark.slow  # 15 s; the review's parts are tested in test_noise.py
def test_review_lists_what_changed_and_only_that(tmp_path):
    root = scratch_project(tmp_path, **{"data.synthetic.n_bars": 6000})
    dvc(root, "repro", "split")
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "base"], root)
    base = run(["git", "rev-parse", "HEAD"], root).stdout.strip()

    review = root / "reports" / "review.md"
    module = ["python", "-m", "gafcnn.experiments.review", "--base", base]
    run([*_py(module)], root)
    text = review.read_text()
    assert "No params or metrics changed" in text and len(text.strip().splitlines()) == 3

    params = root / "params.yaml"
    params.write_text(params.read_text().replace("  train: 0.7\n", "  train: 0.6\n").replace(
        "  val: 0.15\n", "  val: 0.25\n"))  # fmt: skip
    dvc(root, "repro", "split")
    run([*_py(module)], root)
    text = review.read_text()
    assert "split.train" in text and "split.val" in text
    new = metrics(root, "split")
    assert "metrics/split.json" in text and "train.bars" in text and "val.bars" in text
    assert f"{new['val']['bars']}" in text
    assert "purge_bars" not in text  # unchanged metrics are left out
    assert "metrics/ingest.json" not in text  # ingest did not change
    assert "no decision or evaluation metrics changed" in text


def _py(cmd: list[str]) -> list[str]:
    import sys

    return [sys.executable, *cmd[1:]]


@pytest.mark.slow  # every stage again on two windows (about 60 s)
def test_other_windows_run_to_the_decision_without_editing_dvc_yaml(tmp_path):
    root = scratch_project(
        tmp_path, **{"data.synthetic.n_bars": 6000, "epochs": 2, "patience": 1, "width": 4,
                     "baseline.subset": 2000, "audit.subset": 1000, "evaluate.bootstrap_reps": 100}
    )  # fmt: skip
    dvc(root, "exp", "run", "-S", "gaf.windows=[15,30]", "evaluate")
    assert run(["git", "status", "--porcelain", "dvc.yaml"], root).stdout == ""
    table = metrics(root, "evaluate")["table"]
    assert {"cnn_w15", "cnn_w30", "ensemble", "hybrid"} <= set(table)
    assert not [m for m in table if m.endswith("w60")]
    assert metrics(root, "ensemble")["members"].keys() == {"w15", "w30"}
    assert metrics(root, "split")["purge_bars"] == 30 + 5
    assert metrics(root, "decision")["decision"].startswith("deploy")
    shown = dvc(root, "metrics", "show", "--json").stdout
    assert "metrics/train_w30.json" in shown and "metrics/train_w60.json" not in shown


def test_runtime_settings_and_timings_file(tmp_path, monkeypatch):
    from gafcnn.io import read_json, record_timings
    from gafcnn.params import Params, runtime_setting

    for key in ("THREADS", "GAF_CHUNK"):  # `make test-kernels` runs with GAFCNN_THREADS=1
        monkeypatch.delenv(f"GAFCNN_{key}", raising=False)
    typed = Params.from_dict({"runtime": {"threads": 3}})
    assert runtime_setting(typed, "threads") == 3
    assert runtime_setting(typed, "gaf_chunk") == 8192  # the reader's default, as params.yaml
    monkeypatch.setenv("GAFCNN_THREADS", "8")
    assert runtime_setting(typed, "threads") == 8  # typed as the file's value is
    for bad, shown in (("0", "0"), ("two", '"two"'), ("1.5", '"1.5"')):
        monkeypatch.setenv("GAFCNN_THREADS", bad)
        with pytest.raises(InputError) as err:
            runtime_setting(typed, "threads")
        assert str(err.value) == (
            f"GAFCNN_THREADS: {shown} is not allowed (allowed: an integer >= 1)"
        )
    target = tmp_path / "reports" / "timings.json"
    record_timings("train@15", {"train_samples_per_s": 1000.5}, str(target))
    record_timings("evaluate", {"inference": {"latency_ms_p99": 3.2}}, str(target))
    record_timings("train@15", {"train_samples_per_s": 900.0}, str(target))
    assert read_json(target) == {
        "train@15": {"train_samples_per_s": 900.0},
        "evaluate": {"inference": {"latency_ms_p99": 3.2}},
    }
