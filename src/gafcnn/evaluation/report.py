"""The human-readable report of the `evaluate` stage: Markdown and self-contained HTML
(pictures embedded), with the data summary, the comparison table, the decision and
the pictures (ROC, calibration, confusion, equity, training curves, GAF samples)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.evaluation.decision import LIMITS
from gafcnn.evaluation.document import (
    Block,
    Bullets,
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
    to_html,
    to_markdown,
)
from gafcnn.evaluation.metrics import calls_up
from gafcnn.io import read_json, save_figure, write_bytes

# The original plan's "Phase 1 + 2 win rate" target and stretch, quoted by the report.
PLAN_WIN_RATES = (0.65, 0.72)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    return save_figure(fig, path, bbox_inches="tight")


def _curve_models(probs: dict) -> list[str]:
    windows = registry.windows_of(probs, registry.CNN)
    return [m for m in registry.expand(registry.CURVES, windows) if m in probs]


def plot_roc_calibration(probs: dict, y: np.ndarray, out: Path) -> tuple[Path, Path]:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    plt = _plt()
    f1, ax1 = plt.subplots(figsize=(5.5, 5))
    f2, ax2 = plt.subplots(figsize=(5.5, 5))
    for m in _curve_models(probs):
        fpr, tpr, _ = roc_curve(y, probs[m])
        ax1.plot(fpr, tpr, label=m, lw=1.2)
        frac, mean = calibration_curve(y, probs[m], n_bins=10, strategy="quantile")
        ax2.plot(mean, frac, marker="o", ms=3, label=m, lw=1)
    for ax in (ax1, ax2):
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.legend(fontsize=7)
    ax1.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test")
    ax2.set(xlabel="mean predicted P(up)", ylabel="observed share up", title="calibration, test")
    lo = min(0.3, min(float(np.min(probs[m])) for m in _curve_models(probs)))
    ax2.set_xlim(lo, 1 - lo)
    ax2.set_ylim(lo, 1 - lo)
    return _save(f1, out / "roc.png"), _save(f2, out / "calibration.png")


def plot_confusion(probs: dict, y: np.ndarray, out: Path) -> Path:
    from sklearn.metrics import confusion_matrix

    plt = _plt()
    models = _curve_models(probs)
    fig, axes = plt.subplots(1, len(models), figsize=(2.3 * len(models), 2.6), squeeze=False)
    for ax, m in zip(axes[0], models, strict=True):
        cm = confusion_matrix(y, calls_up(probs[m]).astype(int), labels=[0, 1])
        ax.imshow(cm, cmap="Blues")
        for i in range(2):
            for j in range(2):
                colour = "white" if cm[i, j] > cm.max() / 2 else "black"
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8, color=colour)
        ax.set_xticks([0, 1], ["down", "up"], fontsize=7)
        ax.set_yticks([0, 1], ["down", "up"], fontsize=7)
        ax.set_title(m, fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
    axes[0][0].set_ylabel("actual", fontsize=7)
    return _save(fig, out / "confusion.png")


def plot_equity(tests: dict, out: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    for m in [m for m in registry.expand(registry.EQUITY, []) if m in tests]:
        r = tests[m]
        if r.trades:
            t = clock.datetimes_of_minutes(r.trade_times)
            ax.plot(t, r.equity, label=f"{m} (Sharpe {r.sharpe:.1f})", lw=1)
    ax.axhline(1.0, color="k", lw=0.7, ls="--")
    ax.set(ylabel="equity (net of fees)", title="backtest on test, non-overlapping positions")
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return _save(fig, out)


def plot_cost_sweep(policy: dict, out: Path, cost_bps: float) -> Path:
    """Mean net return per trade against the cost per side, each model at its theta
    (net = gross - 2 x cost: a line through its break-even cost, marked)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    rows = {m: policy[m] for m in registry.expand(registry.POLICY, []) if m in policy}
    top = max([10.0, *(2 * r["break_even_bps"] for r in rows.values() if r["trades"])])
    cost = np.linspace(0, top, 50)
    for m, r in rows.items():
        if r["trades"]:
            be = r["break_even_bps"]
            label = f"{m} (theta {r['theta']:g}, {r['trades']} trades)"
            line = ax.plot(cost, 2 * (be - cost) / 1e4, lw=1, label=label)
            ax.plot([be], [0.0], "o", color=line[0].get_color())
            ax.annotate(f"{be:.1f}", (be, 0.0), textcoords="offset points", xytext=(3, 4),
                        fontsize=7)  # fmt: skip
    ax.axhline(0.0, color="k", lw=0.7, ls="--")
    ax.axvline(cost_bps, color="grey", lw=0.7, ls=":")
    ax.text(cost_bps, 1.0, " evaluate.costs", fontsize=7, va="top",
            transform=ax.get_xaxis_transform())  # fmt: skip
    ax.set(xlabel="cost per side (bps)", ylabel="mean net return per trade",
           title="cost sweep on test (dots: break-even cost)")  # fmt: skip
    ax.legend(fontsize=7)
    return _save(fig, out)


