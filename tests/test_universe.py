"""A universe of symbols: one split cut at the same timestamps for every symbol, the
pooled fit's lanes (moved and back without loss), the synthetic universe (each symbol
its own signal, shocks correlated as asked, a one-symbol market unchanged), the
models pooled over symbols, the rank IC, and one decision per symbol."""

from __future__ import annotations

import dataclasses
import sys
import types

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from pipeline import MARKET, overridden

from gafcnn import clock
from gafcnn.data import synthetic
from gafcnn.evaluation.timings import write_timings_report
from gafcnn.io import InputError, stage_name, write_json
from gafcnn.params import DataParams, Params, SplitSpec, SyntheticConfig, UniverseParams
from gafcnn.universe.evaluation import Market, choose, pooled_accuracy, rank_ic
from gafcnn.universe.layout import WARMUP, WEEK, Lanes, common_ranges, common_span

DAY = 1440


def test_the_split_cuts_every_symbol_at_the_same_times_over_the_shared_span():
    spans = {"A": (1000, 1000 + 30 * DAY), "B": (1000 + DAY, 1000 + 40 * DAY)}
    start, stop = common_span(spans)
    assert (start, stop) == (1000 + DAY, 1000 + 30 * DAY + 1)
    r = common_ranges((start, stop), SplitSpec(train=0.7, val=0.15, test=0.15))
    cuts = [
        clock.parse_minute(r[k][0][i], "t", k) for k in ("train", "val", "test") for i in (0, 1)
    ]
    assert cuts[0] == start + WARMUP and cuts[-1] == stop  # training starts after the warm-up
    assert cuts[1] == cuts[2] and cuts[3] == cuts[4]  # contiguous: each symbol's split purges
    assert (cuts[1] - cuts[0]) / (stop - cuts[0]) == pytest.approx(0.7, abs=1e-3)
    with pytest.raises(ValueError, match="share no minute"):
        common_span({"A": (0, 100), "B": (200, 300)})


