"""Atomic file output, parameter loading and the one error type for bad input.

Every stage writes through these helpers so that a failure never leaves a
half-written file behind: content goes to a temporary file in the target's
directory and is renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gafcnn import paths


class InputError(Exception):
    """Bad input: names the file, optionally the line, and what is wrong."""

    def __init__(self, path: str | os.PathLike[str], message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class InputErrors(InputError):
    """Several independent input errors found together; reported one per line."""

    def __init__(self, errors: list[InputError]):
        if not errors:
            raise ValueError("InputErrors needs at least one error")
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.path, first.message, first.line)
        self.args = ("\n".join(str(e) for e in self.errors),)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_dir_public(path: str | os.PathLike[str]) -> None:
    """Give a directory made by ``tempfile.mkdtemp`` (0700) the usual permissions."""
    os.chmod(path, 0o777 & ~_umask())


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path``
    (as :func:`atomic_path` does for a file). On any exception it is removed and
    ``path`` is left untouched."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        make_dir_public(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def json_clean(obj: Any) -> Any:
    """Turn numpy scalars/arrays and non-finite floats (as null) into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): json_clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return json_clean(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (numpy values converted)."""
    write_bytes(path, (json.dumps(json_clean(obj), indent=2) + "\n").encode())


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_torch(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` whose bytes depend only on ``obj``.

    torch's zip archive records the name of the file it is written to; saving to a
    buffer keeps the temporary name of the atomic write out of the archive, so the
    same weights give the same file (and DVC sees an unchanged output).
    """
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def save_xgb(model: Any, path: str | os.PathLike[str]) -> None:
    """An XGBoost model (sklearn wrapper or Booster) as UBJSON, written atomically."""
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    write_bytes(path, bytes(booster.save_raw(raw_format="ubj")))


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


PARQUET_ROW_GROUP = 1 << 16  # rows per row group: a reader decodes one group at a time


def release_arrow_memory() -> None:
    """Hand back to the OS what pyarrow's allocator holds for reuse: the buffers of
    frames read from parquet (their string columns live there) stay with it once freed,
    so a stage that drops a large read then allocates would peak at both."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def write_parquet(df: Any, path: str | os.PathLike[str]) -> None:
    """Write a DataFrame to parquet atomically, without the pandas index, in row groups
    of ``PARQUET_ROW_GROUP`` rows (so reading a batch never decodes the whole file)."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow", row_group_size=PARQUET_ROW_GROUP)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main; turn an InputError into one line on stderr (one per error of
    an :class:`InputErrors`) and exit code 1. A DVC stage's wall time goes to the
    untracked timings file (``wall/<stage>``) with its peak memory and that of its
    largest child process."""
    start = time.perf_counter()
    try:
        main()
    except InputError as exc:
        for err in getattr(exc, "errors", [exc]):
            print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    stage = stage_name()
    if stage is not None:
        wall = time.perf_counter() - start
        memory = {"peak_rss_mb": peak_rss_mb(), "children_peak_rss_mb": children_peak_rss_mb()}
        record_timings(f"wall/{stage}", {"wall_s": wall, **memory})


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB. On Linux from ``VmHWM``, which
    starts afresh at ``exec``; ``ru_maxrss`` survives ``exec`` and would count the
    parent that spawned the measurement (a large evaluate stage) as the server's."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """The peak resident memory in MB of the largest process this one has waited
    for (a stage's scratch pipeline runs its stages as children)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def stage_name() -> str | None:
    """The DVC stage this process runs (``train@15`` for ``python -m gafcnn.stages.train
    --window 15`` in a market's folder, ``ingest@BTCUSDT`` for ``--symbol BTCUSDT``),
    or None outside a stage."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    module = getattr(spec, "name", "") or ""
    if not module.startswith("gafcnn.stages."):
        return None
    name = module.removeprefix("gafcnn.stages.")
    for flag in ("--window", "--symbol"):  # a matrix stage: its entry
        if flag in sys.argv[:-1]:
            name += f"@{sys.argv[sys.argv.index(flag) + 1]}"
    return name


def write_csv(df: Any, path: str | os.PathLike[str]) -> None:
    """Write a DataFrame as CSV atomically, without the index."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def save_figure(fig: Any, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=kwargs.pop("dpi", 90), **kwargs)
    plt.close(fig)
    return Path(path)


def record_timings(stage: str, values: dict[str, Any], path: str | None = None) -> None:
    """Merge one stage's timings (speed, wall time, latency, RSS) into the untracked,
    git-ignored timings file. Timings never go into a tracked output."""
    target = Path(path or paths.TIMINGS)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_name(f".{target.name}.lock")
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # stages of a parallel `dvc exp` queue share it
        try:
            current = read_json(target) if target.exists() else {}
        except json.JSONDecodeError:
            current = {}
        current[stage] = json_clean(values)
        write_json(target, current)
