"""DDP training on CPU: two gloo processes launched by torchrun, as the train stage
launches them with ``nproc: 2``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pipeline import env

from gafcnn.stages.train import torchrun_command

WORKER = Path(__file__).with_name("ddp_worker.py")


def _torchrun(tmp_path: Path, mode: str) -> list[dict]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    proc = subprocess.run(
        [*cmd, str(WORKER), str(tmp_path), mode],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [dict(np.load(tmp_path / f"rank{r}.npz")) for r in (0, 1)]


# noise (early stopping agreed by both ranks) is slow; signal keeps the ranks in make test
@pytest.mark.parametrize("mode", ["signal", pytest.param("noise", marks=pytest.mark.slow)])
def test_ranks_agree_on_every_epoch_and_the_weights(tmp_path, mode):
    r0, r1 = _torchrun(tmp_path, mode)
    assert r0["world"] == r1["world"] == 2
    assert r0["best_epoch"] == r1["best_epoch"] and r0["epochs_run"] == r1["epochs_run"]
    np.testing.assert_array_equal(r0["val_loss"], r1["val_loss"])
    np.testing.assert_array_equal(r0["weights"], r1["weights"])  # same best epoch restored
    if mode == "signal":  # the planted pattern is learnt, as in one process
        assert r0["accuracy"] > 0.8
    else:  # early stopping ended training before the epoch limit, on both ranks
        assert r0["epochs_run"] == r0["best_epoch"] + 3 < 30


def test_torchrun_command():
    cmd = torchrun_command(30, 4)
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert "--nproc-per-node=4" in cmd and cmd[-3:] == ["gafcnn.stages.train", "--window", "30"]
    nodes = torchrun_command(15, 2, "--nnodes 2 --node-rank 1 --rdzv-endpoint h:29400")
    assert "--standalone" not in nodes and nodes[3:9] == [
        "--nnodes", "2", "--node-rank", "1", "--rdzv-endpoint", "h:29400",
    ]  # fmt: skip
