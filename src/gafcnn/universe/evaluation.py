"""Judging a universe: every symbol under each training (per symbol, pooled) with the
single split's own figures and decision rule, the models pooled over the symbols,
the cross-section (each model's P(up) ranked across the symbols, and a model of the
ranked label: rank IC and a long-short portfolio with its own decision), and one
decision per symbol.

A symbol is judged by the one judge of a market
(:func:`gafcnn.evaluation.judgement.judge`: block-bootstrap intervals, policies with
theta chosen on its val, the reality check, the decision and its reasons) with
``trials`` counting every symbol and training, so the family-wise correction covers
models x thresholds x symbols x trainings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, registry
from gafcnn.data.bars import load_bars, positions
from gafcnn.data.labels import forward_returns
from gafcnn.edge import cross_section
from gafcnn.evaluation.bootstrap import bootstrap_indices, per_resample
from gafcnn.evaluation.judgement import Checks, out_of_sample, scored
from gafcnn.evaluation.judgement import judge as judge_market
from gafcnn.models.metrics import calls_up
from gafcnn.params import Params


@dataclass
class Market:
    """One symbol's bars (arrays and minutes) and its oracle's P(up) per bar, if known."""

    bars: dict[str, np.ndarray]
    minutes: np.ndarray
    oracle: pd.DataFrame


class MarketFile(Market):
    """A :class:`Market` whose bars are read from ``path`` when first needed (a symbol's
    own fit is judged without them: only a pooled fit and the cross-section read them)."""

    def __init__(self, path: Path, oracle: pd.DataFrame):
        self.path, self.oracle = path, oracle

    @cached_property
    def _read(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return load_bars(path=self.path)

    @property  # type: ignore[override]
    def bars(self) -> dict[str, np.ndarray]:
        return self._read[0]

    @property  # type: ignore[override]
    def minutes(self) -> np.ndarray:
        return self._read[1]


def judge(params: Params, preds: pd.DataFrame, market: Market, checks: dict, trials: int,
          train_last_ms: int) -> dict:  # fmt: skip
    """One symbol under one training, judged as every market is
    (:func:`gafcnn.evaluation.judgement.judge`): its table, policies and decision.
    ``checks``: the run's ``audit`` and ``latency`` metrics; ``train_last_ms``: the
    last bar any of its models trained on."""
    test = scored(preds, params, "test", market.oracle)
    val = scored(preds, params, "val", market.oracle)
    fit = Checks(checks["audit"], checks["latency"], out_of_sample(test, train_last_ms))
    judged = judge_market(params, test, val, market.bars, market.minutes, fit, trials)
    return {"ts": test.ts, "y": test.y, "probs": test.probs, "result": judged["single"],
            "decision": judged["decision"]}  # fmt: skip


def as_evaluated(params: Params, preds: pd.DataFrame, market: Market, evaluate: dict,
                 decision: dict) -> dict:  # fmt: skip
    """A symbol's own fit as its own ``evaluate`` stage judged it (its ``evaluate`` and
    ``decision`` metrics, read, not judged a second time), with its test decisions: the
    decision its bundle serves, by construction."""
    test = scored(preds, params, "test", market.oracle)
    return {"ts": test.ts, "y": test.y, "probs": test.probs, "result": evaluate,
            "decision": decision}  # fmt: skip


def summary(judged: dict, horizon: int) -> dict:
    """What the universe's table shows of one judged symbol and training: per model
    its accuracy, interval, majority rate and policy (theta, trades, net per trade,
    break-even cost), and the decision with its model and theta."""
    from gafcnn.evaluation.policy import period
    from gafcnn.evaluation.power import power_table
    from gafcnn.trading.backtest import MINUTES_PER_DAY

    result, decision = judged["result"], judged["decision"]
    models = {}
    for name, row in result["table"].items():
        models[name] = {
            k: row[k]
            for k in (
                "accuracy",
                "accuracy_ci",
                "majority_rate",
                "p_value_vs_majority",
                "accuracy_se",
            )
        }
        if name in result["policy"]:
            pol = result["policy"][name]
            models[name]["policy"] = {
                k: pol[k]
                for k in (
                    "theta",
                    "trades",
                    "mean_net_return",
                    "mean_net_return_ci",
                    "break_even_bps",
                    "judged",
                )
            }
    days = period(clock.minutes_of_ms(judged["ts"]), horizon) / MINUTES_PER_DAY
    return {
        "test_samples": len(judged["y"]),
        "decision": decision["decision"],
        "model": decision["deployed_model"],
        "theta": decision["theta"],
        "reasons": decision["reasons"],
        "models": models,
        "power": power_table(result["table"], result["policy"], days, registry.ORACLE),
        "reality_check_p": result["selection"]["reality_check"]["p_value"],
        "policy_test_p": result["policy_test"]["p_value"],
    }


def pooled_accuracy(judged: dict[str, dict], block: int, reps: int, seed: int) -> dict:
    """Per model, its accuracy over every symbol's test decisions, with a 95% interval
    from a block bootstrap over decision times (all symbols of a time resampled
    together, so their correlation is kept)."""
    frames = []
    for j in judged.values():
        f = pd.DataFrame({"ts": j["ts"], "y": j["y"]})
        for name, p in j["probs"].items():
            f[name] = (calls_up(p).astype(int) == j["y"]).astype(float)
        frames.append(f)
    hits = pd.concat(frames, ignore_index=True).groupby("ts", sort=True)
    counts = hits.size().to_numpy(dtype=float)
    sums = hits.sum()
    idx = bootstrap_indices(len(counts), block, reps, seed)
    out = {}
    for name in next(iter(judged.values()))["probs"]:
        h = sums[name].to_numpy()
        boot = per_resample(idx, lambda rows, h=h: h[rows].sum(axis=1) / counts[rows].sum(axis=1))
        lo, hi = np.percentile(boot, [2.5, 97.5])
        out[name] = {
            "accuracy": float(h.sum() / counts.sum()),
            "accuracy_ci": [float(lo), float(hi)],
            "samples": int(counts.sum()),
        }
    return out


def rank_ic(judged: dict[str, dict], markets: dict[str, Market], horizon: int, params: Params,
            trials: int) -> dict | None:  # fmt: skip
    """Per model, its P(up) as a cross-sectional score at the decision times every
    symbol shares, ``horizon`` minutes apart (returns that do not overlap): qlib's rank
    IC with its t-statistic, and the long-short portfolio (top tercile long, bottom
    short) net of costs with its interval and whether it deploys at ``trials``
    (:func:`gafcnn.edge.cross_section.judge_scores`). None with fewer than three
    symbols."""
    if len(judged) < 3:
        return None
    common = None
    for j in judged.values():
        common = j["ts"] if common is None else np.intersect1d(common, j["ts"])
    at = common[cross_section.spaced(clock.minutes_of_ms(common), horizon)]
    fwd = np.column_stack([
        forward_returns(markets[s].bars["close"], markets[s].minutes, horizon)[
            positions(markets[s].minutes, at)] for s in judged
    ])  # fmt: skip
    scores = {
        name: np.column_stack(
            [
                pd.Series(j["probs"][name], index=j["ts"]).reindex(at).to_numpy()
                for j in judged.values()
            ]
        )  # fmt: skip
        for name in next(iter(judged.values()))["probs"]
    }
    return cross_section.judge_scores(
        scores, fwd, params, trials, cross_section.MINUTES_PER_YEAR / horizon
    )


def ranked_label(markets: dict[str, Market], ranges: dict, horizon: int, params: Params,
                 trials: int, threads: int) -> dict:  # fmt: skip
    """The models of the ranked label (each symbol's next-``horizon`` return ranked
    across the universe, :mod:`gafcnn.edge.cross_section`) fitted on the universe's
    common train and val ranges and judged on its test as :func:`rank_ic` judges."""
    panel = cross_section.Panel.of_arrays({s: m.bars for s, m in markets.items()},
                                          {s: m.minutes for s, m in markets.items()})  # fmt: skip
    fold = cross_section.ranges_fold(panel, ranges, horizon)
    fwd = panel.forward(horizon)
    scores = cross_section.scores(panel, params, fold, horizon, fwd, threads)
    k = cross_section.spaced(panel.minutes[fold.test], horizon)
    per_year = cross_section.MINUTES_PER_YEAR / horizon
    return cross_section.judge_scores({m: v[k] for m, v in scores.items()}, fwd[fold.test[k]],
                                      params, trials, per_year)  # fmt: skip


def portfolio(candidates: dict[str, dict[str, dict]]) -> dict:
    """The universe's one long-short decision: of every candidate (by training, then
    model; the oracle left out) that deploys, the one with the highest mean net return
    per rebalance; else no portfolio."""
    passing = [(r["net_bps"], training, m) for training, models in candidates.items()
               for m, r in models.items() if m != registry.ORACLE and r["deploys"]]  # fmt: skip
    if not passing:
        why = "no long-short pays its costs beyond luck at the family-wise level"
        return {"decision": "no portfolio", "training": None, "model": None, "why": why}
    net, training, m = max(passing)
    return {"decision": f"deploy the long-short of {m} ({training})", "training": training,
            "model": m, "why": candidates[training][m]["why"]}  # fmt: skip


def choose(per_training: dict[str, dict]) -> dict:
    """A symbol's decision: its own pipeline's (``per_symbol``), because that is what
    its bundle (``markets/<symbol>/models/bundle``) serves, so served = decided.
    What every training would deploy (its model and theta) is recorded beside it: a
    pooled model that deploys is reported, not served (it has no bundle)."""
    own = per_training.get("per_symbol")
    out = {"decision": "deploy nothing", "training": None, "model": None, "theta": None}
    if own is not None and own["model"] is not None:
        out = {"decision": own["decision"], "training": "per_symbol", "model": own["model"],
               "theta": own["theta"]}  # fmt: skip
    out["would_deploy"] = {t: {"model": r["model"], "theta": r["theta"]}
                           for t, r in per_training.items() if r["model"] is not None}  # fmt: skip
    return out
