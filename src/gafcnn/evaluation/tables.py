"""The evaluation report's tables and the blocks of text around them, each built from
the metrics it is given (:mod:`gafcnn.evaluation.document` blocks)."""

from __future__ import annotations

from gafcnn import registry
from gafcnn.evaluation.document import Block, Paragraph, Table
from gafcnn.evaluation.figures import PLAN_WIN_RATES, cpcv_models


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
