"""Models are declared once, in gafcnn.registry: no other module spells a model name,
the registry's order is the evaluate table's, and its stages are dvc.yaml's."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import yaml
from pipeline import MARKET

from gafcnn import registry

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "gafcnn"
# params.py owns the section names (some equal a model's stage, e.g. `hybrid`)
OWNERS = {SRC / "registry.py", SRC / "params.py"}
WINDOWED = re.compile(
    "^({})\\d+$".format("|".join(
        re.escape(m.name.split("{w}")[0])
        for m in (*registry.SCORED, registry.MAJORITY_W) if m.per_window
    ))
)  # fmt: skip
PREFIXES = tuple(m.name.split("{w}")[0] for m in registry.SCORED if m.per_window) + (
    "majority_w", "ensemble_", "p_cnn_w")  # fmt: skip


def _names() -> set[str]:
    names = set(registry.expand(registry.SCORED, [15, 30, 60])) | {registry.ORACLE}
    return names | {m.name for m in registry.ENSEMBLE_METHODS.values()}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            out.add(id(first.value))
    return out


def spelled_names(path: Path) -> list[tuple[int, str]]:
    """(line, literal) for each string in ``path`` that spells a model name (or builds
    one, as ``f"cnn_w{w}"``), docstrings aside."""
    tree = ast.parse(path.read_text())
    docs, names, found = _docstrings(tree), _names(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.Constant) and str(part.value).endswith(PREFIXES):
                    found.append((node.lineno, f"f{part.value!r}..."))
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            and (node.value in names or WINDOWED.match(node.value))
        ):  # fmt: skip
            found.append((node.lineno, repr(node.value)))
    return sorted(found)


def test_no_model_name_outside_the_registry():
    found = [
        f"{f.relative_to(REPO)}:{line}: {literal}"
        for f in sorted(SRC.rglob("*.py"))
        if f not in OWNERS
        for line, literal in spelled_names(f)
    ]
    assert not found, "model names spelled outside gafcnn.registry:\n" + "\n".join(found)


def test_the_check_finds_a_spelled_name(tmp_path):
    f = tmp_path / "example.py"
    f.write_text('"""cnn_w15 in a docstring"""\nNAMES = ("xgb_indicators",)\n'
                 'x = f"cnn_w{15}"\ny = "cnn_w30"\n')  # fmt: skip
    assert spelled_names(f) == [(2, "'xgb_indicators'"), (3, "f'cnn_w'..."), (4, "'cnn_w30'")]


def test_scored_order_is_the_evaluate_tables():
    table = json.loads((REPO / MARKET / "metrics" / "evaluate.json").read_text())["table"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    names = registry.scored(params["gaf"]["windows"], params["ensemble"]["method"])
    assert list(names) == [m for m in table if m != registry.ORACLE]
    assert names[registry.ENSEMBLE.name] == registry.configured_ensemble("weighted")
    assert names[registry.MAJORITY.name] == registry.MAJORITY_W.at(15)


def test_pipeline_stages_are_dvc_yamls_in_order():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    order = [s for s in stages if s in {p.name for p in registry.PIPELINE}]
    assert order == [p.name for p in registry.PIPELINE]
    for p in registry.PIPELINE:
        assert ("window" in stages[p.name]["matrix"]) == p.per_window, p.name
        assert stages[p.name]["cmd"].startswith(f"python -m {p.module}")
    assert {m.stage for m in (*registry.SCORED, registry.MAJORITY_W)} <= set(registry.PIPELINE)


def test_model_of_maps_names_back():
    assert registry.model_of("cnn_w15") is registry.CNN
    assert registry.model_of("logreg_returns_w60") is registry.LOGREG_RETURNS
    assert registry.model_of("hybrid") is registry.HYBRID
    assert registry.model_of("cnn_wx") is None and registry.model_of("nope") is None
    assert registry.windows_of(["cnn_w30", "xgb_indicators", "cnn_w15"], registry.CNN) == [30, 15]
    assert registry.TRAIN.commands([15, 30]) == [
        ["gafcnn.stages.train", "--window", "15"],
        ["gafcnn.stages.train", "--window", "30"],
    ]
