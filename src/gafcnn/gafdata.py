"""The on-disk layout of a window's image set and its reader.

``data/gaf/w{W}/`` holds, per split (train/val/test):

* ``{split}_images.npy``  (N, C, S, S) channels-first, ``gaf.dtype`` (float16 default)
* ``{split}_labels.npy``  (N,) int8, 1 up / 0 down
* ``{split}_timestamps.npy`` (N,) int64 decision timestamps, epoch ms (the sample key)

plus ``meta.json`` (window, channels, image size, dtype, counts, label band and a
fingerprint of timestamps + labels per split). Whether windows share their samples
is the audit's ``alignment`` check (:func:`gafcnn.audit.check_alignment`). Images
are written chunk by chunk to a plain ``.npy`` file, so memory stays bounded by the
chunk; readers open them as read-only memmaps.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


class AlignmentError(ValueError):
    """Windows whose samples are not the same moments with the same labels."""


class NpyWriter:
    """Writes an .npy file of known shape chunk by chunk (no memmap, bounded memory)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.shape, self.dtype = Path(path), tuple(shape), np.dtype(dtype)
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": self.shape,
        }
        np.lib.format.write_array_header_1_0(self._fh, header)
        self._written = 0

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        if chunk.shape[1:] != self.shape[1:]:
            raise ValueError(f"chunk shape {chunk.shape} does not fit {self.shape}")
        self._fh.write(chunk.data)
        self._written += chunk.shape[0]

    def close(self) -> None:
        self._fh.close()
        if self._written != self.shape[0]:
            raise ValueError(f"{self.path}: wrote {self._written} rows, expected {self.shape[0]}")


def fingerprint(timestamps: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the sample keys and labels, in order."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(timestamps, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int8).tobytes())
    return h.hexdigest()


class GafSet:
    """Read access to one window's image set (arrays opened lazily, images memmapped)."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        meta_path = self.dir / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path}: missing; run the gaf stage first")
        self.meta = json.loads(meta_path.read_text())

    @property
    def window(self) -> int:
        return int(self.meta["window"])

    def images(self, split: str) -> np.ndarray:
        return np.load(self.dir / f"{split}_images.npy", mmap_mode="r")

    def labels(self, split: str) -> np.ndarray:
        return np.load(self.dir / f"{split}_labels.npy")

    def timestamps(self, split: str) -> np.ndarray:
        return np.load(self.dir / f"{split}_timestamps.npy")
