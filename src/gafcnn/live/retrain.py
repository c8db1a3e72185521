"""Retraining on a rolling window, and the champion/challenger judgement.

A retrain at ``end`` (one minute past the newest complete bar) fits the whole
pipeline - every model, the audit, the latency check, the evaluation with its
decision gate, the export - on the last ``retrain.train_days + val_days +
test_days`` days before ``end``, split into train, val and test ranges in that
order (`split.method: ranges`: a sample lies wholly inside its range, so the
ranges purge themselves). It runs in a scratch folder by the walk-forward's own
runner (:func:`gafcnn.evaluation.resample_runner.run_pipeline`), so a retrain is a
walk-forward fold by construction, and leaves the project's outputs alone.

The challenger's test range is the newest stretch neither it nor the champion has
fitted. Both are traded there by the serving path (their bundles, priced by bars,
as `gafcnn paper` trades) and judged by :func:`gafcnn.live.gate.judge_challenger`.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.data.bars import minute_index
from gafcnn.data.ingest import summarise
from gafcnn.live.gate import Verdict, judge_challenger
from gafcnn.live.versions import Versions
from gafcnn.params import Params, RetrainParams
from gafcnn.serving import paper
from gafcnn.serving.bundle import Bundle
from gafcnn.trading.engine import PositionEngine
from gafcnn.universe.fit import scratch_run

DAY = 1440  # minutes


def window(end: int, spec: RetrainParams) -> dict[str, list[list[str]]]:
    """The split ranges of a retrain at epoch minute ``end`` (exclusive), oldest first:
    train, val, test, each ``[start, stop)`` as ISO timestamps."""
    test0 = end - round(spec.test_days * DAY)
    val0 = test0 - round(spec.val_days * DAY)
    train0 = val0 - round(spec.train_days * DAY)
    stamp = clock.iso_minute
    return {"train": [[stamp(train0), stamp(val0)]], "val": [[stamp(val0), stamp(test0)]],
            "test": [[stamp(test0), stamp(end)]]}  # fmt: skip


def schedule(first: int, last: int, spec: RetrainParams) -> list[int]:
    """The retrain minutes of a history from epoch minute ``first`` to ``last``: the
    first once a whole window lies behind it, then every ``every`` days while a bar
    remains to trade."""
    start, step = first + round(spec.span_days * DAY), round(spec.every * DAY)
    return list(range(start, last + 1, step))


def run_params(params: Params, ranges: dict, symbol: str, source: str | None) -> tuple:
    """A retrain's params.yaml (the project's, on ``symbol`` and, given, read from the
    file ``source``) and its split section (``ranges``)."""
    raw = dict(params.raw)
    data = {**raw.get("data", {}), "symbols": [symbol]}
    if source is not None:
        data.update(source="csv", path=str(source))
    raw["data"] = data
    return raw, {**raw.get("split", {}), "method": "ranges", "ranges": ranges}


def fit_challenger(params: Params, bars: pd.DataFrame, end: int, symbol: str, out: Path,
                   source: str | None = None) -> Path:  # fmt: skip
    """Fit and export a challenger on the retrain window before ``end``; its bundle,
    copied to ``out``."""
    minutes = minute_index(bars)
    ranges = window(end, params.retrain)
    begin = clock.minutes_of_ms(clock.parse_ms(ranges["train"][0][0], "retrain"))
    part = bars[(minutes >= begin) & (minutes < end)].reset_index(drop=True)
    inputs = {
        paths.ORACLE: pd.DataFrame({"timestamp": part["timestamp"].iloc[:0], "p_up": []}),
        paths.metrics("ingest"): summarise(part, {"source": "retrain", "symbol": symbol}),
    }
    after = registry.CHECKS + registry.DEPLOY
    label = f"retrain {symbol} {clock.iso_minute(end)}"
    split = run_params(params, ranges, symbol, source)
    with scratch_run(label, params, split, part, after, inputs) as work:
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(work / paths.BUNDLE, out)
    return out


def stretch_trades(bundle: Bundle, bars: pd.DataFrame, start: int, end: int) -> np.ndarray:
    """Net returns of the trades ``bundle``'s deployed policy makes from epoch minute
    ``start`` and settles before ``end`` on ``bars`` (priced by bars, as served); none
    when nothing is deployed."""
    if bundle.deployed is None:
        return np.array([])
    minutes = minute_index(bars)
    part = bars[minutes < end].reset_index(drop=True)
    policy = bundle.deployed_policy
    p = paper.decision_probabilities(bundle, part, policy, start)
    done = paper.replay(PositionEngine(policy), part, p)
    return np.array([t.net for t in done if not t.void], dtype=np.float64)


@dataclass(frozen=True)
class Judged:
    """A retrain's outcome: the challenger's version and the verdict on it."""

    version: str
    verdict: Verdict


def judge(store: Versions, version: str, bars: pd.DataFrame, end: int,
          spec: RetrainParams) -> Verdict:  # fmt: skip
    """The verdict on stored ``version`` against the store's champion, on the challenger's
    test range (the ``test_days`` before ``end``). The noise is twice the bootstrap
    standard error of the challenger's net return per trade on its own test (its
    evaluation's moving-block bootstrap); a champion deploying nothing or expired
    there earns 0 (flat)."""
    challenger = Bundle(store.path(version))
    start = end - round(spec.test_days * DAY)
    mine = stretch_trades(challenger, bars, start, end)
    champion_net = None
    if store.champion() is not None:
        champion = Bundle(store.path(store.champion()))
        theirs = stretch_trades(champion, bars, start, end)
        champion_net = float(theirs.mean()) if len(theirs) else 0.0
    test = (challenger.spec.get("test_metrics") or {}).get("policy") or {}
    noise = 2 * float(test.get("mean_net_return_se") or 0.0)
    verdict = judge_challenger(challenger.deployed is not None,
                               float(mine.mean()) if len(mine) else math.nan,
                               champion_net, noise)  # fmt: skip
    figures = {**verdict.figures, "challenger_trades": len(mine),
               "deployed": challenger.deployed,
               "decision": (challenger.spec.get("decision") or {}).get("decision"),
               "reasons": (challenger.spec.get("decision") or {}).get("reasons")}  # fmt: skip
    return Verdict(verdict.promote, verdict.reason, figures)


def retrain(params: Params, bars: pd.DataFrame, end: int, symbol: str, store: Versions,
            work: Path, source: str | None = None) -> Judged:  # fmt: skip
    """Fit a challenger at ``end``, store it, judge it, promote it or record the
    refusal, and prune the store to ``retrain.keep`` versions."""
    fitted = fit_challenger(params, bars, end, symbol, work / "challenger", source)
    version = store.add(fitted)
    shutil.rmtree(fitted)
    verdict = judge(store, version, bars, end, params.retrain)
    at = clock.iso_minute(end)
    if verdict.promote:
        store.promote(version, at, verdict.reason, verdict.figures)
    else:
        store.refuse(version, at, verdict.reason, verdict.figures)
    store.prune(params.retrain.keep)
    return Judged(version, verdict)
