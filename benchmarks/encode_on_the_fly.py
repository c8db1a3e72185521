"""Encode each batch from the bars, or read stored images: what on-the-fly encoding
costs in training and prediction.

For each window, builds the gaf stage's stored image set (float16, written in
chunks) for the decision times of a synthetic market, then times the train stage's
loop over it two ways in the same run: batches read from the stored file
(:class:`~gafcnn.models.sources.ImageSource`) and batches encoded from the bar closes
(:class:`~gafcnn.models.sources.EncodedSource`, bit-identical inputs). Also times
prediction over the same samples both ways, and encoding alone, in interleaved
rounds (``--rounds``). Prints median samples/s and the overhead of encoding
(target for making it the default: < 10% of training time).

    python benchmarks/encode_on_the_fly.py [--bars 131400] [--windows 15 30 60]
                                         [--rounds 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gafcnn.data.synthetic import SyntheticConfig, generate
from gafcnn.images.encodings import Encoder, window_series
from gafcnn.images.imageset import ImageFile, NpyWriter
from gafcnn.models.cnn import build_model
from gafcnn.models.device import seed_everything
from gafcnn.models.inference import predict
from gafcnn.models.sources import EncodedSource, ImageSource
from gafcnn.models.training import loss_function, make_optimizer, train_epoch
from gafcnn.params import TrainConfig


def interleaved(fns: dict[str, Callable[[], None]], n: int, rounds: int) -> dict[str, float]:
    """Median rate (items/s) of each function over ``rounds`` rounds, the functions
    taking turns within a round (first place alternating), so that a slow spell of a
    shared machine falls on both sides rather than on one."""
    for fn in fns.values():
        fn()  # warm-up
    names = list(fns)
    rates: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            fns[name]()
            rates[name].append(n / (time.perf_counter() - t0))
    return {k: float(np.median(v)) for k, v in rates.items()}


def measure(bars: dict, w: int, n_samples: int, cfg: TrainConfig, rounds: int) -> dict[str, float]:
    """Training, prediction and encoding rates (samples/s) for window ``w``."""
    device = torch.device("cpu")
    n_bars = len(bars["close"])
    size = min(w, 30)
    encoder = Encoder(["gasf", "gadf"], size, threads=1)
    pos = np.arange(w - 1, n_bars, 2)[:n_samples]
    labels = np.random.default_rng(w).integers(0, 2, len(pos)).astype(np.int8)
    rng = np.random.default_rng(0)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train_images.npy"
        writer = NpyWriter(path, (len(pos), 2, size, size), np.float16)
        for a in range(0, len(pos), 8192):
            win = window_series(bars, pos[a : a + 8192], w, encoder.series_needed)
            writer.write(encoder.encode(win, dtype=np.float16))
        writer.close()
        sources = {
            "stored": ImageSource(ImageFile(path), labels),
            "fly": EncodedSource(bars, pos, w, encoder, labels, np.float16),
        }
        probe = np.sort(np.random.default_rng(1).choice(len(pos), 512, replace=False))
        same = np.array_equal(
            sources["stored"].batch(probe, False, rng), sources["fly"].batch(probe, False, rng)
        )
        assert same, "on-the-fly inputs differ from the stored images"
        epochs, predictions = {}, {}
        for name, src in sources.items():
            torch.manual_seed(0)
            model = build_model("simple_cnn", 2, cfg.width, cfg.dropout)
            opt = make_optimizer(model, cfg)
            loss_fn = loss_function(labels, "weights", device)
            order = np.random.default_rng(0).permutation(len(pos))

            def one_epoch(src=src, model=model, opt=opt, loss_fn=loss_fn, order=order) -> None:
                train_epoch(model, src, order, loss_fn, opt, cfg.batch_size, device, False, rng)

            def predict_all(src=src, model=model) -> None:
                predict(model, src, cfg.batch_size, device)

            epochs[name], predictions[name] = one_epoch, predict_all
        for name, r in interleaved(epochs, len(pos), rounds).items():
            out[f"train_{name}"] = r
        for name, r in interleaved(predictions, len(pos), rounds).items():
            out[f"predict_{name}"] = r

        def encode_all() -> None:
            encoder.encode(window_series(bars, pos, w, encoder.series_needed), np.float16)

        out["encode"] = interleaved({"encode": encode_all}, len(pos), rounds)["encode"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=131_400)
    ap.add_argument("--windows", type=int, nargs="+", default=[15, 30, 60])
    ap.add_argument("--samples", type=int, default=20_000, help="training samples timed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds; medians printed")
    args = ap.parse_args()
    seed_everything(0, args.threads)
    cfg = TrainConfig()
    closes = generate(SyntheticConfig(n_bars=args.bars)).bars["close"].to_numpy(np.float64)
    print(
        f"{args.bars:,} synthetic bars; simple_cnn width {cfg.width}, batch {cfg.batch_size}, "
        f"{args.threads} torch threads; channels gasf, gadf; stored images float16"
    )
    print(f"{'window':>6} | train: {'stored':>8} {'on the fly':>10} {'overhead':>8} | "
          f"predict: {'stored':>8} {'on the fly':>10} {'overhead':>8} | encode only")  # fmt: skip
    for w in args.windows:
        r = measure({"close": closes}, w, args.samples, cfg, args.rounds)
        tr = 1 - r["train_fly"] / r["train_stored"]
        pr = 1 - r["predict_fly"] / r["predict_stored"]
        print(
            f"{w:>6} | {r['train_stored']:>15,.0f} {r['train_fly']:>10,.0f} {tr:>8.1%} | "
            f"{r['predict_stored']:>17,.0f} {r['predict_fly']:>10,.0f} {pr:>8.1%} | "
            f"{r['encode']:,.0f} windows/s"
        )
    print(
        f"samples/s, medians of {args.rounds} interleaved rounds; overhead = share of the "
        "stored rate lost by encoding each batch"
    )


if __name__ == "__main__":
    main()