def test_lanes_move_each_symbol_by_whole_weeks_and_back_without_loss():
    spans = {"A": (10_000, 10_000 + 9 * DAY), "B": (10_000, 10_000 + 9 * DAY)}
    lanes = Lanes.of(["A", "B"], spans, margin=65)
    assert lanes.width % WEEK == 0 and lanes.width > 9 * DAY + 65
    frame = pd.DataFrame(
        {"timestamp": clock.datetimes_of_minutes(np.arange(10_000, 10_050)), "x": np.arange(50)}
    )
    moved = pd.concat([lanes.moved(frame, s) for s in ("A", "B")], ignore_index=True)
    assert clock.minutes_of(moved["timestamp"]).min() == 10_000
    assert np.all(np.diff(clock.minutes_of(moved["timestamp"])) > 0)  # one time line, no overlap
    back = lanes.back(moved)
    assert list(back["symbol"]) == ["A"] * 50 + ["B"] * 50
    assert back["timestamp"].iloc[50:].reset_index(drop=True).equals(frame["timestamp"])
    r = lanes.ranges({"train": [["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]]})
    gap = [clock.parse_minute(p[0], "t") for p in r["train"]]
    assert gap[1] - gap[0] == lanes.width


def test_a_synthetic_universe_gives_each_symbol_its_signal_and_correlated_shocks():
    cfg = SyntheticConfig(n_bars=20_000, signals=[0.35, 0.0], correlation=0.5)
    one, two = (synthetic.symbol_config(cfg, ["A", "B"], s) for s in ("A", "B"))
    assert (one.signal, two.signal, one.seed, two.seed) == (0.35, 0.0, cfg.seed, cfg.seed + 1)
    common = synthetic.common_shocks(cfg)
    a, b = synthetic.generate(one, common), synthetic.generate(two, common)
    ra, rb = (np.diff(np.log(m.bars["close"].to_numpy())) for m in (a, b))
    assert 0.3 < np.corrcoef(ra, rb)[0, 1] < 0.7  # the shared shock, through each volatility
    lag = [np.corrcoef(r[:-1], r[1:])[0, 1] for r in (ra, rb)]
    assert lag[0] < -0.05 < lag[1]  # only A mean-reverts (the planted signal)
    # a market without correlation is the one-symbol market, draw for draw
    plain = dataclasses.replace(cfg, correlation=0.0, signals=[])
    assert synthetic.generate(plain).bars.equals(
        synthetic.generate(SyntheticConfig(n_bars=20_000)).bars
    )


def test_universe_params_are_checked():
    with pytest.raises(InputError, match="synthetic.signals: 1 signals for 2 symbols"):
        DataParams.from_params({"symbols": ["A", "B"], "synthetic": {"signals": [0.1]}})
    with pytest.raises(InputError, match=r'universe.pooled: "yes" is not allowed'):
        UniverseParams.from_params({"pooled": "yes"})
    with pytest.raises(InputError, match=r"unknown key 'universe.training' \(valid here: pooled\)"):
        UniverseParams.from_params({"training": ["per_symbol"]})
    assert UniverseParams().trainings(1) == ["per_symbol"]  # one symbol: nothing to pool
    assert UniverseParams().trainings(2) == ["per_symbol", "pooled"]
    assert UniverseParams(pooled=False).trainings(2) == ["per_symbol"]
    assert DataParams.from_params({"symbols": ["A", "B"]}).universe
    assert not DataParams.from_params({"symbols": ["A"]}).universe
    for bad in ([], ["BTC/USDT"], ["A", "A"]):
        with pytest.raises(InputError, match="data.symbols: "):
            DataParams.from_params({"symbols": bad})


def judged_of(ts: np.ndarray, y: np.ndarray, p: np.ndarray) -> dict:
    return {"ts": ts, "y": y, "probs": {"m": p}}


def test_pooled_accuracy_counts_every_symbols_decisions_with_an_interval():
    rng = np.random.default_rng(0)
    ts = clock.ms_of_minutes(np.arange(2000, dtype=np.int64))
    y = {s: rng.integers(0, 2, 2000) for s in "AB"}
    judged = {
        "A": judged_of(ts, y["A"], np.where(y["A"] == 1, 0.9, 0.1)),  # always right
        "B": judged_of(ts, y["B"], np.full(2000, 0.7)),
    }  # always up
    out = pooled_accuracy(judged, block=20, reps=200, seed=1)["m"]
    expect = (2000 + y["B"].sum()) / 4000
    assert out["samples"] == 4000 and out["accuracy"] == pytest.approx(expect)
    assert out["accuracy_ci"][0] < expect < out["accuracy_ci"][1]


def test_rank_ic_finds_a_model_that_ranks_the_symbols_by_their_next_return():
    rng = np.random.default_rng(3)
    n, horizon, symbols = 3000, 5, "ABCD"
    minutes = np.arange(n, dtype=np.int64)
    closes = {s: 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n))) for s in symbols}
    markets = {s: Market({"close": c}, minutes, pd.DataFrame()) for s, c in closes.items()}
    ts = clock.ms_of_minutes(minutes[:-horizon])
    nxt = {s: np.log(c[horizon:] / c[:-horizon]) for s, c in closes.items()}
    seer = {
        s: judged_of(ts, np.zeros(len(ts), int), 0.5 + 10 * nxt[s] + rng.normal(0, 0.01, len(ts)))
        for s in symbols
    }
    blind = {s: judged_of(ts, np.zeros(len(ts), int), rng.random(len(ts))) for s in symbols}
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    params = Params.from_dict(overridden(raw, **{"evaluate.costs.fee_bps": 0.0}))
    good, none = (rank_ic(j, markets, horizon, params, 2)["m"] for j in (seer, blind))
    assert good["rank_ic"] > 0.3 and good["rank_ic_t"] > 10
    assert abs(none["rank_ic"]) < 0.05 and abs(none["rank_ic_t"]) < 3.5
    assert good["rebalances"] == len(range(0, len(ts), horizon))
    # the long-short of the seer earns beyond its interval, the blind one does not
    assert good["net_bps_ci"][0] > 0 and good["deploys"] and not none["deploys"]
    assert rank_ic(dict(list(seer.items())[:2]), markets, horizon, params, 2) is None


def test_a_symbol_trades_its_own_decision_and_the_pooled_one_is_only_reported():
    def row(model, theta=0.05):
        return {"decision": "deploy nothing" if model is None else f"deploy {model}",
                "model": model, "theta": None if model is None else theta}  # fmt: skip

    nothing = choose({"per_symbol": row(None), "pooled": row(None)})
    assert nothing["model"] is None and nothing["would_deploy"] == {}
    own = choose({"per_symbol": row("hybrid"), "pooled": row("ensemble", 0.1)})
    assert (own["training"], own["model"], own["theta"]) == ("per_symbol", "hybrid", 0.05)
    assert own["would_deploy"]["pooled"] == {"model": "ensemble", "theta": 0.1}
    pooled_only = choose({"per_symbol": row(None), "pooled": row("hybrid")})
    assert pooled_only["decision"] == "deploy nothing" and "pooled" in pooled_only["would_deploy"]


def test_a_universe_stage_is_timed_by_its_entry_with_its_peak_memory(monkeypatch, tmp_path):
    """Each ingest entry has its own wall time, and the timings table gives the peak
    memory of the stage or of its largest child (the pooled fit's scratch stages)."""
    spec = types.SimpleNamespace(name="gafcnn.stages.ingest")
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=spec))
    monkeypatch.setattr(sys, "argv", ["ingest.py", "--symbol", "BTC_USDT"])
    assert stage_name() == "ingest@BTC_USDT"
    spec = types.SimpleNamespace(name="gafcnn.stages.pooled")
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=spec))
    monkeypatch.setattr(sys, "argv", ["pooled.py"])
    assert stage_name() == "pooled"
    write_json(tmp_path / "t.json", {
        "wall/pooled": {"wall_s": 30.0, "peak_rss_mb": 90.0, "children_peak_rss_mb": 1400.0},
        "wall/universe": {"wall_s": 10.0, "peak_rss_mb": 300.0, "children_peak_rss_mb": 0.0},
    })  # fmt: skip
    write_timings_report(tmp_path / "t.json", tmp_path / "t.md")
    text = (tmp_path / "t.md").read_text()
    assert "| pooled | 30.0 | 75.0% | 1,400 |" in text
    assert "| universe | 10.0 | 25.0% | 300 |" in text


