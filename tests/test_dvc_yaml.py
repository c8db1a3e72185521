"""dvc.yaml against the code: every stage depends on all the code it runs (named from
its folder: a market's stages from ``markets/<symbol>``), lists exactly the params it
may read, and names no window or symbol by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gafcnn.depgraph import (
    PIPELINE,
    closure,
    code_prefix,
    direct_imports,
    fix_deps,
    served_files,
    stage_code,
)

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
STAGES = yaml.safe_load((REPO / PIPELINE).read_text())["stages"]
SPEED_ONLY = {"runtime", "threads", "gaf.chunk", "gaf.threads", "xgb.n_jobs", "hybrid.n_jobs",
              "evaluate.inference_singles", "patterns.threads"}  # fmt: skip


def stage_module(stage: dict) -> str:
    m = re.match(r"python -m (gafcnn\.stages\.\w+)", stage["cmd"])
    assert m, f"stage command {stage['cmd']!r} does not run a gafcnn stage module"
    return m.group(1)


def as_dep(file: Path, stage: dict) -> str:
    """``file`` (under src/) as the stage's deps name it, from its folder."""
    return code_prefix(stage) + file.relative_to(SRC).as_posix()


def covered(file: Path, deps: list[str], stage: dict) -> bool:
    rel = as_dep(file, stage)
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_every_module_it_imports(name):
    stage = STAGES[name]
    deps = [str(d) for d in stage["deps"]]
    needed = stage_code(SRC, stage_module(stage))
    missing = sorted(as_dep(f, stage) for f in needed if not covered(f, deps, stage))
    assert not missing, f"stage {name} imports modules missing from its deps: {missing}"
    listed = {d for d in deps if d.startswith(code_prefix(stage))}
    unused = sorted(d for d in listed if not any(covered(f, [d], stage) for f in needed))
    assert not unused, f"stage {name} depends on code it never imports: {unused}"


def test_import_walk_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "gafcnn"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from gafcnn import b\n    return b\n")
    (pkg / "b.py").write_text("from .sub import c\n")
    (pkg / "sub" / "c.py").write_text("import numpy\n")
    assert direct_imports(tmp_path, "gafcnn.a") == {"gafcnn", "gafcnn.b"}
    files = {f.relative_to(tmp_path).as_posix() for f in closure(tmp_path, "gafcnn.a")}
    assert files == {"gafcnn/__init__.py", "gafcnn/a.py", "gafcnn/b.py",
                     "gafcnn/sub/__init__.py", "gafcnn/sub/c.py"}  # fmt: skip


def _lookup(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"{dotted} is not in params.yaml"
        node = node[part]
    return node


def listed(stage: dict) -> list[tuple[str, str]]:
    """Each param a stage lists, with the file it is read from (as the stage names it)."""
    out = []
    for entry in stage.get("params", []):
        if isinstance(entry, str):
            out.append(("params.yaml", entry))
        else:
            out += [(file, key) for file, keys in entry.items() for key in keys]
    return out


@pytest.mark.parametrize("name", sorted(STAGES))
def test_listed_params_exist_and_are_not_speed_knobs(name):
    for _, p in listed(STAGES[name]):
        _lookup(PARAMS, p)
        assert p not in SPEED_ONLY and not p.startswith("runtime"), f"{name} lists {p}"
        if isinstance(_lookup(PARAMS, p), dict):
            inner = {f"{p}.{k}" for k in _lookup(PARAMS, p)}
            assert not inner & SPEED_ONLY, f"{name} lists {p}, which holds {inner & SPEED_ONLY}"


def _reads(module: str) -> set[str]:
    """Top-level params keys a stage module's source reads (``params["x"]``)."""
    files = closure(SRC, module)
    keys: set[str] = set()
    for f in files:
        keys |= set(re.findall(r"params\[\"(\w+)\"\]", f.read_text()))
        keys |= set(re.findall(r"params\.get\(\"(\w+)\"", f.read_text()))
    return keys


@pytest.mark.parametrize("name", sorted(STAGES))
def test_sections_a_stage_reads_are_listed(name):
    stage = STAGES[name]
    sections = {p.split(".")[0] for _, p in listed(stage)}
    reads = _reads(stage_module(stage)) & set(PARAMS)
    reads -= {"runtime"}
    if name == "train":  # TrainConfig reads the top-level CNN keys
        reads -= {"gaf", "label"}
    missing = reads - sections
    # a stage may read the `gaf` or `label` section only through keys it lists
    assert not missing, f"stage {name} reads params sections it does not list: {sorted(missing)}"


def test_speed_only_knobs_live_in_runtime():
    runtime = PARAMS["runtime"]
    assert {"threads", "gaf_chunk", "inference_singles"} <= set(runtime)
    for knob in SPEED_ONLY - {"runtime"}:
        with pytest.raises(AssertionError):
            _lookup(PARAMS, knob)


def test_windows_and_symbols_are_not_written_out_by_hand():
    text = (REPO / PIPELINE).read_text()
    for w in PARAMS["gaf"]["windows"]:
        assert not re.search(rf"w{w}\b|_{w}\b", text), f"dvc.yaml names window {w} by hand"
    for s in PARAMS["data"]["symbols"]:
        assert s not in text, f"dvc.yaml names symbol {s} by hand"
    top = yaml.safe_load(text)
    assert "metrics" not in top and "plots" not in top, "declare metrics/plots on their stages"


def test_a_market_stage_runs_in_its_folder_on_its_own_params():
    """Every stage but ingest, market and the cross-market ones runs once per symbol
    in ``markets/<symbol>`` (its params.yaml the `market` stage's); those at the root
    read the project's params.yaml."""
    root = {"ingest", "market", "pooled", "universe"}
    for name, stage in STAGES.items():
        symbol = "symbol" in stage.get("matrix", {})
        assert symbol == (name not in {"pooled", "universe"}), name
        assert stage.get("wdir") == (None if name in root else "markets/${item.symbol}"), name
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in STAGES["market"]["outs"]]
    assert outs == ["markets/${item.symbol}/params.yaml"]


