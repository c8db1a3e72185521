"""Known-answer suite (slow, `make test-slow`): the pipeline finds planted signal close
to the oracle and reports none when there is none."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pipeline import dvc, metrics, scratch_project

pytestmark = pytest.mark.slow

STRENGTHS = {"null": 0.0, "weak": 0.2, "default": 0.35, "strong": 0.5}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One full `dvc repro` per signal strength (about 4 minutes each)."""
    out = {}
    for name, signal in STRENGTHS.items():
        root = scratch_project(tmp_path_factory.mktemp(name), **{"data.synthetic.signal": signal})
        dvc(root, "repro")
        out[name] = root
    return out


def _models(ev: dict) -> dict:
    return {m: r for m, r in ev["table"].items() if m != "oracle"}


def test_null_finds_nothing(runs):
    root = runs["null"]
    ev, dec, audit = metrics(root, "evaluate"), metrics(root, "decision"), metrics(root, "audit")
    assert abs(metrics(root, "ingest")["oracle_accuracy"] - 0.5) < 0.02
    for name, r in _models(ev).items():
        lo, hi = r["accuracy_ci"]
        assert lo <= r["majority_rate"] or r["accuracy"] <= r["majority_rate"], name
    assert audit["checks"]["shuffled_label_control"]["status"] == "pass"
    assert dec["decision"] == "deploy nothing"
    for name, bt in ev["backtest"].items():
        assert bt["mean_net_return"] < 0, name  # after costs nothing makes money


@pytest.mark.parametrize("case", ["weak", "default", "strong"])
def test_planted_signal_is_recovered(runs, case):
    root = runs[case]
    ev, ens, audit = metrics(root, "evaluate"), metrics(root, "ensemble"), metrics(root, "audit")
    oracle = ev["table"]["oracle"]["accuracy"]
    best = max(r["accuracy"] for r in _models(ev).values())
    assert best >= oracle - 0.03
    assert ens["gap_to_best_member"] >= -0.01
    assert audit["passed"]


def test_default_cnn_beats_majority(runs):
    root = runs["default"]
    majority = metrics(root, "evaluate")["table"]["majority"]["majority_rate"]
    best = max(metrics(root, f"train_w{w}")["test"]["balanced_accuracy"] for w in (15, 30, 60))
    assert best > majority + 0.05


def test_training_is_deterministic(runs):
    root = runs["default"]
    before = metrics(root, "train_w15")
    dvc(root, "repro", "-f", "train@15")
    after = metrics(root, "train_w15")
    for volatile in ("wall_s", "train_samples_per_s"):
        before.pop(volatile)
        after.pop(volatile)
    assert before == after


def test_write_summary(runs, tmp_path):
    """The table the README quotes: each model against the oracle per strength."""
    rows = {}
    for case, root in runs.items():
        ev = metrics(root, "evaluate")
        rows[case] = {m: r["accuracy"] for m, r in ev["table"].items()}
        rows[case]["decision"] = metrics(root, "decision")["decision"]
    print(json.dumps(rows, indent=1))
    assert set(rows) == set(STRENGTHS)
    assert np.isfinite([v for r in rows.values() for k, v in r.items() if k != "decision"]).all()
