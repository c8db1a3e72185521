"""The team remote, for real: an S3 server (rclone) on 127.0.0.1, `dvc push` from one
clone, `dvc pull` into a fresh one, the inference benchmark there without retraining;
and experiments shared through a bare git repository plus the same remote."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from pipeline import MARKET, REPO, dvc, env, run, scratch_project

KEY, SECRET = "gafcnn-test", "gafcnn-test-secret"


def _rclone() -> str | None:
    here = Path(sys.executable).parent / "rclone"
    return str(here) if here.exists() else shutil.which("rclone")


pytestmark = pytest.mark.skipif(
    _rclone() is None, reason="rclone not installed (pip install -r requirements-dev.txt)"
)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A real S3-compatible server storing objects as files; stopped after the module."""
    store = tmp_path_factory.mktemp("s3")
    (store / "gafcnn").mkdir()  # the bucket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [_rclone(), "serve", "s3", "--addr", f"127.0.0.1:{port}",
         "--auth-key", f"{KEY},{SECRET}", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.time() + 20
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"rclone serve s3 did not start: {proc.stderr.read()[-500:]}")
    yield f"http://127.0.0.1:{port}", store
    proc.terminate()
    proc.wait(timeout=10)


def use_remote(root: Path, endpoint: str) -> None:
    """The committed remote (.dvc/config, .dvc/s3-local.ini) with this server's port;
    credentials only in config.local, as docs/review.md says."""
    shutil.copy(REPO / ".dvc" / "s3-local.ini", root / ".dvc" / "s3-local.ini")
    committed = (REPO / ".dvc" / "config").read_text()
    (root / ".dvc" / "config").write_text(committed.replace("http://127.0.0.1:9000", endpoint))
    dvc(root, "remote", "modify", "--local", "storage", "access_key_id", KEY)
    dvc(root, "remote", "modify", "--local", "storage", "secret_access_key", SECRET)


def test_push_pull_round_trip_serves_the_models(project, s3, tmp_path):
    endpoint, store = s3
    use_remote(project, endpoint)
    assert KEY not in (project / ".dvc" / "config").read_text()  # secrets stay out of git
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "pipeline outputs", "--allow-empty"], project)
    out = dvc(project, "push").stdout
    assert "pushed" in out
    assert any((store / "gafcnn" / "store").rglob("*"))  # objects are files on the server

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    assert not (clone / "models" / "cnn" / "w15.pt").exists()
    missing = subprocess.run(
        [sys.executable, "benchmarks/inference.py"], cwd=clone, capture_output=True, text=True
    )
    err = missing.stderr.strip().splitlines()
    assert missing.returncode == 1 and len(err) == 1 and "dvc pull" in err[0], err
    use_remote(clone, endpoint)
    dvc(clone, "pull")
    status = dvc(clone, "status").stdout
    assert "up to date" in status, status
    bench = subprocess.run(
        [sys.executable, "-m", "gafcnn.serving.latency", "--singles", "20", "--batch", "64"],
        cwd=clone / MARKET, capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=str(clone / "src")),
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    assert '"latency_ms_p99"' in bench.stdout


@pytest.mark.slow  # 18 s; the push/pull round trip above keeps the remote in `make test`
def test_experiments_round_trip(s3, tmp_path):
    endpoint, _ = s3
    root = scratch_project(tmp_path, **{"data.synthetic.n_bars": 5000})
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", str(bare)], tmp_path)
    run(["git", "remote", "add", "origin", str(bare)], root)
    use_remote(root, endpoint)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "remote"], root)
    run(["git", "push", "-q", "origin", "HEAD:main"], root)
    dvc(root, "exp", "run", "-n", "shorter-val", "-S", "split.val=0.1", "-S", "split.test=0.2",
        "split")  # fmt: skip
    dvc(root, "exp", "push", "origin", "shorter-val")

    other = tmp_path / "other"
    run(["git", "clone", "-q", "-b", "main", str(bare), str(other)], tmp_path)
    use_remote(other, endpoint)
    dvc(other, "exp", "pull", "origin", "shorter-val")
    shown = dvc(other, "exp", "show", "--md", "--drop", ".*", "--keep", "Experiment",
                "--keep", "split.val", "--keep", "val.bars").stdout  # fmt: skip
    row = next(line for line in shown.splitlines() if "shorter-val" in line)
    assert "0.1" in row
    # its outputs came through the remote: the cache holds what its dvc.lock records
    ref = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], other).stdout.split()
    lock = yaml.safe_load(run(["git", "show", f"{ref[0]}:dvc.lock"], other).stdout)
    outs = {o["path"]: o["md5"] for o in lock["stages"]["split"]["outs"]}
    md5 = outs["data/interim/split.json"]
    assert (other / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).exists()


