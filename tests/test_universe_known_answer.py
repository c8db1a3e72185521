"""Known answers for a universe (slow: two universes through `dvc repro`, about 10
minutes on 2 cores): on synthetic symbols whose
planted signal is known, only the symbol that carries one deploys, and a universe
without signal deploys nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline import dvc, metrics, scratch_project

pytestmark = pytest.mark.slow

# Costs at 0 so that a real edge can pay; small models, one window, per-symbol fits.
SMALL = {
    "data.synthetic.n_bars": 40_000,
    "data.synthetic.correlation": 0.3,
    "gaf.windows": [15],
    "epochs": 2,
    "patience": 2,
    "minirocket.kernels": 500,
    "evaluate.costs.fee_bps": 0.0,
    "evaluate.bootstrap_reps": 2000,  # 12 models x 3 trials: p-values must reach 0.05 / 36
    "universe.pooled": False,
}


def run_universe(tmp_path, signals: dict[str, float]) -> dict:
    root = scratch_project(tmp_path, **SMALL,
                           **{"data.symbols": list(signals),
                              "data.synthetic.signals": list(signals.values())})  # fmt: skip
    dvc(root, "repro")
    out = metrics(root, "universe", market=None)
    out["oracle"] = {s: metrics(root, "ingest", Path("markets") / s)["oracle_accuracy"]
                     for s in signals}  # fmt: skip
    return out


def test_only_the_symbol_that_carries_a_signal_deploys(tmp_path):
    out = run_universe(tmp_path, {"AAA": 0.35, "BBB": 0.0, "CCC": 0.0})
    assert out["oracle"]["AAA"] > 0.55 > max(out["oracle"]["BBB"], out["oracle"]["CCC"])
    decision = out["decision"]
    assert decision["AAA"]["model"] is not None, decision["AAA"]
    assert decision["BBB"]["model"] is None and decision["CCC"]["model"] is None
    assert out["trials"] == 3  # symbols x trainings: the family-wise correction counts them
    assert out["rank_ic"]["per_symbol"] is not None  # three symbols: the rank IC is reported
    # the ranked label's own models are fitted and judged; the portfolio's decision
    # counts every long-short tried: each scored model, and the two of the ranked label
    ranked = out["rank_ic"]["ranked_label"]
    assert set(ranked) == {"xgb_rank", "trend"} and ranked["xgb_rank"]["rebalances"] > 100
    assert out["rank_ic"]["portfolio"]["trials"] == 12 + 2  # scored models + ranked label


def test_a_universe_without_signal_deploys_nothing(tmp_path):
    out = run_universe(tmp_path, {"AAA": 0.0, "BBB": 0.0})
    assert all(d["model"] is None for d in out["decision"].values()), out["decision"]
    assert out["rank_ic"] == {"per_symbol": None}  # two symbols: no cross-section to rank
