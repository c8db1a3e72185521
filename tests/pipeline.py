"""Helpers to run the real DVC pipeline in a scratch copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
MARKET = Path("markets") / "BTCUSDT"  # the default one-symbol run's market folder


def env() -> dict[str, str]:
    """The environment stage commands need: this interpreter's bin first on PATH."""
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    e.pop("DVC_ROOT", None)
    return e


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def overridden(params: dict, **overrides: object) -> dict:
    """``params`` (a params.yaml mapping, changed in place) with values set by dotted keys
    (``{"evaluate.costs.fee_bps": 1}``)."""
    for key, value in overrides.items():
        node = params
        *path, last = key.split(".")
        for part in path:
            node = node[part]
        node[last] = value
    return params


def set_params(root: Path, **overrides: object) -> None:
    """Override ``root``'s params.yaml by dotted keys (``{"evaluate.costs.fee_bps": 1}``)."""
    params = overridden(yaml.safe_load((root / "params.yaml").read_text()), **overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def scratch_project(tmp: Path, **overrides: object) -> Path:
    """A git + DVC project with this repo's pipeline and code; params overridden by
    dotted keys (``{"data.synthetic.n_bars": 8000}``)."""
    root = tmp / "proj"
    root.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "benchmarks", root / "benchmarks")
    (root / "data" / "external").mkdir(parents=True)
    (root / "data" / "external" / ".gitkeep").touch()
    set_params(root, **overrides)
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.email", "test@example.com"], root)
    run(["git", "config", "user.name", "test"], root)
    run([sys.executable, "-m", "dvc", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "scratch"], root)
    return root


def dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], root, check=check)


def metrics(root: Path, name: str, market: Path | None = MARKET) -> dict:
    """A stage's metrics in ``market``'s folder (None: the project's own, universe.json)."""
    folder = root if market is None else root / market
    return json.loads((folder / "metrics" / f"{name}.json").read_text())


def volatile(bars: pd.DataFrame, factor: float) -> pd.DataFrame:
    """``bars`` rebuilt after their last bar, each bar's log return and range ``factor``
    times as large (volume as it was): the same market, ``factor`` x as volatile."""
    close = bars["close"].to_numpy()
    r = np.diff(np.log(close), prepend=np.log(bars["open"].iloc[0])) * factor
    new_close = close[-1] * np.exp(np.cumsum(r))
    new_open = np.r_[close[-1], new_close[:-1]]
    top = np.log(bars["high"] / np.maximum(bars["open"], bars["close"])).to_numpy() * factor
    bottom = np.log(np.minimum(bars["open"], bars["close"]) / bars["low"]).to_numpy() * factor
    step = pd.Timedelta(minutes=len(bars))
    return pd.DataFrame({
        "timestamp": bars["timestamp"] + step,
        "open": new_open, "close": new_close,
        "high": np.maximum(new_open, new_close) * np.exp(top),
        "low": np.minimum(new_open, new_close) * np.exp(-bottom),
        "volume": bars["volume"].to_numpy(),
    })  # fmt: skip
