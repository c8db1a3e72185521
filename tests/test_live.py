"""A model that lives, as served: the drift gate, the live breaker, a champion swapped in
under load, and the retrain schedule's windows."""

from __future__ import annotations

import json
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pipeline import MARKET, volatile

from gafcnn import clock
from gafcnn.cli import breaker_main
from gafcnn.data.bars import OHLCV, minute_index
from gafcnn.evaluation.resampling import Rolling
from gafcnn.io import InputError, read_json
from gafcnn.live.retrain import drifted, stretch_trades
from gafcnn.params import RetrainParams
from gafcnn.serving.bundle import BUNDLE_FILE, Bundle, redeploy, seal
from gafcnn.serving.desk import Desk
from gafcnn.serving.guards import drift
from gafcnn.serving.http.app import create_app
from gafcnn.serving.http.options import Options
from gafcnn.serving.market import Market
from gafcnn.serving.signals import Stream
from gafcnn.serving.versions import Event, Log, store
from gafcnn.testing.load import json_bars, service


def _bars(project) -> pd.DataFrame:
    return pd.read_parquet(project / MARKET / "data" / "interim" / "bars.parquet")


def _with_guards(src, target, **breaker) -> Bundle:
    """The project's bundle with the ensemble deployed (theta 0: always in) and the
    breaker's figures replaced by ``breaker``."""
    redeploy(src, target, "ensemble", "deploy ensemble")
    spec = read_json(target / BUNDLE_FILE)
    spec["guards"]["breaker"].update(breaker)
    seal(target, spec)
    return Bundle(target)


def test_drift_turns_a_five_times_as_volatile_stretch_flat_and_leaves_clean_bars_alone(
    project, tmp_path
):
    bundle = _with_guards(project / MARKET / "models" / "bundle", tmp_path / "b", min_trades=0)
    n = int(bundle.spec["guards"]["drift"]["bars"])
    clean = _bars(project).iloc[-n:].reset_index(drop=True)
    wild = volatile(clean, 5.0)
    app = create_app(bundle, Options(symbols=("ETHUSDT",)))
    with TestClient(app) as http:
        for symbol, frames in (("BTCUSDT", [clean, wild]), ("ETHUSDT", [clean])):
            for frame in frames:
                body = {"symbol": symbol, "bars": json_bars(frame)}
                assert http.post("/bars", json=body).is_success
        calm = http.post("/predict", json={"symbol": "ETHUSDT"}).json()
        stormy = http.post("/predict", json={"symbol": "BTCUSDT"}).json()
        health, metrics = http.get("/health").json(), http.get("/metrics").text
    assert calm["action"] in ("long", "short") and calm["p_up"] is not None
    assert stormy["action"] == "flat" and stormy["reason"].startswith("drift: PSI of ")
    assert not stormy["should_trade"]
    live = health["live"]
    assert live["BTCUSDT"]["flat_by"] == "drift" and live["ETHUSDT"]["flat_by"] is None
    psi_wild, psi_calm = live["BTCUSDT"]["drift_psi"], live["ETHUSDT"]["drift_psi"]
    assert max(psi_wild["log_return"], psi_wild["range"]) > 1.0  # far beyond 0.25
    assert max(v for v in psi_calm.values() if v is not None) < 0.25
    assert 'gafcnn_guard_flat{guard="drift",symbol="BTCUSDT"} 1.0' in metrics
    assert 'gafcnn_guard_flat{guard="drift",symbol="ETHUSDT"} 0.0' in metrics
    assert 'gafcnn_drift_psi{input="range",symbol="BTCUSDT"}' in metrics


def test_the_retrain_gate_refuses_a_challenger_on_the_drift_the_desk_would_flat(project, tmp_path):
    """The gate's drift check is the desk's: the bar inputs over the last
    ``drift.bars`` before the retrain, and the P(up) served there, against the bundle's
    reference; a five times as volatile stretch is drift, the bars it trained on not."""
    bundle = _with_guards(project / MARKET / "models" / "bundle", tmp_path / "b", min_trades=0)
    n = int(bundle.spec["guards"]["drift"]["bars"])
    clean = _bars(project).iloc[-2 * n :].reset_index(drop=True)
    stormy = pd.concat([clean, volatile(clean.iloc[-n:], 5.0)], ignore_index=True)
    reasons = {}
    for name, bars in (("clean", clean), ("stormy", stormy)):
        end = int(minute_index(bars)[-1]) + 1
        traded = stretch_trades(bundle, bars, end - n, end)
        assert np.isfinite(traded.p_up[-n:]).sum() > n // 4  # it decided there
        reasons[name] = drifted(bundle, bars, end, traded.p_up)
    assert reasons["stormy"] is not None and reasons["stormy"].startswith("drift: PSI of ")
    assert reasons["clean"] is None or "p_up" in reasons["clean"]  # no input drifted
    figures = drift(bundle.spec["guards"]["drift"],
                    {k: stormy[k].to_numpy()[-n:] for k in OHLCV}, np.array([np.nan]))  # fmt: skip
    assert max(figures["log_return"], figures["range"]) > 1.0


