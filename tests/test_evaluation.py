"""Block bootstrap coverage, backtest arithmetic, and every decision branch."""

from __future__ import annotations

import json
import re
from html import unescape

import numpy as np
import pytest
from pipeline import MARKET, metrics
from scipy import stats

from gafcnn.evaluation.bootstrap import block_length, bootstrap, bootstrap_indices
from gafcnn.evaluation.decision import DecisionInputs, decide
from gafcnn.trading.backtest import backtest


def test_bootstrap_covers_the_truth_at_about_the_nominal_rate():
    """Dependent Bernoulli hits with known P(hit) = 0.6: the 95% interval should contain
    0.6 in about 95% of simulated test sets."""
    rng = np.random.default_rng(0)
    n, reps, block = 1500, 200, 20
    cut = stats.norm.ppf(0.6)
    kernel = np.ones(10) / np.sqrt(10)  # moving average: neighbouring hits are correlated
    covered, naive_covered = 0, 0
    idx = bootstrap_indices(n, block, 500, seed=1)
    for _ in range(reps):
        z = np.convolve(rng.standard_normal(n + 9), kernel, mode="valid")
        hit = z < cut
        y = rng.integers(0, 2, n)
        pred = np.where(hit, y, 1 - y)
        lo, hi = bootstrap(y, pred, idx).accuracy_ci
        covered += lo <= 0.6 <= hi
        se = np.sqrt(0.6 * 0.4 / n)
        naive_covered += abs(hit.mean() - 0.6) <= 1.96 * se
    assert 0.89 <= covered / reps <= 0.99
    assert naive_covered / reps < 0.85  # the i.i.d. interval is too narrow here


def test_bootstrap_p_value_vs_majority():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 3000)
    idx = bootstrap_indices(len(y), 10, 500, seed=0)
    good = np.where(rng.uniform(size=len(y)) < 0.6, y, 1 - y)
    assert bootstrap(y, good, idx).p_value_vs_majority < 0.01
    coin = rng.integers(0, 2, len(y))
    assert bootstrap(y, coin, idx).p_value_vs_majority > 0.05


@pytest.mark.parametrize(("n", "block"), [(1000, 33), (50, 7), (5, 12)])
def test_resample_rows_are_circular_blocks(n, block):
    """Each resample is its blocks laid end to end, wrapping past the end (also for a
    block longer than the series), the same chunk by chunk as whole."""
    idx = bootstrap_indices(n, block, 40, seed=5)
    whole = np.asarray(idx)
    want = (idx.starts[:, :, None] + np.arange(block)) % n
    assert np.array_equal(whole, want.reshape(40, -1)[:, :n])
    assert np.array_equal(np.concatenate(list(idx.chunks())), whole)


def test_block_length_spans_window_and_horizon():
    assert block_length(60, 5, 2) == 33
    assert block_length(15, 5, 1) == 20


def test_backtest_by_hand():
    # decisions every 2 minutes, horizon 5: trades at t=0, 6 (next free), 12
    minutes = np.array([0, 2, 4, 6, 8, 10, 12])
    p = np.array([0.7, 0.9, 0.1, 0.2, 0.9, 0.9, 0.6])
    fwd = np.array([0.010, 0.5, 0.5, -0.004, 0.5, 0.5, -0.002])
    r = backtest(minutes, p, fwd, horizon=5, cost_bps=10, period_minutes=17)
    # long +1.0% - 0.2% = +0.8%; short on -0.4% = +0.4% - 0.2% = +0.2%; long on -0.2% = -0.4%
    net = np.array([0.008, 0.002, -0.004])
    assert r.trades == 3
    np.testing.assert_array_equal(r.trade_times, [0, 6, 12])
    assert r.win_rate == pytest.approx(2 / 3)
    assert r.mean_net_return == pytest.approx(net.mean())
    np.testing.assert_allclose(r.equity, np.cumprod(1 + net))
    peak = 1.008 * 1.002
    assert r.max_drawdown == pytest.approx(1 - peak * 0.996 / peak)
    per_year = 3 / (17 / (365 * 24 * 60))
    assert r.sharpe == pytest.approx(net.mean() / net.std(ddof=1) * np.sqrt(per_year))
    assert r.exposure == pytest.approx(15 / 17)


def _row(acc, lo, maj=0.5, p=0.001):
    return {"accuracy": acc, "accuracy_ci": [lo, acc + 0.02], "majority_rate": maj,
            "p_value_vs_majority": p}  # fmt: skip


def _policy(net: dict, p: float = 0.001, judged: bool = True) -> dict:
    return {m: {"theta": 0.1, "trades": 100, "mean_net_return": v, "judged": judged,
                "p_value_family": p} for m, v in net.items()}  # fmt: skip


