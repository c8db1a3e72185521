"""The synthetic market: deterministic, realistic in shape, and with a known oracle."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.data.bars import minute_index
from gafcnn.data.labels import direction_labels, forward_returns
from gafcnn.data.synthetic import SyntheticConfig, generate, oracle_accuracy, oracle_probabilities
from gafcnn.io import InputError, write_parquet
from gafcnn.patterns.candles import candle_profile


def test_same_seed_same_bytes(tmp_path):
    cfg = SyntheticConfig(n_bars=3000)
    write_parquet(generate(cfg).bars, tmp_path / "a.parquet")
    write_parquet(generate(cfg).bars, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    other = generate(SyntheticConfig(n_bars=3000, seed=8)).bars
    assert not np.array_equal(other["close"], generate(cfg).bars["close"])


def test_bars_look_like_crypto_bars():
    cfg = SyntheticConfig(n_bars=40_000)
    bars = generate(cfg).bars
    o, h, lo, c, v = (bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    assert (v > 0).all()
    np.testing.assert_allclose(np.round(c / cfg.tick), c / cfg.tick, atol=1e-6)  # tick grid
    np.testing.assert_array_equal(o[1:], c[:-1])  # continuous trading
    r = np.diff(np.log(c))
    z = (r - r.mean()) / r.std()
    assert np.mean(z**4) > 4.5  # heavy tails (Gaussian: 3)
    a = np.abs(r) - np.abs(r).mean()
    assert np.mean(a[:-1] * a[1:]) / np.mean(a * a) > 0.05  # volatility clustering
    mod = minute_index(bars) % 1440
    busy, quiet = np.abs(r[mod[1:] // 60 == 14]).mean(), np.abs(r[mod[1:] // 60 == 2]).mean()
    assert busy > 1.3 * quiet  # intraday seasonality
    assert np.corrcoef(np.abs(r), v[1:])[0, 1] > 0.3  # volume tied to |return|


def _oracle(signal: float, n: int = 20_000, horizon: int = 5) -> float:
    cfg = SyntheticConfig(n_bars=n, signal=signal)
    market = generate(cfg)
    r = forward_returns(market.bars["close"].to_numpy(), market.minutes, horizon)
    y = direction_labels(r, (0.0, 0.0))
    return oracle_accuracy(oracle_probabilities(market, cfg, horizon), y)


def test_no_signal_means_coin_flip():
    acc = _oracle(0.0)
    assert abs(acc - 0.5) < 0.015  # 20k samples: binomial sd ~0.0035 (overlap inflates it)


def test_default_signal_oracle_in_learnable_range():
    acc = _oracle(SyntheticConfig().signal)
    assert 0.60 <= acc <= 0.65


def test_oracle_grows_with_signal():
    accs = [_oracle(s, n=8000) for s in (0.1, 0.35, 0.6)]
    assert accs[0] < accs[1] < accs[2]


def test_bad_config():
    with pytest.raises(ValueError, match="signal"):
        generate(SyntheticConfig(signal=1.5))
    with pytest.raises(
        InputError,
        match=r"unknown key 'data.synthetic.nbars' \(did you mean 'data.synthetic.n_bars'\?\)",
    ):
        SyntheticConfig.from_params({"nbars": 3})
    with pytest.raises(InputError, match="data.synthetic.trade_prob: 1.5 is not allowed"):
        SyntheticConfig(trade_prob=1.5)


def test_trade_model_moves_open_high_low_only():
    base = generate(SyntheticConfig(n_bars=20000, seed=5)).bars
    traded = generate(SyntheticConfig(n_bars=20000, seed=5, trade_prob=0.3)).bars
    np.testing.assert_array_equal(traded["close"], base["close"])  # the oracle's path is kept
    assert (base["open"].to_numpy()[1:] == base["close"].to_numpy()[:-1]).all()
    assert (traded["open"].to_numpy()[1:] != traded["close"].to_numpy()[:-1]).mean() > 0.9
    o, h, lo, c = (traded[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    # fewer sampled prices: never a wider range than the continuous path's
    assert ((h - lo) <= (base["high"] - base["low"]).to_numpy() + 1e-9).all()
    prof = candle_profile({k: traded[k].to_numpy() for k in ("open", "high", "low", "close")})
    # a minute with only its closing trade has no range: (1 - 0.3)^7 of them at 8 substeps
    assert abs(prof["no_range_share"] - 0.7**7) < 0.01
