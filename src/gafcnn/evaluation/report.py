"""The human-readable report of the `evaluate` stage: Markdown and self-contained HTML
(pictures embedded), with the data summary, the comparison table, the decision and
the pictures (ROC, calibration, confusion, equity, training curves, GAF samples)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gafcnn import paths
from gafcnn.evaluation.document import (
    Bullets,
    Document,
    Figure,
    Paragraph,
    Section,
    to_html,
    to_markdown,
)
from gafcnn.evaluation.figures import (
    plot_confusion,
    plot_cost_sweep,
    plot_coverage,
    plot_cpcv,
    plot_equity,
    plot_folds,
    plot_forest,
    plot_roc_calibration,
    plot_training,
)
from gafcnn.evaluation.tables import (
    CPCV_TITLE,
    POLICY_TITLE,
    POWER_TITLE,
    RIVALS_TITLE,
    _block_rule,
    comparison_tables,
    cpcv_blocks,
    folds_table,
    policy_blocks,
    power_blocks,
    rivals_table,
)
from gafcnn.io import write_bytes

TIMINGS_NOTE = (
    "Latency, memory and speed behind the checklist are measured at every run and kept out "
    f"of tracked files: see `{paths.TIMINGS_MD}` (made from `{paths.TIMINGS}`), and "
    "`benchmarks/` for ratios against a reference."
)


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, given explicitly: each stage's metrics, the test
    labels and predictions, and the figures other stages drew."""

    horizon: int
    dead_zone: float
    ensemble: str  # the configured ensemble's name
    evaluate: dict
    decision: dict
    ingest: dict
    split: dict
    audit: dict
    probs: dict
    y: np.ndarray
    tests: dict  # per model its always-in test backtest
    coverage: dict | None = None
    walkforward: dict | None = None  # walk-forward folds' metrics, when evaluate pooled them
    cpcv: dict | None = None  # CPCV's metrics, when run
    train_curves: dict[int, Path] = field(default_factory=dict)  # per window, its dvclive logs
    extra_figures: tuple[tuple[str, Path], ...] = ()  # drawn by other stages


def draw_figures(inp: ReportInputs, figs: Path) -> list[tuple[str, Path]]:
    """Draw the report's pictures into ``figs`` (the equity curves to their plot path);
    (title, file) each, in the report's order."""
    ev = inp.evaluate
    roc, cal = plot_roc_calibration(inp.probs, inp.y, figs)
    pictures = []
    if inp.walkforward is not None:
        folds = plot_folds(inp.walkforward, figs / "folds.png", inp.ensemble)
        pictures.append(("Accuracy per walk-forward fold", folds))
    if inp.cpcv is not None:
        cpcv = plot_cpcv(inp.cpcv, figs / "cpcv.png", inp.ensemble)
        pictures.append(("Accuracy and net return over the CPCV paths", cpcv))
    pictures += [
        ("ROC curves (test)", roc),
        ("Calibration (test)", cal),
        ("Confusion matrices (test)", plot_confusion(inp.probs, inp.y, figs)),
        ("Equity curves, net of fees (test)", plot_equity(inp.tests, paths.EQUITY_PLOT)),
    ]
    if "policy" in ev:
        pictures.append((
            "Net return per trade against cost per side (test, each model at its theta)",
            plot_cost_sweep(ev["policy"], figs / "cost_sweep.png", ev["costs"]["per_side_bps"]),
        ))  # fmt: skip
    if inp.coverage:
        cover = plot_coverage(inp.coverage, ev["policy"], figs / "coverage.png")
        pictures.append(("Win rate and net return against coverage (test)", cover))
    train_png = plot_training(inp.train_curves, figs / "training.png")
    if train_png:
        pictures.append(("Training curves", train_png))
    return pictures + list(inp.extra_figures)