def plot_coverage(coverage: dict, policy: dict, out: Path) -> Path:
    """Win rate and net return per trade against the share of most confident decisions
    traded, the val-chosen theta's coverage marked and the original plan's win rates drawn."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for m, rows in coverage.items():
        x = [r["coverage"] for r in rows]
        line = a1.plot(x, [r["win_rate"] for r in rows], ".-", lw=1, label=m)
        a2.plot(x, [r["mean_net_return"] for r in rows], ".-", lw=1, color=line[0].get_color())
        if m in policy and policy[m]["trades"]:
            r = policy[m]
            a1.plot([r["coverage"]], [r["win_rate"]], "*", ms=10, color=line[0].get_color())
            a2.plot([r["coverage"]], [r["mean_net_return"]], "*", ms=10,
                    color=line[0].get_color())  # fmt: skip
    for rate in PLAN_WIN_RATES:
        a1.axhline(rate, color="grey", lw=0.7, ls=":")
        a1.text(0.01, rate, f" plan {rate:.0%}", fontsize=7, va="bottom",
                transform=a1.get_yaxis_transform())  # fmt: skip
    a2.axhline(0.0, color="k", lw=0.7, ls="--")
    a1.set(xscale="log", xlabel="coverage (share of decisions traded)", ylabel="win rate (net)")
    a2.set(xscale="log", xlabel="coverage (share of decisions traded)",
           ylabel="mean net return per trade")  # fmt: skip
    a1.legend(fontsize=7)
    fig.suptitle("test: trading only the most confident decisions (stars: val-chosen theta)")
    return _save(fig, out)


def plot_training(curves: dict[int, Path], out: Path) -> Path | None:
    """Each window's training and validation loss and accuracy per epoch, read from its
    dvclive folder in ``curves``; None when no window logged any."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    found = False
    for w, base in curves.items():
        for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
            for split, ls in (("train", "--"), ("val", "-")):
                f = base / split / f"{metric}.tsv"
                if f.exists():
                    d = pd.read_csv(f, sep="\t")
                    ax.plot(d["step"] + 1, d[metric], ls=ls, label=f"w{w} {split}")
                    found = True
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.set(xlabel="epoch", title=f"training curves: {metric}")
        ax.legend(fontsize=6, ncol=2)
    if not found:
        _plt().close(fig)
        return None
    return _save(fig, out)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _block_rule(evaluate: dict) -> str:
    """Which block length the run used, and the other one."""
    b = evaluate["bootstrap"]
    if b["rule"] == "window":
        return f"a window plus a horizon; Politis-White's optimal length: {b['optimal_samples']}"
    return f"Politis-White's optimal length; a window plus a horizon: {b['window_samples']}"


def plot_forest(evaluate: dict, out: Path) -> Path:
    """Every model's test accuracy with its 95% interval against the majority rate (and
    the oracle): the picture the decision rests on; the single split and, when run,
    walk-forward side by side."""
    plt = _plt()
    runs = []
    if "single_split" in evaluate:
        runs.append(("single split", evaluate["single_split"]["table"], "0.55"))
        runs.append(("walk-forward (pooled)", evaluate["table"], "C0"))
    else:
        runs.append(("single split", evaluate["table"], "C0"))
    models = [m for m in evaluate["table"] if m != registry.ORACLE]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(models) + 2.4))
    for k, (label, table, colour) in enumerate(runs):
        shift = (k - (len(runs) - 1) / 2) * 0.3
        for i, m in enumerate(models):
            r = table[m]
            lo, hi = r["accuracy_ci"]
            err = [[r["accuracy"] - lo], [hi - r["accuracy"]]]
            ax.errorbar(r["accuracy"], i + shift, xerr=err, fmt="o", color=colour, ms=4,
                        capsize=2, label=label if i == 0 else None)  # fmt: skip
        maj = table[models[0]]["majority_rate"]
        ax.axvline(maj, color=colour, ls="--", lw=1, label=f"majority rate, {label} ({maj:.3f})")
        if registry.ORACLE in table:
            acc = table[registry.ORACLE]["accuracy"]
            ax.axvline(acc, color=colour, ls=":", lw=1, label=f"oracle, {label} ({acc:.3f})")
    ax.set_yticks(range(len(models)), models, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy with 95% block-bootstrap interval")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    fig.tight_layout()
    return _save(fig, out)


def plot_folds(walkforward: dict, out: Path, ensemble: str) -> Path:
    """Accuracy per walk-forward fold of the main models against the majority rate and,
    on synthetic data, the oracle."""
    plt = _plt()
    folds = walkforward["splits"]
    x = [f["index"] for f in folds]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    names = [m for m in folds[0]["accuracy"] if registry.is_model(m, registry.FOLDS)]
    names += [ensemble] if ensemble in folds[0]["accuracy"] else []
    for m in names:
        ax.plot(x, [f["accuracy"][m] for f in folds], marker="o", lw=1, label=m)
    ax.plot(x, [f["majority_rate"] for f in folds], "k--", lw=1, label="majority rate")
    if all("oracle_accuracy" in f for f in folds):
        ax.plot(x, [f["oracle_accuracy"] for f in folds], "k:", lw=1.5, label=registry.ORACLE)
    ax.set_xticks(x, [f"fold {i}" for i in x])
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, out)


