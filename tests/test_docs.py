"""The README and docs/ say only what exists: every `make` target, `python -m` module,
path, param name and link they mention is checked against the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from gafcnn.params import schema

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SECTIONS = set(schema())
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
TOP_DIRS = ("src", "data", "models", "metrics", "plots", "reports", "benchmarks", "tests", "docs")


def _dotted(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, sub in tree.items():
        out.add(prefix + k)
        if sub:
            out |= _dotted(sub, f"{prefix}{k}.")
    return out


PARAM_KEYS = _dotted(schema())


def _declared_outputs() -> list[str]:
    """Every path dvc.yaml names (outs, metrics, plots, deps), windows as ``w*``."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            for k, v in node.items():
                found.append(k) if isinstance(v, dict) else None
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for stage in DVC.values():
        start = len(found)
        for key in ("outs", "metrics", "plots", "deps"):
            walk(stage.get(key, []))
        if "wdir" in stage:  # a market's stage names paths in its folder
            found[start:] = [os.path.normpath(f"{stage['wdir']}/{f}") for f in found[start:]]
    return [re.sub(r"\$\{item\.(window|symbol)\}", "*", f) for f in found]


OUTPUTS = _declared_outputs()
IGNORED = [line.strip().lstrip("/") for line in (REPO / ".gitignore").read_text().splitlines()
           if line.strip() and not line.startswith("#")]  # fmt: skip


def _code_spans(text: str) -> list[str]:
    text = re.sub(r"```.*?```", lambda m: m.group(0).replace("`", ""), text, flags=re.S)
    return re.findall(r"`([^`\n]+)`", text)


def _blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def _named_paths() -> set[str]:
    """The paths gafcnn.paths names, without suffix (a report's .md and .json)."""
    from gafcnn import paths

    values = [v for v in vars(paths).values() if isinstance(v, str | Path)]
    return {str(Path(v).with_suffix("")) for v in values}


def path_exists(token: str) -> bool:
    """A path the docs name: in the repository, declared by dvc.yaml (a pipeline output
    that a fresh clone lacks until `dvc repro`), named by gafcnn.paths (a command's
    output), or git-ignored; ``file::test`` names a test in that file."""
    if "::" in token:
        file, _, test = token.partition("::")
        return (REPO / file).exists() and f"def {test}(" in (REPO / file).read_text()
    if str(Path(token.rstrip("/.,:;)")).with_suffix("")) in _named_paths():
        return True
    token = re.sub(r"\{W\}|\{w\}|<W>|\{[0-9,]+\}", "*", token.rstrip("/.,:;)"))
    token = re.sub(r"\{([a-z_]+,[a-z_,]+)\}", "*", token)  # {md,html}
    if "<" in token:  # a placeholder such as <name>
        token = token.split("<")[0] + "*"
    if list(REPO.glob(token)) or (REPO / token).exists():
        return True
    from fnmatch import fnmatch

    for out in [*OUTPUTS, *IGNORED]:
        out = out.rstrip("/")
        for name in (token, f"markets/*/{token}"):  # a market's paths, from its folder
            if name != token and out == "markets":  # the universe stage's dep on them all
                continue
            if fnmatch(name, out) or name.startswith(out + "/") or fnmatch(name, out + "/*"):
                return True
            if fnmatch(out, name.rstrip("*") + "*"):
                return True
    return False


def mentions(page: Path) -> dict[str, set[str]]:
    text = page.read_text()
    spans = _code_spans(text)
    shell = "\n".join(_blocks(text) + spans)
    out: dict[str, set[str]] = {"make": set(), "module": set(), "path": set(), "param": set()}
    out["name"] = {t.strip(".,:;()") for span in spans for t in span.split()
                   if re.match(r"^gafcnn(\.\w+)+[.,:;()]*$", t)}  # fmt: skip
    out["make"] = set(re.findall(r"\bmake ([a-z][a-z-]*)", shell))
    out["module"] = set(re.findall(r"python -m (gafcnn(?:\.\w+)+)", shell))
    out["param"] |= set(re.findall(r"-S '?([a-z_]+(?:\.[a-z_]+)*)=", shell))
    for span in spans:
        for token in span.split():
            if re.match(rf"^({'|'.join(TOP_DIRS)})/", token):
                out["path"].add(token)
            m = re.match(r"^([a-z_]+)\.([a-z_]+(?:\.[a-z_]+)*)[,.:]?$", token)
            if m and m.group(1) in SECTIONS:
                out["param"].add(f"{m.group(1)}.{m.group(2)}")
    return out


def code_name_exists(dotted: str) -> bool:
    """``gafcnn.a.b`` is a module, or a module and a name defined at its top level."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        base = REPO / "src" / Path(*parts[:k])
        file = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        if file.exists():
            rest = parts[k:]
            if not rest:
                return True
            return (
                len(rest) == 1
                and re.search(
                    rf"^(def |class |){re.escape(rest[0])}\b", file.read_text(), flags=re.M
                )
                is not None
            )
    return False


def links(page: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", page.read_text())


def _slug(header: str) -> str:
    header = re.sub(r"[`*]", "", header.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", header))


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), flags=re.M))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_path_and_param_the_docs_name_exists(page):
    m = mentions(page)
    missing = sorted(f"make {t}" for t in m["make"] - _makefile_targets())
    for module in m["module"]:
        base = REPO / "src" / Path(*module.split("."))
        if not (base.with_suffix(".py").exists() or (base / "__init__.py").exists()):
            missing.append(f"python -m {module}")
    missing += sorted(p for p in m["path"] if not path_exists(p))
    missing += sorted(f"param {p}" for p in m["param"] - PARAM_KEYS)
    missing += sorted(n for n in m["name"] if not code_name_exists(n))
    assert not missing, f"{page.name} names what does not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_point_at_existing_files_and_headers(page):
    bad = []
    for link in links(page):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target, _, anchor = link.partition("#")
        file = (page.parent / target).resolve() if target else page
        if not file.exists():
            bad.append(link)
        elif anchor and file.suffix == ".md":
            headers = re.findall(r"^#+ (.*)$", file.read_text(), flags=re.M)
            if anchor not in {_slug(h) for h in headers}:
                bad.append(link)
    assert not bad, f"{page.name} links to what does not exist: {bad}"


def test_the_check_catches_what_is_missing(tmp_path):
    page = tmp_path / "x.md"
    page.write_text(
        "Run `make nonesuch` or `python -m gafcnn.stages.nope`; see `data/nowhere.csv`,\n"
        "`xgb.lerning_rate` and `dvc exp run -S lr=1e-5 -S gaf.windoes=[15]`.\n"
    )
    m = mentions(page)
    assert m["make"] == {"nonesuch"} and m["module"] == {"gafcnn.stages.nope"}
    assert not path_exists("data/nowhere.csv") and path_exists("data/gaf/w15/")
    assert m["param"] - PARAM_KEYS == {"xgb.lerning_rate", "gaf.windoes"}
    assert code_name_exists("gafcnn.registry.PIPELINE") and code_name_exists("gafcnn.data")
    assert not code_name_exists("gafcnn.gafdata") and not code_name_exists("gafcnn.paths.NOPE")
