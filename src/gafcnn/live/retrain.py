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

Its val and test predictions join the configuration's record
(:mod:`gafcnn.live.evidence`), and the decision gate on that pooled record decides
what the challenger deploys: the stored version is the challenger's bundle restated
with the record's decision, thetas, test figures and breaker floor (so its version
names what is traded). The challenger's test range is the newest stretch neither
it nor the champion has fitted. Both are traded there by the serving path (their
bundles, priced by bars, as `gafcnn paper` trades) and judged by
:func:`gafcnn.live.gate.judge_challenger`, with the drift gate on that stretch.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.data.bars import OHLCV, bar_arrays, minute_index
from gafcnn.data.ingest import summarise
from gafcnn.data.sources import file_form
from gafcnn.evaluation.bootstrap import bootstrap_indices, per_resample
from gafcnn.evaluation.policy import trade_block
from gafcnn.evaluation.resample_runner import (
    fold_stages,
    keep_timings,
    run_params,
    scratch_run,
    stage_timings,
)
from gafcnn.evaluation.resampling import Rolling
from gafcnn.io import read_json
from gafcnn.live import evidence
from gafcnn.live.gate import Verdict, judge_challenger
from gafcnn.models import predictions
from gafcnn.params import Params
from gafcnn.serving import paper
from gafcnn.serving.bundle import Bundle, deployed_metrics, restate
from gafcnn.serving.guards import breaker_floor, drift, drift_reason, reference
from gafcnn.serving.versions import Versions
from gafcnn.trading.trader import Trader
from gafcnn.volatility.realized import forward
from gafcnn.volatility.scores import losses

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
    """What a challenger's worker returns: its bundle's files (relative path: bytes),
    its stage timings, its val and test predictions (:func:`evidence.scored_rows`) and
    the audit and latency metrics it was fitted under."""

    files: dict[str, bytes]
    timings: dict[str, dict]
    rows: pd.DataFrame
    checks: dict


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
    run = run_params(params, rolled.ranges(end), file_form(symbol), source=task.source)
    stages = fold_stages(list(params.gaf.windows), registry.CHECKS + registry.DEPLOY)
    with scratch_run(label, run, part, stages, inputs) as work:
        bundle = work / paths.BUNDLE
        files = {str(f.relative_to(bundle)): f.read_bytes()
                 for f in sorted(bundle.rglob("*")) if f.is_file()}  # fmt: skip
        rows = predictions.read(work / paths.PREDICTIONS, segments=("val", "test"))
        checks = {k: read_json(work / paths.metrics(k)) for k in ("audit", "latency")}
        return Fitted(files, stage_timings(work, label), evidence.scored_rows(rows, params),
                      checks)  # fmt: skip


@dataclass
class Traded:
    """A bundle traded over a stretch: its trades' net returns and, per bar (epoch
    ``minutes``), the P(up) it served (NaN where it made no decision)."""

    nets: np.ndarray
    p_up: np.ndarray
    minutes: np.ndarray


def stretch_trades(bundle: Bundle, bars: pd.DataFrame, start: int, end: int) -> Traded:
    """The trades ``bundle``'s deployed policy makes from epoch minute ``start`` and
    settles before ``end`` on ``bars`` (priced by bars, as served); none when nothing
    is deployed."""
    minutes = minute_index(bars)
    before = minutes < end
    part = bars[before].reset_index(drop=True)
    if bundle.deployed is None:
        return Traded(np.array([]), np.full(len(part), np.nan), minutes[before])
    policy = bundle.deployed_policy
    trader = Trader(policy, bundle.version)
    p = paper.decision_probabilities(bundle, part, policy, start)
    paper.replay(trader, part, p)
    return Traded(trader.nets(), p, minutes[before])


