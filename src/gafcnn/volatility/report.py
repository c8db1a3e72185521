"""``reports/sizing.md``: the volatility forecasters' table and what sizing by the served
one did to each strategy, from the `sizing` stage's metrics."""

from __future__ import annotations

LABELS = {"net": "net return", "sharpe": "Sharpe (annualised)", "max_drawdown": "max drawdown",
          "worst_1pct": "worst 1% of periods", "liquidations": "liquidations"}  # fmt: skip


def _ci(ci: list[float], fmt: str = "+.4f") -> str:
    return f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def forecaster_rows(table: dict) -> list[str]:
    """One markdown row per forecaster: QLIKE and R² with intervals, and the paired
    QLIKE difference to HAR-RV and to persistence."""
    rows = [
        "| forecaster | QLIKE | 95% interval | R² log | 95% interval | QLIKE − HAR [95%] "
        "| QLIKE − persistence [95%] |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in table["models"].items():
        diffs = []
        for key in ("vs_reference", "vs_benchmark"):
            d = r.get(key)
            diffs.append("—" if d is None else f"{d['qlike_diff']:+.4f} {_ci(d['qlike_diff_ci'])}")
        rows.append(
            f"| {name} | {r['qlike']:.4f} | {_ci(r['qlike_ci'], '.4f')} | "
            f"{r['r2_log']:.3f} | {_ci(r['r2_log_ci'], '.3f')} | {' | '.join(diffs)} |"
        )
    return rows


def backtest_rows(backtests: dict) -> list[str]:
    """One markdown row per strategy and figure: unsized, sized, the difference and its
    interval."""
    rows = [
        "| strategy | periods | figure | unsized | sized | sized − unsized [95%] |",
        "|---|---|---|---|---|---|",
    ]
    for name, b in backtests.items():
        if "skipped" in b:
            rows.append(f"| {name} | {b['periods']} | {b['skipped']} | | | |")
            continue
        for key, label in LABELS.items():
            d = b["difference"][key]
            rows.append(
                f"| {name} | {b['periods']} | {label} | {b['unsized'][key]:.4f} | "
                f"{b['sized'][key]:.4f} | {d['value']:+.4f} {_ci(d['ci'])} |"
            )
    return rows


def _moved(d: dict) -> str:
    """How a sized-minus-unsized figure moved: beyond noise down or up, or not."""
    lo, hi = d["ci"]
    return "lowered" if hi < 0 else ("raised" if lo > 0 else "did not change")


def verdicts(backtests: dict) -> list[str]:
    """Per strategy, in words: whether sizing lowered drawdown and liquidations beyond
    noise (or raised them) and what it did to the net return."""
    out = []
    for name, b in backtests.items():
        if "skipped" in b:
            continue
        d = b["difference"]
        dd, liq = d["max_drawdown"], d["liquidations"]
        out.append(f"- **{name}**: sizing {_moved(dd)} the max drawdown beyond noise "
                   f"({dd['value']:+.4f}, {_ci(dd['ci'])}) and {_moved(liq)} liquidations "
                   f"({liq['value']:+.4f}, {_ci(liq['ci'])}); the net return moved "
                   f"{d['net']['value']:+.4f} {_ci(d['net']['ci'])}.")  # fmt: skip
    return out


def markdown(m: dict) -> str:
    """The whole report."""
    s, rc = m["served"], m["reality_check"]
    lines = [
        "# Volatility forecast and sizing",
        "",
        f"Target: the realized volatility of the next {m['horizon_minutes']} minutes at each "
        "decision time. Size = min(max_leverage, target_vol / forecast) with target_vol "
        f"{m['target_vol']} and max_leverage {m['max_leverage']}.",
        "",
        f"Served forecaster: **{s['model']}**: {s['reason']}.",
        "",
        f"## Test ({m['test']['rows']} decisions, blocks of {m['test']['block']})",
        "",
        *forecaster_rows(m["test"]),
        "",
        f"Reality check (Hansen's SPA, QLIKE against {rc['benchmark']}, family "
        f"{', '.join(rc['family'])}): p = {rc['p_value']:.4f} for the best, {rc['best']}.",
        "",
        f"## Val ({m['val']['rows']} decisions): what chose the served forecaster",
        "",
        *forecaster_rows(m["val"]),
        "",
        "## Sizing on test, at the same mean exposure",
        "",
        f"Sizes on test: mean {m['sizes']['mean']:.2f}, median {m['sizes']['median']:.2f}, "
        f"{m['sizes']['at_cap']:.1%} at the cap. Unsized holds the sized strategy's mean size "
        "throughout; liquidations count periods whose adverse excursion, at an average "
        f"leverage of {m['max_leverage']}, reached the margin. Costs "
        f"{m['cost_per_side_bps']} bps per side (always long: on turnover).",
        "",
        *backtest_rows(m["backtests"]),
        "",
        *verdicts(m["backtests"]),
        "",
    ]
    return "\n".join(lines)
