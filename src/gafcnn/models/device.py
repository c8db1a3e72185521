"""Where a CNN trains and how ranks talk: seeding, the device, DDP ranks, gathering
across them, host-to-device copies and bf16 autocast. Under ``torchrun`` (``nproc`` >
1) every rank draws the same global order and trains on its own slice of it
(:func:`shard`); validation predictions are gathered (:func:`gather`) so every rank
sees the same validation loss and stops at the same epoch. On CUDA, batches go through
pinned memory and the forward pass runs under bf16 autocast where the GPU supports it.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.distributed as dist


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
