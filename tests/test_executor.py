"""The one executor of independent fits: tasks run in worker processes (or Ray tasks)
with the task's thread count, results come back in task order, and a walk-forward's
outputs are the same bytes whether its folds ran one after another, in two worker
processes, or on a two-node Ray cluster (slow; skipped without Ray)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from pipeline import MARKET, dvc, env, run, scratch_project

from gafcnn.executor import Executor, from_params
from gafcnn.io import InputError
from gafcnn.params import Params


def probe(x: int) -> tuple[int, str, int]:
    """A task: its result, the thread count its environment gives, and its process."""
    return x * x, os.environ["GAFCNN_THREADS"], os.getpid()


def test_workers_return_every_result_in_task_order_with_the_tasks_threads():
    tasks = [5, 1, 4, 2, 3]
    before = os.environ.get("GAFCNN_THREADS")
    serial = Executor("local", workers=1, threads=1).map(probe, tasks)
    pooled = Executor("local", workers=2, threads=1).map(probe, tasks)
    assert [r[0] for r in pooled] == [r[0] for r in serial] == [x * x for x in tasks]
    assert {r[1] for r in pooled} == {"1"}  # the stages a task starts read this
    assert all(r[2] != os.getpid() for r in pooled)  # run in worker processes
    assert all(r[2] == os.getpid() for r in serial)  # one worker: in this process
    assert os.environ.get("GAFCNN_THREADS") == before  # and its environment restored


def test_the_executor_follows_runtime_and_ray_address(monkeypatch):
    raw = {"runtime": {"workers": 3, "threads": 1, "engine": "local"}}
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ex = from_params(Params.from_dict(raw))
    assert (ex.engine, ex.workers, ex.threads) == ("local", 3, 1)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert from_params(Params.from_dict(raw)).engine == "ray"
    with pytest.raises(InputError, match="runtime.engine"):
        Params.from_dict({"runtime": {"engine": "dask"}})


HAS_RAY = importlib.util.find_spec("ray") is not None
SMALL_WALKFORWARD = {
    "data.synthetic.n_bars": 6000, "gaf.windows": [15, 30], "epochs": 1, "patience": 1,
    "width": 8, "walkforward.folds": 2, "minirocket.kernels": 84, "runtime.threads": 1,
}  # fmt: skip


def outputs(root: Path) -> dict[str, bytes]:
    """The walk-forward stage's outputs, byte for byte."""
    files = [root / MARKET / "metrics" / "walkforward.json"]
    files += sorted(f for f in (root / MARKET / "data" / "walkforward").rglob("*") if f.is_file())
    return {str(f.relative_to(root)): f.read_bytes() for f in files}


def walkforward(root: Path, **env: str) -> subprocess.CompletedProcess:
    """The walk-forward stage run again (forced: the runtime section reruns nothing)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return dvc(root, "repro", "-f", "-s", "walkforward")
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayCluster:
    """A two-node Ray cluster on this machine (head plus one worker node), stopped on
    exit. Its session folder is a short path of its own: Ray's sockets under a pytest
    folder would pass the 107-byte limit of a Unix socket path."""

    def __init__(self) -> None:
        self.ray = str(Path(sys.executable).parent / "ray")
        self.address = f"127.0.0.1:{free_port()}"
        self.tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
        self.env = dict(env(), RAY_USAGE_STATS_ENABLED="0", RAY_TMPDIR=self.tmp)

    def __enter__(self) -> RayCluster:
        common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
        port = self.address.split(":")[1]
        for cmd in (["start", "--head", f"--port={port}", "--include-dashboard=false"],
                    ["start", f"--address={self.address}"]):  # fmt: skip
            proc = subprocess.run([self.ray, *cmd, *common], env=self.env, capture_output=True,
                                  text=True, timeout=180)  # fmt: skip
            if proc.returncode != 0:
                self.__exit__()
                raise AssertionError(f"ray {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run([self.ray, "stop", "--force"], env=self.env, capture_output=True,
                       timeout=120)  # fmt: skip
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.mark.slow  # three walk-forward runs of two folds (several minutes)
def test_a_walkforward_is_the_same_bytes_serial_in_workers_and_on_ray(tmp_path):
    root = scratch_project(tmp_path, **SMALL_WALKFORWARD)
    dvc(root, "repro", "walkforward")
    serial = outputs(root)
    assert serial and b'"leak_checked_samples"' in serial[f"{MARKET}/metrics/walkforward.json"]
    walkforward(root, GAFCNN_WORKERS="2")
    assert outputs(root) == serial
    if not HAS_RAY:
        pytest.skip("Ray is not installed (pip install -e '.[ray]'): the Ray run is not checked")
    with RayCluster() as cluster:
        proc = walkforward(root, RAY_ADDRESS=cluster.address, RAY_USAGE_STATS_ENABLED="0")
        assert outputs(root) == serial
        assert "retried" not in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (pip install -e '.[ray]')")
def test_a_ray_worker_killed_mid_fold_is_retried_and_the_outputs_stay_the_same(tmp_path):
    root = scratch_project(tmp_path, **SMALL_WALKFORWARD)
    dvc(root, "repro", "walkforward")
    serial = outputs(root)
    with RayCluster() as cluster:
        cmd = [sys.executable, "-m", "dvc", "repro", "-f", "-s", "walkforward"]
        driver = dict(cluster.env, RAY_ADDRESS=cluster.address)
        proc = subprocess.Popen(cmd, cwd=root, env=driver, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        killed = kill_a_running_task(proc)
        out, err = proc.communicate(timeout=1800)
        assert proc.returncode == 0, err[-3000:]
    assert killed
    assert "was retried by Ray" in err + out
    assert outputs(root) == serial


def kill_a_running_task(proc: subprocess.Popen, wait_s: float = 300) -> bool:
    """SIGKILL the first Ray worker seen running a fold (its stage child with it)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and proc.poll() is None:
        found = run(["pgrep", "-f", "ray::_ray_task"], Path("."), check=False).stdout.split()
        if found:
            time.sleep(20)  # well into the fold's stages
            pid = int(found[0])
            children = run(["pgrep", "-P", str(pid)], Path("."), check=False).stdout.split()
            for p in [pid, *map(int, children)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
            return True
        time.sleep(1)
    return False
