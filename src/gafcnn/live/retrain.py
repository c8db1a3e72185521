"""Retraining on a rolling window, and the champion/challenger judgement.

A retrain at ``end`` (one minute past the newest complete bar) fits the whole
pipeline - every model, the audit, the latency check, the evaluation with its
decision gate, the export - on the last ``retrain.train_days + val_days +
test_days`` days before ``end``, split into train, val and test ranges in that
order (`split.method: ranges`: a sample lies wholly inside its range, so the
ranges purge themselves; the windows are :class:`gafcnn.evaluation.resampling.Rolling`'s
folds). It runs in a scratch folder by the walk-forward's own runner
(:func:`gafcnn.evaluation.resample_runner.scratch_run`), so a retrain is a walk-forward
fold by construction, and leaves the project's outputs alone; the fit is a task of
the one executor (:mod:`gafcnn.executor`), so a universe's retrains run side by side.

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
from gafcnn.evaluation.resample_runner import (
    fold_stages,
    keep_timings,
    run_params,
    scratch_run,
    stage_timings,
)
from gafcnn.evaluation.resampling import Rolling
from gafcnn.live.gate import Verdict, judge_challenger
from gafcnn.params import Params, RetrainParams
from gafcnn.serving import paper
from gafcnn.serving.bundle import Bundle
from gafcnn.serving.versions import Versions
from gafcnn.trading.trader import Trader

DAY = 1440  # minutes


def rolling(params: Params) -> Rolling:
    """The retrain windows' splitter (``retrain`` section)."""
    return Rolling(params.retrain, tuple(params.gaf.windows), params.label.horizon)


@dataclass(frozen=True)
class Challenger:
    """One retrain's fit, as a worker runs it: the bars, the minute it retrains at,
    the symbol, and the csv file the bars came from (a retrain's ``--bars``), if any."""

    params: Params
    bars: pd.DataFrame
    end: int
    symbol: str
    source: str | None = None


@dataclass
class Fitted:
    """What a challenger's worker returns: its bundle's files (relative path: bytes)
    and its stage timings."""

    files: dict[str, bytes]
    timings: dict[str, dict]


def fit_challenger(task: Challenger) -> Fitted:
    """Fit and export a challenger on the retrain window before ``task.end`` in a
    scratch folder; its bundle's files (an executor's task: it writes no output)."""
    params, bars, end, symbol = task.params, task.bars, task.end, task.symbol
    minutes = minute_index(bars)
    rolled = rolling(params)
    begin = rolled.bounds(end)[0]
    part = bars[(minutes >= begin) & (minutes < end)].reset_index(drop=True)
    inputs = {
        paths.ORACLE: pd.DataFrame({"timestamp": part["timestamp"].iloc[:0], "p_up": []}),
        paths.metrics("ingest"): summarise(part, {"source": "retrain", "symbol": symbol}),
    }
    label = f"retrain {symbol} {clock.iso_minute(end)}"
    run = run_params(params, rolled.ranges(end), symbol, source=task.source)
    stages = fold_stages(list(params.gaf.windows), registry.CHECKS + registry.DEPLOY)
    with scratch_run(label, run, part, stages, inputs) as work:
        bundle = work / paths.BUNDLE
        files = {str(f.relative_to(bundle)): f.read_bytes()
                 for f in sorted(bundle.rglob("*")) if f.is_file()}  # fmt: skip
        return Fitted(files, stage_timings(work, label))


def stretch_trades(bundle: Bundle, bars: pd.DataFrame, start: int, end: int) -> np.ndarray:
    """Net returns of the trades ``bundle``'s deployed policy makes from epoch minute
    ``start`` and settles before ``end`` on ``bars`` (priced by bars, as served); none
    when nothing is deployed."""
    if bundle.deployed is None:
        return np.array([])
    minutes = minute_index(bars)
    part = bars[minutes < end].reset_index(drop=True)
    policy = bundle.deployed_policy
    trader = Trader(policy, bundle.version)
    paper.replay(trader, part, paper.decision_probabilities(bundle, part, policy, start))
    return trader.nets()


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


def settle(params: Params, fitted: Fitted, bars: pd.DataFrame, end: int, store: Versions,
           work: Path) -> Judged:  # fmt: skip
    """The driver's part of a retrain: store the challenger, judge it, promote it or
    record the refusal, and prune the store to ``retrain.keep`` versions."""
    keep_timings(fitted.timings)
    folder = work / "challenger"
    for name, data in fitted.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    version = store.add(folder)
    shutil.rmtree(folder)
    verdict = judge(store, version, bars, end, params.retrain)
    at = clock.iso_minute(end)
    if verdict.promote:
        store.promote(version, at, verdict.reason, verdict.figures)
    else:
        store.refuse(version, at, verdict.reason, verdict.figures)
    store.prune(params.retrain.keep)
    return Judged(version, verdict)


def retrain(params: Params, bars: pd.DataFrame, end: int, symbol: str, store: Versions,
            work: Path, source: str | None = None) -> Judged:  # fmt: skip
    """Fit a challenger at ``end`` (in this process) and settle it (:func:`settle`)."""
    fitted = fit_challenger(Challenger(params, bars, end, symbol, source))
    return settle(params, fitted, bars, end, store, work)
