"""One splitter protocol: the pipeline's single split, walk-forward (expanding, rolling)
and CPCV all yield folds of train / val / test bar ranges and scored decisions, and
paths that score every decision time they cover once."""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest

from gafcnn.data.split import SplitSpec, make_split, required_purge
from gafcnn.evaluation.resampling import (
    Cpcv,
    SingleSplit,
    WalkForward,
    group_edges,
    leaks,
    split_params,
)
from gafcnn.io import InputError
from gafcnn.params import WalkForwardSpec

WINDOWS, HORIZON = [15, 30, 60], 5
N_BARS, W, H = 6000, 60, 5


def minutes_of(n: int) -> np.ndarray:
    return np.arange(n) + 28_000_000


def inside(ranges, start: int, stop: int) -> bool:
    """Whether bars ``[start, stop)`` lie wholly inside one of ``ranges``."""
    return any(a <= start and stop <= b for a, b in ranges)


def splitters():
    spec = WalkForwardSpec(folds=3, scheme="rolling")
    return [
        SingleSplit(SplitSpec(), tuple(WINDOWS), HORIZON),
        WalkForward(spec, tuple(WINDOWS), HORIZON),
        WalkForward(WalkForwardSpec(folds=2), tuple(WINDOWS), HORIZON),
        Cpcv(6, 2, max(WINDOWS), HORIZON, 30),
    ]


@pytest.mark.parametrize("splitter", splitters(), ids=lambda s: s.scheme)
def test_every_scheme_keeps_train_and_val_samples_off_its_test_bars(splitter):
    """The protocol's promise, checked the same way for every scheme: the samples a
    fold trains and validates on never touch a bar its test samples use, and each
    path scores decisions the fold it takes them from tested."""
    minutes = minutes_of(20_000)
    folds = splitter.split(minutes)
    assert folds
    t = np.arange(W - 1, len(minutes) - H)
    for f in folds:
        seen = {seg: t[[inside(getattr(f, seg), x - W + 1, x + H + 1) for x in t]]
                for seg in ("train", "val")}  # fmt: skip
        assert len(seen["train"]) and len(seen["val"])
        assert leaks(f, seen, W, H) == []
        for a, b in f.decisions:  # scored decisions have their window and label in test
            assert inside(f.test, max(0, a - W + 1), min(len(minutes), b + H))
    for path in splitter.paths(folds):
        covered = [x for i, a, b in path for x in range(a, b)]
        assert len(covered) == len(set(covered))
        for i, a, b in path:
            assert inside(folds[i].decisions, a, b)


def test_the_single_split_is_the_pipelines_split():
    minutes = minutes_of(20_000)
    (fold,) = SingleSplit(SplitSpec(), tuple(WINDOWS), HORIZON).split(minutes)
    split = make_split(minutes, SplitSpec(), WINDOWS, HORIZON)
    for name in ("train", "val", "test"):
        assert list(getattr(fold, name)) == [(s.start, s.stop) for s in split.segments
                                             if s.name == name]  # fmt: skip


@pytest.mark.parametrize("scheme", ["expanding", "rolling"])
@pytest.mark.parametrize("folds", [1, 4, 6])
def test_walk_forward_blocks_tile_the_later_history(scheme, folds):
    n = 60_000
    spec = WalkForwardSpec(folds=folds, scheme=scheme, test_from=0.5, val=0.15)
    fs = WalkForward(spec, tuple(WINDOWS), HORIZON).split(minutes_of(n))
    purge = required_purge(WINDOWS, HORIZON)
    assert len(fs) == folds
    assert fs[0].decisions[0][0] == 30_000 and fs[-1].decisions[0][1] == n
    for a, b in zip(fs, fs[1:], strict=False):
        assert a.decisions[0][1] == b.decisions[0][0]  # end to end: every decision once
    train_lengths = set()
    for f in fs:
        (first, train_stop), (val_start, val_stop), (test_start, test_stop) = (
            f.train[0], f.val[0], f.test[0])  # fmt: skip
        assert train_stop + purge <= val_start and val_stop - val_start == 4500
        assert val_stop + purge == test_start == f.decisions[0][0] - (max(WINDOWS) - 1)
        assert test_stop == min(n, f.decisions[0][1] + HORIZON)
        train_lengths.add(train_stop - first)
        assert scheme == "rolling" or first == 0
    assert len(train_lengths) == (1 if scheme == "rolling" else folds)
    assert len(WalkForward(spec, tuple(WINDOWS), HORIZON).paths(fs)) == 1


def test_too_many_walk_forward_folds_is_one_clear_error():
    with pytest.raises(ValueError, match=r"fold \d+: .*use fewer folds or more history"):
        WalkForward(WalkForwardSpec(folds=40), tuple(WINDOWS), HORIZON).split(minutes_of(2_000))


