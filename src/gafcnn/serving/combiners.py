"""Serving hooks of the ensemble methods: each combines the CNNs' P(up) with the
coefficients the ``ensemble`` stage fitted, by the functions that stage predicted
with (:mod:`gafcnn.models.combine`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gafcnn import paths, registry
from gafcnn.io import read_json
from gafcnn.models import combine
from gafcnn.serving.served import Inputs, Predict


class Combiner:
    """One ensemble method (an ``ensemble.method`` value) over the CNNs of ``windows``."""

    def __init__(self, method: str):
        self.method = method

    def ship(self, model: Any, windows: list[int], folder: Path) -> dict:
        fitted = read_json(paths.ENSEMBLE_MODEL)
        spec: dict[str, Any] = {"members": [registry.CNN.at(w) for w in windows]}
        if self.method == "weighted":
            spec["weights"] = [fitted["weights"][f"w{w}"] for w in windows]
        if self.method == "stacking":
            spec["coef"] = [fitted["stacking_coef"][f"w{w}"] for w in windows]
            spec["intercept"] = fitted["stacking_intercept"]
        return spec

    def load(self, model: Any, spec: dict, folder: Path) -> Predict:
        combiner = combine.METHODS[self.method]
        args = [spec[k] for k in ("weights", "coef", "intercept") if k in spec]

        def predict(x: Inputs) -> dict[str, np.ndarray]:
            return {model.name: combiner(x.members(spec["members"]), *args)}

        return predict


MEAN, WEIGHTED, STACKING = Combiner("mean"), Combiner("weighted"), Combiner("stacking")
