"""Which ``gafcnn`` modules a module imports, transitively (as the source says).

Imports are read from the syntax tree, so imports inside functions count too, and
the serving hooks the registry names count as imported by the module that imports
them by name. Used by the test that every DVC stage depends on every library file
its code runs, by ``make deps`` that lists them in ``dvc.yaml``, and for the
bundle's code digest.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "gafcnn"
PIPELINE = "dvc.yaml"


def code_prefix(stage: dict) -> str:
    """How a stage's deps name the project's ``src/``: from its ``wdir`` (a market's
    stages run in ``markets/<symbol>``, so theirs read ``../../src/``)."""
    return "../" * len(Path(stage.get("wdir", ".")).parts) + "src/"


def module_file(src: Path, module: str) -> Path | None:
    """The file of ``module`` under ``src`` (a module or a package's __init__)."""
    base = src.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def direct_imports(src: Path, module: str) -> set[str]:
    """``gafcnn`` modules named by the import statements of ``module``."""
    path = module_file(src, module)
    if path is None:
        return set()
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts if is_pkg else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            found.add(mod)
            # `from gafcnn import paths` names a module, not an attribute
            found.update(f"{mod}.{a.name}" for a in node.names)
    found |= imported_by_name(module)
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(src, m) is not None}


def imported_by_name(module: str) -> set[str]:
    """Modules ``module`` imports by name at run time: the serving hooks the registry
    declares, which :func:`gafcnn.serving.bundle.hook` imports, and the volatility
    forecasters' classes, which :func:`gafcnn.serving.sizing.declared` imports."""
    from gafcnn.registry import forecaster_modules, serving_modules

    if module == "gafcnn.serving.bundle":
        return set(serving_modules())
    if module == "gafcnn.serving.sizing":
        return set(forecaster_modules())
    return set()


def stage_code(src: Path, module: str) -> set[Path]:
    """Every file a stage runs: :func:`closure` of its module and, for a stage that runs
    other stages (:func:`gafcnn.registry.runs`), of theirs."""
    from gafcnn.registry import runs

    files = closure(src, module)
    for stage in runs(module):
        files |= closure(src, stage.module)
    return files


def closure(src: Path, module: str) -> set[Path]:
    """Files of ``module`` and of every ``gafcnn`` module it reaches, with each
    package ``__init__`` on the way."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo.extend(".".join(parts[:k]) for k in range(1, len(parts)))
        todo.extend(direct_imports(src, m) - seen)
    return {f for m in seen if (f := module_file(src, m)) is not None}


def modules(src: Path) -> list[str]:
    """Every ``gafcnn`` module under ``src`` (a package by its name)."""
    files = sorted((src / PACKAGE).rglob("*.py"))
    return [".".join(f.with_suffix("").relative_to(src).parts).removesuffix(".__init__")
            for f in files]  # fmt: skip


def cycles(src: Path, level: int | None = None) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (each
    sorted; none in a package whose layers point one way); with ``level``, of the
    packages named by their first ``level`` parts (2: ``gafcnn.serving``)."""

    def name(m: str) -> str:
        return m if level is None else ".".join(m.split(".")[:level])

    graph: dict[str, set[str]] = {}
    for m in modules(src):
        graph.setdefault(name(m), set()).update(name(d) for d in direct_imports(src, m))
    return _strongly_connected({k: v - {k} for k, v in graph.items()})


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The components of more than one node (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, edges = work[-1]
            nxt = next((w for w in edges if w not in index or w in stack), None)
            if nxt is not None and nxt not in index:
                index[nxt] = low[nxt] = len(index)
                stack.append(nxt)
                work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                continue
            if nxt is not None:
                low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = stack[stack.index(node) :]
                del stack[stack.index(node) :]
                if len(group) > 1:
                    found.append(sorted(group))
    return sorted(found)


def _covers(dep: str, rel: str) -> bool:
    return rel == dep or rel.startswith(dep.rstrip("/") + "/")


def served_files(stages: dict) -> list[str]:
    """The fitted files the bundle ships: each served model's stage's outputs under
    ``models/`` (a matrix stage's as their folder), which a stage that loads or
    writes a bundle depends on."""
    from gafcnn.registry import served

    files: list[str] = []
    for model in served():
        for out in stages.get(model.stage.name, {}).get("outs", []):
            name = out if isinstance(out, str) else next(iter(out))
            if "${" in name:
                name = name[: name.index("${")].rsplit("/", 1)[0]
            if name.startswith("models/") and name not in files:
                files.append(name)
    return files


def fix_deps(root: Path, name: str = PIPELINE) -> dict[str, list[str]]:
    """Rewrite the code deps of every stage in ``root/dvc.yaml`` to exactly the files
    :func:`stage_code` finds (named from the stage's ``wdir``), and add
    :func:`served_files` to a stage that serves (other deps and the file's layout
    kept); returns the changes per stage (``+file``, ``-file``)."""
    import re

    import yaml

    text = (root / name).read_text()
    stages = yaml.safe_load(text)["stages"]
    lines, out, changes, stage, i = text.splitlines(keepends=True), [], {}, None, 0
    while i < len(lines):
        line, i = lines[i], i + 1
        out.append(line)
        if (m := re.match(r"^  (\w+):\s*$", line)) and m.group(1) in stages:
            stage = m.group(1)
        if stage is None or not re.match(r"^    deps:\s*$", line):
            continue
        deps = []
        while i < len(lines) and lines[i].startswith("      - "):
            deps.append(lines[i].strip()[2:].strip())
            i += 1
        module = re.match(r"python -m (gafcnn\.stages\.\w+)", stages[stage]["cmd"])
        if module is None:
            out += [f"      - {d}\n" for d in deps]
            continue
        src = code_prefix(stages[stage])
        needed = [src + f.relative_to(root / "src").as_posix()
                  for f in stage_code(root / "src", module[1])]  # fmt: skip
        kept = [d for d in deps if not d.startswith(src) or any(_covers(d, f) for f in needed)]
        code = [d for d in kept if d.startswith(src)]
        added = sorted(f for f in needed if not any(_covers(d, f) for d in code))
        data = [d for d in kept if d not in code]
        own = closure(root / "src", module[1])  # not the stages it runs on their own models
        if any(f.name == "served.py" and f.parent.name == "serving" for f in own):
            added += [f for f in served_files(stages) if not any(_covers(d, f) for d in data)]
        out += [f"      - {d}\n" for d in code + [a for a in added if a.startswith(src)] + data
                + [a for a in added if not a.startswith(src)]]  # fmt: skip
        if diff := [f"+{f}" for f in added] + [f"-{d}" for d in deps if d not in kept]:
            changes[stage] = diff
    (root / name).write_text("".join(out))
    return changes


def main() -> None:
    """``python -m gafcnn.depgraph [ROOT]``: list every stage's code deps in dvc.yaml."""
    import sys

    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    for stage, diff in fix_deps(root).items():
        print(f"{stage}: {' '.join(diff)}")


if __name__ == "__main__":
    main()
