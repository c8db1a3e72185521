"""The volatility target beside the direction label, and the forecasters fitted to it.

:class:`Target` holds the decision samples (bar positions and segments, the same ones
the direction models read) with the realized volatility of the next ``horizon``
minutes at each. Its span is longer than the label's, so a train or val sample whose
target span overlaps another segment's is left out of fitting (the purge, for this
target); every sample is forecast. :func:`fit_forecasters` fits every declared
forecaster and forecasts every sample, as the `volatility` stage and `gafcnn
volatility` do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data.samples import evenly
from gafcnn.data.split import SEGMENTS
from gafcnn.io import write_json
from gafcnn.volatility.forecasters import Features, Fit
from gafcnn.volatility.realized import forward
from gafcnn.volatility.scores import qlike, r2_log


def clear_of_others(minutes: np.ndarray, segment: np.ndarray, horizon: int) -> np.ndarray:
    """Per sample, whether no sample of another segment lies within ``horizon`` minutes
    of it (their target spans would overlap)."""
    ok = np.ones(len(minutes), dtype=bool)
    for s in np.unique(segment):
        mine = segment == s
        others = np.sort(minutes[~mine])
        if len(others) == 0:
            continue
        t = minutes[mine]
        at = np.searchsorted(others, t)
        after = others[np.minimum(at, len(others) - 1)]
        before = others[np.maximum(at - 1, 0)]
        ok[np.flatnonzero(mine)] = (np.abs(after - t) >= horizon) & (np.abs(t - before) >= horizon)
    return ok


class Target:
    """Decision samples (bar ``positions``, ``segment`` names, timestamps ``ts`` in ms)
    with the realized volatility ``rv`` of the next ``horizon`` minutes and the mask
    ``fits`` of those that may be fitted on; at most ``most`` of them per segment are
    (evenly spaced), so fitting's memory stays flat as bars grow."""

    def __init__(self, bars: dict[str, np.ndarray], minutes: np.ndarray, positions: np.ndarray,
                 segment: np.ndarray, horizon: int, spans: tuple[int, ...],
                 most: int | None = None):  # fmt: skip
        self.bars, self.minutes, self.pos = bars, minutes, np.asarray(positions)
        self.segment, self.horizon, self.spans = np.asarray(segment), horizon, spans
        self.ts = clock.ms_of_minutes(minutes[self.pos])
        self.rv = forward(bars["close"], minutes, horizon)[self.pos]
        clear = clear_of_others(minutes[self.pos], self.segment, horizon)
        self.fits = np.isfinite(self.rv) & (self.rv > 0) & clear
        self.most = most

    def features(self, mask: np.ndarray) -> Features:
        return Features(self.bars, self.minutes, self.pos[mask], self.horizon, self.spans)

    def fitted(self, segment: str) -> np.ndarray:
        """The samples of ``segment`` fitted on: its fitting samples, at most ``most``."""
        idx = np.flatnonzero((self.segment == segment) & self.fits)
        return idx if self.most is None else idx[evenly(len(idx), self.most)]

    def fit(self, seed: int, xgb: Any, threads: int, cnn_window: int | None = None) -> Fit:
        """What the forecasters are fitted on: train's and val's fitted samples."""
        train, val = self.fitted("train"), self.fitted("val")
        return Fit(train=self.features(train), train_rv=self.rv[train],
                   val=self.features(val), val_rv=self.rv[val], seed=seed, xgb=xgb,
                   threads=threads, cnn_window=cnn_window)  # fmt: skip

    def counts(self) -> dict:
        """Samples fitted on per segment, and those left out for overlapping another's."""
        known = np.isfinite(self.rv)
        return {s: {"fitted": len(self.fitted(s)),
                    "purged": int((known & ~self.fits & (self.segment == s)).sum())}
                for s in ("train", "val")}  # fmt: skip


def fit_forecasters(classes: list[tuple[str, Any]], target: Target, fit: Fit,
                    folder: Path) -> tuple[pd.DataFrame, dict]:  # fmt: skip
    """Fit each forecaster of ``classes`` (name, class), save its state to ``folder``
    (``<name>.json`` and its files) and forecast every sample: the predictions (``ts``,
    ``segment``, ``model``, ``realized``, ``predicted``) and each one's val and test
    QLIKE and R². A forecaster that cannot be fitted is one ValueError naming it."""
    frames, scores = [], {}
    for name, cls in classes:
        try:
            forecaster = cls().fit(fit)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}; train has {len(fit.train_rv)} targets, "
                             f"and the longest HAR span ({max(target.spans)} minutes) may "
                             "leave too few of them") from None  # fmt: skip
        write_json(Path(folder) / f"{name}.json", forecaster.save(folder, name))
        scores[name] = {}
        for s in SEGMENTS:
            mask = target.segment == s
            pred, rv = forecaster.predict(target.features(mask)), target.rv[mask]
            frames.append(pd.DataFrame({"ts": target.ts[mask], "segment": s, "model": name,
                                        "realized": rv, "predicted": pred}))  # fmt: skip
            if s != "train":
                share = float(np.mean(np.isfinite(pred)))
                scores[name][s] = {"qlike": qlike(rv, pred), "r2_log": r2_log(rv, pred),
                                         "forecast_share": share}  # fmt: skip
    return pd.concat(frames, ignore_index=True), scores
