"""The bundle's volatility forecaster and the size it gives (``recommended_size``).

Export ships the forecaster the `sizing` stage chose (its state, and its booster
file where it has one) with the horizon, ``target_vol`` and ``max_leverage``; the
served forecast is the forecaster class's own ``predict`` on the bars, the code the
`volatility` stage scored, so served and evaluated forecasts agree bit for bit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from gafcnn import paths, registry
from gafcnn.io import read_json
from gafcnn.serving.boosters import load_booster
from gafcnn.volatility.forecasters import Features, declared, history_bars
from gafcnn.volatility.sizing import recommended_size


def ship(folder: Path, name: str, horizon: int, spans: list[int], target_vol: float,
         max_leverage: float, test: dict) -> dict:  # fmt: skip
    """Copy forecaster ``name``'s fitted files into the bundle ``folder``; what
    ``bundle.json`` holds of it (``test``: its test scores)."""
    model = registry.forecaster(name)
    state = read_json(paths.VOLATILITY_MODELS / f"{name}.json")
    for f in sorted(paths.VOLATILITY_MODELS.glob(f"{name}.*")):
        if f.suffix != ".json":
            shutil.copyfile(f, folder / f.name)
    spans = [int(s) for s in spans]
    return {"model": name, "horizon_minutes": int(horizon), "har_spans": spans,
            "target_vol": float(target_vol), "max_leverage": float(max_leverage),
            "state": state, "history_bars": history_bars(declared(model), horizon, tuple(spans)),
            "test": test}  # fmt: skip


class Sizer:
    """A loaded forecaster: the predicted volatility of the next ``horizon`` minutes at
    decision positions, and the size it gives."""

    def __init__(self, spec: dict, folder: Path):
        self.model = spec["model"]
        self.horizon = int(spec["horizon_minutes"])
        self.spans = tuple(int(s) for s in spec["har_spans"])
        self.target_vol, self.max_leverage = float(spec["target_vol"]), float(spec["max_leverage"])
        self.history = int(spec["history_bars"])
        cls = declared(registry.forecaster(self.model))
        self.forecaster = cls.load(spec["state"], folder, self.model, loader=load_booster)

    def forecast(self, bars: dict[str, np.ndarray], minutes: np.ndarray,
                 positions: np.ndarray) -> np.ndarray:  # fmt: skip
        """Predicted volatility per position (NaN where its inputs are incomplete)."""
        f = Features(bars, minutes, np.asarray(positions), self.horizon, self.spans)
        return self.forecaster.predict(f)

    def size(self, predicted: np.ndarray) -> np.ndarray:
        """``min(max_leverage, target_vol / predicted)`` (NaN without a forecast)."""
        return recommended_size(predicted, self.target_vol, self.max_leverage)
