"""One executor for independent fits, on an existing engine.

The unit of work is one fit (a walk-forward or CPCV fold, a symbol's retrain): a
picklable task given to a top-level function that returns its result and writes
nothing of the workspace; the stage's driver writes every output, in task order.

- ``runtime.engine: local`` (the default): ``runtime.workers`` worker processes of
  :mod:`concurrent.futures` (spawned; one worker runs the tasks in this process,
  one after another). No daemon, no port.
- ``runtime.engine: ray``, or ``RAY_ADDRESS`` set: each task a Ray task on the cluster
  at ``RAY_ADDRESS`` (a local one when unset), declaring ``runtime.threads`` CPUs and
  ``runtime.task_memory_gb`` of memory, retried by Ray when its worker dies
  (``runtime.retries`` times); each retry is logged by the driver. Ray is an optional
  extra (``pip install -e .[ray]``).

Every task runs with ``runtime.threads`` threads for torch, XGBoost, numba and BLAS
(the environment of the stages it starts), so tasks side by side do not oversubscribe
the cores.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gafcnn.params import Params, runtime_setting

THREAD_VARIABLES = ("GAFCNN_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")  # fmt: skip


@contextmanager
def thread_env(threads: int) -> Iterator[None]:
    """Every library's thread count set to ``threads`` in this process's environment
    (so in the stages a task starts) while a task runs, restored after it."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _call(fn: Callable[[Any], Any], item: Any, threads: int) -> Any:
    with thread_env(threads):
        return fn(item)


@dataclass(frozen=True)
class Executor:
    """Runs ``fn`` over tasks on the engine named (``local`` or ``ray``)."""

    engine: str = "local"
    workers: int = 1
    threads: int = 2
    memory_gb: float = 2.0
    retries: int = 3

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any],
            labels: Sequence[object] | None = None) -> list[Any]:  # fmt: skip
        """``fn`` of every task, in the tasks' order (``labels`` name them in logs)."""
        labels = list(labels) if labels is not None else list(range(len(tasks)))
        if self.engine == "ray":
            return _ray_map(self, fn, list(tasks), labels)
        if self.workers <= 1 or len(tasks) <= 1:
            return [_call(fn, t, self.threads) for t in tasks]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(self.workers, len(tasks)), mp_context=context) as pool:
            return list(pool.map(_call, [fn] * len(tasks), tasks, [self.threads] * len(tasks)))


def from_params(params: Params) -> Executor:
    """The executor ``runtime`` asks for (``GAFCNN_<KEY>`` overriding, as every runtime
    knob); ``RAY_ADDRESS`` in the environment selects Ray."""
    engine = "ray" if os.environ.get("RAY_ADDRESS") else runtime_setting(params, "engine")
    knob = lambda key: runtime_setting(params, key)  # noqa: E731
    return Executor(engine, knob("workers"), knob("threads"), knob("task_memory_gb"),
                    knob("retries"))  # fmt: skip


def _ray_map(ex: Executor, fn: Callable[[Any], Any], tasks: list, labels: list) -> list:
    """The tasks as Ray tasks, each retried by Ray when its worker dies; an actor counts
    each task's starts so that the driver logs every retry."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("runtime.engine: ray needs Ray: pip install -e '.[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 logging_level="warning", log_to_driver=True)  # fmt: skip
    starts = ray.remote(num_cpus=0)(Starts).remote()
    run = ray.remote(num_cpus=ex.threads, memory=int(ex.memory_gb * 2**30),
                     max_retries=ex.retries)(_ray_task)  # fmt: skip
    refs = [run.remote(fn, t, ex.threads, starts, str(k))
            for t, k in zip(tasks, labels, strict=True)]  # fmt: skip
    results = ray.get(refs)
    for label, n in sorted(ray.get(starts.counts.remote()).items()):
        if n > 1:
            print(f"executor: task {label} was retried by Ray ({n - 1} retries: its worker died)",
                  file=sys.stderr, flush=True)  # fmt: skip
    ray.kill(starts)
    return results


class Starts:
    """A Ray actor counting each task's starts (a retry starts it again)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def start(self, label: str) -> int:
        self.seen[label] = self.seen.get(label, 0) + 1
        return self.seen[label]

    def counts(self) -> dict[str, int]:
        return dict(self.seen)


def _ray_task(fn: Callable[[Any], Any], item: Any, threads: int, starts: Any, label: str) -> Any:
    import ray

    ray.get(starts.start.remote(label))
    return _call(fn, item, threads)