def cpcv_models(cpcv: dict, ensemble: str) -> list[str]:
    """The models the CPCV picture and table show: the fold models, the configured
    ensemble and the oracle, where the paths have them."""
    have = cpcv["accuracy"]
    names = [m for m in have if registry.is_model(m, registry.FOLDS)]
    return names + [m for m in (ensemble, registry.ORACLE) if m in have]


def plot_cpcv(cpcv: dict, out: Path, ensemble: str) -> Path:
    """Accuracy and mean net return per trade of the main models over the CPCV paths
    (a box per model, each path a dot)."""
    plt = _plt()
    names = cpcv_models(cpcv, ensemble)
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.35 * len(names) + 1.6), sharey=True)
    for ax, key, label, scale in ((axes[0], "accuracy", "test accuracy", 1.0),
                                  (axes[1], "mean_net_return", "mean net return per trade (bps)",
                                   1e4)):  # fmt: skip
        data = [[p[key][m] * scale for p in cpcv["paths"]] for m in names]
        ax.boxplot(data, vert=False, widths=0.5)
        for i, d in enumerate(data, start=1):
            ax.plot(d, [i] * len(d), "o", ms=3, alpha=0.6)
        ax.xaxis.set_major_locator(plt.MaxNLocator(5))
        ax.set_xlabel(label)
    axes[0].set_yticks(range(1, len(names) + 1), names, fontsize=7)
    fig.suptitle(f"{len(cpcv['paths'])} CPCV paths ({len(cpcv['splits'])} splits)", fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


POLICY_TITLE = (
    "Trading policy per model (theta chosen on val, traded once on test, after costs; single split)"
)
POWER_TITLE = "Power: the smallest edge this test could detect (80% power, 5% level)"
CPCV_TITLE = (
    "Combinatorial purged cross-validation: every model refitted per split, scored per path"
)
RIVALS_TITLE = (
    "Images against the raw series: each window's CNN minus its rivals on the same window "
    "(test accuracy, paired block bootstrap)"
)
TIMINGS_NOTE = (
    "Latency, memory and speed behind the checklist are measured at every run and kept out "
    f"of tracked files: see `{paths.TIMINGS_MD}` (made from `{paths.TIMINGS}`), and "
    "`benchmarks/` for ratios against a reference."
)


def write_timings_report(source: Path, out: Path) -> None:
    """The untracked timing section: every stage's last timings as Markdown."""
    timings = read_json(source) if Path(source).exists() else {}
    md = ["# gafcnn timings (last run; untracked, regenerated at each run)", ""]
    inf = timings.get("latency", {}).get("inference")
    if inf:
        md += [
            "## Inference (one decision from raw bars)",
            "",
            f"- latency p50 {inf['latency_ms_p50']:.2f} ms, p99 {inf['latency_ms_p99']:.2f} ms "
            f"(limit {LIMITS['latency_ms_p99']:.0f} ms)",
            f"- batch: {inf['batch_samples_per_s']:,.0f} samples/s",
            f"- peak RSS {inf['peak_rss_mb']:.0f} MB (limit {LIMITS['peak_rss_mb']:.0f} MB), "
            f"model load {inf['load_s']:.2f} s",
            "",
        ]
    walls = {k.removeprefix("wall/"): v for k, v in timings.items() if k.startswith("wall/")}
    if walls:
        total = sum(v["wall_s"] for v in walls.values())
        md += ["## Wall time and peak memory per stage (each stage's last run)", "",
               f"Sum {total:,.0f} s over {len(walls)} stages. Peak memory: the stage's own "
               "process, or its largest child (a walk-forward or pooled fit runs the stages "
               "as children).", "",
               "| stage | wall s | share | peak MB |", "|---|---|---|---|"]  # fmt: skip
        for stage, v in sorted(walls.items(), key=lambda kv: -kv[1]["wall_s"]):
            peaks = [v[k] for k in ("peak_rss_mb", "children_peak_rss_mb") if k in v]
            peak = f"{max(peaks):,.0f}" if peaks else "-"
            md.append(f"| {stage} | {v['wall_s']:,.1f} | {v['wall_s'] / total:.1%} | {peak} |")
        md.append("")
    md += ["## Stages", "", "| stage | figure | value |", "|---|---|---|"]
    for stage, values in sorted(timings.items()):
        if stage.startswith("wall/"):
            continue
        for key, value in sorted(values.items()):
            if isinstance(value, int | float):
                md.append(f"| {stage} | {key} | {value:,.3f} |")
    write_bytes(out, ("\n".join(md) + "\n").encode())


def comparison_tables(table: dict, backtest: dict) -> list[Table]:
    """The comparison as two tables (classification, then backtest), each narrow enough
    for a page."""
    cols = ["accuracy", "accuracy_ci", "majority_rate", "balanced_accuracy", "roc_auc",
            "log_loss", "brier", "mcc", "p_value_vs_majority"]  # fmt: skip
    bcols = ["trades", "win_rate", "mean_net_return", "sharpe", "max_drawdown"]
    rows = tuple((m, *(f"[{r[c][0]:.3f}, {r[c][1]:.3f}]" if isinstance(r[c], list) else _fmt(r[c])
                       for c in cols)) for m, r in table.items())  # fmt: skip
    brows = tuple((m, *(_fmt(backtest[m][c]) for c in bcols)) for m in table)
    return [Table(("model", *cols), rows),
            Table(("model", *(f"backtest {c}" for c in bcols)), brows)]  # fmt: skip


def policy_blocks(policy: dict) -> list[Block]:
    """Each model's policy on test at its val-chosen theta, then the original plan's
    win-rate criterion as measured (net of costs)."""
    head = ("model", "theta", "coverage", "trades", "win rate [95%]",
            "mean net/trade [95%]", "Sharpe", "max DD", "turnover/day",
            "break-even bps/side [95%]", "family p")  # fmt: skip
    rows = []
    for name, r in policy.items():
        wr, mn, be = r["win_rate_ci"], r["mean_net_return_ci"], r["break_even_bps_ci"]
        rows.append((
            name, f"{r['theta']:.3f}", f"{r['coverage']:.3f}",
            f"{r['trades']}{'' if r['judged'] else '*'}",
            f"{_fmt(r['win_rate'])} [{_fmt(wr[0])}, {_fmt(wr[1])}]",
            f"{r['mean_net_return']:+.5f} [{mn[0]:+.5f}, {mn[1]:+.5f}]", _fmt(r["sharpe"]),
            _fmt(r["max_drawdown"]), f"{r['turnover_per_day']:.1f}",
            f"{r['break_even_bps']:.2f} [{be[0]:.2f}, {be[1]:.2f}]",
            _fmt(r.get("p_value_family", float("nan"))),
        ))  # fmt: skip
    out: list[Block] = [Table(head, tuple(rows)), Paragraph(
        "family p: the reality check (SPA) of the model's policy against staying flat, "
        "corrected for every model x theta tried; a model deploys only below "
        "`evaluate.alpha`, with a positive net return and enough trades."
    )]  # fmt: skip
    few = [n for n, r in policy.items() if not r["judged"]]
    if few:
        out.append(Paragraph(
            f"Trades marked * are fewer than `evaluate.policy.min_val_trades`: too few to "
            f"judge ({', '.join(few)}); the original plan's criterion leaves them out."
        ))  # fmt: skip
    models = {n: r for n, r in policy.items() if n != registry.ORACLE and r["judged"]}
    if not models:
        out.append(Paragraph("The original plan's win-rate criterion: no model made enough "
                             "test trades to judge."))  # fmt: skip
        return out
    best = max(models, key=lambda n: models[n]["win_rate"])
    r = models[best]
    target, stretch = PLAN_WIN_RATES
    out.append(Paragraph(
        f"The original plan's criterion, win rate >= {target:.0%} (stretch {stretch:.0%}), "
        f"measured as the share of test trades that gain after costs at the val-chosen theta: "
        f"best {best} {r['win_rate']:.3f} [{r['win_rate_ci'][0]:.3f}, "
        f"{r['win_rate_ci'][1]:.3f}] over {r['trades']} trades - "
        + ("met" if r["win_rate_ci"][0] >= target else "not met")
        + " (the interval's lower end must clear it)."
    ))  # fmt: skip
    return out


def power_blocks(power: dict) -> list[Block]:
    """Per model the smallest edge the test detects and the days +1 point of accuracy
    and +1 bp per trade would need."""

    def days(v: float) -> str:
        return f"{v:,.0f}" if v == v else "-"

    rows = tuple((m, f"{r['accuracy_se'] * 100:.2f}", f"{r['detectable_accuracy_edge'] * 100:.2f}",
                  days(r["days_for_1pt_accuracy"]), f"{r.get('net_se_bps', float('nan')):.2f}",
                  f"{r.get('detectable_net_bps', float('nan')):.2f}",
                  days(r.get("days_for_1bp_net", float("nan"))))
                 for m, r in power["models"].items())  # fmt: skip
    head = ("model", "accuracy SE (pts)", "detectable accuracy edge (pts)", "days for +1 pt",
            "net/trade SE (bps)", "detectable net/trade (bps)", "days for +1 bp")  # fmt: skip
    return [Table(head, rows), Paragraph(
        f"The smallest true edge this test ({power['test_days']:.1f} days) detects at "
        f"{power['power']:.0%} power and a {power['alpha']:.0%} two-sided level: "
        "(z(0.975) + z(0.8)) x the block-bootstrap standard error; accuracy over the "
        "majority rate, net return per trade at the val-chosen theta. Days scale the test's "
        "length by (detectable / edge)^2."
    )]  # fmt: skip


def rivals_table(rivals: dict) -> Table:
    """Per window, the CNN's test accuracy minus each rival's, with its paired
    bootstrap interval and verdict."""
    rows = tuple((str(w), name, f"{r['difference']:+.4f}",
                  f"[{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]", r["verdict"])
                 for w, per in rivals.items() for name, r in per.items())  # fmt: skip
    return Table(("window", "rival", "CNN - rival accuracy", "95% interval", "verdict"), rows)


def folds_table(walkforward: dict) -> Table:
    """Each model's test accuracy per walk-forward fold, with the majority rate (and
    the oracle on synthetic data)."""
    folds = walkforward["splits"]
    head = ("model", *(f"fold {f['index']} ({f['decisions_times'][0][0][:10]}.."
                       f"{f['decisions_times'][-1][1][:10]})" for f in folds))  # fmt: skip
    rows = [("test samples", *(str(f["samples"]) for f in folds)),
            ("majority rate", *(f"{f['majority_rate']:.3f}" for f in folds))]  # fmt: skip
    if all("oracle_accuracy" in f for f in folds):
        rows.append((registry.ORACLE, *(f"{f['oracle_accuracy']:.3f}" for f in folds)))
    rows += [(m, *(f"{f['accuracy'][m]:.3f}" for f in folds)) for m in sorted(folds[0]["accuracy"])]
    return Table(head, tuple(rows))


def cpcv_blocks(cpcv: dict, ensemble: str) -> list[Block]:
    """Per main model its accuracy and net return over the CPCV paths, and PBO."""
    rows = []
    for m in cpcv_models(cpcv, ensemble):
        a, n = cpcv["accuracy"][m], cpcv["mean_net_return"][m]
        rows.append(
            (
                m,
                f"{a['mean']:.4f} ({a['sd']:.4f})",
                f"{a['min']:.4f}..{a['max']:.4f}",
                f"{n['mean']:+.5f} ({n['sd']:.5f})",
                f"{n['min']:+.5f}..{n['max']:+.5f}",
            )
        )
    pbo = cpcv["pbo"]
    note = (
        f"{len(cpcv['splits'])} splits of {cpcv['groups']} groups testing {cpcv['test_groups']} "
        f"each (embargo {cpcv['embargo']} bars) reassembled into {len(cpcv['paths'])} paths; "
        + (f"PBO over each path's time slices: mean {pbo['mean']:.2f}, range "
           f"{pbo['min']:.2f}..{pbo['max']:.2f}." if pbo else "PBO: fewer than two models.")
    )  # fmt: skip
    head = ("model", "accuracy mean (sd)", "accuracy min..max", "net/trade mean (sd)",
            "net/trade min..max")  # fmt: skip
    return [Table(head, tuple(rows)), Paragraph(note)]


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
