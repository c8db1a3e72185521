"""Serving hooks of the XGBoost models (xgb_indicators and the hybrid): the booster the
stage fitted, fed the features in the order it was fitted on.

Only the booster is loaded: when scikit-learn is not loaded yet it is kept out
(xgboost would import it for its sklearn wrapper), which saves about 60 MB in a
serving process.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gafcnn import paths, registry
from gafcnn.data.features import INDICATORS
from gafcnn.models import combine
from gafcnn.serving.served import Inputs, Predict

# Bars a decision needs behind it: the indicators' slowest EMA (span 27) keeps less
# than 1e-7 of its starting value after 240 bars, so P(up) from the last 240 bars
# matches P(up) computed over the whole history.
WARMUP_BARS = 240


def xgboost() -> Any:
    """The xgboost module, imported without scikit-learn when that is not loaded."""
    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        import xgboost

        return xgboost
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # import fails -> not installed
    try:
        import xgboost
    finally:
        del sys.modules["sklearn"]
    return xgboost


def load_booster(path: Path) -> Any:
    """An XGBoost booster from its file, predicting on one thread: a decision is a
    row or a few, and an OpenMP team left spinning after each prediction takes the
    CPU from the rest of the serving process and its clients (a tree ensemble's
    prediction of a row does not depend on the thread count)."""
    booster = xgboost().Booster()
    booster.load_model(bytearray(Path(path).read_bytes()))
    booster.set_param({"nthread": 1})
    return booster


class Booster:
    """A booster fitted to ``file`` on the features ``inputs(windows)`` names, which
    ``features(inputs, spec)`` builds at serving time (``members``: the CNNs whose
    P(up) it reads)."""

    def __init__(
        self,
        file: Path,
        inputs: Callable[[list[int]], list[str]],
        features: Callable[[Inputs, dict], np.ndarray],
        reads_cnns: bool = False,
    ):
        self.file, self.inputs, self.features = file, inputs, features
        self.reads_cnns = reads_cnns

    def ship(self, model: Any, windows: list[int], folder: Path) -> dict:
        shutil.copyfile(self.file, folder / f"{model.name}.ubj")
        spec = {"history_bars": WARMUP_BARS, "inputs": self.inputs(windows)}
        if self.reads_cnns:
            spec["members"] = [registry.CNN.at(w) for w in windows]
        return spec

    def load(self, model: Any, spec: dict, folder: Path) -> Predict:
        booster = load_booster(folder / f"{model.name}.ubj")
        best = booster.attr("best_iteration")
        rounds = 0 if best is None else int(best) + 1

        def predict(x: Inputs) -> dict[str, np.ndarray]:
            feats = np.ascontiguousarray(self.features(x, spec), dtype=np.float64)
            return {model.name: booster.inplace_predict(feats, iteration_range=(0, rounds))}

        return predict

    def top_features(self, model: Any, spec: dict, folder: Path, k: int) -> list[str]:
        """The ``k`` inputs the booster gains most from (mean gain per split), named."""
        scores = load_booster(folder / f"{model.name}.ubj").get_score(importance_type="gain")
        names = spec["inputs"]

        def named(key: str) -> str:
            return names[int(key[1:])] if key[:1] == "f" and key[1:].isdigit() else key

        ranked = sorted(((-gain, named(key)) for key, gain in scores.items()))
        return [name for _, name in ranked[:k]]


XGB_INDICATORS = Booster(
    paths.XGB_INDICATORS_MODEL, lambda windows: list(INDICATORS), lambda x, s: x.indicators
)
HYBRID = Booster(
    paths.HYBRID_MODEL,
    combine.hybrid_inputs,
    lambda x, s: combine.hybrid_features(x.indicators, x.members(s["members"])),
    reads_cnns=True,
)
