"""A CNN's outputs for every sample of a source, in order: P(up) from one logit, or the
arg-max class; under DDP each rank predicts one contiguous block and the blocks are
gathered."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from gafcnn.models.device import gather, rank_world, to_device
from gafcnn.models.sources import ArraySource, Source, batches


def outputs(logits: torch.Tensor, classes: int = 2) -> np.ndarray:
    """P(up) from one logit per sample, or the arg-max class of class logits."""
    if classes == 2:
        return torch.sigmoid(logits).double().cpu().numpy()
    return logits.argmax(dim=1).double().cpu().numpy()


def predict_with(
    fn: Callable[[np.ndarray], np.ndarray], source: Source, batch_size: int
) -> np.ndarray:
    """P(up) for every sample of ``source``, in order, from ``fn`` (inputs -> P(up))."""
    out = np.empty(len(source), dtype=np.float64)
    rng = np.random.default_rng(0)
    for idx in batches(np.arange(len(source)), max(batch_size, 512)):
        out[idx] = fn(source.batch(idx, False, rng))
    return out


@torch.no_grad()
def predict(model: nn.Module, source: Source, batch_size: int, device: torch.device) -> np.ndarray:
    """P(up) for every sample of ``source``, in order, from the torch ``model`` (float32:
    what the ONNX export is checked against)."""
    model.eval()
    return predict_with(
        lambda x: torch.sigmoid(model(to_device(x, device)).float()).double().cpu().numpy(),
        source,
        batch_size,
    )


@torch.no_grad()
def predict_classes(model: nn.Module, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """The arg-max class of each of the in-memory inputs ``x``."""
    model.eval()
    source = ArraySource(x, np.zeros(len(x), dtype=np.int64))
    fn = lambda b: model(torch.from_numpy(b)).argmax(dim=1).numpy()  # noqa: E731
    return predict_with(fn, source, batch_size).astype(np.int64)


class _Block(Source):
    """Samples ``start:stop`` of a source (one rank's share of a prediction)."""

    def __init__(self, source: Source, start: int, stop: int):
        self.source, self.start = source, start
        self.labels = source.labels[start:stop]

    def batch(self, idx: np.ndarray, augment: bool, rng: np.random.Generator) -> np.ndarray:
        return self.source.batch(idx + self.start, augment, rng)


def predict_shared(
    model: nn.Module, source: Source, batch_size: int, device: torch.device
) -> np.ndarray:
    """:func:`predict` with the samples split into one contiguous block per DDP rank and
    the results gathered, so every rank returns the same full array."""
    rank, world = rank_world()
    if world == 1:
        return predict(model, source, batch_size, device)
    per = -(-len(source) // world)
    start, stop = min(rank * per, len(source)), min((rank + 1) * per, len(source))
    part = np.zeros(per, dtype=np.float64)
    part[: stop - start] = predict(model, _Block(source, start, stop), batch_size, device)
    return gather(part, device).reshape(-1)[: len(source)]