def noise(traded: Traded, block_samples: int, params: Params) -> float:
    """Twice the moving-block bootstrap standard error of the mean net return of
    ``traded``'s trades (in order; blocks spanning the evaluation's ``block_samples``
    decisions in time, as its policy figures resample)."""
    nets = traded.nets
    if len(nets) < 2:
        return 0.0
    decisions = traded.minutes[np.isfinite(traded.p_up)]
    block = min(trade_block(block_samples, decisions, params.label.horizon), len(nets))
    cfg = params.evaluate
    idx = bootstrap_indices(len(nets), block, cfg.bootstrap_reps, params.seed)
    return 2 * float(np.std(per_resample(idx, lambda r: nets[r].mean(axis=1)), ddof=1))


def drifted(bundle: Bundle, bars: pd.DataFrame, end: int, p_up: np.ndarray) -> str | None:
    """Why the newest stretch counts as drift for ``bundle`` (its drift gate on the last
    ``drift.bars`` bars before ``end`` and the P(up) it served there), or None."""
    ref = (bundle.spec.get("guards") or {}).get("drift")
    if not ref:
        return None
    before = minute_index(bars) < end
    tail = bars[before].iloc[-int(ref["bars"]) :]
    served = p_up[-len(tail) :] if len(tail) else p_up[:0]
    arrays = {k: tail[k].to_numpy(np.float64) for k in OHLCV}
    return drift_reason(drift(ref, arrays, served), float(ref["threshold"]))


