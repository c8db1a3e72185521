"""`gafcnn replay` equals the walk-forward of the same schedule: a synthetic market lived
bar by bar through the service's path, retrained every half day, each challenger
judged against the champion, trades the same as the offline walk-forward's. And the
gate has power: an edge no single half-day test can see is promoted once the pooled
record sees it; with no edge nothing ever is."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO
from pipeline import overridden, run, volatile

from gafcnn import clock
from gafcnn.data import synthetic
from gafcnn.live.replay import LOG, REPORT, SUMMARY, TIMELINE, champions, replay, walk_forward
from gafcnn.params import Params
from gafcnn.serving.bundle import Bundle

SMALL = {  # about a minute per retrain on 2 cores
    "data.synthetic.n_bars": 5760, "data.synthetic.signal": 0.8,
    "epochs": 2, "patience": 1, "width": 8, "gaf.windows": [15, 30],
    "minirocket.kernels": 84, "minirocket.C": [0.001],
    "evaluate.costs.fee_bps": 0.0, "evaluate.bootstrap_reps": 400,
    "runtime.inference_singles": 10, "serving.drift.bars": 360,
    "retrain.train_days": 1.0, "retrain.val_days": 0.5, "retrain.test_days": 0.5,
    "retrain.every": 0.5, "sizing.har_spans": [60, 360],  # a day's train holds no week
}  # fmt: skip


def _params(**over: object) -> Params:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    return Params.from_dict(overridden(raw, **{**SMALL, **over}))


@pytest.mark.slow
def test_replay_with_the_guards_off_trades_exactly_as_the_walk_forward(tmp_path):
    params = _params(**{"serving.drift.threshold": 0.0})  # the gate's drift check off too
    bars = synthetic.generate(params.data.synthetic).bars
    out = tmp_path / "replay"
    summary = replay(params, bars, "BTCUSDT", out, guards=False)
    rows = [json.loads(line) for line in (out / TIMELINE).read_text().splitlines()]
    assert summary == json.loads((out / SUMMARY).read_text())
    assert summary["retrains"] == 4 == summary["promotions"] + summary["refusals"]
    assert summary["promotions"] >= 2  # a champion swapped in mid-stream
    assert len((out / LOG).read_text().splitlines()) == summary["retrains"]
    served = champions(rows)
    store = out / "versions" / "BTCUSDT"
    schedule = [(clock.minutes_of_ms(clock.parse_ms(at, "timeline")), Bundle(store / version))
                for at, version in served]  # fmt: skip
    offline = walk_forward(bars, schedule)
    lived = [r for r in rows if r["kind"] == "trade"]
    assert len(lived) == summary["trades"] + summary["void_trades"] > 100
    expected = [(clock.iso_minute(t.entry), t.side, t.p_up, t.net) for t in offline]
    assert [(r["at"], r["side"], r["p_up"], r["net"]) for r in lived] == expected
    versions = {r["version"] for r in lived}  # the store's names: one id everywhere
    assert versions <= {v for _, v in served} and len(versions) >= 2
    assert all(Bundle(store / v).version == v for _, v in served)


@pytest.mark.slow
def test_replay_with_the_guards_on_opens_no_trade_while_a_guard_holds_the_symbol_flat(tmp_path):
    """The same market, then a stretch five times as volatile after the last retrain,
    lived with the guards on: the drift threshold lies above what the calm market's
    half-day windows reach (so the gate's own drift check lets champions in) and far
    below the storm's; the timeline has the flags, and every trade opened while no
    guard held the symbol flat (drift between its on and off, the breaker until a new
    champion)."""
    params = _params(**{"serving.drift.threshold": 3.0})
    calm = synthetic.generate(params.data.synthetic).bars
    storm = volatile(calm.iloc[-600:], 5.0).assign(filled=False)
    bars = pd.concat([calm, storm], ignore_index=True)
    summary = replay(params, bars, "BTCUSDT", tmp_path / "on", guards=True)
    rows = [json.loads(line) for line in (tmp_path / "on" / TIMELINE).read_text().splitlines()]
    kinds = [r["kind"] for r in rows]
    assert summary["promotions"] >= 1 and summary["trades"] > 0
    assert summary["drift_flags"] == kinds.count("drift on") > 0
    assert summary["breaker_trips"] == kinds.count("breaker on")
    drifting, tripped, opened = False, False, 0
    for r in rows:  # in time order; a flag before the trades of its minute
        if r["kind"] in ("drift on", "drift off"):
            drifting = r["kind"] == "drift on"
        elif r["kind"] == "breaker on":
            tripped = True
        elif r["kind"] in ("promote", "rollback"):
            tripped = False
        elif r["kind"] == "trade":
            assert not drifting and not tripped, r
            opened += 1
    assert opened == summary["trades"] + summary["void_trades"]


@pytest.mark.slow
def test_gafcnn_retrain_fits_judges_and_logs_from_the_data_source(tmp_path):
    """`gafcnn retrain` in a project folder: params.yaml's synthetic source, one window;
    the challenger stored, judged (one log line) and, promoted, serving; `gafcnn
    rollback` then has nothing to go back to and says so in one line."""
    raw = overridden(yaml.safe_load((REPO / "params.yaml").read_text()), **SMALL)
    raw["data"]["synthetic"]["n_bars"] = 2 * 1440  # one retrain window
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    proc = run([sys.executable, "-m", "gafcnn.cli", "retrain"], tmp_path)
    said = proc.stdout.strip().splitlines()[-1]
    assert said.startswith("retrain BTCUSDT to 2024-01-03T00:00:00+00:00: "), said
    events = [json.loads(line) for line in (tmp_path / "reports" / "promotions.jsonl").open()]
    assert len(events) == 1 and events[0]["symbol"] == "BTCUSDT"
    assert events[0]["action"] in ("promote", "refuse") and events[0]["reason"] in said
    assert "(record: 1 tests, " in said and events[0]["figures"]["evidence"]["stretches"] == 1
    versions = tmp_path / "models" / "versions" / "BTCUSDT"
    assert len(list((versions / "evidence").glob("*.parquet"))) == 1  # the record's stretch
    assert (versions / events[0]["challenger"] / "bundle.json").exists()
    assert (versions / "CHAMPION").exists() == (events[0]["action"] == "promote")
    back = run([sys.executable, "-m", "gafcnn.cli", "rollback", "--symbol", "BTC/USDT"], tmp_path,
               check=False)  # fmt: skip
    assert back.returncode == 1
    assert back.stderr.strip().endswith("no previous champion to roll back to")


# The gate's known answer, at the scale of SMALL: half-day tests (about 340 decisions),
# so one test detects an accuracy edge of about 10 points after the correction for
# 17 models, and a planted signal of 0.4 gives the deployable models about 6. The
# drift gate is off: on these half-day windows the served P(up) moves with the
# volatility regime far beyond the threshold (its own test: test_live.py).
RECORD = {**SMALL, "data.synthetic.n_bars": 5 * 1440, "serving.drift.threshold": 0.0}


def _judged(signal: float, out, symbol: str = "BTCUSDT") -> list[dict]:
    raw = overridden(yaml.safe_load((REPO / "params.yaml").read_text()),
                     **{**RECORD, "data.synthetic.signal": signal})  # fmt: skip
    params = Params.from_dict(raw)
    replay(params, synthetic.generate(params.data.synthetic).bars, symbol, out)
    return [json.loads(line) for line in (out / LOG).read_text().splitlines()]


@pytest.mark.slow
def test_an_edge_no_single_test_can_see_is_promoted_once_the_record_sees_it(tmp_path):
    events = _judged(0.4, tmp_path / "edge")
    report = (tmp_path / "edge" / REPORT).read_text()  # a row per retrain, with its record
    rows = [line.split(" | ") for line in report.splitlines() if line.startswith("| 2024-")]
    sizes = [f"{e['figures']['evidence']['stretches']} tests" for e in events]
    assert [r[2].split(",")[0] for r in rows] == sizes
    first = events[0]["figures"]["evidence"]
    assert first["stretches"] == 1 and events[0]["action"] == "refuse"
    assert "deploys nothing on the record" in events[0]["reason"]
    promoted = [e for e in events if e["action"] == "promote"]
    assert promoted, [e["reason"] for e in events]  # within the 6 retrains
    record = promoted[0]["figures"]["evidence"]
    # promoted on a record of several tests whose interval clears the majority rate
    assert record["stretches"] >= 2 and record["accuracy_ci"][0] > record["majority_rate"]
    assert record["detectable_accuracy_edge"] < first["detectable_accuracy_edge"]
    # the planted edge, as the whole record measures it, lies below what one test detects
    last = events[-1]["figures"]["evidence"]
    assert last["accuracy_ci"][0] > last["majority_rate"]
    assert last["accuracy"] - last["majority_rate"] < first["detectable_accuracy_edge"]
    assert promoted[0]["figures"]["deployed"] == record["deployed"] is not None
    assert all(e["action"] == "refuse" for e in events[: events.index(promoted[0])])


@pytest.mark.slow
def test_with_no_edge_the_record_grows_and_nothing_is_ever_promoted(tmp_path):
    events = _judged(0.0, tmp_path / "null", "BTC/USDT")  # a pair, as `--symbol` takes it
    assert len(events) >= 5 and all(e["action"] == "refuse" for e in events)
    assert all("deploys nothing on the record" in e["reason"] for e in events)
    sizes = [e["figures"]["evidence"]["decisions"] for e in events]
    power = [e["figures"]["evidence"]["detectable_accuracy_edge"] for e in events]
    assert sizes == sorted(sizes) and power[-1] < power[0]  # the record gained power
