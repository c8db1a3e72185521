"""Known answers for the volatility forecast and sizing, on 200 days of synthetic bars
(`gafcnn.volatility.study`: the pipeline's split, samples, forecasters, judgement and
always-long backtest), fee 0 so that only risk differs:

* volatility clusters strongly (``vol_of_vol`` 0.8): HAR-RV and XGBoost beat
  persistence beyond their interval, and sizing by the served forecast lowers the
  maximum drawdown and the worst hours beyond noise;
* volatility is constant (``vol_of_vol`` 0, ``seasonality`` 0): no forecaster explains
  any of the next hour's realized volatility, HAR-RV is served (nothing beats it on
  val), and sizing changes nothing beyond noise. Persistence is still beaten: the
  last hour's realized volatility is a noisy estimate of the constant that a longer
  average estimates better."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO
from pipeline import overridden

from gafcnn.data.synthetic import generate
from gafcnn.params import Params
from gafcnn.serving.sizing import forecasters
from gafcnn.volatility.study import study

pytestmark = pytest.mark.slow


def _study(**over: object) -> dict:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    market = {"data.synthetic.n_bars": 200 * 1440, "evaluate.costs.fee_bps": 0.0, **over}
    params = Params.from_dict(overridden(raw, **market))
    return study(params, generate(params.data.synthetic).bars, forecasters(pipeline=False), 2)


def test_where_volatility_clusters_the_forecasters_beat_persistence_and_sizing_cuts_drawdown():
    m = _study(**{"data.synthetic.vol_of_vol": 0.8})
    # measured: R² persistence 0.77, HAR 0.79, XGBoost 0.86; drawdown 0.30 -> 0.11
    rows = m["test"]["models"]
    for name in ("vol_har", "vol_xgb_indicators"):
        assert rows[name]["vs_benchmark"]["qlike_diff_ci"][1] < 0, name
        assert rows[name]["r2_log_ci"][0] > 0.5, name
    assert m["reality_check"]["p_value"] < 0.05
    b = m["backtests"]["always_long"]
    assert b["lowers_drawdown"]
    assert b["sized"]["max_drawdown"] < 0.75 * b["unsized"]["max_drawdown"]
    assert b["difference"]["worst_1pct"]["ci"][0] > 0


def test_with_constant_volatility_nothing_is_explained_and_sizing_changes_nothing():
    m = _study(**{"data.synthetic.vol_of_vol": 0.0, "data.synthetic.seasonality": 0.0})
    # measured: R² persistence -0.93, HAR -0.02, XGBoost -0.004; every difference ~0
    for name, row in m["test"]["models"].items():
        assert row["r2_log_ci"][1] < 0.02, name
    assert m["served"]["model"] == "vol_har"
    b = m["backtests"]["always_long"]
    assert not b["lowers_drawdown"]
    for figure, d in b["difference"].items():
        assert d["ci"][0] <= 0 <= d["ci"][1], figure