def _decide(ens, ens_lo, others_lo=0.45, audit=True, net=None, require_profit=True, **kw):
    table = {
        "ensemble": _row(ens, ens_lo),
        "xgb_indicators": _row(0.55, others_lo),
        "hybrid": _row(0.58, others_lo),
        "oracle": _row(0.9, 0.88),
    }
    return decide(_inputs(table, audit_passed=audit, require_profit=require_profit,
                          policy=None if net is None else _policy(net, **kw)))  # fmt: skip


def _inputs(table, **kw) -> DecisionInputs:
    """The three candidates named as in the pipeline, audit passed, serving checks met."""
    given = {"ensemble": "ensemble", "xgb_indicators": "xgb_indicators", "hybrid": "hybrid",
             "audit_passed": True, "out_of_sample": True, "inference_ok": True,
             "memory_ok": True}  # fmt: skip
    return DecisionInputs(table, **(given | kw))


@pytest.mark.parametrize(
    ("ens", "ens_lo", "expected"),
    [
        (0.52, 0.49, "deploy nothing"),  # nobody clears the majority (oracle ignored)
        (0.58, 0.56, "deploy xgb_indicators only"),
        (0.65, 0.63, "deploy hybrid"),
        (0.75, 0.73, "deploy ensemble"),
    ],
)
def test_decision_branches(ens, ens_lo, expected):
    d = _decide(ens, ens_lo)
    assert d["decision"] == expected
    assert d["checklist"]["ensemble_above_70pct"] == (ens > 0.7)
    assert d["checklist"]["outperforms_xgb_indicators"] == (ens > 0.55)


def test_multiple_comparisons_are_corrected():
    # interval above the majority rate, but p = 0.02 across 3 models is not enough
    table = {m: _row(0.53, 0.505, p=0.02) for m in ("ensemble", "xgb_indicators", "hybrid")}
    d = decide(_inputs(table))
    assert d["decision"] == "deploy nothing" and "3 models compared" in d["reasons"][0]


def test_too_few_resamples_to_pass_the_corrected_bar_are_named():
    """With 500 resamples p >= 1/501: across 3 models x 12 trials it cannot reach 0.05."""
    table = {m: _row(0.62, 0.60, p=1 / 501) for m in ("ensemble", "xgb_indicators", "hybrid")}
    few = decide(_inputs(table, trials=12, bootstrap_reps=500))
    assert few["decision"] == "deploy nothing"
    assert "set evaluate.bootstrap_reps to at least 720" in few["reasons"][0]
    table = {m: _row(0.62, 0.60, p=1 / 2001) for m in table}
    enough = decide(_inputs(table, trials=12, bootstrap_reps=2000))
    assert enough["decision"] != "deploy nothing"
    assert not any("bootstrap_reps" in r for r in enough["reasons"])


def test_a_winner_picked_from_a_grid_must_clear_the_grids_bar():
    """p = 0.01 clears 0.05 across 3 models (0.03), not across 3 models x 5 configs."""
    table = {m: _row(0.56, 0.53, p=0.01) for m in ("ensemble", "xgb_indicators", "hybrid")}
    assert decide(_inputs(table))["decision"] == "deploy xgb_indicators only"
    d = decide(_inputs(table, trials=5))
    assert d["decision"] == "deploy nothing" and d["trials"] == 5
    assert "3 models x 5 experiments compared" in d["reasons"][0]


def test_failed_audit_deploys_nothing():
    d = _decide(0.75, 0.73, audit=False)
    assert d["decision"] == "deploy nothing" and not d["checklist"]["no_leakage"]
    assert "audit failed" in d["reasons"][0]


def test_losing_model_is_never_deployed():
    net = {"ensemble": 0.001, "xgb_indicators": 0.0, "hybrid": -0.0007}
    d = _decide(0.65, 0.63, net=net)
    assert d["decision"] == "deploy nothing" and d["deployed_model"] is None
    assert d["accuracy_rule"] == {"decision": "deploy hybrid", "model": "hybrid"}
    assert "no simpler model that shows skill passes" in d["reasons"][-1]
    assert "hybrid's policy at theta 0.1" in d["reasons"][-1]
    assert d["profitable_after_costs"] is None and d["require_profit"] is True
    # without the gate the accuracy rule stands, with a warning
    d = _decide(0.65, 0.63, net=net | {"xgb_indicators": 0.0002}, require_profit=False)
    assert d["deployed_model"] == "hybrid" and d["profitable_after_costs"] is False
    assert any(r.startswith("warning: hybrid's policy") and "loses money" in r
               for r in d["reasons"])  # fmt: skip


