"""Multi-class report: recall, precision, their means and the confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.models.metrics import multiclass_report


def test_multiclass_report_by_hand():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 2, 1, 1, 2, 0])
    r = multiclass_report(y, pred, ("a", "b", "c"))
    assert r["accuracy"] == pytest.approx(5 / 8)
    assert r["recall"] == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.5})
    assert r["mean_recall"] == pytest.approx(2 / 3)
    assert r["precision"] == pytest.approx({"a": 2 / 3, "b": 2 / 3, "c": 0.5})
    assert r["confusion"] == [[2, 1, 1], [0, 2, 0], [1, 0, 1]]
    assert r["support"] == {"a": 4, "b": 2, "c": 2}


def test_mean_recall_is_balanced_accuracy():
    rng = np.random.default_rng(1)
    y = rng.choice(4, size=2000, p=[0.7, 0.1, 0.1, 0.1])
    pred = np.where(rng.random(2000) < 0.8, y, rng.integers(0, 4, 2000))
    from sklearn.metrics import balanced_accuracy_score

    r = multiclass_report(y, pred, ("w", "x", "y", "z"))
    assert r["mean_recall"] == pytest.approx(balanced_accuracy_score(y, pred))


def test_absent_class_is_left_out_of_the_mean():
    r = multiclass_report(np.array([0, 0, 1]), np.array([0, 2, 1]), ("a", "b", "c"))
    assert set(r["recall"]) == {"a", "b"}
    assert r["mean_recall"] == pytest.approx(0.75)