def _feed(market: Market, bars: pd.DataFrame) -> list[dict]:
    """Each bar into ``market`` as it closes; the answer at each."""
    answers = []
    for i in range(len(bars)):
        market.bars(bars.iloc[i : i + 1].reset_index(drop=True), "test")
        answers.append(market.answer())
    return answers


def test_the_breaker_trips_below_the_backtests_floor_and_a_new_champion_resets_it(
    project, tmp_path
):
    src = project / MARKET / "models" / "bundle"
    strict = _with_guards(src, tmp_path / "strict", floor=0.01, min_trades=5)  # +100 bps
    lenient = _with_guards(src, tmp_path / "lenient", floor=-1.0, min_trades=5)
    bars = _bars(project)
    history, live = bars.iloc[-700:-400], bars.iloc[-400:].reset_index(drop=True)
    markets = {}
    for name, bundle in (("strict", strict), ("lenient", lenient)):
        markets[name] = Market(Stream(bundle), Desk(bundle))
        markets[name].stream.append(history.reset_index(drop=True))
    answers = {name: _feed(m, live.iloc[:200]) for name, m in markets.items()}
    desk = markets["strict"].desk
    card = desk.figures()["live"]
    assert card["trades"] >= 5 and card["tripped"] and desk.figures()["flat_by"] == "breaker"
    reasons = [a["reason"] for a in answers["strict"]]
    after = answers["strict"][next(k for k, r in enumerate(reasons) if r.startswith("breaker")) :]
    assert all(a["action"] == "flat" and a["reason"].startswith("breaker: live ") for a in after)
    assert len(after) > 50  # it stays tripped
    assert markets["lenient"].desk.figures()["flat_by"] is None  # the same trades, floor -100%
    assert {a["action"] for a in answers["lenient"]} >= {"long", "short"}
    markets["strict"].swap(lenient)  # a new champion: its own record, breaker closed
    again = _feed(markets["strict"], live.iloc[200:260])
    assert markets["strict"].desk.figures()["live"]["tripped"] is None
    assert {a["action"] for a in again} >= {"long", "short"}


def _bars_and_answer(http: TestClient, bars: pd.DataFrame) -> dict:
    assert http.post("/bars", json={"symbol": "BTCUSDT", "bars": json_bars(bars)}).is_success
    return http.post("/predict", json={"symbol": "BTCUSDT"}).json()


def _until(http: TestClient, flat_by: str | None, seconds: float = 10.0) -> dict:
    """/health's live record of BTCUSDT once it is held flat by ``flat_by``."""
    deadline = time.monotonic() + seconds
    while True:
        live = http.get("/health").json()["live"]["BTCUSDT"]
        if live["flat_by"] == flat_by or time.monotonic() > deadline:
            return live
        time.sleep(0.05)