def test_cost_gate_falls_back_to_a_simpler_model_that_pays():
    net = {"ensemble": 0.001, "xgb_indicators": 0.0002, "hybrid": -0.0007}
    # xgb_indicators pays, but shows no skill (its interval does not clear the majority rate)
    assert _decide(0.65, 0.63, net=net)["decision"] == "deploy nothing"
    d = _decide(0.65, 0.63, others_lo=0.52, net=net)
    assert d["decision"] == "deploy xgb_indicators only" and d["deployed_model"] == "xgb_indicators"
    assert d["profitable_after_costs"] is True
    assert d["accuracy_rule"]["model"] == "hybrid"
    # never up to a more complex model: xgb_indicators chosen and losing, the hybrid paying
    net = {"ensemble": 0.001, "xgb_indicators": -0.0001, "hybrid": 0.0007}
    assert _decide(0.58, 0.56, others_lo=0.52, net=net)["decision"] == "deploy nothing"


def test_a_paying_pick_is_deployed():
    d = _decide(0.75, 0.73, net={"ensemble": 0.0004, "xgb_indicators": -0.001, "hybrid": -0.001})
    assert d["decision"] == "deploy ensemble" and d["profitable_after_costs"] is True
    assert d["accuracy_rule"]["decision"] == d["decision"] and d["theta"] == 0.1
    assert d["cost_gate"]["ensemble"]["passes"] and not d["cost_gate"]["hybrid"]["passes"]


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        ({"p": 0.2}, "not distinguishable from luck (family-wise p 0.200 >= 0.05)"),
        ({"judged": False}, "too few trades to judge"),
    ],
)
def test_a_paying_policy_must_be_judged_and_beat_luck(kw, why):
    d = _decide(
        0.75, 0.73, net={"ensemble": 0.0004, "xgb_indicators": 0.0004, "hybrid": 0.0004}, **kw
    )
    assert d["decision"] == "deploy nothing" and d["theta"] is None
    assert why in d["reasons"][-1]


def test_the_policy_bar_is_corrected_for_a_grids_experiments():
    """p = 0.02 clears 0.05 in one run, not when the run is one of 5 experiments."""
    net = {"ensemble": 0.0004, "xgb_indicators": 0.0004, "hybrid": 0.0004}
    table = {m: _row(0.75, 0.73) for m in net}
    one = decide(_inputs(table, policy=_policy(net, 0.02)))
    assert one["deployed_model"] == "ensemble"
    five = decide(_inputs(table, policy=_policy(net, 0.02), trials=5))
    assert five["deployed_model"] is None and five["cost_gate"]["ensemble"]["p_value"] == 0.1


