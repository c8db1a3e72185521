"""The configuration's record: retrains' stretches pooled, each decision once, and
judged with the power a single stretch lacks. Known answer: calls with a planted
accuracy edge that one stretch cannot see deploy on the pooled record; calls with
none never do; the record states its size and the edge it can detect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from pipeline import overridden

from gafcnn import clock, registry
from gafcnn.data.bars import minute_index
from gafcnn.data.labels import forward_returns
from gafcnn.data.synthetic import generate
from gafcnn.io import InputError
from gafcnn.live import evidence
from gafcnn.models import predictions
from gafcnn.params import Params

DAY = 1440
STRETCHES = 8  # one a day: half a day of val, then half a day of test
CHECKS = {"audit": {"passed": True, "checks": {}},
          "latency": {"inference_under_100ms": True, "memory_under_2gb": True}}  # fmt: skip


def _params(**over: object) -> Params:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    return Params.from_dict(overridden(raw, **{
        "data.synthetic.n_bars": (STRETCHES + 1) * DAY, "evaluate.costs.fee_bps": 0.0,
        "evaluate.bootstrap_reps": 500, **over}))  # fmt: skip


@pytest.fixture(scope="module")
def market() -> tuple[Params, pd.DataFrame]:
    params = _params()
    return params, generate(params.data.synthetic).bars


def _stretch(params: Params, bars: pd.DataFrame, day: int, edge: float, seed: int) -> pd.DataFrame:
    """Day ``day``'s val (its first half) and test (its second half) decisions, every
    scored model calling the realised direction right with probability 0.5 + ``edge``."""
    minutes = minute_index(bars)
    horizon, stride = params.label.horizon, params.gaf.stride
    fwd = forward_returns(bars["close"].to_numpy(np.float64), minutes, horizon)
    rng = np.random.default_rng(seed)
    models = sorted(set(registry.scored(list(params.gaf.windows), params.ensemble.method).values()))
    frames = []
    for seg, offset in (("val", 0), ("test", DAY // 2)):
        at = np.arange(day * DAY + offset, day * DAY + offset + DAY // 2 - horizon, stride)
        y = (fwd[at] > 0).astype(int)
        for model in models:
            right = rng.random(len(at)) < 0.5 + edge
            call = np.where(right, y, 1 - y)
            p = 0.5 + (2 * call - 1) * rng.uniform(0.01, 0.1, len(at))
            frames.append(predictions.frame(clock.ms_of_minutes(minutes[at]), seg, y, p, model))
    return pd.concat(frames, ignore_index=True)


def _record(tmp, params, bars, edge, days=STRETCHES) -> evidence.Record:
    for day in range(days):
        end = int(minute_index(bars)[0]) + (day + 1) * DAY
        evidence.add(tmp, end, _stretch(params, bars, day, edge, seed=day), CHECKS)
    return evidence.pooled(tmp, params, end)


def test_a_planted_edge_one_stretch_cannot_see_deploys_on_the_pooled_record(market, tmp_path):
    params, bars = market
    one = evidence.judge_record(params, _record(tmp_path / "a", params, bars, 0.08, 1), bars)
    pooled = evidence.judge_record(params, _record(tmp_path / "b", params, bars, 0.08), bars)
    single, record = one["evidence"], pooled["evidence"]
    assert single["stretches"] == 1 and record["stretches"] == STRETCHES
    assert record["decisions"] == STRETCHES * single["decisions"]
    assert record["test_days"] == pytest.approx(STRETCHES * single["test_days"])
    # the edge lies below what one stretch detects and above what the record detects
    assert record["detectable_accuracy_edge"] < 0.08 < single["detectable_accuracy_edge"]
    assert one["decision"]["deployed_model"] is None
    assert pooled["decision"]["deployed_model"] is not None
    assert pooled["decision"]["reasons"][0].startswith(f"judged on the record of {STRETCHES}")


def test_with_no_edge_the_pooled_record_deploys_nothing(market, tmp_path):
    params, bars = market
    judged = evidence.judge_record(params, _record(tmp_path, params, bars, 0.0), bars)
    assert judged["decision"]["deployed_model"] is None
    assert judged["decision"]["decision"] == "deploy nothing"
    assert 0 < judged["evidence"]["detectable_accuracy_edge"] < 0.08


def test_evidence_days_keeps_only_the_newest_stretches(market, tmp_path):
    params, bars = market
    _record(tmp_path, params, bars, 0.0, 3)
    end = int(minute_index(bars)[0]) + 3 * DAY
    recent = evidence.pooled(tmp_path, _params(**{"retrain.evidence_days": 1.5}), end)
    assert recent.ends == [clock.iso_minute(end - DAY), clock.iso_minute(end)]
    earlier = evidence.pooled(tmp_path, params, end - DAY)  # nothing after its end counts
    assert len(earlier.ends) == 2 and earlier.test.ts.max() < end * 60_000 - DAY * 60_000 // 2 + 1
    with pytest.raises(InputError, match="no stretch ends by"):
        evidence.pooled(tmp_path, params, end - 3 * DAY)


def test_overlapping_stretches_count_each_decision_once(market, tmp_path):
    params, bars = market
    first = _stretch(params, bars, 0, 0.0, seed=1)
    later = first.copy()
    later["p_up"] = 1 - later["p_up"]  # another fit's calls on the same decisions
    start = int(minute_index(bars)[0])
    evidence.add(tmp_path, start + DAY, first, CHECKS)
    evidence.add(tmp_path, start + DAY + 1, later, CHECKS)
    record = evidence.pooled(tmp_path, params, start + DAY + 1)
    test = first[(first["segment"] == "test") & (first["model"] == first["model"].iloc[0])]
    assert len(record.test.ts) == len(test) and len(record.ends) == 2
    name = next(iter(record.test.probs))
    model = registry.scored(list(params.gaf.windows), params.ensemble.method)[name]
    kept = first[(first["segment"] == "test") & (first["model"] == model)]["p_up"].to_numpy()
    assert np.array_equal(record.test.probs[name], kept)  # the first fit that saw them


def test_a_failed_audit_in_any_stretch_fails_the_records_audit(market, tmp_path):
    params, bars = market
    start = int(minute_index(bars)[0])
    failed = {**CHECKS, "audit": {"passed": False, "checks": {}}}
    evidence.add(tmp_path, start + DAY, _stretch(params, bars, 0, 0.0, 0), failed)
    evidence.add(tmp_path, start + 2 * DAY, _stretch(params, bars, 1, 0.0, 1), CHECKS)
    record = evidence.pooled(tmp_path, params, start + 2 * DAY)
    assert record.checks.audit["passed"] is False and record.checks.out_of_sample
