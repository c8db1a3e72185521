"""The training loop of every CNN: seeded, streamed, early-stopped when it has a
validation set.

One loop (:func:`fit`) trains the direction CNNs (one logit, binary cross-entropy,
early stopping on validation loss) and the pattern CNNs (class logits,
cross-entropy, every epoch on a one-cycle schedule); :class:`Loop` says which.

Batches are read from the gaf stage's image files (or from in-memory raw features for
the 1-D CNN) one batch at a time, so whole arrays are never loaded. Early stopping
watches validation loss and restores the best epoch's weights.

Under ``torchrun`` (``nproc`` > 1) the same loop runs as PyTorch DDP: every rank
draws the same global order, trains on its own slice of it, and validation
predictions are gathered so that every rank sees the same validation loss and stops
at the same epoch. On CUDA, batches go through pinned memory and the forward pass
runs under bf16 autocast where the GPU supports it.

Augmentation (``augment: noise``) adds Gaussian noise to the *raw* window before it
is encoded, scaled by the window's own bar-to-bar variability. It never rotates or
warps images: a GAF's main diagonal is the (scaled) series itself and its
off-diagonal cells are pairwise angle sums/differences in time order, so a
rotation or affine warp produces an image that no series could have produced.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gafcnn.evaluation.metrics import accuracy, log_loss
from gafcnn.images.encodings import Encoder, window_series
from gafcnn.params import TrainConfig


def seed_everything(seed: int, threads: int = 2) -> None:
    """Same seed, same weights, same batches, same metrics (on CPU)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds third-party code that uses the global RNG
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` is CUDA when torch sees a GPU (``CUDA_VISIBLE_DEVICES`` decides which);
    under DDP each process takes the GPU of its local rank."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device=cuda but no CUDA device is available")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(name)


def rank_world() -> tuple[int, int]:
    """(rank, world size) of the DDP process group, or (0, 1) outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(order: np.ndarray, world: int) -> np.ndarray:
    """``order`` cut to a multiple of ``world`` (at most world - 1 samples of an epoch
    are left out), so every rank gets as many batches; rank r trains on ``[r::world]``."""
    return order[: len(order) // world * world]


def gather(values: np.ndarray, device: torch.device) -> np.ndarray:
    """Rows of every rank's equal-length ``values``: shape (world, len(values))."""
    _, world = rank_world()
    if world == 1:
        return values[None, :]
    t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64)).to(device)
    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t)
    return torch.stack(parts).cpu().numpy()


def to_device(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host batch on ``device``; through pinned memory, asynchronously, on CUDA."""
    t = torch.from_numpy(x)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on a GPU that supports it; a no-op context elsewhere."""
    enabled = device.type == "cuda" and torch.cuda.is_bf16_supported()
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


class Source:
    """Batches of model inputs by sample index; ``augment`` applies the source's noise."""

    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, idx: np.ndarray, augment: bool, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.batch(np.arange(1), False, np.random.default_rng(0)).shape[1:])


def add_noise(
    windows: dict[str, np.ndarray], rng: np.random.Generator, noise: float
) -> dict[str, np.ndarray]:
    """Raw ``(N, W)`` windows plus Gaussian noise of ``noise`` times each window's own
    bar-to-bar standard deviation (the ``augment: noise`` of every source)."""
    out = {}
    for name, w in windows.items():
        scale = np.diff(w, axis=1).std(axis=1, keepdims=True)
        out[name] = w + rng.standard_normal(w.shape) * scale * noise
    return out


class ImageSource(Source):
    """Images from an (N, C, S, S) array or :class:`~gafcnn.images.imageset.ImageFile`. With
    ``raw`` windows and an ``encoder``, augmented batches are re-encoded from noisy raw
    windows."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        raw: dict[str, np.ndarray] | None = None,
        encoder: Encoder | None = None,
        noise: float = 0.0,
    ):
        self.images, self.labels = images, np.asarray(labels)
        self.raw, self.encoder, self.noise = raw, encoder, noise

    def batch(self, idx: np.ndarray, augment: bool, rng: np.random.Generator) -> np.ndarray:
        if augment and self.raw is not None and self.encoder is not None and self.noise > 0:
            windows = {name: x[idx] for name, x in self.raw.items()}
            return self.encoder.encode(add_noise(windows, rng, self.noise), dtype=np.float32)
        return np.asarray(self.images[idx], dtype=np.float32)  # an ImageFile reads in file order


class EncodedSource(Source):
    """Images encoded from the bars for each batch, instead of read from a stored set:
    the windows ending at ``positions`` are encoded, cast to ``store_dtype`` (so the
    inputs equal the stored images bit for bit) and returned as float32. With
    ``augment``, noise is added to the raw windows first, as :class:`ImageSource` does;
    the noisy images are rounded to ``store_dtype`` like every other batch (ImageSource
    passes its augmented batches on in float32)."""

    def __init__(
        self,
        bars: dict[str, np.ndarray],
        positions: np.ndarray,
        window: int,
        encoder: Encoder,
        labels: np.ndarray,
        store_dtype: np.dtype | str = np.float16,
        noise: float = 0.0,
    ):
        self.bars, self.positions, self.window = bars, np.asarray(positions), window
        self.encoder, self.labels, self.noise = encoder, np.asarray(labels), noise
        self.store_dtype = np.dtype(store_dtype)

    def batch(self, idx: np.ndarray, augment: bool, rng: np.random.Generator) -> np.ndarray:
        raw = window_series(self.bars, self.positions[idx], self.window, self.encoder.series_needed)
        if augment and self.noise > 0:
            raw = add_noise(raw, rng, self.noise)
        return self.encoder.encode(raw, dtype=self.store_dtype).astype(np.float32)


class ArraySource(Source):
    """Inputs already in memory (raw bar features for the 1-D CNN)."""

    def __init__(self, x: np.ndarray, labels: np.ndarray, noise: float = 0.0):
        self.x, self.labels, self.noise = x.astype(np.float32), np.asarray(labels), noise

    def batch(self, idx: np.ndarray, augment: bool, rng: np.random.Generator) -> np.ndarray:
        x = self.x[idx]
        if augment and self.noise > 0:
            x = x + rng.standard_normal(x.shape).astype(np.float32) * self.noise
        return x


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


def batches(order: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for a in range(0, len(order), size):
        yield order[a : a + size]


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
