"""The training loop of every CNN (:func:`fit`): seeded, streamed, early-stopped when
it has a validation set.

One loop trains the direction CNNs (one logit, binary cross-entropy, early stopping on
validation loss) and the pattern CNNs (class logits, cross-entropy, every epoch on a
one-cycle schedule); :class:`Loop` says which. Batches come from a
:mod:`gafcnn.models.sources` source one batch at a time, so whole arrays are never
loaded; the device and DDP plumbing is :mod:`gafcnn.models.device`, inference
:mod:`gafcnn.models.inference`. Early stopping watches validation loss and restores
the best epoch's weights.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gafcnn.models.device import (
    autocast,
    gather,
    rank_world,
    shard,
    to_device,
)
from gafcnn.models.inference import outputs, predict_shared
from gafcnn.models.metrics import accuracy, log_loss
from gafcnn.models.sources import Source, batches
from gafcnn.params import TrainConfig


@dataclass(frozen=True)
class Loop:
    """How :func:`fit` trains. ``classes`` 2: one logit per sample, binary
    cross-entropy, outputs P(up); more: one logit per class, cross-entropy, outputs
    the arg-max class. ``patience`` stops early on the validation loss (with a
    validation set); ``one_cycle`` runs a one-cycle LR schedule over all epochs."""

    epochs: int
    lr: float
    batch_size: int
    weight_decay: float
    seed: int
    classes: int = 2
    optimizer: str = "adamw"
    momentum: float = 0.0
    patience: int | None = None
    one_cycle: bool = False
    imbalance: str = "none"
    augment: bool = False

    @classmethod
    def of(cls, cfg: TrainConfig) -> Loop:
        """The direction CNN's loop from its top-level params."""
        return cls(cfg.epochs, cfg.lr, cfg.batch_size, cfg.weight_decay, cfg.seed,
                   optimizer=cfg.optimizer, momentum=cfg.momentum, patience=cfg.patience,
                   imbalance=cfg.imbalance, augment=cfg.augment == "noise")  # fmt: skip


@dataclass
class TrainResult:
    best_epoch: int
    epochs_run: int
    best_val_loss: float
    history: list[dict] = field(default_factory=list)
    train_samples_per_s: float = 0.0
    wall_s: float = 0.0


def _epoch_order(labels: np.ndarray, imbalance: str, rng: np.random.Generator) -> np.ndarray:
    n = len(labels)
    if imbalance != "sampler":
        return rng.permutation(n)
    freq = np.bincount(labels, minlength=2).astype(np.float64)
    weights = 1.0 / np.maximum(freq[labels], 1)
    return rng.choice(n, size=n, replace=True, p=weights / weights.sum())


def loss_function(
    labels: np.ndarray, imbalance: str, device: torch.device, classes: int = 2
) -> nn.Module:
    """Cross-entropy over ``classes`` (binary on one logit; ``weights`` reweights the
    positive class)."""
    if classes > 2:
        return nn.CrossEntropyLoss()
    if imbalance == "weights":
        pos = max(int((labels == 1).sum()), 1)
        neg = max(int((labels == 0).sum()), 1)
        return nn.BCEWithLogitsLoss(pos_weight=torch.tensor(neg / pos, device=device))
    return nn.BCEWithLogitsLoss()