def test_a_tripped_breaker_holds_across_a_bars_reset_and_a_restart_until_an_operator_lifts_it(
    project, tmp_path
):
    src = project / MARKET / "models" / "bundle"
    strict = _with_guards(src, tmp_path / "strict", floor=0.01, min_trades=3)  # +100 bps
    bars = _bars(project)
    history, live = bars.iloc[-700:-400], bars.iloc[-400:-200]
    log = tmp_path / "promotions.jsonl"
    with TestClient(create_app(strict, Options(log=log, reload_s=0.05))) as http:
        _bars_and_answer(http, history)
        for i in range(len(live)):  # bar by bar, until the breaker trips
            answer = _bars_and_answer(http, live.iloc[i : i + 1])
            if (answer.get("reason") or "").startswith("breaker: "):
                break
        assert answer["action"] == "flat" and answer["reason"].startswith("breaker: live ")
        assert http.delete("/bars/BTCUSDT").json()["bars"] == 0
        again = _bars_and_answer(http, history)  # the client starts afresh: still flat
        assert again["action"] == "flat" and again["reason"] == answer["reason"]
    trips = [e for e in Log(log, "BTCUSDT").events() if e.action == "trip"]
    assert len(trips) == 1 and trips[0].champion == strict.version
    with TestClient(create_app(strict, Options(log=log, reload_s=0.05))) as http:  # a restart
        restarted = _bars_and_answer(http, history)
        assert restarted["action"] == "flat" and restarted["reason"] == answer["reason"]
        assert _until(http, "breaker")["live"]["tripped"] == trips[0].reason
        breaker_main(["reset", "--symbol", "btc/usdt", "--log", str(log)])
        assert _until(http, None)["live"]["tripped"] is None
        lifted = _bars_and_answer(http, live.iloc[:1])
        assert lifted["action"] in ("long", "short"), lifted
    assert [e.action for e in Log(log, "BTCUSDT").events()] == ["trip", "reset"]
    with pytest.raises(InputError, match="no tripped breaker"):
        breaker_main(["reset", "--symbol", "BTCUSDT", "--log", str(log)])


def test_a_drift_flat_holds_across_a_bars_reset_and_a_restart_until_a_window_is_judged(
    project, tmp_path
):
    bundle = _with_guards(project / MARKET / "models" / "bundle", tmp_path / "b", min_trades=0)
    n = int(bundle.spec["guards"]["drift"]["bars"])
    clean = _bars(project).iloc[-n:].reset_index(drop=True)
    log = tmp_path / "promotions.jsonl"
    with TestClient(create_app(bundle, Options(log=log))) as http:
        _bars_and_answer(http, clean)
        stormy = _bars_and_answer(http, volatile(clean, 5.0))
        assert stormy["action"] == "flat" and stormy["reason"].startswith("drift: PSI of ")
        http.delete("/bars/BTCUSDT")
        assert _bars_and_answer(http, clean.iloc[:300])["reason"] == stormy["reason"]
    with TestClient(create_app(bundle, Options(log=log))) as http:  # a restart
        assert _bars_and_answer(http, clean.iloc[:300])["reason"] == stormy["reason"]
        calm = _bars_and_answer(http, clean.iloc[300:])  # a whole window, judged: it lifts
        assert calm["action"] in ("long", "short"), calm
    assert [e.action for e in Log(log, "BTCUSDT").events()] == ["drift_on", "drift_off"]


def test_a_new_champion_lifts_a_breaker_the_log_holds(project, tmp_path):
    src = project / MARKET / "models" / "bundle"
    strict = _with_guards(src, tmp_path / "strict", floor=0.01, min_trades=3)
    lenient = _with_guards(src, tmp_path / "lenient", floor=-1.0, min_trades=3)
    log = Log(tmp_path / "promotions.jsonl", "BTCUSDT")
    log.record(Event("2024-01-01T00:00:00+00:00", "trip", strict.version, None, "losses", {},
                     "BTCUSDT"))  # fmt: skip
    assert Desk(strict, log=log).card.tripped == "losses"  # a restart: still tripped
    assert Desk(lenient, log=log).card.tripped is None  # another champion serves
    assert Desk(strict, guards=False, log=log).card.tripped is None


def test_a_new_champion_is_swapped_in_under_load_with_no_failed_request_and_no_lost_bar(
    project, tmp_path
):
    src = project / MARKET / "models" / "bundle"
    first = redeploy(src, tmp_path / "a", "ensemble", "deploy ensemble")
    second = redeploy(src, tmp_path / "b", "hybrid", "deploy hybrid")
    versions = store(tmp_path / "versions", "BTCUSDT", tmp_path / "promotions.jsonl")
    a, b = versions.add(first), versions.add(second)
    versions.promote(a, "2024-01-01T00:00:00+00:00", "first")
    old, new = Bundle(versions.path(a)).version, Bundle(versions.path(b)).version
    rows = json_bars(_bars(project).iloc[-600:])
    errors, seen = [], []
    with service(tmp_path / "versions", [], "--reload-s", "0.05") as (base, _):
        stop = threading.Event()

        def watch() -> None:  # /health all along, from another client
            with httpx.Client(base_url=base) as h:
                while not stop.is_set():
                    r = h.get("/health")
                    errors.extend([r.status_code] if r.status_code != 200 else [])

        watcher = threading.Thread(target=watch)
        watcher.start()
        with httpx.Client(base_url=base) as http:
            assert http.post("/bars", json={"bars": rows[:300]}).is_success
            for k, row in enumerate(rows[300:]):
                if k == 100:
                    versions.promote(b, row["timestamp"], "second")
                r = http.post("/bars", json={"bars": [row]})
                p = http.post("/predict", json={})
                errors.extend(x.status_code for x in (r, p) if x.status_code != 200)
                seen.append(p.json()["model_version"])
            health = http.get("/health").json()
        stop.set()
        watcher.join()
    assert not errors
    swapped = seen.index(new)
    assert set(seen[:swapped]) == {old} and set(seen[swapped:]) == {new}
    assert 100 <= swapped < 160  # within a few polls of the promotion
    assert health["model_version"] == new and health["reloads"] == 1
    assert health["symbols"]["BTCUSDT"]["bars"] == len(rows)  # every bar still held
    assert health["symbols"]["BTCUSDT"]["last_bar"] == rows[-1]["timestamp"]
    assert health["live"]["BTCUSDT"]["model_version"] == new