def test_evaluate_stage_outputs(project):
    ev = metrics(project, "evaluate")
    dec = metrics(project, "decision")
    names = set(ev["table"])
    assert {"majority", "cnn_w15", "ensemble", "xgb_indicators", "hybrid", "oracle"} <= names
    assert {"logreg_images_w30", "ensemble_stacking"} <= names
    assert len({r["n"] for r in ev["table"].values()}) == 1  # same test samples for all
    for r in ev["table"].values():
        lo, hi = r["accuracy_ci"]
        assert lo <= r["accuracy"] <= hi and 0 < r["p_value_vs_majority"] <= 1
    assert dec["decision"] in {"deploy nothing", "deploy xgb_indicators only", "deploy hybrid",
                               "deploy ensemble"}  # fmt: skip
    # the checklist keeps its measured booleans; the figures live in the untracked timings
    assert {"inference_under_100ms", "memory_under_2gb"} <= set(dec["checklist"])
    assert "inference" not in dec
    sel = ev["selection"]  # selection bias over this run's models
    assert sel["models"] == len(names) - 1 and sel["trials"] == 1
    assert sel["reality_check"]["best"] in names
    assert 0 < sel["reality_check"]["p_value"] <= 1 and 0 < sel["reality_check"]["p_value_spa"] <= 1
    assert 0 <= sel["deflated_sharpe"]["dsr"] <= 1 and 0 <= sel["pbo"]["pbo"] <= 1
    assert set(dec["selection"]) == {"reality_check_p", "spa_p", "deflated_sharpe", "pbo"}
    # walk-forward is off by default: the decision rests on the single split and says so
    assert metrics(project, "walkforward")["folds"] == 0
    assert dec["evaluation"] == "single split" and ev["evaluation"] == {"method": "single split"}
    assert "single_split" not in ev
    assert any(r.startswith("selection bias over") for r in dec["reasons"])
    # the latency stage measured the candidate bundle: figures untracked, booleans tracked
    inf = json.loads((project / MARKET / "reports" / "timings.json").read_text())["latency"][
        "inference"
    ]
    assert inf["latency_ms_p99"] > 0 and inf["peak_rss_mb"] > 0
    serving = metrics(project, "latency")
    assert serving["inference_under_100ms"] == (inf["latency_ms_p99"] < 100)
    assert serving["memory_under_2gb"] == (inf["peak_rss_mb"] < 2048)
    assert dec["checklist"]["inference_under_100ms"] == serving["inference_under_100ms"]
    assert set(serving) == {"inference_under_100ms", "memory_under_2gb"}
    assert "p99" in (project / MARKET / "reports" / "timings.md").read_text()
    html = (project / MARKET / "reports" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 8
    md = (project / MARKET / "reports" / "report.md").read_text()
    power = ev["power"]  # every model but the oracle, its smallest detectable edges
    assert set(power["models"]) == set(ev["table"]) - {"oracle"} and power["test_days"] > 0
    for r in power["models"].values():
        assert r["detectable_accuracy_edge"] == pytest.approx(2.8016 * r["accuracy_se"], 1e-4)
    assert "## Power: the smallest edge this test could detect" in md
    # one document, two renderings: the same headings in the same order, every figure
    md_heads = re.findall(r"^(#{1,3}) (.+)$", md, flags=re.M)
    html_heads = re.findall(r"<h([1-3])>(.*?)</h\1>", html)
    assert [(len(h), t) for h, t in md_heads] == [(int(n), unescape(t)) for n, t in html_heads]
    assert md.count("![") == html.count("data:image/png;base64,")
    for name in (
        "ROC curves",
        "Calibration",
        "Confusion",
        "Equity",
        "Training curves",
        "GAF samples",
    ):
        assert name in md
    assert (project / MARKET / "plots" / "eval" / "roc" / "ensemble.csv").exists()


def test_a_threshold_trades_only_confident_decisions_and_break_even_is_the_gross_edge():
    minutes = np.array([0, 2, 4, 6, 8, 10, 12])
    p = np.array([0.52, 0.9, 0.1, 0.45, 0.9, 0.2, 0.6])
    fwd = np.array([0.5, 0.010, 0.5, 0.5, 0.5, -0.004, 0.003])
    r = backtest(minutes, p, fwd, horizon=5, cost_bps=10, period_minutes=17, theta=0.05)
    # t=0 (0.52) and t=6 (0.45) are inside the band: flat, so t=2 and t=8 open positions
    np.testing.assert_array_equal(r.trade_times, [2, 8])
    np.testing.assert_array_equal(r.side, [1.0, 1.0])
    np.testing.assert_allclose(r.gross, [0.010, 0.5])
    assert r.coverage == pytest.approx(2 / 7)
    assert r.break_even_bps == pytest.approx((0.010 + 0.5) / 2 / 2 * 1e4)
    at_break_even = backtest(minutes, p, fwd, 5, r.break_even_bps, 17, theta=0.05)
    assert at_break_even.mean_net_return == pytest.approx(0.0, abs=1e-15)
    always = backtest(minutes, p, fwd, horizon=5, cost_bps=10, period_minutes=17)
    np.testing.assert_array_equal(always.trade_times, [0, 6, 12])  # theta 0: always in


def test_theta_is_chosen_on_val_among_thresholds_with_enough_trades():
    from gafcnn.evaluation.policy import choose_theta
    from gafcnn.params import PolicyParams

    rng = np.random.default_rng(0)
    n = 4000
    minutes = np.arange(n) * 5
    p = rng.uniform(0.3, 0.7, n)
    # only confident decisions carry an edge: the move follows P(up) beyond 0.55 / 0.45
    edge = np.where(np.abs(p - 0.5) > 0.05, np.sign(p - 0.5) * 0.002, 0.0)
    fwd = edge + rng.normal(0, 0.0005, n)
    spec = PolicyParams(thresholds=[0.0, 0.05, 0.1, 0.19], min_val_trades=300)
    theta, tried = choose_theta(minutes, p, fwd, 5, 5.0, spec)
    assert theta == 0.05  # theta 0 pays costs on edgeless trades; 0.19 trades too rarely
    assert [r["theta"] for r in tried] == [0.0, 0.05, 0.1, 0.19]
    assert tried[-1]["trades"] < 300 and tried[0]["net_per_minute"] < tried[1]["net_per_minute"]
    with pytest.raises(ValueError, match="rise from 0.0"):
        PolicyParams(thresholds=[0.05, 0.1])
