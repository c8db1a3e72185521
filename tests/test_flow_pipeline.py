"""Order flow through the pipeline and the service (slow: one `dvc repro` of 20,000
bars, about 3 minutes on 2 cores): a market whose next bar follows its bars' taker
imbalance (`gafcnn.edge.synthetic.order_flow_market`), ingested from a CSV with
``trades`` and ``taker_buy_base`` columns, fitted with ``features.flow`` and an image
channel of the imbalance. xgb_indicators finds the planted signal through the
pipeline; the bundle it exports serves bars that carry the order flow and refuses,
in one line, bars that do not."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pipeline import dvc, env, metrics, scratch_project

from gafcnn.edge import synthetic

pytestmark = pytest.mark.slow


def test_order_flow_is_fitted_found_served_and_required(tmp_path):
    bars = synthetic.order_flow_market(20_000, 1.5, seed=4)
    root = scratch_project(tmp_path, **{
        "data.source": "csv", "data.path": "data/external/flow.csv",
        "features.flow": True, "gaf.windows": [15],
        "gaf.channels": ["gasf", "gadf", "gadf:taker_imbalance"],
        "epochs": 2, "patience": 2, "minirocket.kernels": 500,
    })  # fmt: skip
    bars.drop(columns="filled").to_csv(root / "data/external/flow.csv", index=False)
    dvc(root, "repro")
    xgb = metrics(root, "xgb_indicators")
    # measured by `gafcnn edge horizons` on the same market: 0.59 against 0.51
    assert xgb["test"]["accuracy"] > xgb["test"]["majority_rate"] + 0.04
    top = next(iter(xgb["feature_importance_gain"]))
    assert top.startswith("taker_imbalance"), xgb["feature_importance_gain"]
    bundle = root / "markets" / "BTCUSDT" / "models" / "bundle"
    spec = json.loads((bundle / "bundle.json").read_text())
    assert "taker_imbalance" in spec["models"]["xgb_indicators"]["inputs"]

    tail = bars.iloc[-400:].drop(columns="filled")
    tail.to_csv(tmp_path / "with.csv", index=False)
    tail.drop(columns=["trades", "taker_buy_base"]).to_csv(tmp_path / "without.csv", index=False)

    def predict(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "gafcnn.cli", "predict", "--bundle", str(bundle),
             "--bars", str(tmp_path / name), "--last", "3"],
            cwd=root, env=env(), capture_output=True, text=True)  # fmt: skip

    ok = predict("with.csv")
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.strip().splitlines()) == 4  # the header and three decisions
    refused = predict("without.csv")
    assert refused.returncode != 0 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'without.csv'}: this bundle's models read the order flow "
        "(trades, taker_buy_base); the bars carry no trades, taker_buy_base"
    ]
