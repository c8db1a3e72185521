"""Small helpers the model stages share: the image sets,
the shared samples and the bar positions of their decision times."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import paths
from gafcnn.data.bars import FLOW, OHLCV, bar_positions, load_bars
from gafcnn.data.split import SEGMENTS
from gafcnn.images.imageset import GafSet
from gafcnn.params import Params


def gaf_sets(params: Params) -> dict[int, GafSet]:
    return {w: GafSet(paths.gaf_dir(w)) for w in params.gaf.windows}


def samples_frame(gs: GafSet) -> pd.DataFrame:
    """The shared samples (timestamp ms, segment, label) of an image set."""
    parts = [
        pd.DataFrame({"ts": gs.timestamps(s), "segment": s, "label": gs.labels(s)})
        for s in SEGMENTS
    ]
    return pd.concat(parts, ignore_index=True)


def window_arg(doc: str | None) -> int:
    """The ``--window`` argument of a per-window (matrix) stage."""
    import argparse

    ap = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    ap.add_argument("--window", type=int, required=True)
    return ap.parse_args().window


def split_positions(gs: GafSet, minutes: np.ndarray) -> dict[str, np.ndarray]:
    """The bar position of every decision time of each segment of an image set."""
    return {s: bar_positions(minutes, gs.timestamps(s), gs.dir) for s in SEGMENTS}


def model_bars(params: Params) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The bars the indicator models read (:func:`gafcnn.data.features.model_inputs`):
    OHLCV, and the order flow with ``features.flow`` (one error when the bars carry
    none)."""
    return load_bars(tuple(OHLCV) + (tuple(FLOW) if params.features.flow else ()))
