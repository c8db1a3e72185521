"""Chronological split: purged so that no window or label crosses segments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gafcnn.data.labels import LabelSpec
from gafcnn.data.samples import (
    build_samples,
    longest_run,
    segment_coverage,
    shortfalls,
    window_complete,
)
from gafcnn.data.split import (
    SplitSpec,
    bar_segments,
    make_split,
    required_purge,
    segment_shares,
)


def sample_segments(positions, window, horizon, segments):
    """Oracle for bar_segments: per sample, the segment holding its window and its label
    bar (at most ``horizon`` positions later), or -1; one sample at a time by the rule."""
    t = np.asarray(positions)
    out = np.full(len(t), -1, dtype=np.int64)
    for k, s in enumerate(segments):
        inside = (t - window + 1 >= s.start) & (t + horizon < s.stop)
        out[inside] = k
    return out


def _bars_used(segment_of, positions, window, horizon, k):
    """Every bar position touched by the samples assigned to segment k."""
    t = positions[segment_of == k]
    if len(t) == 0:
        return np.array([], dtype=int)
    spans = t[:, None] + np.arange(-window + 1, horizon + 1)[None, :]
    return np.unique(spans)


@settings(max_examples=150, deadline=None)
@given(
    windows=st.lists(st.integers(1, 80), min_size=1, max_size=4),
    horizon=st.integers(1, 30),
    extra=st.integers(0, 5000),
    fractions=st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(1, 20)),
)
def test_no_window_or_label_shared_between_segments(windows, horizon, extra, fractions):
    need = required_purge(windows, horizon)
    total = sum(fractions)
    n = 6 * need + extra
    spec = SplitSpec(
        train=fractions[0] / total,
        val=fractions[1] / total,
        test=1 - (fractions[0] + fractions[1]) / total,
    )
    minutes = np.arange(n, dtype=np.int64)
    try:
        split = make_split(minutes, spec, windows, horizon)
    except ValueError as exc:
        assert "needs at least" in str(exc)
        return
    segs = split.segments
    for a, b in zip(segs, segs[1:], strict=False):
        assert b.start - a.stop >= need
    positions = np.arange(n)
    for w in windows:
        seg = sample_segments(positions, w, horizon, segs)
        np.testing.assert_array_equal(bar_segments(n, w, horizon, segs), seg)
        used = [_bars_used(seg, positions, w, horizon, k) for k in range(3)]
        for i in range(3):
            assert used[i].size == 0 or (
                used[i].min() >= segs[i].start and used[i].max() < segs[i].stop
            )
            for j in range(i + 1, 3):
                assert np.intersect1d(used[i], used[j]).size == 0
                if used[i].size and used[j].size:  # decision times of later segments come later
                    ti = positions[seg == i]
                    tj = positions[seg == j]
                    assert tj.min() - ti.max() > need


def test_fractions_sizes_and_purge():
    minutes = np.arange(10_000)
    split = make_split(minutes, SplitSpec(), [15, 30, 60], 5)
    train, val, test = split.segments
    assert split.purge == 65
    assert (train.start, val.start - train.stop, test.start - val.stop, test.stop) == (
        0,
        65,
        65,
        10_000,
    )
    assert abs(train.size / (10_000 - 130) - 0.7) < 1e-3


def test_dates_method():
    minutes = np.arange(1000) + 28_000_000  # minutes since epoch, mid-2023
    import pandas as pd

    t = lambda i: pd.Timestamp((28_000_000 + i) * 60_000, unit="ms", tz="UTC").isoformat()  # noqa: E731
    spec = SplitSpec(method="date", val_start=t(600), test_start=t(800))
    split = make_split(minutes, spec, [15, 30], 5)
    assert [(s.start, s.stop) for s in split.segments] == [(0, 565), (600, 765), (800, 1000)]


def test_purge_below_requirement_is_rejected():
    with pytest.raises(ValueError, match="below max"):
        make_split(np.arange(5000), SplitSpec(purge=10), [15, 30, 60], 5)


def test_too_little_data_is_rejected():
    with pytest.raises(ValueError, match="needs at least"):
        make_split(np.arange(300), SplitSpec(), [60], 5)


def test_window_complete_detects_gaps():
    minutes = np.array([0, 1, 2, 3, 5, 6, 7, 8])
    np.testing.assert_array_equal(
        window_complete(minutes, 3), [False, False, True, True, False, False, True, True]
    )


@pytest.mark.parametrize(
    ("minutes", "run"),
    [
        ([], 0),
        ([7], 1),
        ([0, 1, 2, 3], 4),
        ([0, 2, 4], 1),
        ([0, 1, 5, 6, 7, 9], 3),
        ([3, 9, 10], 2),
    ],
)
def test_longest_run(minutes, run):
    assert longest_run(np.array(minutes, dtype=np.int64)) == run


def _gappy(n_minutes: int, keep: float, seed: int = 0) -> np.ndarray:
    """Minutes of a market where each minute has a bar with probability ``keep``."""
    rng = np.random.default_rng(seed)
    return np.flatnonzero(rng.random(n_minutes) < keep).astype(np.int64)


def test_gap_heavy_segments_are_reported_with_what_they_lack():
    minutes = _gappy(130_000, 0.44)  # like a thin exchange: more than half the minutes missing
    close = 100 + np.cumsum(np.random.default_rng(1).normal(0, 0.1, len(minutes)))
    windows, horizon = [15, 30, 60], 5
    split = make_split(minutes, SplitSpec(), windows, horizon)
    smp = build_samples(minutes, close, windows, LabelSpec(horizon=horizon), split, stride=2)
    cov = segment_coverage(minutes, smp, split)
    assert [c["samples"] for c in cov.values()] == [0, 0, 0]
    assert all(0 < c["longest_run"] < 60 for c in cov.values())
    assert sum(c["bars"] for c in cov.values()) + 2 * split.purge == len(minutes)
    lines = shortfalls(cov, windows, horizon, 2, 100)
    assert len(lines) == 3
    run = cov["train"]["longest_run"]
    assert lines[0].startswith("split segment train has 0 samples (split.min_samples is 100); ")
    assert f"longest gap-free run is {run} of {cov['train']['bars']:,} bars" in lines[0]
    assert "needs 60 consecutive bars" in lines[0] and "65 minutes in all" in lines[0]
    assert lines[0].endswith(
        " - set data.fill_gaps: true, use smaller gaf.windows, use a smaller gaf.stride, "
        "or give a longer period"
    )
    # smaller windows fit inside the gap-free runs: samples appear
    small = build_samples(minutes, close, [3], LabelSpec(horizon=1), split, stride=1)
    assert all(c["samples"] > 100 for c in segment_coverage(minutes, small, split).values())
    assert shortfalls(segment_coverage(minutes, small, split), [3], 1, 1, 100) == []


def test_only_short_segments_are_reported():
    cov = {
        "train": {"bars": 9000, "longest_run": 9000, "samples": 4000},
        "val": {"bars": 2000, "longest_run": 40, "samples": 99},
        "test": {"bars": 2000, "longest_run": 2000, "samples": 100},
    }
    lines = shortfalls(cov, [15, 30], 5, 1, 100)
    assert len(lines) == 1 and lines[0].startswith("split segment val has 99 samples")
    # runs of 40 bars hold a 30-bar window and its label: smaller windows are no remedy
    assert lines[0].endswith(" - set data.fill_gaps: true or give a longer period")
    # a gap-free segment that is simply short: only more data (or more of it sampled) helps
    short = {"test": {"bars": 300, "longest_run": 300, "samples": 60}}
    assert shortfalls(short, [60], 5, 1, 100)[0].endswith(" - give a longer period")
    assert shortfalls(short, [60], 5, 2, 100)[0].endswith(
        ", at a minute divisible by gaf.stride 2 - use a smaller gaf.stride or give a longer period"
    )


def test_segment_shares():
    split = make_split(np.arange(1000), SplitSpec(), [10], 5)
    mask = np.zeros(1000, dtype=bool)
    train = split.segment("train")
    mask[train.start : train.start + train.size // 4] = True
    shares = segment_shares(mask, split)
    assert shares["train"] == pytest.approx(0.25, abs=0.01)
    assert shares["val"] == shares["test"] == 0.0


def test_ranges_method_takes_segments_of_several_ranges_in_any_order_of_time():
    import pandas as pd

    from gafcnn.params import SplitRanges

    minutes = np.arange(3000) + 28_000_000
    t = lambda i: pd.Timestamp((28_000_000 + i) * 60_000, unit="ms", tz="UTC").isoformat()  # noqa: E731
    ranges = SplitRanges(train=[[t(0), t(900)], [t(2100), t(3000)]], val=[[t(1800), t(2100)]],
                         test=[[t(1000), t(1700)]])  # fmt: skip
    split = make_split(minutes, SplitSpec(method="ranges", ranges=ranges), [30], 5)
    assert [(s.name, s.start, s.stop) for s in split.segments] == [
        ("train", 0, 900), ("train", 2100, 3000), ("val", 1800, 2100), ("test", 1000, 1700)
    ]  # fmt: skip
    seg = bar_segments(3000, 30, 5, split.segments)
    assert set(seg[29:895]) == {0} and set(seg[2129:2995]) == {0}  # one number per name
    assert set(seg[1029:1695]) == {2} and set(seg[1829:2095]) == {1}
    assert set(seg[895:1029]) == {-1}  # samples whose bars straddle two ranges: none
    lab = LabelSpec(horizon=5)
    smp = build_samples(minutes, np.linspace(100, 101, 3000), [30], lab, split)
    cov = segment_coverage(minutes, smp, split)
    assert cov["train"]["bars"] == 1800 and cov["train"]["samples"] == 2 * (900 - 29 - 5)
    assert segment_shares(np.arange(3000) >= 2100, split)["train"] == 0.5


@pytest.mark.parametrize(
    "train, val, test, words",
    [([[0, 900]], [[800, 1000]], [[1200, 1500]], "overlaps"),
     ([[0, 900]], [], [[1200, 1500]], "needs split.ranges.val"),
     ([[0, 900]], [[1000, 1020]], [[1200, 1500]], "longest range has 20 bars")],
)  # fmt: skip
def test_bad_ranges_are_one_error_saying_what(train, val, test, words):
    import pandas as pd

    from gafcnn.params import SplitRanges

    minutes = np.arange(3000) + 28_000_000
    t = lambda i: pd.Timestamp((28_000_000 + i) * 60_000, unit="ms", tz="UTC").isoformat()  # noqa: E731
    ranges = SplitRanges(*[[[t(a), t(b)] for a, b in r] for r in (train, val, test)])
    with pytest.raises(ValueError, match=words):
        make_split(minutes, SplitSpec(method="ranges", ranges=ranges), [30], 5)