@pytest.mark.parametrize("name", sorted(n for n, s in STAGES.items() if "wdir" in s))
def test_a_market_stage_reads_what_its_market_changes_from_its_own_file(name):
    """The keys the `market` stage writes per symbol (its symbol, split and trials)
    come from the market's params.yaml, every other param from the project's (the
    file the market's own lays its keys on), so `dvc status` sees a project edit on
    the stages it reaches; each lists ``data.symbols`` of its own file, which puts the
    `market` stage upstream of it."""
    own = {"data.symbols", "split", "evaluate.trials"}
    entries = listed(STAGES[name])
    assert {f for f, _ in entries} <= {"params.yaml", "../../params.yaml"}
    for file, key in entries:
        assert (key in own) == (file == "params.yaml"), (name, file, key)
    assert ("params.yaml", "data.symbols") in entries, name
    assert set(STAGES["market"]["params"]) >= own


def test_the_library_never_imports_a_stage():
    """Stages call the library; the library (everything outside gafcnn.stages) never
    imports a stage module."""
    modules = sorted(
        ".".join(f.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for f in (SRC / "gafcnn").rglob("*.py")
    )
    library = [m for m in modules if not m.startswith("gafcnn.stages")]
    assert "gafcnn.registry" in library and "gafcnn.serving.bundle" in library
    upward = {m: sorted(i for i in direct_imports(SRC, m) if i.startswith("gafcnn.stages"))
              for m in library}  # fmt: skip
    assert not {m: i for m, i in upward.items() if i}


def test_make_deps_finds_nothing_to_change(tmp_path):
    """`make deps` (gafcnn.depgraph.fix_deps) on the committed dvc.yaml is a no-op:
    every stage lists exactly its code, and the stages that load or write the bundle
    depend on every file it ships."""
    (tmp_path / "dvc.yaml").write_text((REPO / "dvc.yaml").read_text())
    (tmp_path / "src").symlink_to(SRC)
    assert fix_deps(tmp_path) == {}
    assert (tmp_path / "dvc.yaml").read_text() == (REPO / "dvc.yaml").read_text()
    for name in ("latency", "export"):
        assert set(served_files(STAGES)) <= set(STAGES[name]["deps"])


def test_make_deps_adds_what_is_missing_and_drops_what_is_unused(tmp_path):
    text = (REPO / "dvc.yaml").read_text()
    # the volatility, latency and export stages import serving/cnn.py
    text = text.replace("      - ../../src/gafcnn/serving/cnn.py\n", "")
    text = text.replace("      - src/gafcnn/stages/ingest.py\n", "      - src/gafcnn/cli.py\n")
    (tmp_path / "dvc.yaml").write_text(text)
    (tmp_path / "src").symlink_to(SRC)
    changes = fix_deps(tmp_path)
    assert changes == {"ingest": ["+src/gafcnn/stages/ingest.py", "-src/gafcnn/cli.py"],
                       "volatility": ["+../../src/gafcnn/serving/cnn.py"],
                       "latency": ["+../../src/gafcnn/serving/cnn.py"],
                       "export": ["+../../src/gafcnn/serving/cnn.py"]}  # fmt: skip
    fixed = yaml.safe_load((tmp_path / "dvc.yaml").read_text())["stages"]
    assert {n: set(s["deps"]) for n, s in fixed.items()} == {
        n: set(s["deps"]) for n, s in STAGES.items()
    }
