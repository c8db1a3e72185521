"""One label definition: the same label for a timestamp whatever the window."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.data.labels import LabelSpec, direction_labels, fit_dead_zone, forward_returns
from gafcnn.data.samples import build_samples
from gafcnn.data.split import SplitSpec, make_split
from gafcnn.io import InputError


def _market(n=6000, seed=3):
    rng = np.random.default_rng(seed)
    minutes = np.arange(n, dtype=np.int64) + 27_000_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    return minutes, close


def test_forward_returns_by_timestamp_not_position():
    minutes = np.array([0, 1, 2, 4, 5, 6])
    close = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    r = forward_returns(close, minutes, 2)
    # 0->2, 2->4 exist; 1->3 is missing; 4->6 exists; 5->7, 6->8 do not
    np.testing.assert_allclose(r, [3.0, np.nan, 1.0, 3.0, np.nan, np.nan])


def test_dead_zones():
    r = np.array([-0.02, -0.001, 0.0, 0.001, 0.03, np.nan])
    np.testing.assert_array_equal(direction_labels(r, (0.0, 0.0)), [0, 0, -1, 1, 1, -1])
    band = fit_dead_zone(LabelSpec(dead_zone="fixed", threshold=0.005), r)
    np.testing.assert_array_equal(direction_labels(r, band), [0, -1, -1, -1, 1, -1])


@pytest.mark.parametrize("dead_zone", ["none", "fixed"])
def test_labels_identical_across_windows(dead_zone):
    """(A quantile band depends on the train sample set, which is shared by all windows
    in the pipeline; its train-only fit is tested below.)"""
    minutes, close = _market()
    spec = LabelSpec(horizon=5, dead_zone=dead_zone, threshold=5e-4, quantile=0.3)
    split = make_split(minutes, SplitSpec(), [15, 30, 60], spec.horizon)
    per_window = {w: build_samples(minutes, close, [w], spec, split) for w in (15, 30, 60)}
    together = build_samples(minutes, close, [15, 30, 60], spec, split)
    for s in per_window.values():
        common, a, b = np.intersect1d(s.minute, together.minute, return_indices=True)
        assert len(common) == len(together.minute)  # joint samples are a subset of each
        np.testing.assert_array_equal(s.label[a], together.label[b])
        np.testing.assert_array_equal(s.forward_return[a], together.forward_return[b])
    # the label horizon is h for every window: recompute from prices directly
    j = together.position + spec.horizon
    np.testing.assert_allclose(together.forward_return, close[j] / close[together.position] - 1)


def test_quantile_thresholds_fitted_on_train_only():
    minutes, close = _market()
    spec = LabelSpec(dead_zone="quantile", quantile=0.4)
    split = make_split(minutes, SplitSpec(), [15, 30, 60], spec.horizon)
    base = build_samples(minutes, close, [15, 30, 60], spec, split)
    # wreck the prices after train: the band and train labels must not move
    val_start = split.segment("val").start - spec.horizon
    wild = close.copy()
    wild[val_start:] *= np.exp(np.random.default_rng(9).normal(0, 0.05, len(close) - val_start))
    other = build_samples(minutes, wild, [15, 30, 60], spec, split)
    assert other.band == base.band
    np.testing.assert_array_equal(other.label[other.of("train")], base.label[base.of("train")])
    # and the train drop share is the quantile asked for
    cand = base.candidates["train"]
    assert abs(base.dropped_dead_zone["train"] / cand - 0.4) < 0.01
    # fitting on all data would give a different band
    r_all = forward_returns(close, minutes, spec.horizon)
    assert fit_dead_zone(spec, r_all) != base.band


def test_stride_keys_on_timestamp():
    minutes, close = _market()
    split = make_split(minutes, SplitSpec(), [15, 30, 60], 5)
    s = build_samples(minutes, close, [15, 30, 60], LabelSpec(), split, stride=4)
    assert (s.minute % 4 == 0).all()


def test_unknown_label_params_rejected():
    # label.kind is gone (the pattern task has its own stage): a stale key is an error
    with pytest.raises(InputError, match="params.yaml: unknown key 'label.kind' \\(valid here: "):
        LabelSpec.from_params({"kind": "direction", "horizon": 5})
