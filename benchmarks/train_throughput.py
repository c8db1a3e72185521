"""Training-loop throughput: the train stage's loop (batches read by row from a
float16 .npy file, as the stage reads the gaf output) against a bare PyTorch loop over the same
data already in memory as a float32 tensor - same model, batch size and batches.

Prints samples/s for both and their ratio (target >= 0.8x: loading must not be the
bottleneck). ``--device cuda`` runs both on the GPU (the stage loop with pinned
batches and bf16 autocast, the bare loop with the tensors already on the GPU) and
``--device both`` prints the CPU and GPU rates of the stage loop side by side.

    python benchmarks/train_throughput.py [--n 20000] [--size 30] [--epochs 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gafcnn.images.imageset import ImageFile
from gafcnn.models.cnn import build_model
from gafcnn.models.device import seed_everything
from gafcnn.models.sources import ImageSource
from gafcnn.models.training import loss_function, make_optimizer, train_epoch
from gafcnn.params import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--size", type=int, default=30)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--device", choices=("cpu", "cuda", "both"), default="cpu")
    ap.add_argument("--arch", default="simple_cnn", choices=("simple_cnn", "resnet18"))
    args = ap.parse_args()
    if args.device == "both":
        rates = {d: run(args, torch.device(d)) for d in ("cpu", "cuda")}
        print(f"GPU / CPU (stage loop): {rates['cuda'][1] / rates['cpu'][1]:.1f}x")
        return
    run(args, torch.device(args.device))


def run(args: argparse.Namespace, device: torch.device) -> tuple[float, float]:
    """(bare, stage) samples/s on ``device``."""
    cfg = TrainConfig()
    seed_everything(0, 2)
    rng = np.random.default_rng(0)
    shape = (args.n, args.channels, args.size, args.size)
    labels = rng.integers(0, 2, args.n).astype(np.int8)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train_images.npy"
        np.save(path, rng.uniform(-1, 1, shape).astype(np.float16))
        images = ImageFile(path)
        tensor = torch.from_numpy(np.asarray(images, dtype=np.float32)).to(device)
        y_tensor = torch.from_numpy(labels.astype(np.float32)).to(device)
        orders = [np.random.default_rng(e).permutation(args.n) for e in range(args.epochs + 1)]

        def stage_loop() -> float:
            torch.manual_seed(0)
            model = build_model(args.arch, args.channels, cfg.width, cfg.dropout).to(device)
            opt, loss_fn = make_optimizer(model, cfg), loss_function(labels, "weights", device)
            src = ImageSource(images, labels)
            train_epoch(model, src, orders[0], loss_fn, opt, cfg.batch_size, device, False, rng)
            t0 = time.perf_counter()
            for e in range(1, args.epochs + 1):
                train_epoch(model, src, orders[e], loss_fn, opt, cfg.batch_size, device, False, rng)
            return args.n * args.epochs / (time.perf_counter() - t0)

        def bare_loop() -> float:
            torch.manual_seed(0)
            model = build_model(args.arch, args.channels, cfg.width, cfg.dropout).to(device)
            opt, loss_fn = make_optimizer(model, cfg), loss_function(labels, "weights", device)
            model.train()

            def one(order):
                for a in range(0, args.n, cfg.batch_size):
                    idx = torch.from_numpy(order[a : a + cfg.batch_size]).to(device)
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(model(tensor[idx]), y_tensor[idx])
                    loss.backward()
                    opt.step()

            one(orders[0])
            t0 = time.perf_counter()
            for e in range(1, args.epochs + 1):
                one(orders[e])
            if device.type == "cuda":
                torch.cuda.synchronize()
            return args.n * args.epochs / (time.perf_counter() - t0)

        bare = bare_loop()
        stage = stage_loop()
    print(
        f"data: {args.n:,} x {shape[1:]} float16 file; "
        f"{args.arch} width {cfg.width}, batch {cfg.batch_size}, device {device}"
    )
    print(f"bare loop (in-memory tensors): {bare:,.0f} samples/s")
    print(f"stage loop (file batches):     {stage:,.0f} samples/s")
    print(f"ratio: {stage / bare:.2f}x bare (target >= 0.8x)")
    return bare, stage


if __name__ == "__main__":
    main()