@pytest.mark.parametrize(
    "bad", [{"folds": -1}, {"scheme": "sliding"}, {"test_from": 1.2}, {"val": 0.0}]
)
def test_bad_walkforward_params_are_refused(bad):
    with pytest.raises(InputError, match=f"walkforward.{next(iter(bad))}: "):
        WalkForwardSpec(**bad)


@pytest.mark.parametrize("groups, k, embargo", [(6, 2, 30), (5, 1, 0), (8, 3, 100)])
def test_no_cpcv_train_or_val_sample_touches_a_test_bar_or_its_embargo(groups, k, embargo):
    splits = Cpcv(groups, k, W, H, embargo).split(minutes_of(N_BARS))
    assert len(splits) == comb(groups, k)
    t = np.arange(W - 1, N_BARS - H)
    for s in splits:
        train = [x for x in t if inside(s.train, x - W + 1, x + H + 1)]
        val = [x for x in t if inside(s.val, x - W + 1, x + H + 1)]
        assert train and val and not set(train) & set(val)
        for a, b in s.test:  # purge: no train/val bar inside a test range, nor its embargo
            for x in train + val:
                assert x + H < a or x - W + 1 >= b + embargo


def test_cpcv_paths_cover_every_decision_once_from_folds_that_tested_it():
    cpcv = Cpcv(6, 2, W, H, 10)
    splits = cpcv.split(minutes_of(N_BARS))
    paths = cpcv.paths(splits)
    assert len(paths) == cpcv.n_paths() == 5  # k * C(N, k) / N
    edges = group_edges(N_BARS, 6)
    for path in paths:
        assert [a for _, a, _ in path] == list(edges[:-1])
        assert sorted(x for _, a, b in path for x in range(a, b)) == list(range(N_BARS))
    used = sorted((i, a) for path in paths for i, a, _ in path)
    assert used == sorted((s.index, int(edges[g])) for s in splits for g in s.groups)


@pytest.mark.parametrize(
    "groups, k, embargo, words",
    [(6, 5, 0, "leave two groups"), (6, 0, 0, "at least 1"), (6, 2, -1, "embargo"),
     (60, 2, 0, "bars per group")],
)  # fmt: skip
def test_impossible_cpcv_geometry_is_one_error_saying_why(groups, k, embargo, words):
    with pytest.raises(ValueError, match=words):
        Cpcv(groups, k, W, H, embargo).split(minutes_of(N_BARS))


@pytest.mark.parametrize("splitter", splitters()[1:], ids=lambda s: s.scheme)
def test_split_params_make_the_single_split_pipeline_use_the_folds_ranges(splitter):
    minutes = minutes_of(20_000)
    for f in splitter.split(minutes):
        spec = SplitSpec.from_params(split_params({"purge": "auto"}, f, minutes))
        got = make_split(minutes, spec, WINDOWS, HORIZON)
        for name in ("train", "val", "test"):
            assert [(x.start, x.stop) for x in got.segments if x.name == name] == list(
                getattr(f, name)
            )
        json.dumps(f.to_dict(minutes))  # its record is JSON


def test_the_leak_check_passes_its_own_fold_and_catches_a_touch_or_the_embargo():
    s = Cpcv(6, 2, W, H, 30).split(minutes_of(N_BARS))[3]
    t = np.arange(W - 1, N_BARS - H)
    seen = {seg: t[[inside(getattr(s, seg), x - W + 1, x + H + 1) for x in t]]
            for seg in ("train", "val")}  # fmt: skip
    assert leaks(s, seen, W, H, 30) == []
    a, b = s.decisions[0]
    touch = dict(seen, train=np.r_[seen["train"], a - W + 1 - H])  # label bar on a test bar
    assert "1 train samples touch test bars" in leaks(s, touch, W, H, 30)[0]
    late = dict(seen, val=np.r_[seen["val"], b + H + 29 + W - 1])  # starts in the embargo
    assert "1 val samples" in leaks(s, late, W, H, 30)[0]
    assert leaks(s, late, W, H, 29) == []  # one bar shorter an embargo lets it through


def test_each_fold_runs_the_registrys_pipeline_in_order():
    """A fold reruns every stage of gafcnn.registry.PIPELINE (a matrix stage once per
    window), in dvc.yaml's order: a model added there is refitted per fold too."""
    from gafcnn import registry
    from gafcnn.evaluation.resample_runner import fold_stages

    cmds = fold_stages([15, 30])
    assert cmds[0] == ["gafcnn.stages.split"] and cmds[-1] == ["gafcnn.stages.hybrid"]
    assert ["gafcnn.stages.gaf", "--window", "30"] in cmds
    assert [c[0] for c in cmds] == [
        s.module for s in registry.PIPELINE for _ in ([15, 30] if s.per_window else [0])
    ]