def stretch_forecasts(bundle: Bundle, bars: pd.DataFrame, start: int, end: int,
                      stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """``bundle``'s volatility forecast at each decision minute (a multiple of
    ``stride``) from ``start`` whose horizon ends before ``end``, and the realized
    volatility there, from the bars before ``end`` (as served): minutes, forecast,
    realized."""
    h = bundle.sizer.horizon  # type: ignore[union-attr]
    minutes = minute_index(bars)
    part = bars[minutes < end].reset_index(drop=True)
    m = minutes[minutes < end]
    pos = np.flatnonzero((m >= start) & (m % stride == 0) & (m + h < end))
    arrays = bar_arrays(part)
    forecast = bundle.sizer.forecast(arrays, m, pos)  # type: ignore[union-attr]
    realized = forward(arrays["close"], m, h)[pos]
    return m[pos], forecast, realized


def vol_comparison(challenger: Bundle, champion: Bundle | None, bars: pd.DataFrame,
                   start: int, end: int, params: Params) -> dict | None:  # fmt: skip
    """Both volatility forecasters' QLIKE on the shared stretch (the decisions where
    both forecast and the target is known) and the noise of their difference: twice
    its moving-block bootstrap standard error (blocks of a horizon of decisions);
    None without two forecasters or enough decisions."""
    if champion is None or challenger.sizer is None or champion.sizer is None:
        return None
    stride = challenger.policy().stride
    _, mine, rv = stretch_forecasts(challenger, bars, start, end, stride)
    _, theirs, _ = stretch_forecasts(champion, bars, start, end, stride)
    ok = np.isfinite(mine) & np.isfinite(theirs) & np.isfinite(rv) & (rv > 0)
    block = max(1, challenger.sizer.horizon // stride)
    if ok.sum() < 2 * block:
        return None
    diff = losses(rv[ok], mine[ok]) - losses(rv[ok], theirs[ok])
    idx = bootstrap_indices(len(diff), block, params.evaluate.bootstrap_reps, params.seed)
    se = float(np.std(per_resample(idx, lambda r: diff[r].mean(axis=1)), ddof=1))
    return {"challenger_qlike": float(losses(rv[ok], mine[ok]).mean()),
            "champion_qlike": float(losses(rv[ok], theirs[ok]).mean()),
            "noise": 2 * se, "decisions": int(ok.sum())}  # fmt: skip


@dataclass(frozen=True)
class Judged:
    """A retrain's outcome: the challenger's version and the verdict on it."""

    version: str
    verdict: Verdict


def judge(store: Versions, version: str, bars: pd.DataFrame, end: int, params: Params,
          record: dict) -> Verdict:  # fmt: skip
    """The verdict on stored ``version`` (deploying what the ``record``'s judgement
    deploys) against the store's champion on the challenger's test range (the
    ``retrain.test_days`` before ``end``); a champion deploying nothing or expired
    there earns 0 (flat)."""
    challenger = Bundle(store.path(version))
    start = end - round(params.retrain.test_days * DAY)
    mine = stretch_trades(challenger, bars, start, end)
    champion_net, champion = None, None
    if store.champion() is not None:
        champion = Bundle(store.path(store.champion()))
        theirs = stretch_trades(champion, bars, start, end).nets
        champion_net = float(theirs.mean()) if len(theirs) else 0.0
    drift_now = drifted(challenger, bars, end, mine.p_up) if challenger.deployed else None
    spread = noise(mine, record["blocks"]["block_samples"], params)
    vol = vol_comparison(challenger, champion, bars, start, end, params)
    verdict = judge_challenger(challenger.deployed is not None,
                               float(mine.nets.mean()) if len(mine.nets) else math.nan,
                               champion_net, spread, drift_now, vol)  # fmt: skip
    decision = record["decision"]
    figures = {**verdict.figures, "challenger_trades": len(mine.nets),
               "deployed": challenger.deployed, "drift": drift_now,
               "decision": decision["decision"], "reasons": decision["reasons"],
               "evidence": record["evidence"]}  # fmt: skip
    return Verdict(verdict.promote, verdict.reason, figures)


def on_record(judged: dict, rows: pd.DataFrame, params: Params) -> Callable[[dict], dict]:
    """How a challenger's ``bundle.json`` changes to deploy what its record's judgement
    (:func:`evidence.judge_record`) deploys: the decision and its reasons, every
    model's theta chosen on the pooled val, the deployed model's pooled test figures,
    the breaker floor from them, and the drift reference of its P(up) on the newest
    val (``rows``: the challenger's own predictions)."""
    decision, single = judged["decision"], judged["single"]
    deployed = decision["deployed_model"]
    test = deployed_metrics(single["table"], single["backtest"], single["policy"], deployed)
    p_ref = None
    if deployed is not None:
        model = registry.scored(list(params.gaf.windows), params.ensemble.method)[deployed]
        val = rows[(rows["segment"] == "val") & (rows["model"] == model)]
        p_ref = reference(val["p_up"].to_numpy(np.float64))

    def change(spec: dict) -> dict:
        thetas = {n: single["policy"][n]["theta"] for n in spec["policy"] if n in single["policy"]}
        guards = spec["guards"]
        return {**spec, "deployed": deployed, "test_metrics": test,
                "decision": {k: decision[k] for k in ("decision", "reasons", "accuracy_rule")},
                "policy": {**spec["policy"], **thetas},
                "guards": {"drift": {**guards["drift"], "p_up": p_ref},
                           "breaker": {**guards["breaker"],
                                       "floor": breaker_floor(test)}}}  # fmt: skip

    return change


def settle(params: Params, fitted: Fitted, bars: pd.DataFrame, end: int, store: Versions,
           work: Path) -> Judged:  # fmt: skip
    """The driver's part of a retrain: add the challenger's stretch to the record, judge
    the record, store the challenger restated with that judgement, judge it against
    the champion, promote it or record the refusal, and prune the store to
    ``retrain.keep`` versions."""
    keep_timings(fitted.timings)
    exported = work / "exported"
    for name, data in fitted.files.items():
        (exported / name).parent.mkdir(parents=True, exist_ok=True)
        (exported / name).write_bytes(data)
    evidence.add(store.root, end, fitted.rows, fitted.checks)
    judged = evidence.judge_record(params, evidence.pooled(store.root, params, end), bars)
    folder = restate(exported, work / "challenger", on_record(judged, fitted.rows, params))
    version = store.add(folder)
    shutil.rmtree(exported)
    shutil.rmtree(folder)
    verdict = judge(store, version, bars, end, params, judged)
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
