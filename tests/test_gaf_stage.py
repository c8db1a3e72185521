"""The `gaf` stage: aligned, streamed image sets per window."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from pipeline import MARKET, metrics

from gafcnn.data.labels import LabelSpec
from gafcnn.data.samples import build_samples
from gafcnn.data.split import SplitSpec, make_split
from gafcnn.evaluation.audit import check_alignment
from gafcnn.images.encodings import gadf, gasf
from gafcnn.images.imageset import GafSet, NpyWriter

WINDOWS = (15, 30, 60)


def _audit_input(sets: list[GafSet]):
    """The audit's view of image sets (timestamps and labels are what alignment reads)."""
    from types import SimpleNamespace

    from gafcnn.data.split import SEGMENTS

    windows = {
        s.window: SimpleNamespace(
            timestamps={k: s.timestamps(k) for k in SEGMENTS},
            labels={k: s.labels(k) for k in SEGMENTS},
        )
        for s in sets
    }
    return SimpleNamespace(windows=windows)


def test_windows_share_timestamps_and_labels(project):
    sets = [GafSet(project / MARKET / "data" / "gaf" / f"w{w}") for w in WINDOWS]
    check = check_alignment(_audit_input(sets))
    assert check.status == "pass" and check.value == 0
    counts = sets[0].meta["counts"]
    assert all(c > 0 for c in counts.values())
    for s in sets:
        assert s.meta["counts"] == counts
        assert s.meta["fingerprint"] == sets[0].meta["fingerprint"]
        assert s.meta["channels"] == ["gasf:close", "gadf:close"]
        m = metrics(project, f"gaf_w{s.window}")
        assert m["nan_count"] == 0 and m["counts"] == counts
        for st in m["channel_stats"].values():
            assert -1.0 <= st["min"] <= st["max"] <= 1.0


def test_images_encode_the_window_ending_at_the_decision(project):
    bars = pd.read_parquet(project / MARKET / "data" / "interim" / "bars.parquet")
    ms = bars["timestamp"].dt.as_unit("ms").astype("int64").to_numpy()
    close = bars["close"].to_numpy()
    for w in WINDOWS:
        s = GafSet(project / MARKET / "data" / "gaf" / f"w{w}")
        size = s.meta["image_size"]
        assert size == min(w, 30)
        ts = s.timestamps("val")[:50]
        pos = np.searchsorted(ms, ts)
        windows = np.stack([close[p - w + 1 : p + 1] for p in pos])
        images = s.images("val")[:50].astype(np.float32)
        assert images.dtype == np.float32 and s.images("val").dtype == np.float16
        np.testing.assert_allclose(images[:, 0], gasf(windows, size), atol=2e-3)
        np.testing.assert_allclose(images[:, 1], gadf(windows, size), atol=2e-3)


def test_misaligned_window_is_caught(project, tmp_path):
    dirs = {}
    for w in WINDOWS:
        dirs[w] = tmp_path / f"w{w}"
        shutil.copytree(project / MARKET / "data" / "gaf" / f"w{w}", dirs[w])
    # shift w60 by one sample against w15: drop its first val sample, repeat the last
    ts = np.load(dirs[60] / "val_timestamps.npy")
    np.save(dirs[60] / "val_timestamps.npy", np.r_[ts[1:], ts[-1]])
    check = check_alignment(_audit_input([GafSet(dirs[w]) for w in WINDOWS]))
    assert check.status == "fail"
    assert "w60 val: sample 0 is at another timestamp than in w15" in check.detail
    # a label flipped in w30
    y = np.load(dirs[30] / "test_labels.npy")
    y[5] = 1 - y[5]
    np.save(dirs[30] / "test_labels.npy", y)
    check = check_alignment(_audit_input([GafSet(dirs[15]), GafSet(dirs[30])]))
    assert check.status == "fail" and "w30 test: same timestamps, different labels" in check.detail


def test_no_window_spans_a_gap():
    minutes = np.arange(3000, dtype=np.int64)
    minutes[1500:] += 7  # a 7-minute hole before position 1500
    close = 100 + np.cumsum(np.random.default_rng(0).normal(0, 0.1, 3000))
    split = make_split(minutes, SplitSpec(), list(WINDOWS), 5)
    s = build_samples(minutes, close, list(WINDOWS), LabelSpec(), split)
    # windows of 60 ending at positions 1500..1558 would span the hole; labels from
    # positions 1495..1499 would need a bar that does not exist
    assert not np.isin(s.position, np.arange(1495, 1559)).any()
    assert np.isin([1494, 1559], s.position).all()


def test_npy_writer_round_trip(tmp_path):
    data = np.random.default_rng(0).normal(size=(10, 2, 3, 3)).astype(np.float16)
    w = NpyWriter(tmp_path / "x.npy", data.shape, np.float16)
    w.write(data[:4])
    w.write(data[4:])
    w.close()
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy", mmap_mode="r"), data)
    short = NpyWriter(tmp_path / "y.npy", data.shape, np.float16)
    short.write(data[:3])
    with pytest.raises(ValueError, match="wrote 3 rows"):
        short.close()


def test_meta_records_what_was_written(project):
    meta = json.loads((project / MARKET / "data" / "gaf" / "w60" / "meta.json").read_text())
    assert meta["layout"] == "N,C,H,W" and meta["dtype"] == "float16"
    assert meta["horizon"] == 5 and meta["windows"] == list(WINDOWS)
    assert (project / MARKET / "plots" / "gaf" / "w60_samples.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "key",
    [
        3,
        -1,
        slice(None),
        slice(2, 9),
        slice(9, 2),
        slice(1, 20, 3),
        np.array([7, 2, 3, 4, 19, 0, 3]),
        np.array([], dtype=np.int64),
        np.arange(20) % 3 == 0,
    ],
)
def test_image_file_reads_what_numpy_reads(tmp_path, key):
    from gafcnn.images.imageset import ImageFile

    arr = np.random.default_rng(0).normal(size=(20, 2, 3, 3)).astype(np.float16)
    np.save(tmp_path / "x.npy", arr)
    f = ImageFile(tmp_path / "x.npy")
    assert len(f) == 20 and f.shape == arr.shape and f.dtype == arr.dtype
    np.testing.assert_array_equal(f[key], arr[key])
    np.testing.assert_array_equal(np.asarray(f, np.float32), arr.astype(np.float32))


def test_image_file_rejects_rows_past_the_end(tmp_path):
    from gafcnn.images.imageset import ImageFile

    np.save(tmp_path / "x.npy", np.zeros((4, 2), np.float16))
    with pytest.raises(IndexError, match="x.npy"):
        ImageFile(tmp_path / "x.npy")[np.array([1, 4])]
