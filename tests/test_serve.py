"""`gafcnn serve`: the CLI's answers over HTTP, bad input refused without harm, the bot's
schema, and a short run under load."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from conftest import kraken_rows
from pipeline import MARKET, env

from gafcnn import clock
from gafcnn.data.bars import OHLCV, minute_index
from gafcnn.data.readers import read_bars
from gafcnn.io import InputError
from gafcnn.serving.bundle import Bundle, redeploy
from gafcnn.serving.http.app import create_app
from gafcnn.serving.http.options import Options
from gafcnn.serving.market import Market, Snapshot
from gafcnn.serving.signals import KEEP, Stream
from gafcnn.testing.load import drive, json_bars, service
from gafcnn.volatility.scores import losses

SYMBOLS = ["ETHUSDT", "SOLUSDT", "XRPUSDT"]
JSON = {"content-type": "application/json"}
# The bot's structs (crates/bot/src/ml_client.rs): field -> JSON types serde accepts.
RESPONSE = {"direction": (str,), "confidence": (float, int), "raw_probability": (float, int),
            "should_trade": (bool,), "recommended_size": (float, int, type(None)),
            "model_version": (str,), "latency_ms": (float, int), "timestamp": (str,),
            "top_features": (list,)}  # fmt: skip
HEALTH = {"status": (str,), "model_loaded": (bool,), "model_version": (str,),
          "uptime_seconds": (float, int), "total_predictions": (int,),
          "avg_latency_ms": (float, int)}  # fmt: skip


@pytest.fixture(scope="module")
def hybrid(pipeline_project, tmp_path_factory):
    """The project's bundle with the hybrid deployed (it reads the CNNs and indicators)."""
    target = tmp_path_factory.mktemp("serve") / "bundle"
    return redeploy(
        pipeline_project / MARKET / "models" / "bundle", target, "hybrid", "deploy hybrid"
    )


@pytest.fixture(scope="module")
def served(hybrid):
    with service(hybrid, SYMBOLS) as (base, pid):
        yield base


