"""Technical indicators use the past only."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.features import INDICATORS, indicators, window_bar_features
from gafcnn.synthetic import SyntheticConfig, generate


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
