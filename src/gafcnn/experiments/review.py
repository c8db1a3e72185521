"""The review of a change: what a commit (or the workspace) did to params and metrics.

    python -m gafcnn.experiments.review [--base main] [--out reports/review.md] [--plots]

Writes Markdown for a pull-request comment: the params diff, a headline (the
decision before and after, each model's test accuracy with its interval and p-value,
the ensemble's gap to its best member and, on synthetic data, the gap to the
oracle), then the full ``dvc metrics diff`` (changed metrics only), and with
``--plots`` a link to the ``dvc plots diff`` output. A change that changes nothing
says so in one line. ``make review`` runs it; so does the pull-request workflow.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from gafcnn import paths, registry
from gafcnn.io import InputError, run_stage, write_bytes


def _run(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(" ".join(args[:3]), msg)
    return proc.stdout


def dvc(*args: str) -> str:
    return _run([sys.executable, "-m", "dvc", *args])


def metrics_at(rev: str | None, name: str) -> dict | None:
    """``metrics/<name>.json`` at git revision ``rev`` (None: the workspace)."""
    path = paths.metrics(name)
    if rev is None:
        return json.loads(path.read_text()) if path.exists() else None
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def _acc(row: dict | None) -> str:
    if not row:
        return "-"
    lo, hi = row.get("accuracy_ci") or (None, None)
    ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""
    p = row.get("p_value_vs_majority")
    return f"{row['accuracy']:.4f}{ci}" + (f", p={p:.3f}" if p is not None else "")


def headline(base: dict[str, dict | None], head: dict[str, dict | None]) -> list[str]:
    """The lines a reviewer reads first: the decision, changed model rows and gaps, and on
    synthetic data the gap to the oracle."""
    out: list[str] = []
    db, dh = base["decision"], head["decision"]
    if db or dh:
        before = db["decision"] if db else "-"
        after = dh["decision"] if dh else "-"
        if before != after:
            out.append(f"- **decision: {before} → {after}**")
        else:
            out.append(f"- decision unchanged: {after}")
    eb, eh = (base["evaluate"] or {}).get("table", {}), (head["evaluate"] or {}).get("table", {})
    rows = []
    for model in sorted(set(eb) | set(eh)):
        a, b = _acc(eb.get(model)), _acc(eh.get(model))
        if a != b:
            rows.append(f"| {model} | {a} | {b} |")
    if rows:
        out += ["", "| model (test accuracy [95% CI], p vs majority) | base | workspace |"]
        out += ["|---|---|---|", *rows, ""]
    ens = registry.ENSEMBLE_STAGE.name
    gb = (base[ens] or {}).get("gap_to_best_member")
    gh = (head[ens] or {}).get("gap_to_best_member")
    if gb != gh:
        fmt = lambda g: "-" if g is None else f"{g:+.4f}"  # noqa: E731
        out.append(f"- ensemble gap to its best member: {fmt(gb)} → {fmt(gh)}")

    def oracle_gap(table: dict) -> tuple[float, str] | None:
        if registry.ORACLE not in table:
            return None
        skip = (registry.ORACLE, registry.MAJORITY.name)
        models = {m: r["accuracy"] for m, r in table.items() if m not in skip}
        best = max(models, key=models.get)
        return table[registry.ORACLE]["accuracy"] - models[best], best

    ob, oh = oracle_gap(eb), oracle_gap(eh)
    if ob is not None or oh is not None:
        fmt = lambda g: "-" if g is None else f"{g[0]:+.4f} ({g[1]})"  # noqa: E731
        change = f"{fmt(ob)} → {fmt(oh)}" if fmt(ob) != fmt(oh) else f"{fmt(oh)}, unchanged"
        out.append(f"- synthetic data, oracle accuracy minus the best model's: {change}")
    return out


def review(base_rev: str, plots: bool = False) -> str:
    """The review Markdown comparing ``base_rev`` with the workspace."""
    params = json.loads(dvc("params", "diff", base_rev, "--json") or "{}")
    metrics = json.loads(dvc("metrics", "diff", base_rev, "--json") or "{}")
    changed_params = any(params.values())
    changed_metrics = any(metrics.values())
    title = f"# gafcnn review: `{base_rev}` → workspace"
    if not changed_params and not changed_metrics:
        return f"{title}\n\nNo params or metrics changed between `{base_rev}` and the workspace.\n"
    names = ("decision", "evaluate", registry.ENSEMBLE_STAGE.name)  # metrics files
    base = {n: metrics_at(base_rev, n) for n in names}
    head = {n: metrics_at(None, n) for n in names}
    md = [title, "", "## Params", ""]
    md.append(dvc("params", "diff", base_rev, "--md").strip() if changed_params else "unchanged")
    md += ["", "## Headline", ""]
    md += headline(base, head) or ["no decision or evaluation metrics changed"]
    md += ["", "## All changed metrics", ""]
    md.append(dvc("metrics", "diff", base_rev, "--md").strip() if changed_metrics else "none")
    if plots:
        dvc("plots", "diff", base_rev, "-o", str(paths.PLOTS_DIFF))
        md += ["", "## Plots", "", f"`dvc plots diff {base_rev}`: {paths.PLOTS_DIFF}/index.html"]
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description="review what a change did to params and metrics")
    ap.add_argument("--base", default="main", help="git revision to compare with")
    ap.add_argument("--out", default=str(paths.REVIEW))
    ap.add_argument("--plots", action="store_true", help="also run `dvc plots diff`")
    args = ap.parse_args()
    text = review(args.base, plots=args.plots)
    write_bytes(Path(args.out), text.encode())
    print(text)


if __name__ == "__main__":
    run_stage(main)