def data_bullets(inp: ReportInputs) -> Bullets:
    """Where the numbers come from: data, split, labels, audit, intervals, costs."""
    ingest, split, audit, ev = inp.ingest, inp.split, inp.audit, inp.evaluate
    warned = [name for name, c in audit["checks"].items() if c["status"] == "warn"]
    filled = (
        f", {ingest['filled_minutes']:,} minutes filled by data.fill_gaps "
        f"({ingest['filled_share']:.1%} of bars)"
        if ingest.get("filled_minutes")
        else ""
    )
    oracle = (f", oracle accuracy {ingest['oracle_accuracy']:.4f}"
              if "oracle_accuracy" in ingest else "")  # fmt: skip
    costs = ev["costs"]
    return Bullets((
        f"data: {ingest['source']}, {ingest['rows']:,} bars from {ingest['first_timestamp']} "
        f"to {ingest['last_timestamp']}, {ingest['gaps']['count']} gaps "
        f"({ingest['gaps']['minutes']} minutes){filled}{oracle}",
        f"split (bars): train {split['train']['bars']:,}, val {split['val']['bars']:,}, "
        f"test {split['test']['bars']:,}; purge {split['purge_bars']} bars between segments",
        f"label: direction over {inp.horizon} minutes, dead zone {inp.dead_zone}; test "
        f"samples {ev['test_samples']:,} ({ev['test_first']} to {ev['test_last']})",
        f"audit: {'passed' if audit['passed'] else 'FAILED'} ({audit['pass']} pass, "
        f"{audit['warn']} warn, {audit['fail']} fail)"
        + (f"; warnings: {', '.join(warned)}" if warned else ""),
        f"intervals: moving-block bootstrap, {ev['bootstrap']['reps']} resamples, blocks of "
        f"{ev['bootstrap']['block_samples']} samples ({_block_rule(ev)}): test samples "
        "overlap, so they are not independent",
        f"backtest: long/short on the predicted direction, held {inp.horizon} minutes, no "
        f"overlapping positions, {costs['per_side_bps']} bps per side (fee {costs['fee_bps']}, "
        f"spread {costs['spread_bps']}, slippage {costs['slippage_bps']})",
    ))  # fmt: skip


def build_report(inp: ReportInputs, forest: Path, pictures: list[tuple[str, Path]]) -> Document:
    """The report's one structure, from its inputs and the figures drawn for it."""
    ev, dec = inp.evaluate, inp.decision
    how = ev.get("evaluation", {}).get("method", "single split")
    sections = [
        Section("Data", (data_bullets(inp),)),
        Section("Decision", (
            Paragraph(f"Decision: {dec['decision']}", strong=True),
            Bullets(tuple(dec["reasons"])),
            Paragraph("Checklist (measured):"),
            Bullets(tuple(dec["checklist"]), tuple(bool(v) for v in dec["checklist"].values())),
            Paragraph(TIMINGS_NOTE),
        )),
        Section("Every model against the majority rate (what the decision rests on)",
                (Figure("forest", forest),), level=3),
        Section(f"All models on the same test samples ({how})",
                tuple(comparison_tables(ev["table"], ev["backtest"]))),
    ]  # fmt: skip
    if "policy" in ev:
        sections.append(Section(POLICY_TITLE, tuple(policy_blocks(ev["policy"]))))
    if "power" in ev:
        sections.append(Section(POWER_TITLE, tuple(power_blocks(ev["power"]))))
    sections.append(Section(RIVALS_TITLE, (rivals_table(ev["images_vs_series"]),)))
    if inp.walkforward is not None:
        sections.append(Section("Walk-forward folds", (folds_table(inp.walkforward),)))
    if inp.cpcv is not None:
        sections.append(Section(CPCV_TITLE, tuple(cpcv_blocks(inp.cpcv, inp.ensemble))))
    sections.append(Section("Pictures", ()))
    sections += [Section(title, (Figure(title, p),), level=3) for title, p in pictures]
    return Document("gafcnn evaluation report", tuple(sections))


def write_report(inp: ReportInputs) -> None:
    """Draw the pictures (``reports/figures``, ``plots/equity.png``), build the report
    and write it as report.md and report.html; figures no longer drawn are removed."""
    figs = paths.REPORT_FIGURES
    forest = plot_forest(inp.evaluate, figs / "forest.png")
    pictures = draw_figures(inp, figs)
    made = {forest, *(p for _, p in pictures)}
    for stale in figs.glob("*.png"):  # e.g. the folds plot of an earlier walk-forward run
        if stale not in made:
            stale.unlink()
    doc = build_report(inp, forest, pictures)
    write_bytes(paths.REPORT_MD, to_markdown(doc, paths.REPORTS).encode())
    write_bytes(paths.REPORT_HTML, to_html(doc).encode())
