"""One rank of the DDP training test (run by torchrun from tests/test_ddp.py).

Trains the small planted-pattern CNN of tests/test_training.py with :func:`fit` in a
gloo process group and writes what this rank ended with to ``<out>/rank<R>.npz``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from gafcnn.models.cnn import build_model
from gafcnn.models.device import seed_everything
from gafcnn.models.inference import predict
from gafcnn.models.sources import ImageSource
from gafcnn.models.training import fit
from gafcnn.params import TrainConfig


def data(n: int = 600, signal: bool = True, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noise images; the label is planted in channel 0's top-left 3x3 mean (or
    random, without ``signal``). Shared with tests/test_training.py."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 10, 10)).astype(np.float32)
    y = (
        (x[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(np.int8)
        if signal
        else rng.integers(0, 2, n).astype(np.int8)
    )
    return x, y


def main(out: Path, signal: bool) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    if signal:
        cfg = TrainConfig(width=8, epochs=15, patience=5, lr=3e-3, batch_size=32, seed=0)
    else:  # noise labels and a high learning rate: early stopping must end it
        cfg = TrainConfig(
            width=8, epochs=30, patience=3, lr=3e-3, dropout=0.0, batch_size=32, seed=3
        )
    seed_everything(cfg.seed, 1)
    x, y = data(600, signal, 0)
    xv, yv = data(301, signal, 1)  # odd: the ranks' shares of val differ in length
    model = build_model("simple_cnn", 2, cfg.width, cfg.dropout)
    device = torch.device("cpu")
    result = fit(model, ImageSource(x, y), ImageSource(xv, yv), cfg, device)
    p = predict(model, ImageSource(xv, yv), 64, device)
    weights = torch.cat([t.detach().flatten().double() for t in model.state_dict().values()])
    np.savez(
        out / f"rank{rank}.npz",
        best_epoch=result.best_epoch,
        epochs_run=result.epochs_run,
        val_loss=np.array([h["val_loss"] for h in result.history]),
        seen=np.array([h["train_samples_per_s"] > 0 for h in result.history]),
        weights=weights.numpy(),
        accuracy=np.mean((p >= 0.5) == (yv == 1)),
        world=dist.get_world_size(),
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] == "signal")
