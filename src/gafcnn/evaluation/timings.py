"""The untracked timings report: every stage's last wall time and peak memory and the
inference figures, as a :class:`~gafcnn.evaluation.document.Document` (timings never
go into a tracked file)."""

from __future__ import annotations

from pathlib import Path

from gafcnn.evaluation.decision import LIMITS
from gafcnn.evaluation.document import Bullets, Document, Paragraph, Section, Table, to_markdown
from gafcnn.io import read_json, write_bytes


def _inference(inf: dict) -> Section:
    return Section("Inference (one decision from raw bars)", (Bullets((
        f"latency p50 {inf['latency_ms_p50']:.2f} ms, p99 {inf['latency_ms_p99']:.2f} ms "
        f"(limit {LIMITS['latency_ms_p99']:.0f} ms)",
        f"batch: {inf['batch_samples_per_s']:,.0f} samples/s",
        f"peak RSS {inf['peak_rss_mb']:.0f} MB (limit {LIMITS['peak_rss_mb']:.0f} MB), "
        f"model load {inf['load_s']:.2f} s",
    )),))  # fmt: skip


def _walls(walls: dict[str, dict]) -> Section:
    total = sum(v["wall_s"] for v in walls.values())
    rows = []
    for stage, v in sorted(walls.items(), key=lambda kv: -kv[1]["wall_s"]):
        peaks = [v[k] for k in ("peak_rss_mb", "children_peak_rss_mb") if k in v]
        peak = f"{max(peaks):,.0f}" if peaks else "-"
        rows.append((stage, f"{v['wall_s']:,.1f}", f"{v['wall_s'] / total:.1%}", peak))
    note = (f"Sum {total:,.0f} s over {len(walls)} stages. Peak memory: the stage's own "
            "process, or its largest child (a walk-forward or pooled fit runs the stages "
            "as children).")  # fmt: skip
    table = Table(("stage", "wall s", "share", "peak MB"), tuple(rows))
    return Section("Wall time and peak memory per stage (each stage's last run)",
                   (Paragraph(note), table))  # fmt: skip


def timings_document(timings: dict) -> Document:
    """The timings (``reports/timings.json``'s content) as a document."""
    sections = []
    if inf := timings.get("latency", {}).get("inference"):
        sections.append(_inference(inf))
    walls = {k.removeprefix("wall/"): v for k, v in timings.items() if k.startswith("wall/")}
    if walls:
        sections.append(_walls(walls))
    figures = {k: v for k, v in sorted(timings.items()) if not k.startswith("wall/")}
    rows = tuple((stage, key, f"{value:,.3f}") for stage, values in figures.items()
                 for key, value in sorted(values.items())
                 if isinstance(value, int | float))  # fmt: skip
    sections.append(Section("Stages", (Table(("stage", "figure", "value"), rows),)))
    return Document("gafcnn timings (last run; untracked, regenerated at each run)",
                    tuple(sections))  # fmt: skip


def write_timings_report(source: Path, out: Path) -> None:
    """``out``: the timings report of the timings file ``source`` (empty when absent)."""
    timings = read_json(source) if Path(source).exists() else {}
    write_bytes(out, to_markdown(timings_document(timings), Path(out).parent).encode())
