"""Walk-forward folds: test blocks end to end, each after its own purged train and val."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.data.split import SplitSpec, make_split, required_purge
from gafcnn.evaluation.walkforward import WalkForwardSpec, fold_split_params, make_folds
from gafcnn.io import InputError

WINDOWS, HORIZON = [15, 30, 60], 5


@pytest.mark.parametrize("scheme", ["expanding", "rolling"])
@pytest.mark.parametrize("folds", [1, 4, 6])
def test_blocks_tile_the_later_history_and_never_touch_their_training(scheme, folds):
    n = 60_000
    spec = WalkForwardSpec(folds=folds, scheme=scheme, test_from=0.5, val=0.15)
    fs = make_folds(n, spec, WINDOWS, HORIZON)
    purge = required_purge(WINDOWS, HORIZON)
    assert len(fs) == folds
    assert fs[0].test_start == 30_000 and fs[-1].test_stop == n
    for a, b in zip(fs, fs[1:], strict=False):
        assert a.test_stop == b.test_start  # end to end: every decision time tested once
    train_lengths = set()
    for f in fs:
        assert f.train_stop + purge <= f.val_start
        assert f.val_start + 4500 + purge == f.test_segment_start
        assert f.test_segment_start == f.test_start - (max(WINDOWS) - 1)
        assert f.stop_bar == min(n, f.test_stop + HORIZON)
        train_lengths.add(f.train_stop - f.first_bar)
        if scheme == "expanding":
            assert f.first_bar == 0
    if scheme == "rolling":
        assert len(train_lengths) == 1  # the first fold's train length, kept
    else:
        assert len(train_lengths) == folds  # grows


def test_fold_split_params_reproduce_the_fold_in_the_single_split_code():
    n = 20_000
    minutes = np.arange(n) + 28_000_000
    fs = make_folds(n, WalkForwardSpec(folds=3, scheme="rolling"), WINDOWS, HORIZON)
    for f in fs:
        section = fold_split_params({"purge": "auto", "min_samples": 100}, f, minutes)
        local = minutes[f.first_bar : f.stop_bar]
        split = make_split(local, SplitSpec(**section), WINDOWS, HORIZON)
        train, val, test = split.segments
        assert f.first_bar + train.stop == f.train_stop
        assert f.first_bar + val.start == f.val_start
        assert f.first_bar + test.start == f.test_segment_start
        assert f.first_bar + test.stop == f.stop_bar


def test_too_many_folds_for_the_history_is_one_clear_error():
    with pytest.raises(ValueError, match=r"fold \d+: .*use fewer folds or more history"):
        make_folds(2_000, WalkForwardSpec(folds=40), WINDOWS, HORIZON)


def test_off_means_no_folds():
    assert make_folds(60_000, WalkForwardSpec(), WINDOWS, HORIZON) == []


@pytest.mark.parametrize(
    "bad", [{"folds": -1}, {"scheme": "sliding"}, {"test_from": 1.2}, {"val": 0.0}]
)
def test_bad_walkforward_params_are_refused(bad):
    with pytest.raises(InputError, match=f"walkforward.{next(iter(bad))}: "):
        WalkForwardSpec(**bad)


def _fold_workspace(root, first_train, last_train, val_start, test_start):
    import json

    from gafcnn import paths

    minutes = np.arange(10_000) + 28_000_000
    split = {"purge": 65, "segments": [
        {"name": "train", "start": 0, "stop": last_train + 1},
        {"name": "val", "start": val_start, "stop": test_start - 65},
        {"name": "test", "start": test_start, "stop": 10_000},
    ]}  # fmt: skip
    (root / paths.SPLIT).parent.mkdir(parents=True)
    (root / paths.SPLIT).write_text(json.dumps(split))
    (root / paths.CNN_MODELS).mkdir(parents=True)
    meta = {"train_timestamps": [str(np.datetime64(int(m) * 60, "s")) + "Z" for m in
                                 (minutes[first_train], minutes[last_train])]}  # fmt: skip
    (root / paths.CNN_MODELS / "w15.json").write_text(json.dumps(meta))
    return minutes


def test_the_leak_check_can_fail(tmp_path):
    """check_no_leak passes a purged fold and stops one whose model trained on its test
    block, or whose val reaches it."""
    from gafcnn.evaluation.walkforward import Fold
    from gafcnn.stages.walkforward import check_no_leak

    fold = Fold(0, 0, 5000, 5065, 8000, 8059, 10_000, 10_000)
    ok = tmp_path / "ok"
    minutes = _fold_workspace(ok, 0, 4999, 5065, 8000)
    test_ts = minutes[8059:] * 60_000
    check_no_leak(fold, ok, minutes, test_ts)
    leaky_model = tmp_path / "model"
    _fold_workspace(leaky_model, 0, 8100, 5065, 8000)
    with pytest.raises(RuntimeError, match="trained on its test block|reaches its test block"):
        check_no_leak(fold, leaky_model, minutes, test_ts)
    leaky_val = tmp_path / "val"
    _fold_workspace(leaky_val, 0, 4999, 5065, 8030)  # val ends 35 bars before the test block
    with pytest.raises(RuntimeError, match="val reaches its test block"):
        check_no_leak(fold, leaky_val, minutes, test_ts)


def test_each_fold_runs_the_registrys_pipeline_in_order():
    """A fold reruns every stage of gafcnn.registry.PIPELINE (a matrix stage once per
    window), in dvc.yaml's order: a model added there is refitted per fold too."""
    from gafcnn import registry
    from gafcnn.stages.walkforward import fold_stages

    cmds = fold_stages([15, 30])
    assert cmds[0] == ["gafcnn.stages.split"] and cmds[-1] == ["gafcnn.stages.hybrid"]
    assert ["gafcnn.stages.gaf", "--window", "30"] in cmds
    assert [c[0] for c in cmds] == [
        s.module for s in registry.PIPELINE for _ in ([15, 30] if s.per_window else [0])
    ]
