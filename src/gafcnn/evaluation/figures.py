"""The evaluation report's pictures, each drawn from the metrics and predictions it
is given into a PNG file: ROC and calibration, confusion, equity, the cost sweep,
coverage, training curves, the accuracy forest, walk-forward folds and CPCV paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gafcnn import clock, registry
from gafcnn.io import save_figure
from gafcnn.models.metrics import calls_up

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
