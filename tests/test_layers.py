"""The package's layers point one way: no two modules or packages import each other,
and no pipeline stage runs the live package (a fit does not depend on how a model
lives after it)."""

from __future__ import annotations

from pathlib import Path

from gafcnn.depgraph import cycles, stage_code

SRC = Path(__file__).resolve().parents[1] / "src"


def _package(src: Path, files: dict[str, str]) -> Path:
    for name, text in {"gafcnn/__init__.py": "", **files}.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return src


def test_no_two_modules_or_packages_import_each_other():
    assert cycles(SRC) == []
    assert cycles(SRC, level=2) == []


def test_the_check_finds_a_cycle_through_a_third_module_and_one_between_packages(tmp_path):
    src = _package(tmp_path / "one", {
        "gafcnn/a/__init__.py": "", "gafcnn/b/__init__.py": "",
        "gafcnn/a/x.py": "from gafcnn.b import y\n",
        "gafcnn/b/y.py": "from gafcnn import c\n",
        "gafcnn/c.py": "def late():\n    from gafcnn.a.x import thing\n",  # inside a function
        "gafcnn/d.py": "from gafcnn import c\n",
    })  # fmt: skip
    assert cycles(src) == [["gafcnn.a.x", "gafcnn.b.y", "gafcnn.c"]]
    assert cycles(src, level=2) == [["gafcnn.a", "gafcnn.b", "gafcnn.c"]]
    src = _package(tmp_path / "two", {
        "gafcnn/a/__init__.py": "", "gafcnn/b/__init__.py": "",
        "gafcnn/a/x.py": "from gafcnn.b.y import f\n",
        "gafcnn/b/z.py": "from gafcnn.a.w import g\n", "gafcnn/a/w.py": "", "gafcnn/b/y.py": "",
    })  # fmt: skip
    assert cycles(src) == []  # modules: no cycle; their packages import each other
    assert cycles(src, level=2) == [["gafcnn.a", "gafcnn.b"]]


def test_no_stage_runs_the_live_package():
    stages = sorted((SRC / "gafcnn" / "stages").glob("[!_]*.py"))
    assert len(stages) > 10
    for stage in stages:
        files = stage_code(SRC, f"gafcnn.stages.{stage.stem}")
        assert files and not [f for f in files if "live" in f.relative_to(SRC).parts], stage
