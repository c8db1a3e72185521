"""The pattern classifier and its training loop.

:class:`PatternCNN`: the answer sits at fixed pixels (the last bars), so two
convolutions keep full resolution and a dense head reads every position; a
:class:`Standardize` layer fitted on the training images scales each pixel, because
GAF values of small candle parts crowd near -1. It is trained with cross-entropy on a
fixed one-cycle schedule (:func:`fit_multiclass`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gafcnn.models.training import batches, seed_everything


class Standardize(nn.Module):
    """Per-pixel ``(x - mean) / std`` with statistics stored in the model (buffers)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, *shape))
        self.register_buffer("std", torch.ones(1, *shape))

    @torch.no_grad()
    def fit(self, x: torch.Tensor, floor: float = 1e-3) -> Standardize:
        """Set the statistics from training images ``x`` (N, *shape)."""
        self.mean.copy_(x.mean(dim=0, keepdim=True))
        self.std.copy_(x.std(dim=0, keepdim=True).clamp_min(floor))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PatternCNN(nn.Module):
    """Full-resolution CNN with a dense head; returns class logits (N, n_outputs)."""

    def __init__(
        self, in_channels: int, size: int, width: int = 32, dropout: float = 0.2,
        n_outputs: int = 9, hidden: int = 128,
    ):  # fmt: skip
        super().__init__()
        self.standardize = Standardize((in_channels, size, size))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(width * size * size, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.standardize(x)))


def fit_multiclass(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    seed: int,
    threads: int = 2,
) -> list[dict]:
    """Train class logits with cross-entropy on a fixed one-cycle schedule (no early
    stopping, so no held-out set is spent on choosing an epoch); returns per-epoch loss
    and training accuracy. Same seed, same weights."""
    seed_everything(seed, threads)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64))
    steps = max(1, -(-len(y) // batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        model.train()
        total, correct = 0.0, 0
        for idx in batches(rng.permutation(len(y)), batch_size):
            opt.zero_grad(set_to_none=True)
            logits = model(xt[idx])
            loss = loss_fn(logits, yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(dim=1) == yt[idx]).sum())
        history.append({"epoch": epoch + 1, "loss": total / len(y), "acc": correct / len(y)})
    model.eval()
    return history


def predict_classes(model: nn.Module, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Arg-max class of each image."""
    model.eval()
    out = []
    with torch.no_grad():
        for a in range(0, len(x), batch_size):
            out.append(model(torch.from_numpy(np.ascontiguousarray(x[a : a + batch_size]))))
    return torch.cat(out).argmax(dim=1).numpy() if out else np.zeros(0, dtype=np.int64)
