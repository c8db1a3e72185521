"""The review of a change: what a commit (or the workspace) did to params and metrics.

    python -m gafcnn.experiments.review [--base main] [--out reports/review.md] [--plots]

Writes Markdown for a pull-request comment: the params diff, a headline (the
decision before and after, each model's test accuracy with its interval and p-value,
the ensemble's gap to its best member and, on synthetic data, the gap to the
oracle; each changed accuracy marked *within noise* or *beyond noise*, against the
committed seed figures of `make seeds` for the same data or, without them, the base
run's bootstrap interval, and those beyond noise first), then the full ``dvc metrics
diff`` (changed metrics only), and with ``--plots`` a link to the ``dvc plots diff``
output. A change that changes nothing
says so in one line. ``make review`` runs it; so does the pull-request workflow.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from gafcnn import paths, registry
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
from gafcnn.experiments import studied_market
from gafcnn.io import InputError, run_stage, write_bytes
from gafcnn.params import PARAMS_FILE


def _run(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(" ".join(args[:3]), msg)
    return proc.stdout


def dvc(*args: str) -> str:
    return _run([sys.executable, "-m", "dvc", *args])


def metrics_at(rev: str | None, name: str) -> dict | None:
    """The studied market's ``metrics/<name>.json`` at git revision ``rev`` (None: the
    workspace)."""
    path = studied_market() / paths.metrics(name)
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


def _verdict(before: dict | None, after: dict | None, seeds: dict | None) -> str:
    """A model's change of test accuracy against training noise: the seed standard
    deviation where ``make seeds`` measured it, else the base run's interval."""
    if not before or not after:
        return "added" if after else "removed"
    sd = ((seeds or {}).get("accuracy") or {}).get("sd")
    verdict = judge(before["accuracy"], after["accuracy"], sd, before.get("accuracy_ci"))
    basis = f"{after['accuracy'] - before['accuracy']:+.4f}" + (
        f" vs seed sd {sd:.4f}" if sd else " vs the base's 95% CI"
    )
    return f"{verdict or 'unknown'} ({basis})"


def _noise_line(verdicts: dict[str, str], seeds: bool) -> str:
    """One line: how many accuracy changes are beyond noise, and by what measure."""
    beyond = [m for m, v in verdicts.items() if v.startswith("beyond noise")]
    basis = ("twice the seed standard deviation of `make seeds`" if seeds
             else "the base run's bootstrap interval (no seed figures for this data)")  # fmt: skip
    if not beyond:
        return f"Every change of test accuracy ({len(verdicts)}) is within noise ({basis})."
    return (f"{len(beyond)} of {len(verdicts)} changes of test accuracy are beyond noise "
            f"({basis}): {', '.join(beyond)}.")  # fmt: skip


def load_noise(params: dict | None) -> dict | None:
    """The committed seed figures (``make seeds``, ``make seeds-real``) run on the data
    ``params`` (``params.yaml`` as a dict) read, by model; None when there are none."""
    for report in (paths.SEEDS_REPORT, paths.SEEDS_REAL_REPORT):
        f = report.with_suffix(".json")
        if f.exists():
            summary = json.loads(f.read_text())
            if params is not None and dataset(summary.get("data")) == dataset(params.get("data")):
                return summary["models"]
    return None


def dataset(data: dict | None) -> str | None:
    """What names the data a run read (``params.yaml``'s ``data`` section): the
    synthetic market's settings, the csv file's name, or the Binance months."""
    if not data:
        return None
    source = data.get("source")
    what = {"synthetic": data.get("synthetic"), "csv": Path(str(data.get("path"))).name,
            "binance": [data.get("symbol"), (data.get("binance") or {}).get("months")]}  # fmt: skip
    return json.dumps([source, what.get(source)], sort_keys=True)


def headline(
    base: dict[str, dict | None], head: dict[str, dict | None], noise: dict | None = None
) -> list[Block]:
    """What a reviewer reads first: the decision, changed model rows (each within or
    beyond training noise, those beyond first) and gaps, and on synthetic data the gap
    to the oracle."""
    eb, eh = (base["evaluate"] or {}).get("table", {}), (head["evaluate"] or {}).get("table", {})
    rows, verdicts = [], {}
    for model in sorted(set(eb) | set(eh)):
        a, b = _acc(eb.get(model)), _acc(eh.get(model))
        if a != b:
            verdicts[model] = _verdict(eb.get(model), eh.get(model), (noise or {}).get(model))
            rows.append((not verdicts[model].startswith("beyond"), (model, a, b, verdicts[model])))
    bullets = _decision_lines(base["decision"], head["decision"]) + _gap_lines(base, head, eb, eh)
    if not rows:
        return [Bullets(tuple(bullets))] if bullets else []
    header = ("model (test accuracy [95% CI], p vs majority)", "base", "workspace", "change")
    table = Table(header, tuple(r for _, r in sorted(rows, key=lambda r: r[0])))
    lead = [Bullets(tuple(bullets))] if bullets else []
    return [*lead, Paragraph(_noise_line(verdicts, noise is not None), strong=True), table]


def _decision_lines(db: dict | None, dh: dict | None) -> list[str]:
    if not (db or dh):
        return []
    before, after = (db["decision"] if db else "-"), (dh["decision"] if dh else "-")
    return [f"decision: {before} → {after}" if before != after else f"decision unchanged: {after}"]


