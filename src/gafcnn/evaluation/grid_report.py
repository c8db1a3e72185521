"""The grid report: every (experiment, model) pair of a grid on the test decisions all
experiments share, one row per config and the selection-bias figures across all pairs
(:mod:`gafcnn.evaluation.selection_bias`). Pure: experiments' params, metrics and test
predictions in (read by :mod:`gafcnn.experiments.grid`), the report out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gafcnn import registry
from gafcnn.evaluation.document import (
    Block,
    Bullets,
    Document,
    Paragraph,
    Section,
    Table,
    to_markdown,
)
from gafcnn.evaluation.noise import judge
from gafcnn.params import Params


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def training_rows(found: dict[str, Any], params: dict) -> dict[str, dict[str, Any]]:
    """Per window: epochs run, best epoch, and what ended training (``patience`` when
    the val loss stopped improving, ``cap`` when the epoch limit did first)."""
    out = {}
    for f, m in sorted(found.items()):
        if "/train_w" not in f:
            continue
        w = f.rsplit("/train_w", 1)[1].removesuffix(".json")
        run, best = int(m["epochs_run"]), int(m["best_epoch"])
        stopped = "patience" if run - best >= int(params["patience"]) else "cap"
        out[w] = {"epochs_run": run, "best_epoch": best, "stopped": stopped}
    return out


def changed(params: dict, base: dict) -> dict[str, Any]:
    """The params an experiment changed from the baseline (``evaluate.trials`` aside)."""
    a, b = flatten(params), flatten(base)
    return {k: v for k, v in a.items() if b.get(k) != v and k != "evaluate.trials"}


def grid_report(
    exps: list[dict],
    base: dict,
    preds: dict[str, pd.DataFrame],
    bars: dict,
    minutes: np.ndarray,
    trials: int,
    missing: dict[str, str] | None = None,
) -> dict:
    """Per-experiment rows and the selection-bias figures over every (experiment,
    model) pair on the test decisions all experiments share; ``missing`` names the
    configs asked for that have no finished experiment (and why). ``trials`` is the
    grid's count of configurations (``grid_trials``; each experiment's
    ``evaluate.trials``), recorded beside how many of them finished; the reality
    check and deflated Sharpe ratio run over the pairs found."""
    from gafcnn.evaluation.bootstrap import block_length, choose_block
    from gafcnn.evaluation.comparison import compare
    from gafcnn.evaluation.selection_bias import excess_over_majority

    rows = []
    for e in exps:
        ev, dec = e["metrics"]["metrics/evaluate.json"], e["metrics"]["metrics/decision.json"]
        tried = [m for m in ev["backtest"] if m != registry.ORACLE]
        best_bt = max(tried, key=lambda m: ev["backtest"][m]["mean_net_return"])
        rows.append(
            {
                "experiment": e["name"],
                "changed": changed(e["params"], base),
                "from_scratch": e["params"].get("arch") == "resnet18"
                and not e["params"].get("pretrained"),
                "accuracy": {
                    m: [ev["table"][m]["accuracy"], *ev["table"][m]["accuracy_ci"]]
                    for m in registry.expand(registry.GRID, e["params"]["gaf"]["windows"])
                    if m in ev["table"]
                },
                "majority_rate": ev["table"][registry.MAJORITY.name]["majority_rate"],
                "best_backtest": [best_bt, ev["backtest"][best_bt]["mean_net_return"]],
                "decision": dec["decision"],
                "training": training_rows(e["metrics"], e["params"]),
                "epochs": [int(e["params"]["epochs"]), int(e["params"]["patience"])],
            }
        )
    common = None
    for e in exps:
        stamps = set(preds[e["name"]]["timestamp"])
        common = stamps if common is None else common & stamps
    ts_index = pd.DatetimeIndex(sorted(common))
    # A model no config touches (xgb_indicators, the return baselines) predicts the same in
    # every experiment: one trial, counted once, under its first name.
    probs, y, seen, repeats = {}, None, {}, {}
    for e in exps:
        p = preds[e["name"]]
        for model, g in p.groupby("model", sort=True):
            if model in (registry.ORACLE, registry.ENSEMBLE.name):  # the alias repeats a method
                continue
            g = g.set_index("timestamp").reindex(ts_index)
            name, values = f"{e['name']}/{model}", g["p_up"].to_numpy(dtype=np.float64)
            first = seen.setdefault(values.tobytes(), name)
            if first != name:
                repeats[name] = first
                continue
            probs[name] = values
            if y is None:
                y = g["label"].to_numpy().astype(np.int64)
    ts = ts_index.as_unit("ms").asi8
    params = Params.from_dict(exps[0]["params"])
    window = block_length(max(params.gaf.windows), params.label.horizon, params.gaf.stride)
    block = choose_block(params.evaluate.block, window, excess_over_majority(y, probs))
    block = block["block_samples"]
    result = compare(ts, y, probs, bars, minutes, params, block, 1, params.evaluate.pbo_partitions)
    sel = result["selection"]
    sel["trials"] = int(trials)
    sel["experiments_found"] = len(exps)
    return {"experiments": rows, "pairs": len(probs), "repeated_pairs": len(repeats),
            "test_samples": len(ts), "selection": sel, "missing": dict(missing or {})}  # fmt: skip


def _seed_accuracy(noise: dict | None, model: str) -> dict:
    """A model's test-accuracy figures over seeds (``sd``, ``n``, ...); {} when none."""
    return ((noise or {}).get(model) or {}).get("accuracy") or {}