def test_a_symbols_own_fit_is_summarised_from_its_evaluation_and_judged_alike(project):
    """The universe reads a symbol's own fit as its evaluate stage judged it (no second
    judgement), and the one judge, run again on the same predictions, agrees with it."""
    import json

    from gafcnn.data.bars import load_bars
    from gafcnn.io import read_json
    from gafcnn.models import predictions
    from gafcnn.params import read_params
    from gafcnn.universe.evaluation import as_evaluated, judge, summary

    folder = project / MARKET
    params = read_params(folder / "params.yaml")  # the market's own (the `market` stage's)
    preds = predictions.read(folder / "data" / "predictions")
    bars, minutes = load_bars(path=folder / "data" / "interim" / "bars.parquet")
    market = Market(bars, minutes, pd.read_parquet(folder / "data" / "interim" / "oracle.parquet"))
    m = {k: read_json(folder / "metrics" / f"{k}.json")
         for k in ("audit", "latency", "evaluate", "decision")}  # fmt: skip
    judged = as_evaluated(params, preds, market, m["evaluate"], m["decision"])
    own = summary(judged, params.label.horizon)
    assert own["decision"] == m["decision"]["decision"]
    assert own["test_samples"] == m["evaluate"]["test_samples"]
    for name, row in own["models"].items():
        assert row["accuracy"] == m["evaluate"]["table"][name]["accuracy"]
    split = read_json(folder / "metrics" / "split.json")
    train_last = clock.parse_ms(split["train"]["last_timestamp"], "split")
    again = judge(params, preds, market, m, params.evaluate.trials, train_last)
    assert again["decision"]["decision"] == m["decision"]["decision"]
    assert json.dumps(again["decision"]["reasons"]) == json.dumps(m["decision"]["reasons"])


def test_the_report_leaves_a_policy_without_test_trades_blank(tmp_path):
    """A market's evaluation read back from JSON holds None where a policy made no test
    trade (NaN in the run): the universe's table shows an empty cell, not an error."""
    from gafcnn.universe.report import write_universe_report

    row = {"accuracy": 0.5, "accuracy_ci": [0.45, 0.55], "majority_rate": 0.5,
           "policy": {"theta": 0.05, "trades": 0, "mean_net_return": None,
                      "break_even_bps": None}}  # fmt: skip
    judged = {"test_samples": 100, "models": {"hybrid": row},
              "power": {"models": {"hybrid": {"detectable_accuracy_edge": None}}}}  # fmt: skip
    out = {"symbols": ["AAA"], "trials": 1, "per_symbol": {"AAA": {"per_symbol": judged}},
           "decision": {"AAA": {"decision": "deploy nothing", "model": None, "theta": None,
                                "training": None, "would_deploy": {}}},
           "pooled": {}, "rank_ic": {}}  # fmt: skip
    write_universe_report(out, tmp_path / "u.md")
    assert (
        "| hybrid | 0.5000 [0.4500, 0.5500] | 0.5000 | 0.05 | 0 |  |  |  |"
        in (tmp_path / "u.md").read_text()
    )
