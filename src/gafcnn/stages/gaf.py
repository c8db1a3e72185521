"""`gaf` stage (one DVC matrix entry per window): stream image sets to ``data/gaf/w{W}/``.

For ``--window W`` it builds the shared decision samples (the same timestamps and
labels for every window in ``gaf.windows``), encodes each split chunk by chunk into
``.npy`` files (memory bounded by ``gaf.chunk``), and writes ``meta.json``,
``metrics/gaf_w{W}.json`` and ``plots/gaf/w{W}_samples.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gafcnn import clock, paths
from gafcnn.data.bars import load_bars
from gafcnn.data.samples import build_samples
from gafcnn.data.split import SEGMENTS, Split
from gafcnn.images.encodings import Encoder, bar_columns, window_series
from gafcnn.images.imageset import META_FILE, ChannelStats, NpyWriter, fingerprint, set_file
from gafcnn.io import (
    InputError,
    atomic_dir,
    read_json,
    record_timings,
    run_stage,
    save_figure,
    write_json,
)
from gafcnn.params import GafParams, Params, read_params, runtime_setting


def image_size_for(window: int, gaf: GafParams) -> int:
    """The image size of ``window`` (:meth:`GafParams.image_size_for`), its error naming
    params.yaml."""
    try:
        return gaf.image_size_for(window)
    except ValueError as exc:
        raise InputError("params.yaml", str(exc)) from None


def build_window(params: Params, window: int, out_dir: Path, progress: bool = True) -> dict:
    """Build ``out_dir`` for one window; returns the stage metrics."""
    gaf = params.gaf
    windows = list(params.gaf.windows)
    if window not in windows:
        raise InputError("params.yaml", f"window {window} is not in gaf.windows {windows}")
    spec = params.label
    size = image_size_for(window, gaf)
    encoder = Encoder(gaf.channels, size, gaf.mtf_bins, runtime_setting(params, "threads"))
    dtype = np.dtype(gaf.dtype)
    # only the columns the channels read, and the close the labels need
    arrays, minutes = load_bars(bar_columns(encoder.series_needed | {"close"}))
    split = Split.from_dict(read_json(paths.SPLIT))
    samples = build_samples(
        minutes, arrays["close"], windows, spec, split, stride=params.gaf.stride
    )
    chunk = runtime_setting(params, "gaf_chunk")
    n_ch = len(encoder.channels)
    stats = ChannelStats(n_ch, size)
    examples: dict[int, np.ndarray] = {}
    meta = {
        "window": window,
        "windows": windows,
        "channels": [c.name for c in encoder.channels],
        "image_size": size,
        "mtf_bins": encoder.mtf_bins,
        "dtype": dtype.name,
        "layout": "N,C,H,W",
        "horizon": spec.horizon,
        "label_band": list(samples.band),
        "stride": params.gaf.stride,
        "counts": {},
        "fingerprint": {},
    }
    t0 = time.perf_counter()
    total = 0
    for split_name in SEGMENTS:
        sel = samples.of(split_name)
        pos, y = samples.position[sel], samples.label[sel]
        stamps = clock.ms_of_minutes(samples.minute[sel])
        n = len(pos)
        writer = NpyWriter(set_file(out_dir, split_name, "images"), (n, n_ch, size, size), dtype)
        bar = tqdm(total=n, desc=f"gaf w{window} {split_name}", unit="win", disable=not progress)
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            win = window_series(arrays, pos[a:b], window, encoder.series_needed)
            images = encoder.encode(win, dtype=dtype)
            writer.write(images)
            stats.add(images, y[a:b] if split_name == "train" else None)
            if split_name == "train":
                for k in (0, 1):
                    if k not in examples and (y[a:b] == k).sum() >= 4:
                        examples[k] = images[y[a:b] == k][:4].astype(np.float32)
            bar.update(b - a)
        bar.close()
        writer.close()
        np.save(set_file(out_dir, split_name, "labels"), y.astype(np.int8))
        np.save(set_file(out_dir, split_name, "timestamps"), stamps.astype(np.int64))
        meta["counts"][split_name] = n
        meta["fingerprint"][split_name] = fingerprint(stamps, y)
        total += n
    elapsed = time.perf_counter() - t0
    write_json(out_dir / META_FILE, meta)

    mean = stats.sum / max(stats.count, 1)
    metrics = {
        "window": window,
        "image_size": size,
        "channels": meta["channels"],
        "counts": meta["counts"],
        "label_up_share": {
            s: float(samples.label[samples.of(s)].mean()) if samples.of(s).any() else None
            for s in SEGMENTS
        },
        "dead_zone_dropped": samples.dropped_dead_zone,
        "label_band": list(samples.band),
        "channel_stats": {
            name: {"min": float(stats.min[c]), "max": float(stats.max[c]), "mean": float(mean[c])}
            for c, name in enumerate(meta["channels"])
        },
        "nan_count": stats.nan,
    }
    class_mean = stats.class_sum / np.maximum(stats.class_n, 1)[:, None, None, None]
    timings = {"windows": total, "wall_s": elapsed, "windows_per_s": total / max(elapsed, 1e-9)}
    return {
        "metrics": metrics,
        "examples": examples,
        "class_mean": class_mean,
        "meta": meta,
        "timings": timings,
    }


def plot_samples(path: Path, result: dict) -> None:
    """Example UP / DOWN images per channel, and per channel mean(UP) - mean(DOWN)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta, examples, class_mean = result["meta"], result["examples"], result["class_mean"]
    channels = meta["channels"]
    n_ex = 3
    cols = 2 * n_ex + 1
    fig, axes = plt.subplots(
        len(channels), cols, figsize=(1.9 * cols, 2.0 * len(channels) + 0.6), squeeze=False
    )
    for c, name in enumerate(channels):
        for k, label in ((1, "UP"), (0, "DOWN")):
            for j in range(n_ex):
                ax = axes[c, (0 if k == 1 else n_ex) + j]
                ax.axis("off")
                if k in examples and j < len(examples[k]):
                    ax.imshow(examples[k][j, c], cmap="RdBu_r", vmin=-1, vmax=1)
                    ax.set_title(f"{label} #{j + 1}", fontsize=8)
            axes[c, 0].text(
                -0.3,
                0.5,
                name,
                transform=axes[c, 0].transAxes,
                rotation=90,
                va="center",
                ha="right",
                fontsize=9,
            )
        diff = class_mean[1, c] - class_mean[0, c]
        lim = float(np.abs(diff).max()) or 1.0
        ax = axes[c, -1]
        im = ax.imshow(diff, cmap="PuOr", vmin=-lim, vmax=lim)
        ax.set_title("mean UP - mean DOWN", fontsize=8)
        ax.axis("off")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"GAF w{meta['window']} ({meta['image_size']}x{meta['image_size']}), train split")
    fig.tight_layout()
    save_figure(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", type=int, required=True)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    params = read_params()
    with atomic_dir(paths.gaf_dir(args.window)) as tmp:
        result = build_window(params, args.window, tmp, progress=not args.no_progress)
    write_json(paths.metrics(f"gaf_w{args.window}"), result["metrics"])
    plot_samples(paths.gaf_samples_plot(args.window), result)
    record_timings(f"gaf@{args.window}", result["timings"])
    m = result["metrics"]
    print(
        f"gaf w{args.window}: {sum(m['counts'].values()):,} samples {m['counts']}, "
        f"{result['timings']['windows_per_s']:,.0f} windows/s"
    )


if __name__ == "__main__":
    run_stage(main)
