"""The on-disk layout of a window's image set and its reader.

``data/gaf/w{W}/`` holds, per split (train/val/test):

* ``{split}_images.npy``  (N, C, S, S) channels-first, ``gaf.dtype`` (float16 default)
* ``{split}_labels.npy``  (N,) int8, 1 up / 0 down
* ``{split}_timestamps.npy`` (N,) int64 decision timestamps, epoch ms (the sample key)

plus ``meta.json`` (window, channels, image size, dtype, counts, label band and a
fingerprint of timestamps + labels per split). Whether windows share their samples
is the audit's ``alignment`` check (:func:`gafcnn.evaluation.audit.check_alignment`). Images
are written chunk by chunk to a plain ``.npy`` file, so memory stays bounded by the
chunk; readers get an :class:`ImageFile`, which reads the rows asked for with
``pread`` - unlike a memmap, whose touched pages stay in the process's resident set,
so that one pass over a year of images would hold all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

META_FILE = "meta.json"


def set_file(directory: str | Path, split: str, kind: str) -> Path:
    """An image set's array ``{split}_{kind}.npy`` (kind: images, labels, timestamps);
    the gaf stage writes these names and :class:`GafSet` reads them."""
    return Path(directory) / f"{split}_{kind}.npy"


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


class ImageFile:
    """Read-only rows of an ``.npy`` array, read from the file on each access.

    Supports what the stages do with image arrays: ``len``, ``shape``, ``dtype``,
    ``ndim`` and indexing by an int, a slice (step 1) or an array of row indices (each
    run of consecutive rows is one read). Every access returns a new ndarray; nothing
    is kept, so memory is bounded by what the caller asks for at once.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read(fh)
            self.offset = fh.tell()
        if fortran:
            raise ValueError(f"{self.path}: Fortran-ordered arrays are not supported")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)
        self.row_shape = self.shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self._fd = os.open(self.path, os.O_RDONLY)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, stop: int, out: np.ndarray) -> None:
        view = memoryview(out.reshape(-1).view(np.uint8))
        want, pos, got = (stop - start) * self.row_bytes, self.offset + start * self.row_bytes, 0
        while got < want:
            n = os.preadv(self._fd, [view[got:want]], pos + got)
            if n <= 0:
                raise OSError(f"{self.path}: file ends before row {stop}")
            got += n

    def __getitem__(self, key: int | slice | np.ndarray) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            return self[i : i + 1][0]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                return self[np.arange(start, stop, step)]
            out = np.empty((max(stop - start, 0), *self.row_shape), dtype=self.dtype)
            if len(out):
                self._read(start, stop, out)
            return out
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = np.where(idx < 0, idx + len(self), idx).astype(np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"{self.path}: row index out of range 0..{len(self) - 1}")
        out = np.empty((len(idx), *self.row_shape), dtype=self.dtype)
        order = np.argsort(idx, kind="stable")
        rows = idx[order]
        tmp = np.empty_like(out)
        # runs of consecutive rows (after sorting) are read at once
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(rows)], strict=True):
            if b > a:
                self._read(int(rows[a]), int(rows[b - 1]) + 1, tmp[a:b])
        out[order] = tmp
        return out

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)


def fingerprint(timestamps: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the sample keys and labels, in order."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(timestamps, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int8).tobytes())
    return h.hexdigest()


class GafSet:
    """Read access to one window's image set (arrays opened lazily; images read by row
    on each access, see :class:`ImageFile`)."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        meta_path = self.dir / META_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path}: missing; run the gaf stage first")
        self.meta = json.loads(meta_path.read_text())

    @property
    def window(self) -> int:
        return int(self.meta["window"])

    def images(self, split: str) -> ImageFile:
        return ImageFile(set_file(self.dir, split, "images"))

    def labels(self, split: str) -> np.ndarray:
        return np.load(set_file(self.dir, split, "labels"))

    def timestamps(self, split: str) -> np.ndarray:
        return np.load(set_file(self.dir, split, "timestamps"))


class ChannelStats:
    """Running min / max / mean / NaN count per channel, and per-class mean images."""

    def __init__(self, channels: int, size: int):
        self.min = np.full(channels, np.inf)
        self.max = np.full(channels, -np.inf)
        self.sum = np.zeros(channels)
        self.count = 0
        self.nan = 0
        self.class_sum = np.zeros((2, channels, size, size))
        self.class_n = np.zeros(2, dtype=np.int64)

    def add(self, images: np.ndarray, labels: np.ndarray | None) -> None:
        x = images.astype(np.float32)
        self.nan += int(np.count_nonzero(~np.isfinite(x)))
        self.min = np.minimum(self.min, np.nanmin(x, axis=(0, 2, 3)))
        self.max = np.maximum(self.max, np.nanmax(x, axis=(0, 2, 3)))
        self.sum += np.nansum(x, axis=(0, 2, 3), dtype=np.float64)
        self.count += x.shape[0] * x.shape[2] * x.shape[3]
        if labels is not None:
            for k in (0, 1):
                sel = labels == k
                self.class_sum[k] += x[sel].sum(axis=0, dtype=np.float64)
                self.class_n[k] += int(sel.sum())
