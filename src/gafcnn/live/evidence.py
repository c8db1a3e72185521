"""A configuration's out-of-sample record: every retrain's val and test decisions,
pooled as the walk-forward pools its folds and judged by the evaluation's own rule.

A weekly refit tested on its own few days can see only a large edge (3 days of
5-minute decisions: about 5 points of accuracy at the family-wise level). What has skill is the
configuration - data, features, models, policy - and its record grows with every
stretch it is tested on out of sample. So each retrain leaves its challenger's val
and test predictions (every scored model, the predictions layout) and its audit and
latency checks in the store's ``evidence/`` folder, one pair of files per retrain,
named by its end and never pruned with the versions. :func:`pooled` reads the
stretches ending within ``retrain.evidence_days`` before a retrain (every one when
null), each decision tested once (by the first fit that had not seen it);
:func:`judge_record` judges them as :mod:`gafcnn.evaluation.judgement` judges a
walk-forward - thetas chosen on the pooled val, skill and the cost gate on the
pooled test, the family-wise corrections for every model and ``evaluate.trials`` -
and states the record's size and the smallest edge it can detect at that corrected
level (80% power).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, registry
from gafcnn.data.bars import OHLCV, minute_index
from gafcnn.evaluation.judgement import Checks, Scored, judge, scored
from gafcnn.evaluation.power import detectable_edge
from gafcnn.io import InputError, read_json, write_json, write_parquet
from gafcnn.models import predictions
from gafcnn.params import Params

FOLDER = "evidence"
DAY = 1440  # minutes


@dataclass
class Record:
    """The pooled stretches: val and test decisions (each model's P(up)), the checks
    they were fitted under, each stretch's end (ISO) and the days of test they hold."""

    val: Scored
    test: Scored
    checks: Checks
    ends: list[str]
    test_days: float


def _stem(end: int) -> str:
    return clock.iso_minute(end).replace(":", "-")


def scored_rows(preds: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The val and test rows of every scored model (what a record keeps of a fit)."""
    names = set(registry.scored(list(params.gaf.windows), params.ensemble.method).values())
    keep = preds["segment"].isin(("val", "test")) & preds["model"].isin(names)
    return preds.loc[keep, list(predictions.COLUMNS)].reset_index(drop=True)


def add(root: Path, end: int, rows: pd.DataFrame, checks: dict) -> None:
    """Keep one retrain's rows (:func:`scored_rows`) and checks (``audit`` and
    ``latency`` metrics) in ``root``'s evidence folder; the parquet file first, so a
    stretch counts only once both are written."""
    folder = Path(root) / FOLDER
    write_parquet(rows, folder / f"{_stem(end)}.parquet")
    write_json(folder / f"{_stem(end)}.json", {"end": clock.iso_minute(end), **checks})


def pooled(root: Path, params: Params, end: int) -> Record:
    """The record a retrain at ``end`` is judged on: every stretch in ``root``'s evidence
    folder ending at or before ``end`` and, with ``retrain.evidence_days``, after
    ``end`` minus that many days; in time order, each decision once."""
    folder = Path(root) / FOLDER
    days = params.retrain.evidence_days
    since = -math.inf if days is None else end - days * DAY
    chosen = []
    for meta in sorted(folder.glob("*.json")):
        info = read_json(meta)
        at = clock.minutes_of_ms(clock.parse_ms(info["end"], meta, "end"))
        if since < at <= end and meta.with_suffix(".parquet").exists():
            chosen.append((meta.with_suffix(".parquet"), info))
    if not chosen:
        raise InputError(folder, f"no stretch ends by {clock.iso_minute(end)}")
    frames = [predictions.read(f).assign(stretch=k) for k, (f, _) in enumerate(chosen)]
    rows = pd.concat(frames, ignore_index=True)
    rows = rows.drop_duplicates(["segment", "model", "timestamp"], keep="first")
    rows = rows.sort_values(["segment", "model", "timestamp"], kind="stable")
    empty = pd.DataFrame({"timestamp": [], "p_up": []})
    val, test = (scored(rows, params, seg, empty) for seg in ("val", "test"))
    infos = [info for _, info in chosen]
    return Record(val, test, _checks(rows, infos), [i["end"] for i in infos],
                  _test_days(rows, params.label.horizon))  # fmt: skip


def _checks(rows: pd.DataFrame, infos: list[dict]) -> Checks:
    """The newest fit's audit and latency, the audit passed only if every stretch's did,
    and out of sample when each stretch's test follows all of its own val."""
    ms = clock.ms_of(rows["timestamp"])
    ordered = True
    for _, part in rows.assign(ms=ms).groupby("stretch"):
        val = part.loc[part["segment"] == "val", "ms"]
        test = part.loc[part["segment"] == "test", "ms"]
        ordered &= bool(len(val) == 0 or len(test) == 0 or test.min() > val.max())
    audit = {**infos[-1]["audit"], "passed": all(i["audit"]["passed"] for i in infos)}
    return Checks(audit, infos[-1]["latency"], ordered)


def _test_days(rows: pd.DataFrame, horizon: int) -> float:
    """Days of test the record holds: each stretch's from its first decision to its
    last position's exit."""
    test = rows[rows["segment"] == "test"]
    minutes = clock.minutes_of_ms(clock.ms_of(test["timestamp"]))
    spans = pd.Series(minutes).groupby(test["stretch"].to_numpy())
    return float(((spans.max() - spans.min()) + horizon).sum() / DAY)


def judge_record(params: Params, record: Record, bars: pd.DataFrame) -> dict:
    """The record judged as the evaluation judges a walk-forward
    (:func:`gafcnn.evaluation.judgement.judge`): its decision with the record's size
    first among its reasons, and ``evidence``, the figures the log states."""
    arrays = {k: bars[k].to_numpy(np.float64) for k in OHLCV}
    judged = judge(params, record.test, record.val, arrays, minute_index(bars), record.checks,
                   params.evaluate.trials)  # fmt: skip
    judged["evidence"] = figures(params, record, judged)
    e = judged["evidence"]
    judged["decision"]["reasons"].insert(0, (
        f"judged on the record of {e['stretches']} retrains' tests ({e['test_days']:.1f} days, "
        f"{e['decisions']} decisions, {e['first']} to {e['last']}): it detects an accuracy "
        f"edge of {e['detectable_accuracy_edge'] * 100:.1f} points over the majority rate "
        f"({e['comparisons']} comparisons, 80% power)"))  # fmt: skip
    return judged


def figures(params: Params, record: Record, judged: dict) -> dict:
    """The record's size and what it can see: stretches, days, decisions, and for the
    deployed model (else the reality check's best) its accuracy and policy with the
    smallest accuracy edge and net return per trade detectable at the family-wise
    level (``evaluate.alpha`` over models x ``evaluate.trials``); and the figures of
    each model the decision may deploy (``candidates``)."""
    result, decision = judged["result"], judged["decision"]
    models = [m for m in result["table"] if m != registry.ORACLE]
    k = len(models) * max(int(params.evaluate.trials), 1)
    level = params.evaluate.alpha / k
    model = decision["deployed_model"] or result["selection"]["reality_check"]["best"]
    policies = judged["single"]["policy"]
    row, policy = result["table"][model], policies[model]
    se_net = policy["mean_net_return_se"]
    ts = record.test.ts
    return {
        "stretches": len(record.ends), "ends": record.ends,
        "first": clock.iso_ms(int(ts[0])), "last": clock.iso_ms(int(ts[-1])),
        "test_days": record.test_days, "decisions": len(ts), "comparisons": k,
        "model": model, "accuracy": row["accuracy"], "majority_rate": row["majority_rate"],
        "accuracy_ci": row["accuracy_ci"],
        "detectable_accuracy_edge": detectable_edge(row["accuracy_se"], level),
        "theta": policy["theta"], "trades": policy["trades"],
        "net_bps": policy["mean_net_return"] * 1e4,
        "detectable_net_bps": detectable_edge(se_net * 1e4, level)
        if se_net is not None and math.isfinite(se_net) else None,
        "decision": decision["decision"], "deployed": decision["deployed_model"],
        "candidates": {m.name: _candidate(result["table"][m.name], policies[m.name])
                       for m in registry.CANDIDATES},
    }  # fmt: skip


def _candidate(row: dict, policy: dict) -> dict:
    return {"accuracy": row["accuracy"], "accuracy_ci": row["accuracy_ci"],
            "net_bps": policy["mean_net_return"] * 1e4, "theta": policy["theta"]}  # fmt: skip


HEADER = ("retrain", "verdict", "record", "decisions", "detects (accuracy)", "best or deployed",
          "accuracy (majority)", "net per trade", "detects (net)", "reason")  # fmt: skip


def record_row(at: str, action: str, figures: dict, reason: str) -> tuple[str, ...]:
    """One retrain's line of a record table: when, promoted or refused, the record's
    size, the smallest edges it detects, its best (or deployed) model and the reason."""
    e = figures.get("evidence") or {}
    if not e:
        return (at, action, "", "", "", "", "", "", "", reason)
    net, sees = e.get("net_bps"), e.get("detectable_net_bps")
    return (
        at, action, f"{e['stretches']} tests, {e['test_days']:.1f} days", f"{e['decisions']:,}",
        f"{e['detectable_accuracy_edge'] * 100:.1f} points",
        f"{e['model']} at theta {e['theta']:g}",
        f"{e['accuracy']:.3f} ({e['majority_rate']:.3f})",
        "n/a" if net is None else f"{net:+.2f} bps, {e['trades']:,} trades",
        "n/a" if sees is None else f"{sees:.2f} bps", reason,
    )  # fmt: skip
