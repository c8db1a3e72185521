"""The raw-series models: MiniRocket with its val-chosen head and XGBoost on the
flattened window learn a pattern planted in the bars, predict row by row, and the
saved MiniRocket (an .npz, no pickle) predicts exactly what the fitted one did."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.data.features import window_bar_features
from gafcnn.io import InputError
from gafcnn.models.series import (
    Rocket,
    evenly,
    fit_raw_xgb,
    fit_rocket,
    log_loss,
    predict_raw_chunks,
    predict_raw_xgb,
    raw_features,
)
from gafcnn.params import MiniRocketParams

W = 15


def planted(n: int = 4000, seed: int = 0):
    """Random bars, and at every position a label that the last three log returns
    decide: up when their sum is positive (a model of the window can learn it)."""
    rng = np.random.default_rng(seed)
    logret = rng.normal(0, 1e-3, n)
    close = 100 * np.exp(np.cumsum(logret))
    open_ = close / np.exp(logret)
    bars = {
        "open": open_,
        "close": close,
        "high": np.maximum(open_, close) * (1 + rng.uniform(0, 5e-4, n)),
        "low": np.minimum(open_, close) * (1 - rng.uniform(0, 5e-4, n)),
        "volume": rng.uniform(1, 10, n),
    }
    pos = np.arange(W, n)
    y = (logret[pos] + logret[pos - 1] + logret[pos - 2] > 0).astype(np.int8)
    cut = int(0.6 * len(pos)), int(0.8 * len(pos))
    parts = np.split(np.arange(len(pos)), cut)
    return bars, {s: (pos[i], y[i]) for s, i in zip(("train", "val", "test"), parts, strict=True)}


@pytest.fixture(scope="module")
def fitted():
    bars, seg = planted()
    cfg = MiniRocketParams(kernels=168, max_dilations=8, C=[1e-4, 1e-2, 1.0], fit_samples=1500)
    rocket, losses = fit_rocket(bars, seg["train"], seg["val"], W, cfg, seed=3)
    return bars, seg, rocket, losses


def test_the_fitting_sample_is_bounded_and_spans_the_period():
    assert list(evenly(5, 10)) == [0, 1, 2, 3, 4]
    picked = evenly(2388, 1500)  # planted()'s train decisions, as the fixture fits them
    assert len(picked) == 1500 and picked[0] == 0 and picked[-1] == 2387
    assert np.all(np.diff(picked) >= 1) and np.diff(picked).max() <= 2


def test_minirocket_learns_the_planted_pattern_with_the_c_of_lowest_val_loss(fitted):
    bars, seg, rocket, losses = fitted
    pos, y = seg["test"]
    p = rocket.predict(bars, pos)
    assert np.mean((p > 0.5) == y) > 0.75  # chance is 0.5
    assert set(losses) == {1e-4, 1e-2, 1.0}
    assert rocket.c == min(losses, key=losses.get)
    assert losses[rocket.c] < log_loss(seg["val"][1], np.full(len(seg["val"][1]), 0.5))


def test_saved_minirocket_predicts_bit_for_bit_and_row_by_row(fitted, tmp_path):
    bars, seg, rocket, _ = fitted
    pos = seg["test"][0]
    rocket.save(tmp_path / "w15.npz")
    loaded = Rocket.load(tmp_path / "w15.npz")
    p = rocket.predict(bars, pos)
    assert np.array_equal(loaded.predict(bars, pos), p)
    # a decision alone (as `gafcnn predict` serves it) gets the P(up) it got in the batch
    one = np.array([loaded.predict(bars, pos[i : i + 1])[0] for i in (0, 7, len(pos) - 1)])
    assert np.array_equal(one, p[[0, 7, len(pos) - 1]])
    assert not list(tmp_path.glob(".*tmp"))


def test_raw_xgboost_reads_the_1d_cnn_series_flattened_and_learns_the_pattern():
    from xgboost import XGBClassifier

    bars, seg = planted(seed=1)
    x = {s: raw_features(bars, p, W) for s, (p, _) in seg.items()}
    assert x["train"].shape == (len(seg["train"][0]), 3 * W)
    assert np.array_equal(
        x["val"][:5], window_bar_features(bars, seg["val"][0][:5], W).reshape(5, -1).astype("f4")
    )
    clf = XGBClassifier(n_estimators=200, max_depth=3, early_stopping_rounds=20, n_jobs=1)
    clf.fit(x["train"], seg["train"][1], eval_set=[(x["val"], seg["val"][1])], verbose=False)
    p = predict_raw_xgb(clf.get_booster(), x["test"])
    assert np.mean((p > 0.5) == seg["test"][1]) > 0.7
    assert np.array_equal(predict_raw_xgb(clf.get_booster(), x["test"][3:4]), p[3:4])


def test_raw_xgboost_fed_by_chunks_learns_and_predicts_as_one_batch(monkeypatch):
    from gafcnn.models import series
    from gafcnn.params import XgbSection

    monkeypatch.setattr(series, "CHUNK", 500)  # several chunks of every segment
    bars, seg = planted(seed=1)
    cfg = XgbSection(n_estimators=200, max_depth=3, early_stopping_rounds=20)
    booster = fit_raw_xgb(cfg, 0, 1, bars, seg["train"], seg["val"], W)
    p = predict_raw_chunks(booster, bars, seg["test"][0], W)
    assert np.mean((p > 0.5) == seg["test"][1]) > 0.7
    assert np.array_equal(p, predict_raw_xgb(booster, raw_features(bars, seg["test"][0], W)))


@pytest.mark.parametrize(
    "bad, words",
    [({"kernels": 20}, r"minirocket.kernels: 20 is not allowed \(allowed: an integer >= 84\)"),
     ({"C": []}, r"minirocket.C: \[\] is not allowed"),
     ({"C": [0.1, -1]}, r"minirocket.C: \[0.1, -1\] is not allowed"),
     ({"max_dilations": 0}, "minirocket.max_dilations: 0")],
)  # fmt: skip
def test_bad_minirocket_params_are_one_error_naming_the_key(bad, words):
    with pytest.raises(InputError, match=words):
        MiniRocketParams.from_params(bad)


def test_images_vs_series_finds_the_better_model_of_each_window_and_only_it():
    from gafcnn.evaluation.bootstrap import bootstrap_indices
    from gafcnn.evaluation.comparison import images_vs_series

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 3000)
    right = np.where(rng.random(3000) < 0.7, y, 1 - y).astype(float)  # 70% right
    coin = rng.random(3000)
    probs = {"cnn_w15": right, "minirocket_w15": coin, "xgb_raw_w15": right.copy(),
             "cnn_w30": coin, "minirocket_w30": right, "xgb_indicators": right}  # fmt: skip
    out = images_vs_series(y, probs, bootstrap_indices(3000, 10, 300, 0))
    assert set(out) == {"w15", "w30"} and set(out["w15"]) == {"minirocket_w15", "xgb_raw_w15"}
    assert out["w15"]["minirocket_w15"]["verdict"] == "cnn better"
    assert out["w15"]["minirocket_w15"]["ci"][0] > 0.1
    assert out["w15"]["xgb_raw_w15"] == {"difference": 0.0, "ci": [0.0, 0.0],
                                         "verdict": "no difference"}  # fmt: skip
    assert out["w30"]["minirocket_w30"]["verdict"] == "rival better"


def test_the_numpy_minirocket_transform_agrees_with_aeons(fitted):
    """The served transform is a NumPy port of aeon's numba one (compiled with
    fastmath, which may reorder float32 sums): on these windows every feature is the
    same; a rounding-level tie could flip one proportion by one step, no more."""
    from aeon.transformations.collection.convolution_based import MiniRocket

    from gafcnn.models.series import minirocket_features

    bars, seg, _, _ = fitted
    for w in (9, W, 40):
        pos = np.arange(40, 2000)
        x = window_bar_features(bars, pos, w)
        x = (x / x.std(axis=(0, 2))[None, :, None]).astype(np.float32)
        aeon = MiniRocket(n_kernels=500, random_state=1).fit(x[:500])
        ref, mine = aeon.transform(x), minirocket_features(x, aeon.parameters, chunk=300)
        assert mine.shape == ref.shape and mine.dtype == np.float32
        assert np.mean(mine == ref) >= 0.999
        assert np.abs(mine - ref).max() <= 1 / 9 + 1e-6  # one step of the shortest proportion
    with pytest.raises(ValueError, match="channels >= 2"):
        minirocket_features(x[:, :1], aeon.parameters)
