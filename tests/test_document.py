"""The report's document model: one structure, rendered to Markdown and to HTML."""

from __future__ import annotations

from pathlib import Path

from gafcnn.evaluation import document as d


def _doc(png: Path) -> d.Document:
    return d.Document("a report", (
        d.Section("Decision", (d.Paragraph("Decision: none", strong=True),
                               d.Bullets(("a <b>", "c")),
                               d.Bullets(("ok", "fast"), (True, False)))),
        d.Section("Table", (d.Table(("model", "acc"), (("x", "0.5"), ("y", "0.6"))),
                          d.Paragraph("note"))),
        d.Section("Pictures", ()),
        d.Section("A figure", (d.Figure("A figure", png),), level=3),
    ))  # fmt: skip


def test_markdown_renders_every_block(tmp_path):
    png = tmp_path / "figures" / "f.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG")
    md = d.to_markdown(_doc(png), tmp_path)
    assert md.startswith("# a report\n\n## Decision\n\n**Decision: none**\n\n- a <b>\n- c\n")
    assert "- [x] ok\n- [ ] fast\n" in md
    assert "| model | acc |\n|---|---|\n| x | 0.5 |\n| y | 0.6 |\n\nnote\n" in md
    assert "### A figure\n\n![A figure](figures/f.png)\n" in md and md.endswith("\n\n")


def test_html_renders_the_same_structure_escaped_and_self_contained(tmp_path):
    png = tmp_path / "f.png"
    png.write_bytes(b"\x89PNG")
    page = d.to_html(_doc(png))
    assert page.count("<h2>") == 3 and "<h3>A figure</h3>" in page
    assert "<li>a &lt;b&gt;</li>" in page and "<li>&#9745; ok</li><li>&#9744; fast</li>" in page
    assert "<th>model</th><th>acc</th></tr><tr><td>x</td><td>0.5</td></tr>" in page
    assert "data:image/png;base64,iVBORw==" in page and "<p><b>Decision: none</b></p>" in page
