"""Ensembles join by timestamp, weight the informative member, and fit on val only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pipeline import MARKET, metrics

from gafcnn.images.imageset import AlignmentError, GafSet
from gafcnn.io import InputError
from gafcnn.models import predictions
from gafcnn.models.ensemble import Stacker, join_predictions, member_weights, purged_folds


def _members(n=400, seed=0):
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=n, freq="2min", tz="UTC").as_unit("ms")
    split = np.where(np.arange(n) < n // 2, "val", "test")
    y = rng.integers(0, 2, n)
    frames = {}
    for k, name in enumerate(("w15", "w30", "w60")):
        p = np.clip(0.5 + (0.3 if k == 0 else 0.0) * (y - 0.5) + rng.normal(0, 0.15, n), 0.01, 0.99)
        frames[name] = pd.DataFrame({"timestamp": ts, "segment": split, "label": y, "p_up": p})
    return frames, {"val": n // 2, "test": n - n // 2}


def test_join_is_by_timestamp_not_position():
    frames, expected = _members()
    base = join_predictions(frames, expected)
    shuffled = dict(frames)
    shuffled["w60"] = frames["w60"].sample(frac=1.0, random_state=1)  # rows moved, keys kept
    pd.testing.assert_frame_equal(join_predictions(shuffled, expected), base)


def test_shuffled_member_rows_are_detected():
    frames, expected = _members()
    bad = frames["w30"].copy()
    perm = np.random.default_rng(2).permutation(len(bad))
    bad[["label", "p_up"]] = bad[["label", "p_up"]].to_numpy()[perm]  # values off their keys
    with pytest.raises(AlignmentError, match="disagree on labels"):
        join_predictions({**frames, "w30": bad}, expected)


def test_missing_or_shifted_member_is_detected():
    frames, expected = _members()
    shifted = frames["w60"].copy()
    shifted["timestamp"] = shifted["timestamp"] + pd.Timedelta(minutes=1)
    with pytest.raises(AlignmentError):
        join_predictions({**frames, "w60": shifted}, expected)
    short = frames["w15"].iloc[5:]
    with pytest.raises(AlignmentError, match="the join by timestamp kept"):
        join_predictions({**frames, "w15": short}, expected)


def test_predictions_read_keeps_segments_and_refuses_a_repeated_key(tmp_path):
    frames, _ = _members(n=40)
    for name, f in frames.items():  # one model per file, and w15's train rows elsewhere
        predictions.write([f.assign(model=name)], tmp_path / f"{name}.parquet")
    train = frames["w15"].assign(model="w15", segment="train")
    train["timestamp"] -= pd.Timedelta(days=1)
    predictions.write([train], tmp_path / "w15_train.parquet")
    every = predictions.read(tmp_path)
    assert len(every) == 4 * 40 and set(every["segment"]) == {"train", "val", "test"}
    kept = predictions.read(tmp_path, segments=("val", "test"))
    pd.testing.assert_frame_equal(
        kept, every[every["segment"] != "train"].reset_index(drop=True), check_dtype=False
    )
    again = frames["w15"].iloc[7:8].assign(model="w15", segment="train")  # a key in 2 files
    predictions.write([again], tmp_path / "w15_again.parquet")
    with pytest.raises(InputError, match="model w15 has timestamp .* twice"):
        predictions.read(tmp_path)
    (tmp_path / "w15_again.parquet").unlink()
    one = frames["w30"].assign(model="w30")
    predictions.write([pd.concat([one, one.iloc[-1:]])], tmp_path / "w30.parquet")
    with pytest.raises(InputError, match="model w30 has timestamp .* twice"):
        predictions.read(tmp_path, segments=("test",))


def test_weighted_ensemble_favours_the_member_with_signal():
    frames, expected = _members(n=2000)
    joined = join_predictions(frames, expected)
    val = joined["segment"] == "val"
    w = member_weights(
        joined["label"][val].to_numpy(), joined[["p_w15", "p_w30", "p_w60"]][val].to_numpy()
    )
    assert w[0] > 0.8 and w.sum() == pytest.approx(1.0)


def test_no_skill_gives_equal_weights():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.column_stack([1 - y * 0.6 - 0.2, rng.uniform(size=500)])  # worse than chance, chance
    p[:, 1] = 0.5
    np.testing.assert_allclose(member_weights(y, p), [0.5, 0.5])


def test_stacker_records_what_it_was_fitted_on():
    frames, expected = _members()
    joined = join_predictions(frames, expected)
    val = (joined["segment"] == "val").to_numpy()
    ts = joined["timestamp"].dt.as_unit("ms").astype("int64").to_numpy()
    st = Stacker().fit(
        joined.loc[val, ["p_w15", "p_w30", "p_w60"]].to_numpy(), joined["label"][val], ts[val]
    )
    np.testing.assert_array_equal(st.fit_timestamps, ts[val])


@pytest.mark.parametrize("k", [2, 4, 5])
def test_purged_folds_leave_a_gap(k):
    ts = np.cumsum(np.random.default_rng(k).integers(1, 4, 300))
    covered = []
    for train, test in purged_folds(ts, k, purge=20):
        covered.extend(test)
        lo, hi = ts[test].min(), ts[test].max()
        assert np.all((ts[train] < lo - 20) | (ts[train] > hi + 20))
        assert len(np.intersect1d(train, test)) == 0
    assert sorted(covered) == list(range(300))


def test_stages_fit_meta_learners_on_val_only(project):
    gs = GafSet(project / MARKET / "data" / "gaf" / "w15")
    val, train = gs.timestamps("val"), gs.timestamps("train")
    ens = metrics(project, "ensemble")
    hyb = metrics(project, "hybrid")
    for fit in (ens["stacking_fit"], hyb["fit"]):
        assert fit["segment"] == "val" and fit["n"] == len(val)
        assert fit["first_timestamp"] == val.min() and fit["last_timestamp"] == val.max()
        assert fit["first_timestamp"] > train.max()
    assert set(ens["methods"]) == {"mean", "weighted", "stacking"}
    assert ens["members"].keys() == {"w15", "w30", "w60"}
    assert ens["below_best_member"] == (ens["gap_to_best_member"] < 0)
    assert 0 <= hyb["cnn_gain_share"] <= 1
    assert abs(sum(hyb["feature_importance_gain"].values()) - 1) < 1e-6


def test_xgb_indicators_reports_majority_next_to_accuracy(project):
    p1 = metrics(project, "xgb_indicators")
    for split in ("val", "test"):
        assert {"accuracy", "majority_rate", "balanced_accuracy"} <= set(p1[split])
    preds = pd.read_parquet(project / MARKET / "data" / "predictions" / "xgb_indicators.parquet")
    gs = GafSet(project / MARKET / "data" / "gaf" / "w60")
    stamps = preds.loc[preds["segment"] == "test", "timestamp"].dt.as_unit("ms").astype("int64")
    np.testing.assert_array_equal(stamps.to_numpy(), gs.timestamps("test"))
