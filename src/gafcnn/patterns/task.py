"""The pattern experiment's settings and its train-then-predict step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from gafcnn.io import from_section
from gafcnn.patterns.labels import PATTERNS
from gafcnn.patterns.model import PatternCNN, fit_multiclass, predict_classes
from gafcnn.training import seed_everything

RUNS = ("real_only", "mixed")
CULR = ("gasf:close_rel", "gadf:close_rel", "gasf:upper_rel", "gasf:lower_rel",
        "gasf:body_rel", "gadf:body_rel")  # fmt: skip


@dataclass(frozen=True)
class PatternConfig:
    """The ``patterns`` section of params.yaml."""

    window: int = 10
    trend_bars: int = 5
    channels: list = field(default_factory=lambda: list(CULR))
    train_fraction: float = 0.7
    real_per_class: int = 600
    per_class: int = 3000
    synthetic: dict = field(default_factory=dict)
    width: int = 32
    hidden: int = 128
    dropout: float = 0.2
    lr: float = 0.003
    weight_decay: float = 0.0001
    batch_size: int = 128
    epochs: int = 30

    @classmethod
    def from_params(cls, params: dict) -> PatternConfig:
        return from_section(cls, params, "patterns")


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
