"""The promotion rule: the gate must deploy the challenger, and it must not be worse
than the champion on the same unseen stretch beyond the noise."""

from __future__ import annotations

import math

import pytest

from gafcnn.live.gate import judge_challenger


@pytest.mark.parametrize(
    "deploys, challenger, champion, noise, promote, words",
    [
        (False, 5e-4, 0.0, 1e-4, False, "deploys nothing"),
        (True, -1e-4, None, 1e-4, True, "no champion"),
        (True, 1e-4, 4e-4, 1e-4, False, "worse than the champion by 3.00 bps"),
        (True, 3.5e-4, 4e-4, 1e-4, True, "not worse than the champion"),
        (True, 6e-4, 0.0, 0.0, True, "margin +6.00 bps"),
        (True, math.nan, 0.0, 1e-4, False, "no trade of the challenger"),
    ],
)
def test_challenger_verdicts(deploys, challenger, champion, noise, promote, words):
    verdict = judge_challenger(deploys, challenger, champion, noise)
    assert verdict.promote is promote and words in verdict.reason
    assert verdict.figures["noise_bps"] == pytest.approx(noise * 1e4)


def test_noise_must_be_a_non_negative_number():
    for bad in (-1e-4, math.nan):
        with pytest.raises(ValueError, match="noise"):
            judge_challenger(True, 0.0, 0.0, bad)


def test_a_challenger_whose_volatility_forecast_is_worse_beyond_the_noise_is_refused():
    worse = {"challenger_qlike": 0.30, "champion_qlike": 0.20, "noise": 0.05, "decisions": 900}
    v = judge_challenger(True, 0.001, 0.0005, 0.0002, None, worse)
    assert not v.promote and "volatility forecast is worse" in v.reason
    assert v.figures["volatility"] == worse
    within = {**worse, "challenger_qlike": 0.24}  # 0.04 above: inside the noise
    assert judge_challenger(True, 0.001, 0.0005, 0.0002, None, within).promote
    # no champion: nothing to compare the forecaster with
    assert judge_challenger(True, 0.001, None, 0.0002, None, worse).promote
