"""Serving hooks of the raw-series models (:mod:`gafcnn.models.series`): each window's
raw-window booster, and each window's MiniRocket transform and head, predicting with
the functions their stages wrote P(up) with."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gafcnn import paths
from gafcnn.models.series import Rocket, predict_raw_xgb, raw_features
from gafcnn.serving.boosters import load_booster
from gafcnn.serving.served import Inputs, Predict


class PerWindow:
    """A per-window model stored as one file per window (``file(w)``), loaded by
    ``load_file(path)`` into a predictor of ``(inputs, window) -> P(up)``."""

    def __init__(
        self,
        file: Callable[[int], Path],
        load_file: Callable[[Path], Callable[[Inputs, int], np.ndarray]],
    ):
        self.file, self.load_file = file, load_file

    def ship(self, model: Any, windows: list[int], folder: Path) -> dict:
        names = {}
        for w in windows:
            src = self.file(w)
            names[f"w{w}"] = f"{model.at(w)}{src.suffix}"
            shutil.copyfile(src, folder / names[f"w{w}"])
        return {"history_bars": max(windows), "files": names}

    def load(self, model: Any, spec: dict, folder: Path) -> Predict:
        served = {
            int(key.removeprefix("w")): self.load_file(folder / name)
            for key, name in spec["files"].items()
        }

        def predict(x: Inputs) -> dict[str, np.ndarray]:
            return {model.at(w): f(x, w) for w, f in served.items()}

        return predict


def _booster(path: Path) -> Callable[[Inputs, int], np.ndarray]:
    booster = load_booster(path)
    return lambda x, w: predict_raw_xgb(booster, raw_features(x.bars, x.positions, w))


def _rocket(path: Path) -> Callable[[Inputs, int], np.ndarray]:
    rocket = Rocket.load(path)
    return lambda x, w: rocket.predict(x.bars, x.positions)


XGB_RAW = PerWindow(paths.xgb_raw_model, _booster)
MINIROCKET = PerWindow(paths.minirocket_model, _rocket)