def _gap_lines(base: dict, head: dict, eb: dict, eh: dict) -> list[str]:
    """The ensemble's gap to its best member and, on synthetic data, the oracle's gap
    to the best model, where they changed."""
    out = []
    ens = registry.ENSEMBLE_STAGE.name
    gb = (base[ens] or {}).get("gap_to_best_member")
    gh = (head[ens] or {}).get("gap_to_best_member")
    if gb != gh:
        fmt = lambda g: "-" if g is None else f"{g:+.4f}"  # noqa: E731
        out.append(f"ensemble gap to its best member: {fmt(gb)} → {fmt(gh)}")

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
        out.append(f"synthetic data, oracle accuracy minus the best model's: {change}")
    return out


def _diff_table(diff: dict, columns: tuple[str, ...]) -> Table:
    """``dvc params|metrics diff --json``'s answer as one table: file, name, then each of
    ``columns`` (old, new, diff)."""

    def cell(v: object) -> str:
        return "-" if v is None else json.dumps(v) if isinstance(v, list | dict) else str(v)

    rows = tuple((path, name, *(cell(v.get(c)) for c in columns))
                 for path, items in sorted(diff.items())
                 for name, v in sorted(items.items()))  # fmt: skip
    return Table(("path", "name", *columns), rows)


def review(base_rev: str, plots: bool = False) -> str:
    """The review Markdown comparing ``base_rev`` with the workspace."""
    params = json.loads(dvc("params", "diff", base_rev, "--json") or "{}")
    metrics = json.loads(dvc("metrics", "diff", base_rev, "--json") or "{}")
    title = f"gafcnn review: `{base_rev}` → workspace"
    if not any(params.values()) and not any(metrics.values()):
        line = f"No params or metrics changed between `{base_rev}` and the workspace."
        return to_markdown(Document(title, (Section("", (Paragraph(line),)),)), Path("."))
    names = ("decision", "evaluate", registry.ENSEMBLE_STAGE.name)  # metrics files
    base = {n: metrics_at(base_rev, n) for n in names}
    head = {n: metrics_at(None, n) for n in names}
    import yaml

    noise = load_noise(yaml.safe_load(Path(PARAMS_FILE).read_text()))
    changed_params = _diff_table(params, ("old", "new"))
    sections = [
        Section("Params", (changed_params,) if changed_params.rows else (Paragraph("unchanged"),)),
        Section("Headline", tuple(headline(base, head, noise))
                or (Paragraph("no decision or evaluation metrics changed"),)),
        Section("All changed metrics", (_diff_table(metrics, ("old", "new", "diff")),)
                if any(metrics.values()) else (Paragraph("none"),)),
    ]  # fmt: skip
    if plots:
        dvc("plots", "diff", base_rev, "-o", str(paths.PLOTS_DIFF))
        link = f"`dvc plots diff {base_rev}`: {paths.PLOTS_DIFF}/index.html"
        sections.append(Section("Plots", (Paragraph(link),)))
    return to_markdown(Document(title, tuple(sections)), Path("."))


def drift(rev: str = "HEAD") -> str:
    """One line after a rerun: whether the metrics differ from those committed at ``rev``
    and, if they do, whether the test accuracies moved within training noise."""
    changed = _run(["git", "diff", "--name-only", rev, "--", str(paths.MARKETS),
                    str(paths.METRICS)]).split()  # fmt: skip
    if not changed:
        return "make repro: every metric equals the committed one."
    import yaml

    noise = load_noise(yaml.safe_load(Path(PARAMS_FILE).read_text()))
    before, after = metrics_at(rev, "evaluate"), metrics_at(None, "evaluate")
    eb, eh = (before or {}).get("table", {}), (after or {}).get("table", {})
    verdicts = {m: _verdict(eb.get(m), eh.get(m), (noise or {}).get(m))
                for m in sorted(set(eb) | set(eh)) if eb.get(m) != eh.get(m)}  # fmt: skip
    moved = _noise_line(verdicts, noise is not None) if verdicts else (
        "no test accuracy changed.")  # fmt: skip
    edited = _run(["git", "status", "--porcelain", "--", PARAMS_FILE, "dvc.yaml", "src"]).strip()
    if edited:  # the rerun ran other params or code: the change, not the CPU, moved them
        return (f"make repro: {len(changed)} metrics files differ from the committed ones (the "
                f"working tree changes params, dvc.yaml or code); {moved}")  # fmt: skip
    return (f"make repro: {len(changed)} metrics files differ from the committed ones (on "
            f"another CPU or thread count the CNNs train to other weights); {moved} `dvc pull` "
            "from the team's remote gives the committed outputs exactly.")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description="review what a change did to params and metrics")
    ap.add_argument("--base", default="main", help="git revision to compare with")
    ap.add_argument("--out", default=str(paths.REVIEW))
    ap.add_argument("--plots", action="store_true", help="also run `dvc plots diff`")
    ap.add_argument("--drift", action="store_true", help="one line: metrics moved from HEAD's?")
    args = ap.parse_args()
    if args.drift:
        print(drift())
        return
    text = review(args.base, plots=args.plots)
    write_bytes(Path(args.out), text.encode())
    print(text)


if __name__ == "__main__":
    run_stage(main)