def make_optimizer(model: nn.Module, cfg: TrainConfig | Loop) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def train_epoch(
    model: nn.Module,
    source: Source,
    order: np.ndarray,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    device: torch.device,
    augment: bool,
    rng: np.random.Generator,
    classes: int = 2,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> tuple[float, int, np.ndarray]:
    """One pass over ``order``; returns (mean loss, samples seen, outputs in ``order``'s
    order as seen during training - running, with dropout active: P(up), or the
    arg-max class for more than two ``classes``). ``scheduler`` steps after each batch.

    Under DDP, ``order`` is the global order (a multiple of the world size long, see
    :func:`shard`): this rank trains on ``order[rank::world]`` in batches of
    ``ceil(batch_size / world)``, so one optimiser step still sees about
    ``batch_size`` samples; loss and P(up) are gathered from every rank."""
    rank, world = rank_world()
    local = order[rank::world]
    size = -(-batch_size // world)
    model.train()
    total, seen = 0.0, 0
    probs = np.empty(len(local), dtype=np.float64)
    for idx in batches(local, size):
        x = to_device(source.batch(idx, augment, rng), device)
        y = to_device(source.labels[idx].astype(np.float32 if classes == 2 else np.int64), device)
        optimizer.zero_grad(set_to_none=True)
        with autocast(device):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        probs[seen : seen + len(idx)] = outputs(logits.detach().float(), classes)
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
    if world > 1:
        sums = gather(np.array([total, seen], dtype=np.float64), device).sum(axis=0)
        total, seen = float(sums[0]), int(sums[1])
        probs = gather(probs, device).T.reshape(-1)  # back to ``order``'s order
    return total / max(seen, 1), seen, probs


def auc(labels: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(labels, p)) if len(np.unique(labels)) == 2 else float("nan")


def fit(
    model: nn.Module,
    train: Source,
    val: Source | None,
    cfg: TrainConfig | Loop,
    device: torch.device,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train ``model`` as ``cfg`` says (:class:`Loop`; the top-level params of a direction
    CNN). With a validation set, stop early on its loss and leave the best epoch's
    weights in ``model``; without one, train every epoch. Inside a DDP process group
    every rank calls this with the same arguments; the model is wrapped in
    DistributedDataParallel here, and the stopping decision is rank 0's, broadcast, so
    every rank stops at and restores the same epoch."""
    loop = cfg if isinstance(cfg, Loop) else Loop.of(cfg)
    rank, world = rank_world()
    model.to(device)
    net = model
    if world > 1:
        net = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    rng = np.random.default_rng(loop.seed)
    # one stream for orders and noise in one process; under DDP the orders stay common
    # to all ranks while each rank draws its own noise
    noise_rng = rng if world == 1 else np.random.default_rng([loop.seed, rank])
    loss_fn = loss_function(train.labels, loop.imbalance, device, loop.classes)
    optimizer = make_optimizer(net, loop)
    scheduler = None
    if loop.one_cycle:
        steps = max(1, -(-len(train) // loop.batch_size)) * loop.epochs
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, loop.lr, total_steps=steps)
    best = copy.deepcopy(model.state_dict())
    best_loss, best_epoch, waited = np.inf, 0, 0
    history, train_time, train_seen = [], 0.0, 0
    t_start = time.perf_counter()
    epoch = 0
    for epoch in range(1, loop.epochs + 1):
        order = shard(_epoch_order(train.labels, loop.imbalance, rng), world)
        t0 = time.perf_counter()
        train_loss, seen, out = train_epoch(
            net, train, order, loss_fn, optimizer, loop.batch_size, device, loop.augment,
            noise_rng, loop.classes, scheduler,
        )  # fmt: skip
        dt = time.perf_counter() - t0
        train_time += dt
        train_seen += seen
        row = epoch_row(epoch, train_loss, out, train.labels[order], loop.classes)
        if val is not None:
            p_val = predict_shared(model, val, loop.batch_size, device)
            row |= validation_row(val.labels, p_val, device)
        row |= {"lr": optimizer.param_groups[0]["lr"],
                "train_samples_per_s": seen / dt if dt > 0 else 0.0}  # fmt: skip
        if on_epoch is not None:
            on_epoch(row)
        history.append(row)
        if val is None:
            best_epoch = epoch
        elif row["val_loss"] < best_loss - 1e-6:
            best_loss, best_epoch, waited = row["val_loss"], epoch, 0
            best = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if loop.patience is not None and waited >= loop.patience:
                break
    if val is not None:
        model.load_state_dict(best)
    model.eval()
    return TrainResult(
        best_epoch=best_epoch,
        epochs_run=epoch,
        best_val_loss=float(best_loss),
        history=history,
        train_samples_per_s=train_seen / train_time if train_time > 0 else 0.0,
        wall_s=time.perf_counter() - t_start,
    )


def epoch_row(epoch: int, loss: float, out: np.ndarray, labels: np.ndarray, classes: int) -> dict:
    """An epoch's training figures from the outputs seen while training."""
    if classes > 2:
        return {"epoch": epoch, "train_loss": loss, "train_accuracy": float(np.mean(out == labels))}
    return {"epoch": epoch, "train_loss": loss,
            "train_accuracy": accuracy(labels, out),
            "train_auc": auc(labels, out)}  # fmt: skip


def validation_row(labels: np.ndarray, p: np.ndarray, device: torch.device) -> dict:
    """An epoch's validation loss (the same on every rank), accuracy and AUC."""
    return {"val_loss": float(gather(np.array([log_loss(labels, p)]), device)[0, 0]),
            "val_accuracy": accuracy(labels, p),
            "val_auc": auc(labels, p)}  # fmt: skip
