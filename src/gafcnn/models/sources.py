"""Where a CNN's batches come from, one batch at a time: the gaf stage's image files
(:class:`ImageSource`), images encoded on the fly from bar closes
(:class:`EncodedSource`), or in-memory arrays (:class:`ArraySource`: raw features for
the 1-D CNN, pattern images).

Augmentation (``augment: noise``) adds Gaussian noise to the *raw* window before it
is encoded, scaled by the window's own bar-to-bar variability. It never rotates or
warps images: a GAF's main diagonal is the (scaled) series itself and its
off-diagonal cells are pairwise angle sums/differences in time order, so a
rotation or affine warp produces an image that no series could have produced.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gafcnn.data.bars import bar_positions, load_bars
from gafcnn.data.features import BAR_FEATURES, feature_scale, window_bar_features
from gafcnn.images.encodings import Encoder, bar_columns, window_series
from gafcnn.images.imageset import GafSet
from gafcnn.params import TrainConfig


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


def batches(order: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for a in range(0, len(order), size):
        yield order[a : a + size]


SPLITS = ("train", "val", "test")


def sources_of(gs: GafSet, cfg: TrainConfig) -> tuple[dict[str, Source], dict]:
    """Train/val/test sources of an image set for ``cfg.arch`` (encoded from the bars,
    read from the stored images, or the raw bars for ``conv1d``) and a description of
    the input."""
    labels = {s: gs.labels(s) for s in SPLITS}
    if cfg.arch == "conv1d":
        arrays, minutes = load_bars()
        x = {
            s: window_bar_features(
                arrays, bar_positions(minutes, gs.timestamps(s), gs.dir), gs.window
            )
            for s in SPLITS
        }
        scale = feature_scale(x["train"])
        sources = {
            s: ArraySource(x[s] / scale[None, :, None], labels[s], cfg.augment_noise)
            for s in SPLITS
        }
        info = {"channels": list(BAR_FEATURES), "normalisation": {"feature_scale": scale.tolist()}}
        return sources, info
    info = {
        "channels": gs.meta["channels"],
        "mtf_bins": gs.meta["mtf_bins"],
        "image_dtype": gs.meta["dtype"],  # served images are cast to it, as trained
        "normalisation": "none: GAF channels already in [-1, 1]",
    }
    if cfg.inputs == "encode":  # each batch encoded from the bars: the stored images, bit for bit
        encoder = Encoder.of_meta(gs.meta)
        arrays, minutes = load_bars(bar_columns(encoder.series_needed))
        sources = {
            s: EncodedSource(
                arrays,
                bar_positions(minutes, gs.timestamps(s), gs.dir),
                gs.window,
                encoder,
                labels[s],
                gs.meta["dtype"],
                cfg.augment_noise,
            )
            for s in SPLITS
        }
        return sources, info
    raw, encoder = None, None
    if cfg.augment == "noise":
        arrays, minutes = load_bars()
        encoder = Encoder.of_meta(gs.meta)
        pos = bar_positions(minutes, gs.timestamps("train"), gs.dir)
        raw = window_series(arrays, pos, gs.window, encoder.series_needed)
    sources = {
        s: ImageSource(
            gs.images(s), labels[s], raw if s == "train" else None, encoder, cfg.augment_noise
        )
        for s in SPLITS
    }
    return sources, info
