"""Markdown of the edge studies: one table per horizon (``gafcnn edge horizons``) and
one per horizon of the cross-section (``gafcnn edge cross-section``), each followed by
what deploys and why."""

from __future__ import annotations


def _ci(ci: list[float], fmt: str) -> str:
    return f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def _num(v: float | None, fmt: str) -> str:
    return "—" if v is None else f"{v:{fmt}}"


def horizons_markdown(figures: dict) -> str:
    """Per horizon: each model's accuracy against the majority rate, its val-chosen
    policy's net per trade after costs, break-even cost and what the test could see;
    the paired differences to ``xgb_indicators``; what deploys."""
    lines = [f"Horizons judged together: {', '.join(figures['horizons'])} bars, on one "
             f"split; the family-wise corrections count {figures['trials']} trials, every "
             "horizon among them."]  # fmt: skip
    for h, r in figures["horizons"].items():
        s = r["samples"]
        lines += ["", f"## Horizon {h} bars", "",
                  f"{s['train']} train, {s['val']} val, {s['test']} test decisions "
                  f"({r['test_days']:.1f} days of test); reality check p "
                  f"{r['reality_check_p']:.3f}.",
                  "",
                  "| model | accuracy [95%] | majority | p (family) | detectable edge | θ "
                  "| trades | net bps/trade [95%] | break-even bps | detectable bps | deploys |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for m, x in r["models"].items():
            p = x["policy"]
            lines.append(
                f"| {m} | {x['accuracy']:.4f} {_ci(x['accuracy_ci'], '.4f')} | "
                f"{x['majority_rate']:.4f} | {x['p_vs_majority_family']:.3f} | "
                f"{x['detectable_accuracy_edge']:.4f} | {p['theta']:g} | {p['trades']} | "
                f"{p['net_bps']:+.2f} {_ci(p['net_bps_ci'], '+.2f')} | "
                f"{p['break_even_bps']:.2f} | {_num(p['detectable_net_bps'], '.2f')} | "
                f"{'yes' if p['passes'] else 'no'} |"
            )
        for name, d in r["differences"].items():
            verdict = "beyond noise" if d["beyond_noise"] else "within noise"
            diff = f"{d['accuracy']:+.4f} {_ci(d['ci'], '+.4f')}"
            fam = _ci(d["ci_family"], "+.4f")
            lines.append(f"\n{name}: accuracy {diff}; {verdict} (family-wise interval {fam}).")
        lines.append("")
        lines += [f"- {m}: {x['policy']['why']}" for m, x in r["models"].items()]
    return "\n".join(lines) + "\n"


def cross_section_markdown(figures: dict) -> str:
    """Per horizon: each model's rank IC with its t-statistic and the long-short's net
    return per rebalance with its interval, break-even cost and Sharpe; the IC per
    refit; what deploys."""
    lines = [f"{len(figures['symbols'])} symbols ({', '.join(figures['symbols'])}), "
             f"{figures['bars']} common bars of {figures['interval_minutes']} minutes; refit "
             f"{figures['refit']}; {figures['trials']} trials (models x horizons)."]  # fmt: skip
    for h, r in figures["horizons"].items():
        lines += ["", f"## Horizon {h} bars (test from {r['test_from']})", "",
                  "| model | rebalances | rank IC | t | rank spread | gross bps | turnover "
                  "| net bps [95%] | break-even bps | Sharpe (yr) | p (family) | detectable bps "
                  "| deploys |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for m, x in r["models"].items():
            if "net_bps" not in x:
                lines.append(f"| {m} | {x['rebalances']} | {x['why']} ||||||||||")
                continue
            lines.append(
                f"| {m} | {x['rebalances']} | {x['rank_ic']:+.4f} | {x['rank_ic_t']:+.2f} | "
                f"{x['rank_spread']:+.3f} | {x['gross_bps']:+.2f} | {x['turnover']:.2f} | "
                f"{x['net_bps']:+.2f} {_ci(x['net_bps_ci'], '+.2f')} | "
                f"{_num(x['break_even_bps'], '.2f')} | {x['sharpe_annual']:+.2f} | "
                f"{x['p_value_family']:.3f} | {x['detectable_net_bps']:.2f} | "
                f"{'yes' if x['deploys'] else 'no'} |"
            )
        if len(r["folds"]) > 1:
            lines += ["", "Rank IC per refit: " + "; ".join(
                f"{name} " + ", ".join(f"{m} {v:+.3f}" for m, v in ics.items())
                for name, ics in r["folds"].items())]  # fmt: skip
        lines.append("")
        lines += [f"- {m}: {x['why']}" for m, x in r["models"].items()]
    return "\n".join(lines) + "\n"
