"""The volatility forecast and sizing on one bars file, without the direction models:
the pipeline's split and decision samples, its forecasters fitted and judged as the
`volatility` and `sizing` stages do, and always long unsized against sized
(`gafcnn volatility --bars FILE`). The direction policies' sizing needs their trades,
and the CNN head a trained CNN, so both are the pipeline's (`reports/sizing.md`)."""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import pandas as pd

from gafcnn.data.bars import OHLCV, minute_index
from gafcnn.data.samples import build_samples
from gafcnn.data.split import SEGMENTS, make_split
from gafcnn.params import Params
from gafcnn.volatility import evaluation
from gafcnn.volatility.target import Target, fit_forecasters


def study(params: Params, bars: pd.DataFrame, classes: list[tuple[str, Any]],
          threads: int = 1) -> dict:  # fmt: skip
    """What the `sizing` stage reports, always long only, for ``bars`` (one symbol), of
    the forecasters ``classes`` (name, class: those that need no other model)."""
    minutes = minute_index(bars)
    arrays = {k: bars[k].to_numpy(np.float64) for k in OHLCV}
    windows = list(params.gaf.windows)
    split = make_split(minutes, params.split, windows, params.label.longest)
    samples = build_samples(minutes, arrays["close"], windows, params.label, split,
                            stride=params.gaf.stride)  # fmt: skip
    sz = params.sizing
    segment = np.asarray(SEGMENTS)[samples.segment]
    target = Target(arrays, minutes, samples.position, segment, sz.horizon, sz.spans,
                    sz.fit_samples)  # fmt: skip
    fit = target.fit(params.seed, params.xgb, threads)
    with tempfile.TemporaryDirectory() as folder:
        frame, _ = fit_forecasters(classes, target, fit, folder)
    prices = evaluation.Prices(arrays["close"], arrays["low"], arrays["high"], minutes)
    cost, rules = params.evaluate.costs.per_side_bps, evaluation.rules(params)
    figures, _ = evaluation.assess(frame, [name for name, _ in classes], prices, cost, rules)
    return {**figures, "samples": target.counts()}
