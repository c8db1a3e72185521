"""Walk-forward folds: test blocks laid end to end over the later part of the history,
each preceded by its own (purged) train and val.

Fold k tests decision times in bar positions ``[test_start, test_stop)``; the blocks
tile ``[round(test_from * n), n)``. Before each block lie a test margin of
``max(window) - 1`` bars (so the block's first decision has its whole window inside
the fold's test segment), a purge, val, a purge and train. ``expanding`` trains on
everything before; ``rolling`` keeps the first fold's train length. Each fold is the
single-split pipeline run on the bars ``[first_bar, stop_bar)`` with a date split
(:func:`fold_split_params`), so labels, dead-zone cut points, scalers and every model
are fitted on the fold's own train (and val) only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from gafcnn import clock
from gafcnn.data.split import required_purge
from gafcnn.params import WalkForwardSpec


@dataclass(frozen=True)
class Fold:
    index: int
    first_bar: int  # first bar the fold's pipeline sees (train starts here)
    train_stop: int  # one past train's last bar
    val_start: int
    test_segment_start: int  # the fold's test segment: the block plus its window margin
    test_start: int  # first decision position the fold is scored on
    test_stop: int  # one past the last
    stop_bar: int  # one past the last bar the fold sees (the last label bar)

    def to_dict(self, minutes: np.ndarray | None = None) -> dict:
        d = asdict(self)
        if minutes is not None:
            for key in ("first_bar", "val_start", "test_start"):
                d[f"{key}_time"] = clock.iso_minute(int(minutes[getattr(self, key)]))
            d["test_stop_time"] = clock.iso_minute(int(minutes[self.test_stop - 1]))
        return d


def make_folds(
    n_bars: int, spec: WalkForwardSpec, windows: list[int], horizon: int, purge: int | None = None
) -> list[Fold]:
    """The folds over ``n_bars`` bars (``purge`` bars between segments, at least
    ``max(window) + horizon``); ValueError when a segment would be too short."""
    if spec.folds == 0:
        return []
    purge = max(purge or 0, required_purge(windows, horizon))
    margin = max(windows) - 1
    first_test = int(round(spec.test_from * n_bars))
    edges = np.linspace(first_test, n_bars, spec.folds + 1).round().astype(int)
    val_len = int(round(spec.val * first_test))
    need = required_purge(windows, horizon)  # a segment must hold at least one sample
    folds: list[Fold] = []
    train_len = None
    for k in range(spec.folds):
        start, stop = int(edges[k]), int(edges[k + 1])
        seg_start = start - margin
        val_stop = seg_start - purge
        val_start = val_stop - val_len
        train_stop = val_start - purge
        if train_len is None:
            train_len = train_stop
        first = 0 if spec.scheme == "expanding" else max(0, train_stop - train_len)
        sizes = {"train": train_stop - first, "val": val_len, "test": stop - start}
        short = {k_: v for k_, v in sizes.items() if v < need}
        if short:
            raise ValueError(
                f"fold {k}: {', '.join(f'{s} has {max(v, 0)} bars' for s, v in short.items())}; "
                f"each needs at least max(window) + horizon = {need} "
                f"({n_bars} bars, {spec.folds} folds): use fewer folds or more history"
            )
        folds.append(
            Fold(
                k, first, train_stop, val_start, seg_start, start, stop, min(n_bars, stop + horizon)
            )
        )
    return folds


def fold_split_params(split: dict, fold: Fold, minutes: np.ndarray) -> dict:
    """The ``split`` section (the user's, by date) that makes the single-split
    pipeline, run on the fold's bars, produce the fold's train / val / test."""
    return {
        **split,
        "method": "date",
        "val_start": clock.iso_minute(int(minutes[fold.val_start])),
        "test_start": clock.iso_minute(int(minutes[fold.test_segment_start])),
    }