# a 60 MB multipart upload: slow; the other round trips keep the remote in the fast suite
@pytest.mark.slow
def test_large_files_round_trip(s3, tmp_path):
    """Files uploaded in parts (over ~50 MB, like a long history's image sets) come back
    intact: the committed remote settings get past rclone's part checksums, and
    `verify` makes DVC check every download's md5."""
    endpoint, _ = s3
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    run(["git", "init", "-q"], a)
    run(["git", "config", "user.email", "test@example.com"], a)
    run(["git", "config", "user.name", "test"], a)
    dvc(a, "init", "-q")
    use_remote(a, endpoint)
    run(["git", "add", "-A"], a)
    run(["git", "commit", "-qm", "remote"], a)
    run(["git", "clone", "-q", str(a), str(b)], tmp_path)
    use_remote(b, endpoint)
    rng = np.random.default_rng(0)
    for k in range(2):  # each pulled right after its push, as a reviewer would
        (a / "big.bin").write_bytes(rng.bytes(75_000_000 + k))
        dvc(a, "add", "big.bin")
        run(["git", "add", "-A"], a)
        run(["git", "commit", "-qm", f"big {k}"], a)
        dvc(a, "push")
        run(["git", "pull", "-q"], b)
        dvc(b, "pull")
        assert (b / "big.bin").read_bytes() == (a / "big.bin").read_bytes()


@pytest.mark.slow
def test_two_workers_and_a_coordinator(s3, tmp_path):
    """The grid on several machines: a bare git origin and the S3 remote, two worker
    clones running different configs at the same time (`gafcnn.experiments.grid worker`, as
    `make worker EXPS=...` runs it), and a coordinator that pulls both
    (`gafcnn.experiments.grid collect`) and lists them in `dvc exp show` and the grid report."""
    endpoint, _ = s3
    root = scratch_project(
        tmp_path,
        **{"data.synthetic.n_bars": 8000, "gaf.windows": [15, 30], "epochs": 2, "width": 8,
           "patterns.synthetic.n_bars": 60000, "patterns.per_class": 200,
           "patterns.real_per_class": 100, "patterns.epochs": 1, "patterns.width": 8},
    )  # fmt: skip
    bare = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", str(bare)], tmp_path)
    run(["git", "remote", "add", "origin", str(bare)], root)
    use_remote(root, endpoint)
    dvc(root, "repro")
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "baseline"], root)
    run(["git", "push", "-q", "origin", "HEAD:main"], root)
    dvc(root, "push")

    def clone(name: str) -> Path:
        path = tmp_path / name
        run(["git", "clone", "-q", "-b", "main", str(bare), str(path)], tmp_path)
        run(["git", "config", "user.email", "test@example.com"], path)
        run(["git", "config", "user.name", name], path)
        use_remote(path, endpoint)
        return path

    workers = {"conv1d": clone("worker1"), "mtf": clone("worker2")}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "gafcnn.experiments.grid", "worker", "--only", name],
            cwd=path,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for name, path in workers.items()
    }
    for name, proc in procs.items():  # both run at once, each in its own clone
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"worker {name}:\n{out[-3000:]}"
        assert f"dvc exp push origin {name}" in out
    for path in workers.values():  # a worker's workspace stays the baseline
        assert run(["git", "status", "--porcelain", "params.yaml"], path).stdout == ""

    coord = clone("coordinator")
    out = run(
        [sys.executable, "-m", "gafcnn.experiments.grid", "collect", "--only", "conv1d,mtf"], coord
    )
    shown = dvc(coord, "exp", "show", "--md", "--drop", ".*", "--keep", "Experiment").stdout
    assert "conv1d" in shown and "mtf" in shown
    report = json.loads((coord / "reports" / "grid.json").read_text())
    assert [r["experiment"] for r in report["experiments"]] == ["baseline", "conv1d", "mtf"]
    assert report["missing"] == {}
    assert report["experiments"][1]["changed"] == {"arch": "conv1d"}
    assert report["experiments"][2]["changed"] == {"gaf.channels": ["gasf", "gadf", "mtf"]}
    assert "| mtf |" in out.stdout
