"""Serving a universe: one `gafcnn serve` process answers each symbol by its own bundle
and decision, and `gafcnn predict` picks a symbol's bundle from the universe's folder."""

from __future__ import annotations

import asyncio
import json

import httpx
import pandas as pd
import pytest
from pipeline import MARKET

from gafcnn.cli import predict_main
from gafcnn.data.bars import OHLCV
from gafcnn.io import InputError, write_json
from gafcnn.serving.bundle import Bundle, redeploy
from gafcnn.serving.http.app import create_app
from gafcnn.serving.symbols import Served, bundle_for, champion_paths
from gafcnn.testing.load import json_bars


@pytest.fixture(scope="module")
def universe(pipeline_project, tmp_path_factory):
    """A universe's markets folder as export writes it (each market's bundle and its
    pointer): BTC_USDT's bundle deploys the hybrid, ETH_USDT's deploys nothing (both
    made from the project's bundle)."""
    root = tmp_path_factory.mktemp("universe") / "markets"
    src = pipeline_project / MARKET / "models" / "bundle"
    for symbol, model in (("BTC_USDT", "hybrid"), ("ETH_USDT", None)):
        folder = redeploy(src, root / symbol / "models" / "bundle", model,
                          f"deploy {model or 'nothing'}")  # fmt: skip
        write_json(root / symbol / "CHAMPION", {"version": Bundle(folder).version,
                                                "path": "models/bundle"})  # fmt: skip
    return root


def _ask(app, rows: list[dict], symbols: list[str]) -> tuple[dict, list[dict], dict]:
    """Post ``rows`` to each of ``symbols`` and ask each; also ask without a symbol and
    for one not served. Returns the answers by symbol, the two refusals, /health."""

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gafcnn") as c:
            answers = {}
            for s in symbols:
                assert (await c.post("/bars", json={"symbol": s, "bars": rows})).is_success
                answers[s] = (await c.post("/predict", json={"symbol": s})).json()
            refused = [(await c.post("/predict", json=body)).json()
                       for body in ({}, {"symbol": "SOL/USDT"})]  # fmt: skip
            return answers, refused, (await c.get("/health")).json()

    return asyncio.run(go())


def test_each_symbol_is_answered_by_its_own_bundle(pipeline_project, universe):
    bars = pd.read_parquet(pipeline_project / MARKET / "data" / "interim" / "bars.parquet").iloc[
        -300:
    ]
    rows = json_bars(bars)
    assert champion_paths(universe) == {
        "BTCUSDT": universe / "BTC_USDT" / "models" / "bundle",
        "ETHUSDT": universe / "ETH_USDT" / "models" / "bundle",
    }
    served = Served.open(universe)
    assert list(served.bundles) == ["BTCUSDT", "ETHUSDT"] and served.default is None
    assert served.store == universe  # a store: a service watches its pointers
    answers, refused, health = _ask(create_app(served), rows, ["BTC/USDT", "eth-usdt"])
    btc, eth = answers["BTC/USDT"], answers["eth-usdt"]
    assert btc["action"] in ("long", "short") and btc["p_up"] is not None  # hybrid, theta 0
    assert eth["action"] == "flat" and "deploy nothing" in eth["reason"]
    assert btc["model_version"] == served.bundles["BTCUSDT"].version != eth["model_version"]
    # BTC's answer is the one its bundle gives served alone: served = its own decision
    btc_bundle = Bundle(universe / "BTC_USDT" / "models" / "bundle")
    alone, _, _ = _ask(create_app(btc_bundle), rows, ["BTCUSDT"])
    assert {k: v for k, v in alone["BTCUSDT"].items() if k != "latency_ms"} == {
        k: v for k, v in btc.items() if k != "latency_ms"
    }
    assert refused[0] == {"error": "/predict: symbol: required (serves BTCUSDT, ETHUSDT, "
                                   "each by its own bundle)"}  # fmt: skip
    assert refused[1]["error"].startswith("/predict: symbol 'SOL/USDT' is not served")
    assert health["deployed"] == {"BTCUSDT": "hybrid", "ETHUSDT": None}
    assert health["served"]["ETHUSDT"]["decision"] == "deploy nothing"
    assert health["model_version"] == ",".join(
        f"{s}={health['served'][s]['model_version']}" for s in ("BTCUSDT", "ETHUSDT"))  # fmt: skip
    assert set(health["symbols"]) == {"BTCUSDT", "ETHUSDT"}


def test_symbols_limit_a_universe_and_widen_a_bundle(universe):
    only = Served.open(universe, ["ETH/USDT"])
    assert list(only.bundles) == ["ETHUSDT"] and only.default == "ETHUSDT"
    with pytest.raises(InputError, match=r"no champion for SOLUSDT \(it has BTCUSDT, ETHUSDT\)"):
        Served.open(universe, ["SOL/USDT"])
    one = Served.open(universe / "BTC_USDT" / "models" / "bundle", ["SOLUSDT"])
    assert one.default == "BTCUSDT" and one.single is one.bundles["SOLUSDT"] and one.store is None
    with pytest.raises(InputError, match="neither a bundle .* nor a store"):
        Served.open(universe / "nowhere")


def test_predict_picks_the_symbols_bundle(pipeline_project, universe, tmp_path, capsys):
    bars = pd.read_parquet(pipeline_project / MARKET / "data" / "interim" / "bars.parquet").iloc[
        -300:
    ]
    path = tmp_path / "bars.csv"
    bars[["timestamp", *OHLCV]].to_csv(path, index=False)
    out: dict[str, list] = {}
    runs = {
        "universe": ["--bundle", str(universe), "--symbol", "BTC/USDT"],
        "own": ["--bundle", str(universe / "BTC_USDT" / "models" / "bundle")],
        "eth": ["--bundle", str(universe), "--symbol", "ETHUSDT"],
    }
    for key, args in runs.items():
        predict_main([*args, "--bars", str(path), "--last", "3", "--format", "jsonl"])
        out[key] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out["universe"] == out["own"] and len(out["own"]) == 3
    assert {r["action"] for r in out["eth"]} == {"flat"}
    with pytest.raises(InputError, match="holds a bundle per symbol .*: name one with --symbol"):
        bundle_for(universe, None)
    with pytest.raises(InputError, match="fitted on BTCUSDT, not ETH/USDT"):
        bundle_for(universe / "BTC_USDT" / "models" / "bundle", "ETH/USDT")
