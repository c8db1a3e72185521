"""Serving hook of the direction CNNs: each window's ONNX graph, fed what it was
trained on (images encoded as the ``gaf`` stage stored them, or the bar series of a
``conv1d``), from the architecture and encoding saved beside the model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from gafcnn import paths
from gafcnn.data.bars import OHLCV
from gafcnn.data.features import window_bar_features
from gafcnn.images.encodings import Encoder, bar_columns, window_series
from gafcnn.io import read_json
from gafcnn.serving.onnx import OnnxCnn
from gafcnn.serving.served import Inputs, Predict

# What the bundle keeps of a CNN's saved metadata.
SERVED_META = ("arch", "window", "input_shape", "image_size", "channels", "mtf_bins",
               "image_dtype", "normalisation")  # fmt: skip


class Cnns:
    """The CNN of every window (a per-window model: one graph per window)."""

    def ship(self, model: Any, windows: list[int], folder: Path) -> dict:
        per_window = {}
        for w in windows:
            meta = read_json(paths.cnn_meta(w))
            shutil.copyfile(paths.cnn_onnx(w), folder / f"{model.at(w)}.onnx")
            per_window[f"w{w}"] = {k: meta[k] for k in SERVED_META if k in meta} | {
                "width": meta["params"]["width"],
                "dropout": meta["params"]["dropout"],
                "train_params": meta["params"],
            }
        return {"history_bars": max(windows), "windows": per_window}

    def load(self, model: Any, spec: dict, folder: Path) -> Predict:
        served = {}
        for key, m in spec["windows"].items():
            w = int(key.removeprefix("w"))
            served[model.at(w)] = (w, OnnxCnn(folder / f"{model.at(w)}.onnx"), encoder_of(m), m)

        def predict(x: Inputs) -> dict[str, np.ndarray]:
            return {name: graph.predict(cnn_inputs(x, w, enc, m))
                    for name, (w, graph, enc, m) in served.items()}  # fmt: skip

        return predict

    def bar_columns(self, spec: dict) -> set[str]:
        """The bar columns its images read beyond OHLCV (order-flow channels)."""
        out: set[str] = set()
        for m in spec["windows"].values():
            enc = encoder_of(m)
            if enc is not None:
                out |= set(bar_columns(enc.series_needed)) - set(OHLCV)
        return out


def encoder_of(meta: dict) -> Encoder | None:
    """The encoder of a served CNN's images (None for a ``conv1d``, which reads bars)."""
    if meta["arch"] == "conv1d":
        return None
    return Encoder.of_meta(meta)


def cnn_inputs(x: Inputs, window: int, enc: Encoder | None, meta: dict) -> np.ndarray:
    """What the CNN of ``window`` reads at the decision positions."""
    if enc is None:
        scale = np.asarray(meta["normalisation"]["feature_scale"])
        return window_bar_features(x.bars, x.positions, window) / scale[None, :, None]
    # encoded and stored as in training, then read as float32
    series = window_series(x.bars, x.positions, window, enc.series_needed)
    return enc.encode(series, dtype=np.dtype(meta.get("image_dtype", "float32")))


CNNS = Cnns()
