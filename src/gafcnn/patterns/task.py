"""The pattern experiment's settings and its train-then-predict step."""

from __future__ import annotations

import numpy as np
import torch

from gafcnn.models.training import seed_everything
from gafcnn.params import PatternConfig
from gafcnn.patterns.labels import PATTERNS
from gafcnn.patterns.model import PatternCNN, fit_multiclass, predict_classes

RUNS = ("real_only", "mixed")


def train_and_test(
    cfg: PatternConfig,
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray,
    seed: int,
    threads: int = 2,
) -> tuple[PatternCNN, list[dict], np.ndarray]:
    """A PatternCNN standardised on and fitted to ``x``; its predictions on ``x_test``."""
    seed_everything(seed, threads)
    model = PatternCNN(x.shape[1], x.shape[2], cfg.width, cfg.dropout, len(PATTERNS), cfg.hidden)
    model.standardize.fit(torch.from_numpy(x))
    history = fit_multiclass(
        model, x, y, epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size,
        weight_decay=cfg.weight_decay, seed=seed, threads=threads,
    )  # fmt: skip
    return model, history, predict_classes(model, x_test)
