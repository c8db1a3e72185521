"""Known answers for the new inputs (`gafcnn.edge`): a market plants one signal that
only that input can see, and the study must find it with the input and miss it
without; with the signal's strength at 0 nothing deploys. params.yaml's split, XGBoost,
costs (5 bps per side) and bootstrap, as `gafcnn edge` runs them.

* order flow: a bar's taker imbalance moves the next bar (imbalance independent from
  bar to bar, so the bars' prices carry none of it);
* leaders: a follower repeats its leader's returns 2 bars later;
* the cross-section: each symbol's own part reverses against the universe's mean
  under a common move five times its size, so the ranking is predictable and a
  symbol's direction on its own is not."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO

from gafcnn.edge import cross_section, horizons, synthetic
from gafcnn.edge.horizons import BASE, FLOW_MODEL, LEADERS_MODEL, LOGISTIC
from gafcnn.params import Params

pytestmark = pytest.mark.slow
PARAMS = Params.from_dict(yaml.safe_load((REPO / "params.yaml").read_text()))
BARS = 40_000


def _horizon(figures: dict, h: int = 5) -> dict:
    return figures["horizons"][str(h)]


def _missed(r: dict, model: str) -> None:
    m = r["models"][model]
    assert m["accuracy_ci"][0] <= m["majority_rate"] + 0.01, model
    assert not m["policy"]["passes"], model


def _flow(strength: float) -> tuple:
    return synthetic.order_flow_market(BARS, 1.5 * strength, seed=1), {}


def _lead(strength: float) -> tuple:
    m = synthetic.lead_lag_markets(BARS, 0.5 * strength, seed=1)
    return m["FOLLOW/USDT"], {"LEAD/USDT": m["LEAD/USDT"]}


@pytest.mark.parametrize(
    "planted, model, frame", [("order flow", FLOW_MODEL, _flow), ("leader", LEADERS_MODEL, _lead)]
)
def test_the_new_input_finds_its_planted_signal_and_nothing_where_none_is(planted, model, frame):
    bars, leaders = frame(1.0)
    r = _horizon(horizons.study(PARAMS, horizons.Market.of(bars, leaders), [5], threads=2))
    # measured: order flow 0.594 against majority 0.511 (indicators 0.505), +6.7 bps net;
    # leader 0.565 against 0.509 (indicators 0.502), +7.4 bps net
    found = r["models"][model]
    assert found["accuracy_ci"][0] > found["majority_rate"] + 0.03, planted
    assert found["policy"]["passes"] and r["deploys"] == [model], planted
    assert r["differences"][f"{model} - {BASE}"]["ci"][0] > 0.02, planted
    for without in (BASE, LOGISTIC):
        _missed(r, without)
    bars, leaders = frame(0.0)
    r = _horizon(horizons.study(PARAMS, horizons.Market.of(bars, leaders), [5], threads=2))
    assert r["deploys"] == [], planted
    assert not r["differences"][f"{model} - {BASE}"]["ci"][0] > 0.01, planted


def test_only_the_cross_section_finds_a_ranking_signal_and_nothing_deploys_without_one():
    markets = synthetic.cross_section_markets(6, 20_000, 0.5, seed=1)
    figures = cross_section.study(PARAMS, cross_section.Panel.of(markets), [1], threads=2)
    # measured: rank IC 0.417 (t 61), long-short +4.8 bps net per bar [4.0, 5.5]
    r = figures["horizons"]["1"]["models"]["xgb_rank"]
    assert r["rank_ic"] > 0.2 and r["rank_ic_t"] > 10 and r["net_bps_ci"][0] > 0
    assert "xgb_rank" in figures["deploys"]["1"]
    for symbol in ("S0/USDT", "S3/USDT"):  # a symbol alone: its direction is a coin flip
        alone = horizons.study(PARAMS, horizons.Market.of(markets[symbol]), [1], threads=2)
        assert _horizon(alone, 1)["deploys"] == [], symbol
        for model in (BASE, LOGISTIC):
            _missed(_horizon(alone, 1), model)
    markets = synthetic.cross_section_markets(6, 20_000, 0.0, seed=1)
    figures = cross_section.study(PARAMS, cross_section.Panel.of(markets), [1, 5], threads=2)
    assert figures["deploys"] == {"1": [], "5": []}
    for h in ("1", "5"):
        for name, m in figures["horizons"][h]["models"].items():
            assert abs(m["rank_ic_t"]) < 3, (h, name)
