"""Technical indicators use the past only."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.data.features import INDICATORS, ema, indicators, rolling, window_bar_features
from gafcnn.data.synthetic import SyntheticConfig, generate


@pytest.fixture(scope="module")
def market():
    m = generate(SyntheticConfig(n_bars=1500))
    return {k: m.bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume")}, m.minutes


@pytest.mark.parametrize("t", [100, 700, 1400])
def test_no_feature_changes_when_future_bars_change(market, t):
    bars, minutes = market
    base = indicators(bars, minutes)
    rng = np.random.default_rng(t)
    altered = {k: v.copy() for k, v in bars.items()}
    scale = np.exp(rng.normal(0, 0.05, len(minutes) - t - 1))
    for k in ("open", "high", "low", "close"):
        altered[k][t + 1 :] *= scale
    altered["volume"][t + 1 :] *= 10
    again = indicators(altered, minutes)
    np.testing.assert_array_equal(again[: t + 1], base[: t + 1])
    assert not np.allclose(again[t + 1 :], base[t + 1 :], equal_nan=True)  # the check can fail
    win = window_bar_features(bars, np.array([t]), 30)
    np.testing.assert_array_equal(window_bar_features(altered, np.array([t]), 30), win)


def test_indicator_ranges(market):
    bars, minutes = market
    f = indicators(bars, minutes)
    assert f.shape == (len(minutes), len(INDICATORS))
    rsi = f[100:, INDICATORS.index("rsi_14")]
    assert np.nanmin(rsi) >= 0 and np.nanmax(rsi) <= 100
    assert np.isfinite(f[100:]).mean() > 0.99
    np.testing.assert_allclose(
        f[61, INDICATORS.index("ret_60")], np.log(bars["close"][61] / bars["close"][1])
    )


@pytest.mark.parametrize("span", [9, 12, 26, 27])
@pytest.mark.parametrize("n", [1, 5, 93, 94, 1000])
def test_ema_matches_pandas(span, n):
    import pandas as pd

    x = 3e4 * np.exp(np.cumsum(np.random.default_rng(n + span).normal(0, 1e-3, n)))
    ref = pd.Series(x).ewm(span=span, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(ema(x, span), ref, rtol=1e-13, atol=0)


@pytest.mark.parametrize("how", ["mean", "std"])
@pytest.mark.parametrize("n", [15, 20, 60])
def test_rolling_matches_pandas(how, n):
    import pandas as pd

    x = np.random.default_rng(n).normal(0, 1e-3, 500)
    x[[0, 200]] = np.nan  # a window holding a NaN is NaN, as in pandas
    ref = getattr(pd.Series(x).rolling(n, min_periods=n), how)().to_numpy()
    got = rolling(x, n, how)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-10, equal_nan=True)
    assert np.isnan(rolling(x[: n - 1], n, how)).all()


def test_rolling_std_of_a_constant_window_is_zero():
    """Filled gaps repeat the last close; their spread is exactly 0, never rounding
    noise that would blow up a ratio such as the Bollinger %b."""
    x = np.r_[np.linspace(1, 2, 30), np.full(30, 2.5)]
    assert rolling(x, 20, "std")[-1] == 0.0


def test_rows_at_positions_equal_the_full_computation(market):
    """A live decision asks for one row; it is the row the pipeline trained on."""
    bars, minutes = market
    full = indicators(bars, minutes)
    for pos in (np.array([0, 14, 59, 60, 1499]), np.array([1499]), np.arange(0, 1500, 7)):
        np.testing.assert_array_equal(indicators(bars, minutes, pos), full[pos])


def test_ema_of_columns_is_each_column_alone():
    x = np.random.default_rng(1).normal(size=(400, 3))
    both = ema(x, 27)
    for j in range(3):
        np.testing.assert_array_equal(both[:, j], ema(x[:, j], 27))


def test_ema_rows_at_any_positions_equals_the_full_ema():
    from gafcnn.data.features import ema, ema_rows

    x = np.random.default_rng(3).normal(size=(5000, 2))
    full = ema(x, 27)
    at = np.array([4999, 0, 17, 17, 2500, 1])  # unsorted, repeated
    np.testing.assert_array_equal(ema_rows(lambda a, b: x[a:b], len(x), 27, at), full[at])
    np.testing.assert_array_equal(ema_rows(lambda a, b: x[a:b, 0], len(x), 9), ema(x[:, 0], 9))
