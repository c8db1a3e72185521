"""Training noise: how far a model's test figures move when only the seed does, and
whether a change is larger than that.

:func:`seed_summary` reads the ``evaluate`` metrics of one config run with several
seeds (``make seeds``) and gives, per model, the mean, standard deviation and range
of its test accuracy, ROC AUC and mean net return per trade of its policy, beside
the bootstrap interval of one run. :func:`judge` calls a change *beyond noise* when
it exceeds twice the seed standard deviation, or, without seed figures (or for a
model the seed does not move, such as a logistic regression), when the new value
leaves the old run's bootstrap interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gafcnn.evaluation.document import Document, Paragraph, Section, Table, to_markdown

# figure -> (section of evaluate.json, key, key of its bootstrap interval there)
FIGURES = {
    "accuracy": ("table", "accuracy", "accuracy_ci"),
    "roc_auc": ("table", "roc_auc", None),
    "net_return": ("policy", "mean_net_return", "mean_net_return_ci"),
}
SDS = 2.0  # a change beyond this many seed standard deviations is beyond noise


def figure(evaluate: dict, model: str, name: str) -> float | None:
    """One model's figure from an ``evaluate`` metrics dict (None when absent)."""
    section, key, _ = FIGURES[name]
    row = evaluate.get(section, {}).get(model)
    return None if not row or row.get(key) is None else float(row[key])


def seed_summary(runs: dict[str, dict]) -> dict[str, Any]:
    """Per model and figure: n, mean, sd (ddof 1), min, max over ``runs`` (seed label ->
    ``evaluate`` metrics), and the first run's bootstrap interval."""
    first = next(iter(runs.values()))
    models = [m for m in first["table"] if all(m in r["table"] for r in runs.values())]
    out: dict[str, Any] = {"seeds": list(runs), "models": {}}
    for model in models:
        row = {}
        for name, (section, _, ci_key) in FIGURES.items():
            values = [figure(r, model, name) for r in runs.values()]
            if any(v is None for v in values):
                continue
            x = np.array(values)
            ci = (first[section].get(model) or {}).get(ci_key) if ci_key else None
            row[name] = {"n": len(x), "mean": float(x.mean()),
                         "sd": float(x.std(ddof=1)) if len(x) > 1 else None,
                         "min": float(x.min()), "max": float(x.max()),
                         "one_run_ci": None if ci is None else [float(ci[0]), float(ci[1])],
                         "values": dict(zip(runs, map(float, x), strict=True))}  # fmt: skip
        out["models"][model] = row
    return out


def judge(before: float, after: float, sd: float | None, ci: list[float] | None) -> str | None:
    """Whether a change from ``before`` to ``after`` is "beyond noise" or "within noise":
    by twice the seed ``sd`` when known and positive, else by the old run's bootstrap
    interval ``ci``; None when neither is known. A seed-invariant model (sd 0) still
    moves with the CPU's rounding, which no seed measures: its interval judges it."""
    if sd:
        return "beyond noise" if abs(after - before) > SDS * sd else "within noise"
    if ci is not None:
        return "beyond noise" if not ci[0] <= after <= ci[1] else "within noise"
    return None


def seeds_document(summary: dict, title: str) -> Document:
    """The seed report: one row per model, each figure's mean ± sd [min, max] over the
    seeds beside one run's bootstrap interval."""
    intro = (f"{len(summary['seeds'])} runs of one config, only the seed changed "
             f"({', '.join(summary['seeds'])}). Each cell: mean ± standard deviation "
             "[min, max] over the seeds; *one run's 95% CI*: the bootstrap interval of "
             f"the first run. A change beyond {SDS:g} standard deviations is beyond "
             "noise.")  # fmt: skip
    header = ("model", "test accuracy", "one run's 95% CI", "ROC AUC",
              "net return per trade (bps)", "one run's 95% CI (bps)")  # fmt: skip
    rows = tuple((model, *_seed_cells(row)) for model, row in summary["models"].items())
    return Document(title, (Section("", (Paragraph(intro), Table(header, rows))),))


def _seed_cells(row: dict) -> list[str]:
    """One model's cells of the seed report."""
    cells = []
    for name, scale, fmt in (("accuracy", 1, ".4f"), ("roc_auc", 1, ".4f"),
                             ("net_return", 1e4, ".2f")):  # fmt: skip
        f = row.get(name)
        if f is None:
            cells += ["", ""] if name != "roc_auc" else [""]
            continue
        sd = "-" if f["sd"] is None else format(f["sd"] * scale, fmt)
        cells.append(f"{f['mean'] * scale:{fmt}} ± {sd} [{f['min'] * scale:{fmt}}, "
                     f"{f['max'] * scale:{fmt}}]")  # fmt: skip
        if name != "roc_auc":
            ci = f["one_run_ci"]
            cells.append("" if ci is None else
                         f"[{ci[0] * scale:{fmt}}, {ci[1] * scale:{fmt}}]")  # fmt: skip
    return cells


def seeds_markdown(summary: dict, title: str) -> str:
    """:func:`seeds_document` as Markdown."""
    return to_markdown(seeds_document(summary, title), Path("."))
