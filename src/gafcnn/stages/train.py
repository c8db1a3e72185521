"""`train` stage (one DVC matrix entry per window): a CNN per window.

Reads the window's samples (timestamps, labels) and encodes each batch of images
from the bars (``inputs: encode``, the default: bit-identical to the stored image
set, which ``inputs: stored`` reads instead; for ``arch: conv1d``, the raw bars at
the same decision timestamps), trains with early stopping, logs per-epoch curves with
dvclive to ``plots/train/w{W}/``, exports the network to ONNX (the served model,
:mod:`gafcnn.serving.onnx`), and writes ``models/cnn/w{W}.pt`` + ``.onnx`` + ``.json``,
``data/predictions/cnn/w{W}.parquet`` (the ONNX model's P(up) on val and test, keyed
by decision timestamp) and ``metrics/train_w{W}.json``.

With ``nproc`` > 1 the stage starts itself again under ``torchrun`` (one machine,
``nproc`` processes: DDP over gloo on CPU, NCCL on GPUs) and waits for it. Rank 0
alone logs and writes the outputs. For several machines, set ``GAFCNN_TORCHRUN`` to
torchrun's node options (``--nnodes 2 --node-rank 0 --rdzv-endpoint host:29400``) on
each machine; the ranks of other machines train and write nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import subprocess
import sys
import time

import numpy as np

from gafcnn import clock, paths, registry
from gafcnn.images.imageset import GafSet
from gafcnn.io import InputError, record_timings, run_stage, write_bytes, write_json
from gafcnn.models import predictions
from gafcnn.models.cnn import PretrainedError, build_model, save_checkpoint
from gafcnn.models.device import pick_device, rank_world, seed_everything
from gafcnn.models.inference import predict, predict_with
from gafcnn.models.metrics import classification_report
from gafcnn.models.sources import sources_of
from gafcnn.models.training import fit
from gafcnn.params import Params, TrainConfig, read_params, runtime_setting
from gafcnn.serving.onnx import OnnxCnn, to_onnx

EXPORT_TOLERANCE = 1e-4  # float32 graphs: a larger gap means the export is wrong


def torchrun_command(window: int, nproc: int, node_options: str = "") -> list[str]:
    """This stage under torchrun: ``nproc`` processes on this machine, rendezvous on
    localhost unless ``node_options`` names the nodes."""
    nodes = shlex.split(node_options) if node_options.strip() else ["--standalone"]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *nodes,
        f"--nproc-per-node={nproc}",
        "-m",
        "gafcnn.stages.train",
        "--window",
        str(window),
    ]


def join_process_group(device_name: str) -> None:
    """Inside torchrun (``WORLD_SIZE`` set): join the group, NCCL on GPUs, else gloo."""
    import torch
    import torch.distributed as dist

    cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    dist.init_process_group(backend="nccl" if cuda else "gloo")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", type=int, required=True)
    args = ap.parse_args()
    params = read_params()
    cfg = params.cnn
    w = args.window
    if cfg.nproc > 1 and "WORLD_SIZE" not in os.environ:
        cmd = torchrun_command(w, cfg.nproc, os.environ.get("GAFCNN_TORCHRUN", ""))
        print("train: " + " ".join(cmd[1:]), flush=True)
        sys.exit(subprocess.run(cmd, check=False).returncode)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        join_process_group(cfg.device)
    try:
        train_window(w, params, cfg)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def train_window(w: int, params: Params, cfg: TrainConfig) -> None:
    """Train the window's CNN (every rank, under DDP) and write its outputs (rank 0)."""
    rank, world = rank_world()
    gs = GafSet(paths.gaf_dir(w))
    # the machine's threads are shared by the ranks on it
    threads = runtime_setting(params, "threads")
    seed_everything(cfg.seed, max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    device = pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
    sources, info = sources_of(gs, cfg)
    in_shape = sources["train"].input_shape
    try:
        model = build_model(cfg.arch, in_shape[0], cfg.width, cfg.dropout, cfg.pretrained)
    except (PretrainedError, ValueError) as exc:
        raise InputError("params.yaml", str(exc)) from None

    if rank != 0:  # other ranks train in step with rank 0 and write nothing
        fit(model, sources["train"], sources["val"], cfg, device)
        return

    from dvclive import Live

    live_dir = paths.train_live_dir(w)
    with Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, report=None) as live:

        def on_epoch(row: dict) -> None:
            for key in (
                "train_loss",
                "val_loss",
                "train_accuracy",
                "val_accuracy",
                "train_auc",
                "val_auc",
                "lr",
            ):
                split, _, name = key.partition("_")
                live.log_metric(f"{split}/{name}" if split in ("train", "val") else key, row[key])
            live.next_step()
            print(
                f"train w{w} epoch {row['epoch']:3d} loss {row['train_loss']:.4f} "
                f"val_loss {row['val_loss']:.4f} val_acc {row['val_accuracy']:.4f} "
                f"({row['train_samples_per_s']:,.0f} samples/s"
                + (f" on {world} processes)" if world > 1 else ")"),
                flush=True,
            )

        t0 = time.perf_counter()
        result = fit(model, sources["train"], sources["val"], cfg, device, on_epoch)
        train_time = time.perf_counter() - t0

    # The served CNN is the ONNX export; its P(up) is what every later stage evaluates.
    graph = to_onnx(model, in_shape)
    served = OnnxCnn(graph)
    preds, reports = [], {}
    for s in ("val", "test"):
        p = predict_with(served.predict, sources[s], cfg.batch_size)
        drift = float(np.max(np.abs(p - predict(model, sources[s], cfg.batch_size, device))))
        print(f"train w{w}: {s} P(up) of the ONNX export vs torch: max abs diff {drift:.1e}")
        if drift > EXPORT_TOLERANCE:
            raise RuntimeError(
                f"the ONNX export of the w{w} CNN changes its {s} P(up) by {drift:.1e} "
                f"(> {EXPORT_TOLERANCE:g}); the exported graph does not match the model"
            )
        y = sources[s].labels
        reports[s] = classification_report(y, p)
        preds.append(predictions.frame(gs.timestamps(s), s, y, p, registry.CNN.at(w)))
    predictions.write(preds, paths.cnn_predictions(w))
    write_bytes(paths.cnn_onnx(w), graph)
    ts_train = gs.timestamps("train")
    save_checkpoint(
        model,
        {
            "arch": cfg.arch,
            "window": w,
            "params": dataclasses.asdict(cfg),
            "input_shape": list(in_shape),
            "image_size": gs.meta["image_size"],
            "horizon": gs.meta["horizon"],
            **info,
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "best_epoch": result.best_epoch,
            "train_timestamps": [
                clock.iso_ms(ts_train[0]),
                clock.iso_ms(ts_train[-1]),
            ],
        },
        paths.cnn_model(w),
    )
    metrics = {
        "arch": cfg.arch,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "best_val_loss": result.best_val_loss,
        "val": reports["val"],
        "test": reports["test"],
    }
    write_json(paths.metrics(f"train_w{w}"), metrics)
    record_timings(
        f"train@{w}",
        {
            "train_samples_per_s": result.train_samples_per_s,
            "processes": world,
            "device": str(device),
            "fit_wall_s": train_time,
            "epochs": [
                {"epoch": r["epoch"], "train_samples_per_s": r["train_samples_per_s"]}
                for r in result.history
            ],
        },
    )
    t = reports["test"]
    print(
        f"train w{w}: best epoch {result.best_epoch}/{result.epochs_run}, test acc "
        f"{t['accuracy']:.4f} bal {t['balanced_accuracy']:.4f} auc {t['roc_auc']:.4f} "
        f"(majority {t['majority_rate']:.4f})"
    )


if __name__ == "__main__":
    run_stage(main)
