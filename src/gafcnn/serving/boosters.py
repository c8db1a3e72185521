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
from gafcnn.data.bars import FLOW
from gafcnn.data.features import FLOW_FEATURES, input_names, reads_flow
from gafcnn.io import InputError
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
    """A booster fitted to ``file`` on the features ``inputs(windows, flow)`` names
    (``flow``: with the order flow, as ``features.flow`` fitted it), which
    ``features(inputs, spec)`` builds at serving time (``members``: the CNNs whose
    P(up) it reads)."""

    def __init__(
        self,
        file: Path,
        inputs: Callable[[list[int], bool], list[str]],
        features: Callable[[Inputs, dict], np.ndarray],
        reads_cnns: bool = False,
    ):
        self.file, self.inputs, self.features = file, inputs, features
        self.reads_cnns = reads_cnns

    def ship(self, model: Any, windows: list[int], folder: Path) -> dict:
        """Its file and inputs, read from the booster as fitted: whether it read the
        order flow is told by how many inputs it was fitted on."""
        width = load_booster(self.file).num_features()
        try:
            flow = reads_flow(width, len(self.inputs(windows, False)))
        except ValueError as exc:
            raise InputError(self.file, str(exc)) from None
        shutil.copyfile(self.file, folder / f"{model.name}.ubj")
        spec = {"history_bars": WARMUP_BARS, "inputs": self.inputs(windows, flow)}
        if self.reads_cnns:
            spec["members"] = [registry.CNN.at(w) for w in windows]
        return spec

    def bar_columns(self, spec: dict) -> set[str]:
        """The bar columns it reads beyond OHLCV: the order flow's, if it reads it."""
        return set(FLOW) if reads(spec) else set()

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


def reads(spec: dict) -> bool:
    """Whether a booster's shipped inputs include the order flow."""
    return FLOW_FEATURES[0] in spec["inputs"]


XGB_INDICATORS = Booster(
    paths.XGB_INDICATORS_MODEL,
    lambda windows, flow: input_names(flow),
    lambda x, s: x.model_inputs(reads(s)),
)
HYBRID = Booster(
    paths.HYBRID_MODEL,
    combine.hybrid_inputs,
    lambda x, s: combine.hybrid_features(x.model_inputs(reads(s)), x.members(s["members"])),
    reads_cnns=True,
)
