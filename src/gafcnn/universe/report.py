"""The universe's report: the decision per symbol, each symbol's models under each
training (accuracy with its interval, policy, break-even cost, detectable edge),
the models pooled over the symbols and the rank IC."""

from __future__ import annotations

import math
from pathlib import Path

from gafcnn.evaluation.document import Bullets, Document, Paragraph, Section, Table, to_markdown
from gafcnn.io import write_bytes


def _ci(row: dict) -> str:
    lo, hi = row["accuracy_ci"]
    return f"{row['accuracy']:.4f} [{lo:.4f}, {hi:.4f}]"


def _num(value: float | None, fmt: str, scale: float = 1.0) -> str:
    """``value`` times ``scale`` in ``fmt``; empty when there is none (a policy without
    test trades: NaN in a run, None once read back from a market's metrics)."""
    return "" if value is None or math.isnan(value) else format(scale * value, fmt)


def symbol_table(judged: dict) -> Table:
    """One symbol under one training: a row per model shown."""
    rows = []
    for name in judged["models"]:
        r = judged["models"][name]
        pol = r.get("policy") or {}
        power = judged["power"]["models"].get(name, {})
        rows.append(
            (
                name,
                _ci(r),
                f"{r['majority_rate']:.4f}",
                _num(pol.get("theta"), "g"),
                "" if not pol else str(pol["trades"]),
                _num(pol.get("mean_net_return"), "+.2f", 1e4),
                _num(pol.get("break_even_bps"), ".2f"),
                _num(power.get("detectable_accuracy_edge"), ".2f", 100),
            )
        )
    return Table(
        (
            "model",
            "test accuracy [95% CI]",
            "majority rate",
            "theta",
            "trades",
            "net bps/trade",
            "break-even bps",
            "detectable edge (pts)",
        ),
        tuple(rows),
    )


def write_universe_report(out: dict, path: Path) -> None:
    """``reports/universe.md`` from the universe stage's metrics."""
    decisions = tuple(
        f"{s}: {d['decision']}"
        + (f" ({d['model']}, theta {d['theta']:g}; bundle markets/{s}/models/bundle)"
           if d["model"] else "")
        + "".join(f"; {t} would deploy {w['model']} at theta {w['theta']:g}"
                  for t, w in d["would_deploy"].items() if t != d["training"])
        for s, d in out["decision"].items()
    )  # fmt: skip
    sections = [
        Section(
            "Decision per symbol",
            (
                Paragraph(
                    f"Family-wise correction over {out['trials']} trials (symbols x trainings x "
                    "experiments) times each run's models and thresholds."
                ),
                Bullets(decisions),
            ),
        )
    ]
    for s, by_training in out["per_symbol"].items():
        for training, judged in by_training.items():
            sections.append(
                Section(
                    f"{s}, {training} ({judged['test_samples']:,} test decisions)",
                    (symbol_table(judged),),
                    level=3,
                )
            )
    for training, models in out["pooled"].items():
        rows = tuple((m, _ci(r), f"{r['samples']:,}") for m, r in models.items())
        blocks: list = [Table(("model", "accuracy [95% CI]", "decisions"), rows)]
        ic = out["rank_ic"][training]
        if ic is not None:
            blocks.append(cross_section_table(ic))
        sections.append(Section(f"Pooled over the symbols, {training}", tuple(blocks)))
    if "portfolio" in out["rank_ic"]:
        p = out["rank_ic"]["portfolio"]
        sections.append(Section("The cross-section: one long-short portfolio", (
            Paragraph(f"Each symbol's next-horizon return ranked across the universe, "
                      f"modelled directly (below); every long-short tried counts as a "
                      f"trial ({p['trials']}). Decision: {p['decision']} ({p['why']})."),
            cross_section_table(out["rank_ic"]["ranked_label"]),
        )))  # fmt: skip
    doc = Document(f"Universe: {', '.join(out['symbols'])}", tuple(sections))
    write_bytes(path, to_markdown(doc, Path(path).parent).encode())


def cross_section_table(models: dict[str, dict]) -> Table:
    """Per model as a cross-sectional score: rank IC and its t-statistic over the
    rebalances, and the long-short's net return per rebalance with its interval."""

    def row(m: str, r: dict) -> tuple[str, ...]:
        if "net_bps" not in r:
            return (m, f"{r['rank_ic']:+.4f}", f"{r['rank_ic_t']:+.2f}", str(r["rebalances"]),
                    "", r["why"], "", "")  # fmt: skip
        ci = r["net_bps_ci"]
        return (m, f"{r['rank_ic']:+.4f}", f"{r['rank_ic_t']:+.2f}", str(r["rebalances"]),
                f"{r['rank_spread']:+.3f}", f"{r['net_bps']:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}]",
                f"{r['p_value_family']:.3f}", "yes" if r["deploys"] else "no")  # fmt: skip

    head = ("model", "rank IC", "t", "rebalances", "rank spread", "long-short net bps [95%]",
            "p (family)", "deploys")  # fmt: skip
    return Table(head, tuple(row(m, r) for m, r in models.items()))
