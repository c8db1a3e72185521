"""Paper trading (`gafcnn paper`): the bundle's policies traded bar by bar give the
evaluate stage's backtest trades, from a file and from stdin alike."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from pipeline import MARKET, env

from gafcnn.serving import paper
from gafcnn.serving.bundle import Bundle, redeploy, seal
from gafcnn.trading.engine import Policy
from gafcnn.trading.trader import Trader

HORIZON = 5  # label.horizon of the shared project


def _bars(project) -> pd.DataFrame:
    return pd.read_parquet(project / MARKET / "data" / "interim" / "bars.parquet").drop(
        columns="filled"
    )


def _test_first(project) -> str:
    return json.loads((project / MARKET / "metrics" / "evaluate.json").read_text())["test_first"]


def _evaluated(project, model: str) -> pd.DataFrame:
    trades = pd.read_parquet(project / MARKET / "data" / "trades.parquet")
    return trades[trades["model"] == model].reset_index(drop=True)


def _same_trades(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    assert len(got) == len(want), (name, len(got), len(want))
    for col in ("entry", "exit"):
        assert (got[col].to_numpy() == want[col].to_numpy()).all(), (name, col)
    np.testing.assert_array_equal(got["side"].to_numpy(), want["side"].to_numpy(), err_msg=name)
    for col in ("gross", "net"):
        np.testing.assert_allclose(got[col], want[col], rtol=0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(got["p_up"], want["p_up"], rtol=0, atol=1e-6, err_msg=name)


def test_paper_trading_reproduces_the_backtest_for_every_served_model(project):
    """The test segment replayed bar by bar through the bundle: for every served model,
    at its val-chosen theta, the same entries, exits, sides and net returns (to 1e-12)
    as the evaluate stage's trades."""
    bundle, bars = Bundle(project / MARKET / "models" / "bundle"), _bars(project)
    start = pd.Timestamp(_test_first(project)).value // 60_000_000_000
    served = list(bundle.spec["policy"])
    assert {"cnn_w15", "ensemble", "xgb_indicators", "hybrid"} <= set(served)
    for name in served:
        policy = bundle.policy(name)
        trader = Trader(policy)
        p_up = paper.decision_probabilities(bundle, bars, policy, start)
        got = paper.log(paper.replay(trader, bars, p_up), policy.horizon)
        assert not got["void"].any()
        want = _evaluated(project, name)
        assert (want["theta"] == policy.theta).all()
        _same_trades(got, want, name)
        summary = paper.summary(trader)
        assert summary["trades"] == len(want)
        if len(want):  # a model whose theta kept it out of every trade has no mean
            assert summary["mean_net_return"] == pytest.approx(want["net"].mean(), abs=1e-15)


def _paper(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gafcnn.cli", "paper", *args],
        input=stdin, capture_output=True, text=True, env=env(),
    )  # fmt: skip


def test_paper_from_a_file_and_following_stdin_give_the_same_trades(project, tmp_path):
    """`gafcnn paper` on a file and with --follow on the same bars (bad lines mixed in
    on stdin, each rejected on stderr) write the same trade log and summary. The bundle
    trades the hybrid at theta 0 (always in), so the stretch holds trades whatever
    weights training reached. (That these are the backtest's trades needs no test of
    its own: both run one position engine.)"""
    bundle = redeploy(
        project / MARKET / "models" / "bundle", tmp_path / "bundle", "hybrid", "deploy hybrid"
    )
    bars = _bars(project)
    first = _test_first(project)
    at = int(np.searchsorted(bars["timestamp"], pd.Timestamp(first)))
    part = bars.iloc[at - 300 : at + 200]
    path = tmp_path / "bars.csv"
    part.to_csv(path, index=False)
    args = ["--bundle", str(bundle), "--model", "hybrid", "--from", first]
    whole = _paper(*args, "--bars", str(path), "--summary", str(tmp_path / "file.json"))
    assert whole.returncode == 0, whole.stderr
    lines = path.read_text().splitlines()
    mid = len(lines) - 100
    bad = [lines[mid - 1], "not,a,bar", lines[mid].replace(lines[mid].split(",")[4], "nan", 1)]
    fed = "\n".join(lines[:mid] + bad + lines[mid:]) + "\n"
    follow = _paper(*args, "--bars", "-", "--follow", "--summary", str(tmp_path / "follow.json"),
                    stdin=fed)  # fmt: skip
    assert follow.returncode == 0, follow.stderr
    errors = [e for e in follow.stderr.splitlines() if e.startswith("error: <stdin>:")]
    assert len(errors) == 3 and "not later than the one before it" in errors[0]
    assert follow.stdout == whole.stdout
    file_summary = json.loads((tmp_path / "file.json").read_text())
    assert json.loads((tmp_path / "follow.json").read_text()) == file_summary
    got = pd.read_csv(pd.io.common.StringIO(whole.stdout), parse_dates=["entry", "exit"])
    # 200 bars, always in: a trade every horizon (5) minutes, rounded up to the next
    # decision time (every 2nd minute): one per 6 minutes
    assert file_summary["trades"] == len(got) >= 200 // 6 - 1
    assert (got["exit"] - got["entry"] == pd.Timedelta(minutes=HORIZON)).all()
    assert (got["entry"].diff().dropna() >= pd.Timedelta(minutes=HORIZON)).all()


