"""Which ``gafcnn`` modules a module imports, transitively (as the source says).

Imports are read from the syntax tree, so imports inside functions count too. Used
by the test that every DVC stage depends on every library file its code runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "gafcnn"


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
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(src, m) is not None}


def stage_code(src: Path, module: str) -> set[Path]:
    """Every file a stage runs: :func:`closure` of its module and, for a stage that runs
    other stages (:data:`gafcnn.registry.RUNNERS`), of theirs."""
    from gafcnn.registry import RUNNERS

    files = closure(src, module)
    for stage in RUNNERS.get(module, ()):
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
