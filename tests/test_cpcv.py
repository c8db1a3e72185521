"""CPCV geometry: every split purged and embargoed, every decision time tested in
C(N-1, k-1) splits, and the paths reassembled from them cover each decision once."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from gafcnn.evaluation.cpcv import group_edges, inside, make_splits, n_paths, path_splits

N_BARS, W, H = 6000, 60, 5


@pytest.mark.parametrize("groups, k, embargo", [(6, 2, 30), (5, 1, 0), (8, 3, 100)])
def test_no_train_or_val_sample_touches_a_test_bar_or_its_embargo(groups, k, embargo):
    splits = make_splits(N_BARS, groups, k, W, H, embargo)
    assert len(splits) == comb(groups, k)
    t = np.arange(W - 1, N_BARS - H)  # every decision time with a whole window and label
    for s in splits:
        # a sample's bars: its window [t-W+1, t] and its label bar t+h
        train = [x for x in t if inside(s.train, x - W + 1, x + H + 1)]
        val = [x for x in t if inside(s.val, x - W + 1, x + H + 1)]
        tested = [x for x in t if inside(s.test, x - W + 1, x + H + 1)]
        scored = {x for a, b in s.decisions for x in range(a, b)}
        assert set(tested) >= scored - set(range(W - 1)) - set(range(N_BARS - H, N_BARS))
        assert train and val
        for a, b in s.test:  # purge: no train/val bar inside a test range ...
            for x in train + val:
                assert x + H < a or x - W + 1 >= b + embargo  # ... nor in its embargo
        assert not set(train) & set(val)
        assert s.val_group == max(set(range(groups)) - set(s.test_groups))


def test_paths_cover_every_decision_once_from_splits_that_tested_it():
    groups, k = 6, 2
    splits = make_splits(N_BARS, groups, k, W, H, 10)
    paths = path_splits(splits, groups)
    assert len(paths) == n_paths(groups, k) == 5  # k * C(N, k) / N
    edges = group_edges(N_BARS, groups)
    for path in paths:
        covered = []
        for g, i in path.items():
            assert g in splits[i].test_groups
            covered += list(range(edges[g], edges[g + 1]))
        assert sorted(covered) == list(range(N_BARS))
    # each split's test groups go to distinct paths or the same path: all used once
    used = sorted((i, g) for path in paths for g, i in path.items())
    assert used == sorted((s.index, g) for s in splits for g in s.test_groups)


@pytest.mark.parametrize(
    "groups, k, embargo, words",
    [(6, 5, 0, "leave two groups"), (6, 0, 0, "at least 1"), (6, 2, -1, "embargo"),
     (60, 2, 0, "bars per group")],
)  # fmt: skip
def test_impossible_geometry_is_one_error_saying_why(groups, k, embargo, words):
    with pytest.raises(ValueError, match=words):
        make_splits(N_BARS, groups, k, W, H, embargo)


def test_split_params_make_the_single_split_pipeline_use_the_cpcv_ranges():
    from gafcnn.data.split import make_split
    from gafcnn.evaluation.cpcv import path_positions, split_params
    from gafcnn.params import SplitSpec

    minutes = np.arange(N_BARS) + 28_000_000
    splits = make_splits(N_BARS, 6, 2, W, H, 30)
    for s in splits:
        spec = SplitSpec.from_params(split_params({"purge": "auto"}, s, minutes))
        got = make_split(minutes, spec, [15, W], H)
        for name in ("train", "val", "test"):
            assert [(x.start, x.stop) for x in got.segments if x.name == name] == list(
                getattr(s, name)
            )
    pieces = path_positions(splits, 6, N_BARS)
    assert len(pieces) == 5 and all(len(p) == 6 for p in pieces)
    for p in pieces:
        assert [a for _, a, _ in p] == list(group_edges(N_BARS, 6)[:-1])
        assert all(inside(splits[i].decisions, a, b) for i, a, b in p)


def test_the_cpcv_leak_check_passes_its_own_split_and_catches_a_touch_or_the_embargo():
    from gafcnn.evaluation.cpcv import leaks

    s = make_splits(N_BARS, 6, 2, W, H, 30)[3]
    t = np.arange(W - 1, N_BARS - H)
    seen = {seg: t[[inside(getattr(s, seg), x - W + 1, x + H + 1) for x in t]]
            for seg in ("train", "val")}  # fmt: skip
    assert leaks(s, seen, W, H, 30) == []
    a, b = s.decisions[0]
    touch = dict(seen, train=np.r_[seen["train"], a - W + 1 - H])  # label bar on the first test bar
    assert "1 train samples touch test bars" in leaks(s, touch, W, H, 30)[0]
    late = dict(seen, val=np.r_[seen["val"], b + H + 29 + W - 1])  # starts in the embargo
    assert "1 val samples" in leaks(s, late, W, H, 30)[0]
    assert leaks(s, late, W, H, 29) == []  # one bar shorter an embargo lets it through