def test_paper_refuses_in_one_line(project, tmp_path):
    bundle = str(project / MARKET / "models" / "bundle")
    spec = json.loads((project / MARKET / "models" / "bundle" / "bundle.json").read_text())
    path = tmp_path / "bars.csv"
    _bars(project).iloc[-50:].to_csv(path, index=False)
    cases = [
        (["--model", "nope"], "--model nope: not served"),
        (["--model", "hybrid", "--from", "yesterday-ish"], "not a timestamp"),
    ]
    if spec["deployed"] is None:
        cases.append(([], "nothing is deployed"))
    for extra, message in cases:
        proc = _paper("--bundle", bundle, "--bars", str(path), *extra)
        assert proc.returncode == 1 and proc.stdout == "", extra
        assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-01,1,1,1,-1,1\n")
    proc = _paper("--bundle", bundle, "--bars", str(path), "--model", "hybrid")
    assert proc.returncode == 1 and proc.stdout == "" and str(path) in proc.stderr


def test_a_trader_holds_closes_and_voids_positions():
    """Enter at a decision's close, exit exactly horizon minutes later (and re-enter at
    that bar); a missing exit bar voids the trade; inside the band nothing opens."""
    pol = Policy(model="m", theta=0.1, horizon=2, stride=1, cost_bps=5.0)
    t = Trader(pol, "v1")
    assert t.bar(0, 100.0, 0.7) is None and t.position.side == 1
    assert t.bar(1, 101.0, 0.1) is None  # held: no new position while one is open
    done = t.bar(2, 102.0, 0.2)  # closed at +2%, then short from this bar
    assert done.gross == pytest.approx(0.02) and done.net == pytest.approx(0.02 - 0.001)
    assert t.position.side == -1 and t.position.entry == 2
    void = t.bar(5, 99.0, 0.55)  # minute 4 never came: void; 0.55 is inside the band
    assert void.void and np.isnan(void.net) and t.position is None
    s = paper.summary(t)
    assert s["trades"] == 1 and s["void_trades"] == 1 and s["win_rate"] == 1.0
    assert t.bar(6, 100.0, 0.9) is None and t.opened_by(t.position) == "v1"
    carried = t.switch(Policy(model="n", theta=0.0, horizon=3, stride=2, cost_bps=0.0), "v2")
    assert carried is t.position  # a new champion: the open position stays
    assert t.bar(8, 101.0, 0.1) is None  # due at 6 + 3 under the new horizon
    done = t.bar(9, 103.0)
    assert done is carried and done.net == pytest.approx(0.03) and t.opened_by(done) == "v1"
    assert not t.due(11) and t.due(12) and t.bar(12, 103.0, 0.4) is None
    assert t.position.side == -1 and t.opened_by(t.position) == "v2"


def test_an_expired_bundle_stops_opening_trades_and_says_so_once(project, tmp_path):
    """Past ``max_age_days`` after the last fitted bar no trade opens (the backtest's
    earlier trades stay), and stderr says why once."""
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(project / MARKET / "models" / "bundle", bundle)
    spec = json.loads((bundle / "bundle.json").read_text())
    want = _evaluated(project, "hybrid")
    cut = want["entry"].iloc[len(want) // 2]  # the last minute it may trade
    spec["expiry"] = {"fitted_until": (cut - pd.Timedelta(days=1)).isoformat(), "max_age_days": 1}
    seal(bundle, spec)
    path = tmp_path / "bars.csv"
    _bars(project).to_csv(path, index=False)
    proc = _paper("--bundle", str(bundle), "--bars", str(path), "--model", "hybrid",
                  "--from", _test_first(project))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(pd.io.common.StringIO(proc.stdout), parse_dates=["entry", "exit"])
    _same_trades(got, want[want["entry"] <= cut].reset_index(drop=True), "hybrid")
    assert proc.stderr.count("warning: model expired") == 1
