"""`audit` stage: the debugging checklist over every window's image set.

Writes ``metrics/audit.json`` (one entry per check: value, threshold, status,
severity, detail) and ``plots/audit.png``; exits non-zero when any check fails,
naming the check and what to look at, so `dvc repro` stops before training.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.data.bars import minute_index
from gafcnn.data.split import SEGMENTS, Split
from gafcnn.evaluation.audit import AuditInput, Check, WindowData, run_audit
from gafcnn.images.imageset import GafSet
from gafcnn.io import read_json, run_stage, save_figure, write_json
from gafcnn.params import Params, read_params


def window_data(gs: GafSet) -> WindowData:
    m = gs.meta
    return WindowData(
        window=gs.window,
        horizon=int(m["horizon"]),
        band=tuple(m["label_band"]),
        channels=list(m["channels"]),
        timestamps={s: gs.timestamps(s) for s in SEGMENTS},
        labels={s: gs.labels(s) for s in SEGMENTS},
        images={s: gs.images(s) for s in SEGMENTS},
    )


def load_input(params: Params) -> AuditInput:
    windows = list(params.gaf.windows)
    bars = pd.read_parquet(paths.BARS, columns=["timestamp", "close", "filled"])
    ingest = read_json(paths.metrics("ingest"))
    return AuditInput(
        windows={w: window_data(GafSet(paths.gaf_dir(w))) for w in windows},
        minutes=minute_index(bars),
        close=bars["close"].to_numpy(dtype=np.float64),
        spec=params.label,
        split=Split.from_dict(read_json(paths.SPLIT)),
        stride=params.gaf.stride,
        oracle_accuracy=ingest.get("oracle_accuracy"),
        filled=bars["filled"].to_numpy(dtype=bool),
    )


def to_metrics(checks: list[Check], severity: dict) -> dict:
    out = {
        "checks": {
            c.name: {
                "value": c.value,
                "threshold": c.threshold,
                "status": c.status,
                "severity": severity.get(c.name, "fail"),
                "detail": c.detail,
                **c.extra,
            }
            for c in checks
        }
    }
    for status in ("pass", "warn", "fail"):
        out[status] = sum(c.status == status for c in checks)
    out["passed"] = out["fail"] == 0
    return out


def plot_audit(path: str | Path, inp: AuditInput, checks: list[Check]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(inp.windows.values()))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    shares = [float(np.mean(first.labels[s] == 1)) for s in SEGMENTS]
    axes[0].bar(SEGMENTS, shares, color="tab:blue")
    axes[0].axhline(0.5, color="k", lw=0.8, ls="--")
    axes[0].set_ylim(0, 1)
    axes[0].set_title("label balance (share up)")
    for k, name in enumerate(first.channels):
        sample = np.asarray(
            first.images["train"][: min(2000, len(first.images["train"]))], np.float32
        )
        axes[1].hist(sample[:, k].ravel(), bins=60, histtype="step", label=name, density=True)
    axes[1].set_title(f"pixel values, w{first.window} train")
    axes[1].legend(fontsize=8)
    colours = {"pass": "tab:green", "warn": "tab:orange", "fail": "tab:red"}
    names = [c.name for c in checks]
    axes[2].barh(names, [1] * len(checks), color=[colours[c.status] for c in checks])
    axes[2].set_xticks([])
    axes[2].invert_yaxis()
    axes[2].set_title("checks (green pass, orange warn, red fail)")
    fig.tight_layout()
    save_figure(fig, path)


def main() -> None:
    params = read_params()
    inp = load_input(params)
    checks = run_audit(inp, params.audit, seed=params.seed)
    metrics = to_metrics(checks, dataclasses.asdict(params.audit.severity))
    write_json(paths.metrics("audit"), metrics)
    plot_audit(paths.AUDIT_PLOT, inp, checks)
    for c in checks:
        print(f"audit {c.status:4s} {c.name}: value {c.value} threshold {c.threshold}")
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        for c in failed:
            print(f"error: audit check '{c.name}' failed: {c.detail}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run_stage(main)
