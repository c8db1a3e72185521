"""One pipeline for one symbol or many: every symbol is a market whose stages run in
its own folder on its own params, so DVC reruns only what an edit reaches."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from pipeline import MARKET, dvc, metrics, scratch_project, set_params

from gafcnn.io import InputError, write_json
from gafcnn.params import Params, load_params, market_params
from gafcnn.serving.symbols import Served
from gafcnn.universe.layout import market_split, read_spans, span_record

FITS = ("gaf", "train", "minirocket", "xgb_raw", "xgb_indicators", "baseline", "ensemble",
        "hybrid", "walkforward", "patterns", "pooled")  # fmt: skip


def stale(root: Path) -> set[str]:
    """The stages `dvc status` says an edit reaches."""
    return set(json.loads(dvc(root, "status", "--json").stdout))


def ran(out: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", out))


def copy_of(project: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    return copy


def test_a_one_symbol_run_is_a_universe_of_one(project):
    """The default run's market folder holds the whole pipeline's outputs, its params
    are the project's on that one symbol (its file holds only its own keys, read over
    the project's), and the cross-market stages ran (no pooled fit: one symbol has
    nothing to pool)."""
    own = yaml.safe_load((project / MARKET / "params.yaml").read_text())
    assert own == {"base": "../../params.yaml", "split": own["split"], "evaluate": {"trials": 1},
                   "data": {"symbols": ["BTCUSDT"], "synthetic": {"signals": []}}}  # fmt: skip
    assert load_params(project / MARKET / "params.yaml") == load_params(project / "params.yaml")
    assert (project / MARKET / "models" / "bundle" / "bundle.json").exists()
    assert json.loads((project / "data/universe/pooled/skipped.json").read_text())
    universe = metrics(project, "universe", market=None)
    assert universe["training"] == ["per_symbol"] and universe["trials"] == 1
    assert universe["decision"]["BTCUSDT"]["decision"] == metrics(project, "decision")["decision"]


def test_an_edit_only_the_report_reads_reruns_no_fit(project, tmp_path):
    copy = copy_of(project, tmp_path)
    assert stale(copy) == set()
    report = copy / "src" / "gafcnn" / "evaluation" / "report.py"
    report.write_text(report.read_text() + "\n# an edit of the report's code alone\n")
    assert stale(copy) == {"evaluate@BTCUSDT"}


@pytest.mark.slow
def test_a_param_only_the_decision_reads_refits_nothing(project, tmp_path):
    copy = copy_of(project, tmp_path)
    set_params(copy, **{"evaluate.alpha": 0.01})
    reached = {"evaluate@BTCUSDT", "export@BTCUSDT", "universe"}
    assert stale(copy) == reached
    assert ran(dvc(copy, "repro").stdout) == reached


@pytest.mark.slow
def test_adding_a_symbol_fits_that_symbol_alone(tmp_path):
    """A third symbol over the same span: its own pipeline, the others' evaluation
    again (each decision now one of three symbols' trials) and the cross-market
    stages; none of the other symbols' models is refitted. (From one symbol to two
    the split itself changes, from the project's to the cut common to the symbols.)"""
    small = {"data.synthetic.n_bars": 6000, "gaf.windows": [15], "epochs": 1, "width": 8,
             "minirocket.kernels": 252, "patterns.per_class": 100, "patterns.epochs": 1,
             "patterns.real_per_class": 50, "patterns.synthetic.n_bars": 30000,
             "universe.pooled": False, "data.symbols": ["AAA", "BBB"]}  # fmt: skip
    root = scratch_project(tmp_path, **small)
    dvc(root, "repro")
    set_params(root, **{"data.symbols": ["AAA", "BBB", "CCC"]})
    again = ran(dvc(root, "repro").stdout)
    for old in ("AAA", "BBB"):
        assert {s for s in again if f"@{old}" in s} == {
            f"{stage}@{old}" for stage in ("ingest", "market", "evaluate", "export")
        }, again
    assert {"split@CCC", "train@CCC-15", "evaluate@CCC", "universe"} <= again
    universe = metrics(root, "universe", market=None)
    assert universe["trials"] == 3
    served = Served.open(root / "markets")  # each symbol by its own bundle
    assert sorted(served.bundles) == ["AAA", "BBB", "CCC"]
    for symbol, bundle in served.bundles.items():
        own = metrics(root, "decision", market=Path("markets") / symbol)
        assert bundle.spec["decision"]["decision"] == own["decision"], symbol
        assert bundle.deployed == own["deployed_model"], symbol
        assert universe["decision"][symbol]["decision"] == own["decision"], symbol


def test_every_market_is_cut_at_the_dates_the_symbols_share(tmp_path, monkeypatch):
    """One symbol keeps the project's split; a universe's markets all get the ranges
    cut over the span their ingests recorded; a missing span is named."""
    monkeypatch.chdir(tmp_path)
    params = Params.from_dict({"data": {"symbols": ["A", "B"]}})
    for symbol, first, last in (("A", "2024-01-01T00:00Z", "2024-01-31T00:00Z"),
                                ("B", "2024-01-05T00:00Z", "2024-02-10T00:00Z")):  # fmt: skip
        write_json(Path("data/universe/spans") / f"{symbol}.json", {"first": first, "last": last})
    spans = read_spans(["A", "B"])
    split = market_split(params, spans)
    assert split["method"] == "ranges"
    assert split["ranges"]["train"][0][0] == "2024-01-06T00:00:00+00:00"  # B's first + warm-up
    assert split["ranges"]["test"][0][1] == "2024-01-31T00:01:00+00:00"  # A's last, inclusive
    one = Params.from_dict({"data": {"symbols": ["A"]}})
    assert market_split(one, read_spans(["A"])) == {}  # the project's split section as written
    own = market_params(params, "B", split, trials=4)
    assert own["data"]["symbols"] == ["B"] and own["split"] == split
    assert own["evaluate"]["trials"] == 4 and params.raw["data"]["symbols"] == ["A", "B"]
    with pytest.raises(InputError, match=r"data/universe/spans/C.json: no span recorded for C"):
        read_spans(["A", "C"])


def test_a_span_leaves_out_invented_fill_bars(bars):
    filled = bars.assign(filled=False)
    filled.loc[filled.index[:3], "filled"] = True
    rec = span_record(filled)
    assert rec["first"] == span_record(bars.iloc[3:].assign(filled=False))["first"]


@pytest.mark.slow
def test_a_driver_killed_mid_run_resumes_without_redoing_finished_stages(tmp_path):
    """`dvc repro` killed with SIGKILL after some stages finished: the next `dvc repro`
    completes the pipeline and runs none of the stages the killed one had recorded in
    dvc.lock."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from pipeline import env

    small = {"data.synthetic.n_bars": 6000, "gaf.windows": [15], "epochs": 1, "width": 8,
             "minirocket.kernels": 252, "patterns.per_class": 100, "patterns.epochs": 1,
             "patterns.real_per_class": 50, "patterns.synthetic.n_bars": 30000}  # fmt: skip
    root = scratch_project(tmp_path, **small)
    driver = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=root, env=env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    lock = root / "dvc.lock"

    def recorded() -> set[str]:
        try:  # DVC may be rewriting it
            return set((yaml.safe_load(lock.read_text()) or {}).get("stages", {}))
        except (FileNotFoundError, yaml.YAMLError):
            return set()

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and "baseline@BTCUSDT" not in recorded():
        assert driver.poll() is None, "dvc repro ended before it could be killed"
        time.sleep(0.2)  # until past the images, before the models
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the stage it was running
    driver.wait()
    finished = recorded()
    assert "baseline@BTCUSDT" in finished and "evaluate@BTCUSDT" not in finished
    again = ran(dvc(root, "repro").stdout)
    assert not again & finished, sorted(again & finished)
    assert "evaluate@BTCUSDT" in again and stale(root) == set()
