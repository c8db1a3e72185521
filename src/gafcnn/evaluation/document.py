"""A report as one document structure (sections of paragraphs, lists, tables and
figures), rendered to Markdown and to HTML from that structure: the two renderings list
the same sections because there is one list of them."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paragraph:
    text: str
    strong: bool = False


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    checks: tuple[bool, ...] | None = None  # a checklist: each item ticked or not


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    title: str
    path: Path


Block = Paragraph | Bullets | Table | Figure


@dataclass(frozen=True)
class Section:
    title: str  # "" for none: the blocks follow what came before
    blocks: tuple[Block, ...]
    level: int = 2


@dataclass(frozen=True)
class Document:
    title: str
    sections: tuple[Section, ...]


def _markdown_block(block: Block, base: Path) -> list[str]:
    if isinstance(block, Paragraph):
        return [f"**{block.text}**" if block.strong else block.text]
    if isinstance(block, Bullets):
        if block.checks is None:
            return [f"- {item}" for item in block.items]
        return [f"- [{'x' if c else ' '}] {item}"
                for item, c in zip(block.items, block.checks, strict=True)]  # fmt: skip
    if isinstance(block, Table):
        return ["| " + " | ".join(block.header) + " |", "|" + "---|" * len(block.header),
                *("| " + " | ".join(r) + " |" for r in block.rows)]  # fmt: skip
    path = block.path
    rel = path.relative_to(base) if path.is_relative_to(base) else Path("..") / path
    return [f"![{block.title}]({rel})"]


def to_markdown(doc: Document, base: Path) -> str:
    """The document as Markdown; figure links relative to ``base`` (the report's folder)."""
    lines = [f"# {doc.title}", ""]
    for s in doc.sections:
        lines += ["#" * s.level + f" {s.title}", ""] if s.title else []
        for block in s.blocks:
            lines += [*_markdown_block(block, base), ""]
    return "\n".join(lines) + "\n"


def _html_block(block: Block) -> str:
    e = html.escape
    if isinstance(block, Paragraph):
        return f"<p><b>{e(block.text)}</b></p>" if block.strong else f"<p>{e(block.text)}</p>"
    if isinstance(block, Bullets):
        marks = [""] * len(block.items) if block.checks is None else [
            "&#9745; " if c else "&#9744; " for c in block.checks]  # fmt: skip
        return (
            "<ul>"
            + "".join(f"<li>{m}{e(i)}</li>" for m, i in zip(marks, block.items, strict=True))
            + "</ul>"
        )
    if isinstance(block, Table):  # scrolls inside its own box when wide
        head = "".join(f"<th>{e(h)}</th>" for h in block.header)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>"
                       for r in block.rows)  # fmt: skip
        return f"<div style='overflow-x:auto'><table><tr>{head}</tr>{body}</table></div>"
    data = base64.b64encode(block.path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{e(block.title)}" style="max-width:100%">'


STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto}"
    "table{border-collapse:collapse;font-size:11px}td,th{border:1px solid #ccc;padding:2px 4px}"
)


def to_html(doc: Document) -> str:
    """The document as one self-contained HTML page (figures inlined)."""
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(doc.title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{e(doc.title)}</h1>"]  # fmt: skip
    for s in doc.sections:
        parts += [f"<h{s.level}>{e(s.title)}</h{s.level}>"] if s.title else []
        parts += [_html_block(b) for b in s.blocks]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
