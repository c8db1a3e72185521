"""The drift statistic flags a market five times as volatile and not a fresh draw of
the same one; the breaker trips only after enough trades below the backtest's floor."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.serving.guards import Scorecard, psi, reference


def test_psi_flags_five_times_the_volatility_and_not_the_same_market():
    rng = np.random.default_rng(0)
    ref = reference(rng.normal(0, 1e-3, 20_000))
    same = psi(ref, rng.normal(0, 1e-3, 2_000))
    wild = psi(ref, rng.normal(0, 5e-3, 2_000))
    assert same < 0.05 < 0.25 < wild
    assert np.isnan(psi(ref, np.full(500, np.nan))) and np.isnan(psi(ref, np.array([])))


def test_reference_needs_enough_values():
    with pytest.raises(ValueError, match="at least 10"):
        reference(np.array([1.0, 2.0, np.nan]))


def test_breaker_trips_below_the_floor_after_min_trades_and_resets():
    card = Scorecard(floor=-2e-4, min_trades=5)
    for _ in range(4):
        card.add(-1e-3, -2e-4)
    assert card.tripped is None  # four trades are too few to judge
    card.add(-1e-3, -2e-4)
    assert card.tripped and "below the backtest's lower bound" in card.tripped
    card.add(5e-3, 6e-3)  # a win after tripping does not close it
    assert card.tripped and card.figures()["trades"] == 6
    card.reset()
    assert card.tripped is None and card.figures()["trades"] == 0
    for r in (1e-4, -1e-4, 3e-4, 0.0, 2e-4):
        card.add(r, r + 1e-3)
    assert card.tripped is None
    assert card.figures()["win_rate"] == 0.6 and round(card.figures()["mean_net_bps"], 6) == 1.0
    with pytest.raises(ValueError, match="finite"):
        card.add(float("nan"), 0.0)
