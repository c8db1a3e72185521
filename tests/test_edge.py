"""The edge studies' parts: order flow kept at read time, bars of other intervals, the
order-flow and leader features (causal, as of the decision's bar), the cross-section's
ranks, rebalances and long-short, and `gafcnn edge` end to end on small markets."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import binance_rows, kraken_rows, make_bars, write_layout
from pipeline import MARKET, REPO, dvc, metrics, set_params
from scipy.stats import spearmanr

from gafcnn import paths, registry
from gafcnn.cli import main
from gafcnn.data.features import FLOW_FEATURES, flow_features
from gafcnn.data.readers import read_bars
from gafcnn.data.split import make_split
from gafcnn.edge import cross_section, horizons, synthetic
from gafcnn.edge.inputs import leader_features
from gafcnn.io import InputError
from gafcnn.params import LabelSpec, read_params
from gafcnn.universe import layout


@pytest.mark.parametrize("layout", ["spot_ms", "futures", "zip"])
def test_binance_files_keep_the_trade_count_and_taker_buy_volume(tmp_path, layout):
    bars = make_bars(20)
    path = write_layout(bars, tmp_path / "b.csv", layout)
    got = read_bars(str(path))[0]
    assert np.array_equal(got["trades"], np.full(20, 10.0))
    assert np.allclose(got["taker_buy_base"], bars["volume"] / 2)


def test_a_generic_csv_with_order_flow_columns_and_kraken_trades(tmp_path):
    bars = make_bars(20).assign(trades=np.arange(20.0), taker_buy_base=lambda b: b["volume"] / 4)
    bars.to_csv(tmp_path / "g.csv", index=False)
    got = read_bars(str(tmp_path / "g.csv"))[0]
    assert np.array_equal(got["trades"], np.arange(20.0))
    assert np.allclose(got["taker_buy_base"], bars["volume"] / 4)
    (tmp_path / "k.csv").write_text(kraken_rows(make_bars(20)))
    got = read_bars(str(tmp_path / "k.csv"))[0]
    assert "trades" in got and "taker_buy_base" not in got


def test_order_flow_is_kept_only_when_every_file_carries_it(tmp_path):
    a, b = make_bars(20), make_bars(20, start="2024-05-01T00:20:00Z", seed=1)
    binance_rows(a).to_csv(tmp_path / "a.csv", header=False, index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    got = read_bars(str(tmp_path))[0]
    assert len(got) == 40 and "trades" not in got and "taker_buy_base" not in got


def test_taker_buy_above_volume_is_one_error_naming_the_line(tmp_path):
    rows = binance_rows(make_bars(20))
    rows.loc[7, "taker_buy_volume"] = rows.loc[7, "volume"] + 1
    rows.to_csv(tmp_path / "f.csv", header=True, index=False)
    with pytest.raises(InputError, match=r"f\.csv:9: taker_buy_volume .* above the bar's volume"):
        read_bars(str(tmp_path / "f.csv"))
    rows.loc[7, "taker_buy_volume"], rows.loc[3, "count"] = 0.0, -1
    rows.to_csv(tmp_path / "f.csv", header=True, index=False)
    with pytest.raises(InputError, match=r"f\.csv:5: count -1 is negative"):
        read_bars(str(tmp_path / "f.csv"))


def test_filled_minutes_have_no_order_flow(tmp_path):
    rows = binance_rows(make_bars(20)).drop(index=[5, 6])
    rows.to_csv(tmp_path / "f.csv", header=True, index=False)
    got = read_bars(str(tmp_path / "f.csv"), fill_gaps=True)[0]
    assert len(got) == 20 and got["filled"].sum() == 2
    assert (got.loc[got["filled"], ["trades", "taker_buy_base"]].to_numpy() == 0).all()


def test_hourly_bars_read_at_their_interval_and_are_refused_as_minutes(tmp_path):
    bars = make_bars(30).assign(timestamp=pd.date_range("2024-05-01", periods=30, freq="h",
                                                        tz="UTC").as_unit("ms"))  # fmt: skip
    bars.drop(index=[4]).to_csv(tmp_path / "h.csv", index=False)
    assert len(read_bars(str(tmp_path / "h.csv"), interval=60)[0]) == 29
    with pytest.raises(InputError, match="bars are 60 minutes apart .* expected 1-minute bars"):
        read_bars(str(tmp_path / "h.csv"))
    with pytest.raises(InputError, match="01:00:00.* not on a 240-minute boundary"):
        read_bars(str(tmp_path / "h.csv"), interval=240)


def _flow_bars(n: int = 3000, seed: int = 0) -> dict[str, np.ndarray]:
    frame = synthetic.order_flow_market(n, 0.0, seed)
    names = ("close", "volume", "trades", "taker_buy_base")
    return {k: frame[k].to_numpy(np.float64) for k in names}


def test_flow_features_are_the_taker_imbalance_and_trades_and_read_no_later_bar():
    bars = _flow_bars()
    pos = np.array([10, 1500, 2999])
    f = flow_features(bars, pos, z_bars=100)
    assert f.shape == (3, len(FLOW_FEATURES))
    v, tb = bars["volume"], bars["taker_buy_base"]
    assert np.allclose(f[:, 0], 2 * tb[pos] / v[pos] - 1)
    p = 1500
    assert np.isclose(f[1, 1], 2 * tb[p - 4 : p + 1].sum() / v[p - 4 : p + 1].sum() - 1)
    assert np.isclose(f[1, 3], np.log1p(bars["trades"][p]))
    assert np.isnan(f[0, 2]) and np.isfinite(f[1, 2])  # the z-score needs 100 bars
    later = {k: a.copy() for k, a in bars.items()}
    for a in later.values():
        a[p + 1 :] *= 3
    assert np.array_equal(flow_features(later, pos[:2], z_bars=100), f[:2], equal_nan=True)
    with pytest.raises(ValueError, match="taker_buy_base"):
        flow_features({"close": bars["close"], "volume": v, "trades": bars["trades"]}, pos)


def test_leader_features_read_the_leaders_bar_of_the_same_minute_and_nan_where_it_has_none():
    minutes = np.arange(1000, 1200)
    leader = {"close": np.exp(np.linspace(0, 1, 200))}
    lm = minutes.copy()
    lm[150:] += 1  # the leader misses minute 1150 (and is shifted after)
    f = leader_features(leader, lm, np.array([1100, 1150, 1160]))
    logc = np.log(leader["close"])
    assert np.isclose(f[0, 0], logc[100] - logc[99]) and np.isclose(f[0, 1], logc[100] - logc[95])
    assert np.isnan(f[1]).all()
    assert np.isnan(f[2, 0]) is np.False_ and np.isclose(f[2, 0], logc[159] - logc[158])
    changed = {"close": leader["close"].copy()}
    changed["close"][101:] *= 2  # a later leader bar moves nothing at minute 1100
    assert np.array_equal(leader_features(changed, lm, np.array([1100])), f[:1], equal_nan=True)


def test_ranks_and_rank_ic_match_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 7)), rng.normal(size=(50, 7))
    r = cross_section.ranked(a)
    assert np.allclose(r.min(axis=1), -0.5) and np.allclose(r.max(axis=1), 0.5)
    want = [spearmanr(x, y)[0] for x, y in zip(a, b, strict=True)]
    assert np.allclose(cross_section.spearman_rows(a, b), want)
    a[0, 2] = np.nan
    assert np.isnan(cross_section.ranked(a)[0, 2]) and np.nanmax(cross_section.ranked(a)[0]) == 0.5


def test_long_short_holds_the_top_tercile_long_the_bottom_short_and_pays_on_turnover():
    score = np.array([[3.0, 2, 1, 0, -1, -2], [3.0, 2, 1, 0, -1, -2], [-2.0, -1, 0, 1, 2, 3]])
    fwd = np.array([[0.02, 0.01, 0, 0, -0.01, -0.02]] * 3)
    ls = cross_section.long_short(score, fwd, cost_bps=10)
    assert np.allclose(ls["gross"], [0.03, 0.03, -0.03])
    assert np.allclose(ls["turnover"], [2.0, 0.0, 4.0])
    assert np.allclose(ls["net"], ls["gross"] - ls["turnover"] * 10 / 1e4)
    assert np.allclose(ls["rank_spread"], [0.8, 0.8, -0.8])  # ranks 0.5, 0.3 vs -0.3, -0.5


def test_rebalances_are_a_horizon_of_time_apart_across_gaps():
    minutes = np.array([0, 60, 120, 300, 360, 420, 480])
    assert list(cross_section.spaced(minutes, 120)) == [0, 2, 3, 5]


def test_a_cross_section_needs_three_symbols():
    m = synthetic.cross_section_markets(2, 100, 0.0)
    with pytest.raises(ValueError, match="needs 3\\+ symbols, got 2"):
        cross_section.Panel.of(m)


def test_gafcnn_edge_horizons_finds_planted_order_flow_and_writes_its_figures(tmp_path, capsys):
    frame = synthetic.order_flow_market(12_000, 1.5, seed=3)
    frame.drop(columns="filled").to_csv(tmp_path / "flow.csv", index=False)
    main(["edge", "horizons", "--bars", str(tmp_path / "flow.csv"), "--horizons", "5,1",
          "--json", str(tmp_path / "f.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert "## Horizon 1 bars" in out and "## Horizon 5 bars" in out and "| xgb_flow |" in out
    figures = json.loads((tmp_path / "f.json").read_text())
    assert figures["trials"] == 2 and list(figures["horizons"]) == ["1", "5"]
    d = figures["horizons"]["1"]["differences"]["xgb_flow - xgb_indicators"]
    assert d["beyond_noise"] and d["accuracy"] > 0.05


def test_gafcnn_edge_cross_section_on_files_and_bad_arguments(tmp_path, capsys):
    for name, frame in synthetic.cross_section_markets(4, 3000, 0.5, seed=2).items():
        frame.drop(columns="filled").to_csv(tmp_path / f"{name.split('/')[0]}.csv", index=False)
    files = sorted(str(p) for p in tmp_path.glob("*.csv"))
    main(["edge", "cross-section", "--bars", *files, "--horizons", "1"])
    out = capsys.readouterr().out
    assert "4 symbols (S0, S1, S2, S3)" in out and "| xgb_rank |" in out
    named = [f"X{k}={f}" for k, f in enumerate(files)]  # SYMBOL=PATH names the symbol
    main(["edge", "cross-section", "--bars", *named, "--horizons", "1"])
    assert "4 symbols (X0, X1, X2, X3)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["edge", "cross-section", "--bars", *files, "--horizons", "1,x"])
    assert "--horizons: '1,x' is not whole bars >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["edge", "horizons", "--bars", files[0], "--horizons", "5,0"])
    assert "--horizons: '5,0' is not whole bars >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["edge", "horizons", "--bars", files[0], "--leader", "BTC"])
    assert "--leader: 'BTC' is not SYMBOL=FILE" in capsys.readouterr().err


def test_label_horizon_takes_a_list_whose_first_the_models_fit_and_whose_longest_purges():
    label = LabelSpec.from_params({"horizon": [5, 240, 15]})
    assert (label.horizon, label.horizons, label.longest) == (5, (5, 240, 15), 240)
    assert replace(label, dead_zone="fixed").horizons == (5, 240, 15)
    assert replace(label, horizon=15).horizons == (15,)  # one horizon of the study
    assert LabelSpec.from_params({"horizon": 7}).horizons == (7,)
    for bad in ([], [5, 5], [5, 0], [5.5]):
        with pytest.raises(InputError, match="label.horizon: .* is not allowed"):
            LabelSpec.from_params({"horizon": bad})
    with pytest.raises(InputError, match="unknown key 'label.horizons'"):
        LabelSpec.from_params({"horizons": [5]})
    p = read_params(REPO / "params.yaml")
    listed = replace(p, label=label)
    assert layout.trials(listed) == 3 * layout.trials(p)  # each horizon is a trial


def test_the_study_judges_on_a_given_split_and_counts_the_trials_it_is_told():
    frame = synthetic.order_flow_market(6_000, 1.0, seed=4)
    market = horizons.Market.of(frame)
    params = read_params(REPO / "params.yaml")
    split = make_split(market.minutes, params.split, list(params.gaf.windows), 15)
    figures = horizons.study(params, market, [15, 5], split=split, trials=6)
    assert figures["trials"] == 6 and figures["split"] == split.to_dict(market.minutes)
    five = figures["horizons"]["5"]["models"]["xgb_indicators"]
    assert five["p_vs_majority_family"] == pytest.approx(min(1.0, five["p_vs_majority"] * 3 * 6))
    with pytest.raises(ValueError, match="trials 1 must count every horizon"):
        horizons.study(params, market, [5, 15], split=split, trials=1)
    with pytest.raises(ValueError, match="shorter than the longest window plus horizon"):
        horizons.study(params, market, [5, 60], split=split)


def test_the_horizons_stage_scores_the_pipelines_horizon_as_the_xgb_indicators_stage(project):
    """One horizon (the default): the stage's XGBoost on the indicators is the pipeline's
    own, fitted on the same samples and split (the same test accuracy)."""
    figures = metrics(project, "horizons")
    assert list(figures["horizons"]) == ["5"] and figures["trials"] == 1
    row = figures["horizons"]["5"]["models"][registry.XGB_INDICATORS.name]
    fitted = metrics(project, registry.XGB_INDICATORS_STAGE.name)["test"]
    assert row["accuracy"] == pytest.approx(fitted["accuracy"], abs=1e-12)
    assert row["majority_rate"] == pytest.approx(fitted["majority_rate"], abs=1e-12)
    report = (project / MARKET / paths.HORIZONS_REPORT).read_text()
    assert report.startswith("Horizons judged together: 5 bars") and "## Horizon 5 bars" in report


@pytest.mark.slow
def test_a_list_of_horizons_purges_the_split_for_the_longest_and_counts_each(project, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    set_params(copy, **{"label.horizon": [5, 20]})
    dvc(copy, "repro", "horizons@BTCUSDT")
    figures = metrics(copy, "horizons")
    assert list(figures["horizons"]) == ["5", "20"] and figures["trials"] == 2
    windows = read_params(copy / "params.yaml").gaf.windows
    assert metrics(copy, "split")["purge_bars"] == max(windows) + 20
    assert yaml.safe_load((copy / MARKET / "params.yaml").read_text())["evaluate"]["trials"] == 2