def _experiment_rows(report: dict, models: list[str], noise: dict | None) -> list[tuple]:
    """One row per experiment (and the seed sd's row under the header, with ``noise``):
    each model's test accuracy [95% CI], marked against the baseline's (the first row)
    by twice the seed sd."""
    rows, base = [], report["experiments"][0] if report["experiments"] else None
    if noise is not None:
        sds = [_seed_accuracy(noise, m).get("sd") for m in models]
        n = max((_seed_accuracy(noise, m).get("n", 0) for m in models), default=0)
        rows.append(("*seed sd*", f"the baseline config over {n} seeds",
                     *("" if sd is None else f"*{sd:.4f}*" for sd in sds), "", ""))  # fmt: skip
    for r in report["experiments"]:
        changed = ", ".join(f"{k}={v}" for k, v in r["changed"].items()) or "(baseline)"
        if r["from_scratch"]:
            changed += " (no local weights: from scratch)"
        cells = []
        for m in models:
            a = r["accuracy"].get(m)
            cell = f"{a[0]:.3f} [{a[1]:.3f}, {a[2]:.3f}]" if a else ""
            sd, b = _seed_accuracy(noise, m).get("sd"), (base or {}).get("accuracy", {}).get(m)
            verdict = judge(b[0], a[0], sd, None) if a and b and r is not base else None
            if verdict:  # by the seed sd only (none, or 0: the seed does not move it)
                cell += " **> 2 sd**" if verdict == "beyond noise" else " (< 2 sd)"
            cells.append(cell)
        bt = f"{r['best_backtest'][0]} {r['best_backtest'][1]:+.5f}"
        rows.append((r["experiment"], changed, *cells, bt, r["decision"]))
    return rows


def _training_table(report: dict) -> list[Block]:
    """Per experiment and window: epochs run (best epoch), *cap* where the epoch limit
    ended training before the patience did."""
    windows = sorted({w for r in report["experiments"] for w in r.get("training", {})}, key=int)
    if not windows:
        return []
    rows = []
    for r in report["experiments"]:
        cells = []
        for w in windows:
            t = r["training"].get(w)
            cap = ", cap" if t and t["stopped"] == "cap" else ""
            cells.append(f"{t['epochs_run']} ({t['best_epoch']}{cap})" if t else "")
        rows.append((r["experiment"], f"{r['epochs'][0]}, {r['epochs'][1]}", *cells))
    note = ("Training per window: epochs run (best epoch); *cap* where the epoch limit "
            "ended training before the patience did.")  # fmt: skip
    header = ("experiment", "epochs, patience", *(f"w{w}" for w in windows))
    return [Paragraph(note), Table(header, tuple(rows))]


def _selection_blocks(report: dict) -> list[Block]:
    """The corrected figures over every (experiment, model) pair."""
    s = report["selection"]
    rc, ds = s["reality_check"], s["deflated_sharpe"]
    lead = (f"Selection bias over all {report['pairs']} distinct (experiment, model) pairs on "
            f"the {report['test_samples']} test decisions every experiment shares "
            f"({report.get('repeated_pairs', 0)} pairs that repeat another's predictions "
            "exactly, e.g. xgb_indicators in every experiment, counted once):")  # fmt: skip
    return [Paragraph(lead), Bullets((
        f"best: {rc['best']}, {rc['excess_accuracy']:+.3f} over the majority rate; "
        f"reality-check p-value {rc['p_value']:.3f}, SPA p-value {rc['p_value_spa']:.3f}",
        f"best backtest: {ds['best']}, Sharpe {ds['sharpe_per_trade']:+.3f} per trade over "
        f"{ds['trades']} trades; deflated Sharpe ratio {ds['dsr']:.3f} (expected maximum "
        f"of {report['pairs']} skill-less trials {ds['expected_max_sharpe']:.3f})",
        f"picked from {s['trials']} configurations (the baseline and every config of the "
        f"grid, each experiment's `evaluate.trials`); {s['experiments_found']} of them finished",
        f"probability of backtest overfitting: {s['pbo']['pbo']:.2f} "
        f"({s['pbo']['partitions']} time slices)",
    ))]  # fmt: skip


def report_document(report: dict, noise: dict | None = None) -> Document:
    """The grid report: one row per experiment, then the corrected figures. With
    ``noise`` (the seed figures of ``make seeds``, by model) a row under the header
    gives each model's seed standard deviation, and each config's accuracy says
    whether its difference from the baseline's (the first row) exceeds twice it."""
    columns = []
    for r in report["experiments"]:
        columns += [m for m in r["accuracy"] if m not in columns]
    models = [m for m in columns if registry.is_model(m, registry.GRID)]
    header = ("experiment", "changed", *models, "best backtest (net/trade)", "decision")
    blocks: list[Block] = [Table(header, tuple(_experiment_rows(report, models, noise)))]
    if report.get("missing"):
        left = ", ".join(f"{k} ({v})" for k, v in report["missing"].items())
        blocks.append(Paragraph(f"Not in this report (no finished experiment): {left}."))
    blocks += _training_table(report) + _selection_blocks(report)
    title = "gafcnn grid: every configuration on the same test, selection bias corrected"
    return Document(title, (Section("", tuple(blocks)),))


def report_markdown(report: dict, noise: dict | None = None) -> str:
    """:func:`report_document` as Markdown."""
    return to_markdown(report_document(report, noise), Path("."))