@pytest.mark.parametrize("days", [(14, 3, 3, 7), (1, 0.5, 0.5, 0.5)])
def test_retrain_windows_tile_the_days_before_each_retrain(days):
    spec = RetrainParams(*days, keep=3)
    rolling = Rolling(spec, (15, 30), 5)
    first = 28_000_000  # an epoch minute
    due = rolling.ends(first, first + 40 * 1440)
    assert due[0] == first + round(spec.span_days * 1440)
    assert np.all(np.diff(due) == round(spec.every * 1440))
    ranges = rolling.ranges(due[0])
    edges = [ranges[s][0] for s in ("train", "val", "test")]
    assert edges[0][1] == edges[1][0] and edges[1][1] == edges[2][0]  # contiguous, in order
    minute = lambda s: clock.minutes_of_ms(clock.parse_ms(s, "t"))  # noqa: E731
    assert minute(edges[0][0]) == first and minute(edges[2][1]) == due[0]
    assert json.dumps(ranges)  # as params.yaml's split.ranges takes them
    minutes = np.arange(first, first + 40 * 1440 + 1)  # the splitter's folds: the same windows
    folds = rolling.split(minutes)
    assert len(folds) == len(due)
    for fold, end in zip(folds, due, strict=True):
        bounds = [r[0] for r in (fold.train, fold.val, fold.test)]
        assert [int(minutes[a]) for a, _ in bounds] == list(rolling.bounds(end)[:3])
        assert bounds[0][1] == bounds[1][0] and bounds[1][1] == bounds[2][0]
        ((a, b),) = fold.decisions
        assert a == bounds[2][0] + 29 and b == min(bounds[2][1], len(minutes)) - 5


def _serving_har(src, target, resid_var_shift: float = 0.0) -> Bundle:
    """The project's bundle serving its fitted HAR-RV, the residual variance shifted by
    ``resid_var_shift`` (a forecast exp(shift / 2) times as large)."""
    redeploy(src, target, None, "deploy nothing")
    spec = read_json(target / BUNDLE_FILE)
    state = read_json(src.parents[1] / "models" / "volatility" / "vol_har.json")
    state["resid_var"] += resid_var_shift
    spec["volatility"] = {**spec["volatility"], "model": "vol_har", "state": state}
    seal(target, spec)
    return Bundle(target)


def test_the_retrain_gate_compares_volatility_forecasters_on_a_stretch(project, tmp_path):
    """On the newest stretch, a forecaster too high by a factor e^0.5 is worse than the
    champion beyond the noise; the same forecaster is not."""
    from gafcnn.live.retrain import vol_comparison
    from gafcnn.params import read_params

    src = project / MARKET / "models" / "bundle"
    champion = _serving_har(src, tmp_path / "champion")
    inflated = _serving_har(src, tmp_path / "inflated", resid_var_shift=1.0)
    bars = _bars(project)
    end = int(minute_index(bars)[-1]) + 1
    start = end - 2 * 1440
    params = read_params(project / "params.yaml")
    same = vol_comparison(champion, champion, bars, start, end, params)
    assert same is not None and same["decisions"] > 500
    assert same["challenger_qlike"] == same["champion_qlike"] and same["noise"] == 0.0
    worse = vol_comparison(inflated, champion, bars, start, end, params)
    assert worse["challenger_qlike"] - worse["champion_qlike"] > worse["noise"] > 0
    assert vol_comparison(champion, None, bars, start, end, params) is None
