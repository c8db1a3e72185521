"""Slow end-to-end runs of the default pipeline (`make test-slow`)."""

from __future__ import annotations

import pytest
from pipeline import dvc, metrics, scratch_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    root = scratch_project(tmp_path_factory.mktemp("default"))
    dvc(root, "repro")
    return root


def test_default_cnn_beats_majority(default_run):
    base = metrics(default_run, "baseline")
    best = max(
        metrics(default_run, f"train_w{w}")["test"]["balanced_accuracy"] for w in (15, 30, 60)
    )
    majority = base["w15"]["majority"]["test"]["majority_rate"]
    assert best > majority + 0.05


def test_ensemble_not_below_best_member_by_more_than_a_point(default_run):
    ens = metrics(default_run, "ensemble")
    assert ens["gap_to_best_member"] > -0.01


def test_default_run_is_deterministic(default_run, tmp_path):
    again = scratch_project(tmp_path)
    dvc(again, "repro")
    for name in ("ingest", "split", "baseline", "train_w15", "phase1", "ensemble", "hybrid"):
        a, b = metrics(default_run, name), metrics(again, name)
        for volatile in ("wall_s", "train_samples_per_s"):
            a.pop(volatile, None)
            b.pop(volatile, None)
        assert a == b, name