def _segment(root, history: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The bars of the test segment with ``history`` bars before it, and its decision
    times (epoch ms)."""
    ref = pd.read_parquet(root / MARKET / "data" / "predictions" / "hybrid.parquet")
    ts = np.sort(clock.ms_of(ref.loc[ref["segment"] == "test", "timestamp"]))
    bars = pd.read_parquet(root / MARKET / "data" / "interim" / "bars.parquet")
    stamps = clock.ms_of(bars["timestamp"])
    first, last = np.searchsorted(stamps, [ts[0], ts[-1]])
    return bars.iloc[first - history : last + 1].reset_index(drop=True), ts


def test_serve_gives_predicts_answers_over_the_test_segment(pipeline_project, hybrid, served,
                                                            tmp_path):  # fmt: skip
    """Every bar of the test segment posted to /bars, /predict asked at each decision time:
    the same P(up) (exactly) and action as `gafcnn predict` on the same file."""
    history = Bundle(hybrid).history
    segment, decisions = _segment(pipeline_project, history - 1)
    path = tmp_path / "XBTUSDC_1.csv"
    path.write_text(kraken_rows(segment))
    bars, _ = read_bars(str(path))  # the values the CLI reads, sent as exact JSON floats
    assert len(bars) <= KEEP  # the stream holds all the file gives the CLI
    proc = subprocess.run([sys.executable, "-m", "gafcnn.cli", "predict", "--bundle", str(hybrid),
                           "--bars", str(path), "--format", "jsonl"],
                          capture_output=True, text=True, env=env())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cli = {r["timestamp"]: r for r in map(json.loads, proc.stdout.splitlines())}
    rows, stamps = json_bars(bars), clock.ms_of(bars["timestamp"])
    ends = np.flatnonzero(np.isin(stamps, decisions)) + 1  # post up to each decision time
    got, sent = {}, 0
    with httpx.Client(base_url=served) as http:
        for end in ends:
            body = {"symbol": "SOLUSDT", "bars": rows[sent:end]}
            assert http.post("/bars", json=body).is_success
            got[rows[end - 1]["timestamp"]] = http.post(
                "/predict", json={"symbol": "SOLUSDT"}
            ).json()
            sent = end
    assert len(got) == len(decisions)  # every decision time of the test segment
    for stamp, answer in got.items():
        assert answer["timestamp"] == stamp
        assert answer["p_up"] == cli[stamp]["p_up"] is not None, stamp  # exact
        assert (answer["action"], answer["reason"]) == (cli[stamp]["action"], cli[stamp]["reason"])
        assert answer["raw_probability"] == answer["p_up"]
        assert answer["should_trade"] == (answer["action"] != "flat")
        assert answer["direction"] == ("LONG" if answer["p_up"] >= 0.5 else "SHORT")
    assert {a["action"] for a in got.values()} <= {"long", "short"}  # theta 0: always in


def _state(http: httpx.Client) -> tuple:
    return http.get("/health").json()["symbols"].get("ETHUSDT"), http.post(
        "/predict", json={"symbol": "ETHUSDT"}).json()["p_up"]  # fmt: skip


BAD = [  # (body, status, the error's start)
    (b'{"price": 1.0, "volume": ', 400, "malformed JSON"),
    (b'{"price": NaN, "volume": 1.0}', 422, "price: Input should be a finite number"),
    (b'{"price": -3, "volume": 1.0}', 422, "price: Input should be greater than 0"),
    (b'{"symbol": "DOGEUSDT"}', 400, "/predict: symbol 'DOGEUSDT' is not served"),
    (b'{"volume": 2.0}', 400, "/predict: price: required with volume"),
    (b'{"price": 1.0, "volume": 1.0, "timestamp": "2024-01-01T00:00:00Z"}', 400,
     "/predict: snapshot of 2024-01-01T00:00:00+00:00 is not later than the last closed bar"),
    (b'{"price": 1.0, "high": 0.5, "volume": 1.0, "timestamp": "2025-01-01T00:00:00Z"}', 400,
     "/predict: high < max(open, close)"),
    (b'{"price": 1.0, "volume": 1.0, "timestamp": "2031-01-01T00:00:00Z", "close": true}', 400,
     "/predict: timestamp 2031-01-01T00:00:00+00:00 is "),
]  # fmt: skip


def test_bad_input_is_refused_in_one_line_and_changes_nothing(pipeline_project, served):
    bars = pd.read_parquet(pipeline_project / MARKET / "data" / "interim" / "bars.parquet").iloc[
        -300:
    ]
    rows = json_bars(bars)
    late = {**rows[-1], "timestamp": "2025-01-01T00:00:00+00:00"}
    bad_bars = [
        ({"bars": [rows[0]]}, 400, "/bars: bar is not later than the one before it"),
        (
            {"bars": [{**late, "close": "nan"}]},
            400,
            "/bars: bar 1: NaN/empty value in column 'close'",
        ),
        (
            {"bars": [{**late, "low": late["high"] * 2}]},
            400,
            "/bars: bar 1: low > min(open, close)",
        ),
        ({"bars": [{**late, "vwap": 1.0}]}, 400, "/bars: unknown columns: vwap"),
        ({"bars": [[1, 2, 3]]}, 400, "/bars: no header; first row looks like data"),
        ({"bars": [{**late, "close": None}]}, 400, "/bars: bar 1: null is not a number"),
        ({"bars": []}, 422, "bars: List should have at least 1 item"),
        ({"symbol": "DOGEUSDT", "bars": [late]}, 400, "/bars: symbol 'DOGEUSDT' is not served"),
        ({"bars": [{**late, "timestamp": "2031-01-01T00:00:00+00:00"}]}, 400,
         "/bars: a closed bar ending 2031-01-01T00:01:00+00:00 is "),
    ]  # fmt: skip
    with httpx.Client(base_url=served) as http:
        assert http.post("/bars", json={"symbol": "ETHUSDT", "bars": rows}).is_success
        before = _state(http)
        assert before[0]["bars"] == 300 and before[1] is not None
        for body, status, error in BAD:
            body = body if b"symbol" in body else body.replace(b"{", b'{"symbol": "ETHUSDT", ', 1)
            r = http.post("/predict", content=body, headers=JSON)
            assert (r.status_code, r.json()["error"][: len(error)]) == (status, error), body
            assert "\n" not in r.json()["error"]
            assert _state(http) == before
        for body, status, error in bad_bars:
            r = http.post("/bars", json={"symbol": "ETHUSDT", **body})
            assert (r.status_code, r.json()["error"][: len(error)]) == (status, error), body
            assert _state(http) == before
        r = http.post("/bars", content=b"[" * (2 << 20), headers=JSON)
        assert (r.status_code, r.json()["error"]) == (413, "request body above 1048576 bytes")
        assert _state(http) == before
        metrics = http.get("/metrics").text
        assert 'gafcnn_requests_total{path="/bars",status="413"} 1.0' in metrics
        assert "gafcnn_request_seconds_bucket" in metrics and "_created" not in metrics


def test_the_bots_client_gets_every_field_it_reads(served):
    """The bot's request as serde writes it (every field, None as null) through a
    standard HTTP client; every field of its response and health structs present,
    with a type its deserializer accepts."""
    request = {"price": 625.5, "open": None, "high": None, "low": None, "volume": 145230.5,
               "bid_volume": 72500.0, "ask_volume": 68200.0, "best_bid": 625.45,
               "best_ask": 625.55, "bid_depth_5": None, "ask_depth_5": None,
               "btc_price": 43250.0, "funding_rate": 0.0001, "symbol": "XRPUSDT"}  # fmt: skip
    with httpx.Client(base_url=served, timeout=0.1) as http:  # the bot's timeout: 100 ms
        answer = http.post("/predict", json=request).json()
        health = http.get("/health").json()
    for got, schema in ((answer, RESPONSE), (health, HEALTH)):
        for name, types in schema.items():
            assert isinstance(got[name], types) and not (
                bool in map(type, [got[name]]) and bool not in types), name  # fmt: skip
    assert answer["direction"] == "FLAT" and answer["should_trade"] is False
    assert answer["reason"] == "no closed bar yet"  # the snapshot's minute is still forming
    pd.Timestamp(answer["timestamp"])
    assert 0.0 <= answer["confidence"] <= 1.0
    assert health["model_loaded"] is True and health["status"] == "ok"
    assert health["symbols"]["XRPUSDT"]["forming"] is not None


def test_snapshots_make_bars():
    """Snapshots of a minute build its bar (open: the first, high/low: the extremes,
    close and volume: the last); a later minute closes it; close: true closes at once."""
    market = Market(Stream(None))
    for price, volume in ((10.0, 1.0), (12.0, 2.0), (9.0, 3.0), (11.0, 4.0)):
        market.snapshot(100, Snapshot(price, volume), False, "<test>")
    assert market.stream.bars is None
    market.snapshot(101, Snapshot(20.0, 1.0, high=25.0), False, "<test>")
    first = market.stream.bars.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        10.0, 12.0, 9.0, 11.0, 4.0)  # fmt: skip
    market.snapshot(101, Snapshot(21.0, 2.0, open=19.0), True, "<test>")
    assert len(market.stream.bars) == 2 and market.forming is None
    assert market.stream.bars.iloc[1][["open", "high", "low", "close"]].tolist() == [
        19.0, 25.0, 19.0, 21.0]  # fmt: skip
    with pytest.raises(InputError, match="not later than the last closed bar"):
        market.snapshot(101, Snapshot(21.0, 2.0), False, "<test>")
    market.snapshot(103, Snapshot(21.0, 2.0), False, "<test>")
    with pytest.raises(InputError, match="earlier than the bar forming"):
        market.snapshot(102, Snapshot(21.0, 2.0), False, "<test>")
    assert market.forming.minute == 103 and len(market.stream.bars) == 2


def test_a_token_guards_every_endpoint(hybrid):
    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(Bundle(hybrid), Options(token="s3cret")))
        async with httpx.AsyncClient(transport=transport, base_url="http://gafcnn") as client:
            return [
                await client.get("/health"),
                await client.post("/predict", json={}, headers={"Authorization": "Bearer nope"}),
                await client.get("/health", headers={"Authorization": "Bearer s3cret"}),
            ]

    none, wrong, right = asyncio.run(ask())
    assert none.status_code == wrong.status_code == 401 and right.status_code == 200
    assert wrong.json() == {"error": "missing or wrong bearer token"}
    cmd = [sys.executable, "-m", "gafcnn.cli", "serve", "--bundle", str(hybrid)]
    cmd += ["--host", "0.0.0.0"]  # without --token-file
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env())
    assert proc.returncode == 1
    assert (
        proc.stderr
        == "error: --host: 0.0.0.0 is reachable from other machines: give --token-file\n"
    )


def test_load_without_errors_or_lost_bars(pipeline_project, hybrid):
    """A few seconds of the load benchmark: 4 clients, 100 requests/s, a bar closed
    every 10th request: no error, and each symbol holds every bar its client closed."""
    bars = pd.read_parquet(pipeline_project / MARKET / "data" / "interim" / "bars.parquet")
    history, symbols = Bundle(hybrid).history, ["BTCUSDT", *SYMBOLS]
    with service(hybrid, SYMBOLS) as (base, _):
        clients = drive(base, bars, symbols, seconds=4, rate=100, history=history)
        held = httpx.get(f"{base}/health").json()["symbols"]
    assert [c.errors for c in clients] == [[]] * 4
    assert sum(len(c.latencies) for c in clients) >= 200
    for c in clients:
        assert c.closed >= 5
        assert held[c.symbol]["bars"] == history + c.closed
        assert held[c.symbol]["last_bar"] == c.last_bar


def _clean_stream(rows: list[dict]) -> list[tuple]:
    """The clean stream: 250 bars of history, then one bar and one question at a time."""
    steps = [("POST", "/bars", {"symbol": "ETHUSDT", "bars": rows[:250]})]
    for row in rows[250:]:
        steps.append(("POST", "/bars", {"symbol": "ETHUSDT", "bars": [row]}))
        steps.append(("POST", "/predict", {"symbol": "ETHUSDT"}))
    return steps


def _bad_requests(rows: list[dict], now: pd.Timestamp) -> list[tuple]:
    """(method, path, body, status, the error's start) a careless or hostile client sends."""
    ahead = (now + pd.Timedelta(seconds=61)).isoformat()
    future = {**rows[-1], "timestamp": "2031-01-01T00:00:00+00:00"}
    return [
        ("POST", "/predict", {"symbol": "ETHUSDT", "price": 27000, "volume": 1,
                              "timestamp": "2031-01-01T00:00:00Z", "close": True},
         400, "/predict: timestamp 2031-01-01T00:00:00+00:00 is "),
        ("POST", "/predict", {"symbol": "ETHUSDT", "price": 27000, "volume": 1,
                              "timestamp": ahead}, 400, f"/predict: timestamp {ahead} is 61 s"),
        ("POST", "/bars", {"symbol": "ETHUSDT", "bars": [future]}, 400,
         "/bars: a closed bar ending 2031-01-01T00:01:00+00:00 is "),
        ("GET", "/nope", None, 404, "no endpoint /nope"),
        ("PUT", "/predict", {}, 405, "PUT is not allowed on /predict"),
        ("POST", "/bars", {"symbol": "ETHUSDT", "bars": rows[:270]}, 413,
         "270 bars in one request, at most 260"),
        ("POST", "/bars", b"[" * 70_000, 413, "request body above 65536 bytes"),
        ("POST", "/bars", {"symbol": "ETHUSDT", "bars": "all of them"}, 422, "bars: "),
        ("POST", "/predict", b'{"symbol": "ETHUSDT", "price": ', 400, "malformed JSON"),
        ("GET", "/health", "fault", 500, "internal error (the service's log has the details)"),
    ]  # fmt: skip


async def _send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return await client.request(method, path, content=body, headers=JSON)
    return await client.request(method, path, json=body)


def test_no_client_can_wedge_the_service(pipeline_project, hybrid, monkeypatch, capsys):
    """Bars and snapshots from the future, unknown fields, unknown paths and methods,
    oversized bodies and bar counts, bad JSON and a fault of the service, sent between
    the steps of a clean stream: each is answered in the one error shape without
    internals, and the clean stream's answers are exactly those it gets alone. A
    symbol fed a wrong history starts afresh after ``DELETE /bars/{symbol}``."""
    bars = pd.read_parquet(pipeline_project / MARKET / "data" / "interim" / "bars.parquet").iloc[
        -300:
    ]
    rows = json_bars(bars)
    now = bars["timestamp"].iloc[-1] + pd.Timedelta(minutes=2)
    bundle = Bundle(hybrid)

    def app():
        return create_app(bundle, Options(symbols=tuple(SYMBOLS), max_body=65536, max_bars=260,
                                          clock=lambda: now.value / 1e9))  # fmt: skip

    async def run(bad: list[tuple]) -> tuple[list[dict], list[tuple], dict]:
        guard = app()
        service = guard.app.state.service
        transport = httpx.ASGITransport(app=guard)
        answers, errors = [], []
        async with httpx.AsyncClient(transport=transport, base_url="http://gafcnn") as client:
            for k, (method, path, body) in enumerate(_clean_stream(rows)):
                for b_method, b_path, b_body, status, error in bad if k % 7 == 3 else ():
                    if b_body == "fault":
                        monkeypatch.setattr(service, "health", lambda: 1 / 0)
                    r = await _send(client, b_method, b_path, None if b_body == "fault" else b_body)
                    monkeypatch.undo()
                    errors.append(
                        (r.status_code, r.headers["content-type"], r.json(), status, error)
                    )
                r = await _send(client, method, path, body)
                assert r.status_code == 200, r.text
                if path == "/predict":
                    extra = {"newfield": 1, "mood": "calm"} if bad else {}
                    got = (await _send(client, "POST", path, {**body, **extra})).json()
                    answers.append({k: v for k, v in got.items() if k != "latency_ms"})
            health = (await client.get("/health")).json()
            health["metrics"] = (await client.get("/metrics")).text
        return answers, errors, health

    clean, _, _ = asyncio.run(run([]))
    noisy, errors, health = asyncio.run(run(_bad_requests(rows, now)))
    assert len(errors) >= 50 and len(clean) == 50
    for status, kind, body, want_status, want in errors:
        assert (status, kind) == (want_status, "application/json"), body
        assert list(body) == ["error"] and body["error"].startswith(want), body
        assert "\n" not in body["error"] and "/tmp" not in body["error"]
    assert all(a.pop("ignored_fields") == ["mood", "newfield"] for a in noisy)
    assert noisy == clean  # the clean stream's answers, exactly
    assert all(a["action"] in ("long", "short") for a in clean)  # theta 0: always in
    assert health["bundle"] == health["model_version"] == bundle.version
    assert str(hybrid) not in json.dumps(health)
    assert 'gafcnn_ignored_fields_total{field="newfield"} 50.0' in health["metrics"]
    assert "ZeroDivisionError" in capsys.readouterr().err  # the fault, in the service's log


def test_a_symbol_starts_afresh_after_delete(pipeline_project, hybrid):
    """A history the bot regrets (here: bars later than the ones it means to send)
    blocks earlier bars until ``DELETE /bars/{symbol}``; then the symbol answers as a
    symbol fed only the right bars, and other symbols are untouched."""
    bars = pd.read_parquet(pipeline_project / MARKET / "data" / "interim" / "bars.parquet")
    rows = json_bars(bars.iloc[-300:])

    async def go() -> list:
        transport = httpx.ASGITransport(
            app=create_app(Bundle(hybrid), Options(symbols=tuple(SYMBOLS)))
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://gafcnn") as c:
            await c.post("/bars", json={"symbol": "SOLUSDT", "bars": rows[-5:]})
            await c.post("/bars", json={"symbol": "ETHUSDT", "bars": rows[:-1]})
            refused = await c.post("/bars", json={"symbol": "SOLUSDT", "bars": rows[:-1]})
            reset = await c.delete("/bars/SOLUSDT")
            again = await c.post("/bars", json={"symbol": "SOLUSDT", "bars": rows[:-1]})
            unknown = await c.delete("/bars/DOGEUSDT")
            asks = [(await c.post("/predict", json={"symbol": s})).json() for s in SYMBOLS[:2]]
            return [refused, reset, again, unknown, asks]

    refused, reset, again, unknown, (eth, sol) = asyncio.run(go())
    assert refused.status_code == 400 and "not later than" in refused.json()["error"]
    assert reset.json() == {"symbol": "SOLUSDT", "reset": True, "bars": 0, "last_bar": None,
                            "forming": None}  # fmt: skip
    assert again.status_code == 200 and again.json()["bars"] == 299
    assert unknown.status_code == 400 and "'DOGEUSDT' is not served" in unknown.json()["error"]
    assert {k: v for k, v in sol.items() if k != "latency_ms"} == {
        k: v for k, v in eth.items() if k != "latency_ms"}  # fmt: skip
    assert eth["p_up"] is not None


def test_top_features_are_the_deployed_boosters_by_gain_and_none_without_one(hybrid, tmp_path):
    import xgboost
    from fastapi.testclient import TestClient

    bundle = Bundle(hybrid)
    inputs = bundle.spec["models"]["hybrid"]["inputs"]
    booster = xgboost.Booster()
    booster.load_model(str(hybrid / "hybrid.ubj"))
    gain = {(k if k in inputs else inputs[int(k[1:])]): v
            for k, v in booster.get_score(importance_type="gain").items()}  # fmt: skip
    assert len(bundle.top_features) == 5 and set(bundle.top_features) <= set(inputs)
    assert [gain[n] for n in bundle.top_features] == sorted(gain.values(), reverse=True)[:5]
    ensemble = redeploy(hybrid, tmp_path / "ensemble", "ensemble", "deploy ensemble")
    nothing = redeploy(hybrid, tmp_path / "nothing", None, "deploy nothing")
    assert Bundle(ensemble).top_features == [] and Bundle(nothing).top_features == []
    for folder, loaded, top in ((hybrid, True, bundle.top_features), (nothing, False, [])):
        with TestClient(create_app(Bundle(folder))) as http:
            assert http.get("/health").json()["model_loaded"] is loaded
            assert http.post("/predict", json={}).json()["top_features"] == top


def test_predict_answers_the_bundles_recommended_size_and_health_shows_it(pipeline_project,
                                                                          hybrid):  # fmt: skip
    """With the forecaster's history posted, /predict answers the size the bundle's
    forecaster gives on the same bars (exactly), a number whatever the direction says,
    and /health shows the forecast and its model; before that history, no size. Bars
    then posted one at a time: /health's live card scores each decision's forecast
    against the realized volatility of the hour after it, as computed here."""
    bundle = Bundle(hybrid)
    h, horizon = bundle.sizer.history, bundle.sizer.horizon
    bars = pd.read_parquet(pipeline_project / MARKET / "data" / "interim" / "bars.parquet")
    tail = bars.iloc[-(h + 5 + 2 * horizon) :].reset_index(drop=True)
    arrays = {k: tail[k].to_numpy(np.float64) for k in OHLCV}
    minutes = minute_index(tail)
    rows = json_bars(tail)
    with service(hybrid, ["ADAUSDT"]) as (base, _), httpx.Client(base_url=base) as http:
        assert http.post("/bars", json={"symbol": "ADAUSDT", "bars": rows[:5]}).is_success
        early = http.post("/predict", json={"symbol": "ADAUSDT"}).json()
        assert early["recommended_size"] is None and early["predicted_vol"] is None
        for a in range(5, h + 5, 1000):
            body = {"symbol": "ADAUSDT", "bars": rows[a : min(a + 1000, h + 5)]}
            assert http.post("/bars", json=body).is_success
        answer = http.post("/predict", json={"symbol": "ADAUSDT"}).json()
        health = http.get("/health").json()["sizing"]["ADAUSDT"]
        for row in rows[h + 5 :]:  # one bar at a time: a decision at each
            assert http.post("/bars", json={"symbol": "ADAUSDT", "bars": [row]}).is_success
        live = http.get("/health").json()["live"]["ADAUSDT"]["volatility"]
    want = bundle.sizer.forecast(arrays, minutes, np.array([h + 4]))[0]
    assert answer["predicted_vol"] == want and np.isfinite(want)
    assert answer["recommended_size"] == float(bundle.sizer.size(np.array([want]))[0])
    assert 0 < answer["recommended_size"] <= bundle.sizer.max_leverage
    assert health["model"] == bundle.sizer.model and health["predicted_vol"] == want
    assert health["recommended_size"] == answer["recommended_size"]
    stride = bundle.policy().stride
    due = [p for p in range(h + 4, len(tail)) if minutes[p] % stride == 0
           and p + horizon < len(tail)]  # fmt: skip  # from the history's last bar on
    close = arrays["close"]
    realized = np.array([np.sqrt(np.sum(np.diff(np.log(close[p : p + horizon + 1])) ** 2))
                         for p in due])  # fmt: skip
    forecast = bundle.sizer.forecast(arrays, minutes, np.array(due))
    assert live["scored"] == len(due) > 20 and live["void"] == 0
    assert live["qlike"] == pytest.approx(float(np.mean(losses(realized, forecast))), rel=1e-9)
    assert live["backtest_qlike_ci"] == bundle.spec["volatility"]["test"]["qlike_ci"]
