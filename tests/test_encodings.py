"""The encoding core against pyts (test-only oracle), on random windows and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from pyts.image import GramianAngularField, MarkovTransitionField, RecurrencePlot

from gafcnn.images.encodings import (
    Channel,
    Encoder,
    gadf,
    gasf,
    markov_transition_field,
    recurrence_plot,
    window_series,
)
from gafcnn.params import CHANNEL_SERIES


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 30
    return {
        "random": rng.normal(size=(20, n)).cumsum(axis=1) + 100,
        "constant": np.full((3, n), 42.0),
        "monotone": np.tile(np.linspace(1, 2, n), (2, 1)),
        "two-valued": rng.choice([1.0, 2.0], size=(5, n)),
        "prices with flat runs": np.round(rng.normal(size=(8, n)).cumsum(axis=1) * 0.3, 0),
    }


CASES = _cases()
SIZES = [30, 15, 10, 7, 1]  # 30: none; 15/10: PAA, divisible; 7: not divisible; 1: a single pixel


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("method", ["summation", "difference"])
def test_gaf_matches_pyts(case, size, method):
    x = CASES[case]
    ref = GramianAngularField(image_size=size, method=method).fit_transform(x)
    ours = (gasf if method == "summation" else gadf)(x, size)
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)
    assert np.isfinite(ours).all() and np.abs(ours).max() <= 1.0


def test_constant_window_is_defined():
    x = np.full((1, 15), 7.0)
    np.testing.assert_array_equal(gasf(x), np.ones((1, 15, 15)))
    np.testing.assert_array_equal(gadf(x), np.zeros((1, 15, 15)))


def test_gasf_blind_to_mirror_gadf_not():
    x = CASES["random"][:3]
    np.testing.assert_allclose(gasf(x), gasf(-x), atol=1e-12)
    np.testing.assert_allclose(gadf(x), -gadf(-x), atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("n_bins", [2, 5, 8])
def test_mtf_matches_pyts(case, size, n_bins):
    x = CASES[case]
    with _no_raise():
        ref = MarkovTransitionField(image_size=size, n_bins=n_bins).fit_transform(x)
    np.testing.assert_allclose(markov_transition_field(x, size, n_bins), ref, atol=1e-6, rtol=0)


class _no_raise:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("dimension", "delay"), [(1, 1), (3, 2)])
def test_rp_matches_pyts(case, dimension, delay):
    x = CASES[case]
    ref = RecurrencePlot(dimension=dimension, time_delay=delay).fit_transform(x)
    np.testing.assert_allclose(recurrence_plot(x, dimension, delay), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("threads", [1, 2])
def test_encoder_channels_match_core(dtype, threads):
    rng = np.random.default_rng(1)
    n_bars, window, size = 400, 30, 10
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n_bars)))
    bars = {"close": close, "open": np.r_[100.0, close[:-1]], "volume": rng.uniform(0, 5, n_bars)}
    pos = np.arange(window - 1, n_bars, 3)
    specs = ["gasf", "gadf", "gadf:logret", "gasf:volume", "mtf", "rp"]
    enc = Encoder(specs, size, mtf_bins=5, threads=threads, chunk=16)
    win = window_series(bars, pos, window, enc.series_needed)
    out = enc.encode(win, dtype=dtype)
    assert out.shape == (len(pos), len(specs), size, size) and out.dtype == dtype
    tol = {np.float64: 1e-9, np.float32: 1e-6, np.float16: 1e-3}[dtype]
    np.testing.assert_allclose(out[:, 0], gasf(win["close"], size), atol=tol)
    np.testing.assert_allclose(out[:, 1], gadf(win["close"], size), atol=tol)
    logret = np.log(win["close"] / np.vstack([bars["open"][p - window + 1 : p + 1] for p in pos]))
    np.testing.assert_allclose(out[:, 2], gadf(logret, size), atol=tol)
    np.testing.assert_allclose(out[:, 3], gasf(win["volume"], size), atol=tol)
    np.testing.assert_allclose(
        out[:, 4], 2 * markov_transition_field(win["close"], size, 5) - 1, atol=tol
    )
    assert (np.abs(out.astype(np.float64)) <= 1.0).all()


def test_window_series_ends_at_decision():
    close = np.arange(100.0)
    win = window_series({"close": close}, np.array([14, 50]), 15, {"close"})
    np.testing.assert_array_equal(win["close"][0], np.arange(15.0))
    assert win["close"][1, -1] == 50.0


def test_channel_parsing():
    assert Channel.parse("GADF:volume").name == "gadf:volume"
    assert Channel.parse("mtf").name == "mtf:close"
    with pytest.raises(ValueError, match="unknown channel method"):
        Channel.parse("rot90")
    with pytest.raises(ValueError, match="unknown channel series"):
        Channel.parse("gasf:rsi")


@pytest.mark.parametrize("series", list(CHANNEL_SERIES))
def test_bar_columns_are_all_window_series_reads(series):
    """A stage that loads only bar_columns(series) can build the series."""
    from gafcnn.images.encodings import bar_columns

    rng = np.random.default_rng(0)
    full = {k: 100 + rng.random(40) for k in ("open", "high", "low", "close", "volume")}
    full |= {"trades": rng.integers(0, 50, 40).astype(float),
             "taker_buy_base": full["volume"] * rng.random(40)}  # fmt: skip
    cols = bar_columns({series})
    only = {k: full[k] for k in cols}
    pos = np.array([20, 39])
    np.testing.assert_array_equal(
        window_series(only, pos, 10, {series})[series],
        window_series(full, pos, 10, {series})[series],
    )
    assert "volume" not in cols or series in ("volume", "taker_imbalance")


def test_order_flow_series_are_the_taker_imbalance_unscaled_and_log_trades():
    v = np.array([2.0, 0.0, 4.0, 1.0])
    bars = {"volume": v, "taker_buy_base": np.array([2.0, 0.0, 1.0, 0.5]),
            "trades": np.array([3.0, 0.0, 7.0, 1.0])}  # fmt: skip
    got = window_series(bars, np.array([3]), 4, {"taker_imbalance", "trades"})
    np.testing.assert_allclose(got["taker_imbalance"][0], [1.0, 0.0, -0.5, 0.0])
    np.testing.assert_allclose(got["trades"][0], np.log1p([3.0, 0.0, 7.0, 1.0]))
    # in [-1, 1] already: encoded as it is, so mild and heavy buying differ (min-max
    # scaling would make their images one)
    enc = Encoder(["gasf:taker_imbalance"], 4)
    mild = enc.encode({"taker_imbalance": np.array([[0.1, 0.2, 0.1, 0.2]])})
    heavy = enc.encode({"taker_imbalance": np.array([[0.7, 0.8, 0.7, 0.8]])})
    assert not np.allclose(mild, heavy)
    scaled = Encoder(["gasf:volume"], 4)  # a min-max scaled series, for contrast
    low = scaled.encode({"volume": np.array([[0.1, 0.2, 0.1, 0.2]])})
    high = scaled.encode({"volume": np.array([[0.7, 0.8, 0.7, 0.8]])})
    np.testing.assert_allclose(low, high, atol=1e-6)
