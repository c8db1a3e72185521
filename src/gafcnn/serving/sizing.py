"""The bundle's volatility forecaster and the size it gives (``recommended_size``).

Export ships the forecaster the `sizing` stage chose (its state, and its booster
file where it has one) with the horizon, ``target_vol`` and ``max_leverage``; the
served forecast is the forecaster class's own ``predict`` on the bars, the code the
`volatility` stage scored, so served and evaluated forecasts agree bit for bit.
"""

from __future__ import annotations

import math
import shutil
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gafcnn import paths, registry
from gafcnn.io import InputError, read_json
from gafcnn.serving.boosters import load_booster
from gafcnn.serving.served import named
from gafcnn.volatility.forecasters import Features, history_bars
from gafcnn.volatility.realized import forward
from gafcnn.volatility.scores import losses
from gafcnn.volatility.sizing import recommended_size


def declared(model: registry.Model) -> Any:
    """The forecaster class a registry declaration names (``serves``, "module:Class")."""
    return named(str(model.serves))


def forecasters(pipeline: bool = True) -> list[tuple[str, Any]]:
    """Every declared forecaster's name and class; without ``pipeline``, those that
    need none of the pipeline's other models (no CNN head)."""
    found = [(m.name, declared(m)) for m in registry.VOLATILITY]
    return [(n, c) for n, c in found if pipeline or not getattr(c, "needs_cnn", False)]


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
        try:
            cls = declared(registry.forecaster(self.model))
        except KeyError as exc:
            raise InputError(Path(folder) / "bundle.json", f"volatility: {exc.args[0]}") from None
        self.forecaster = cls.load(spec["state"], folder, self.model, loader=load_booster)

    def forecast(self, bars: dict[str, np.ndarray], minutes: np.ndarray,
                 positions: np.ndarray) -> np.ndarray:  # fmt: skip
        """Predicted volatility per position (NaN where its inputs are incomplete)."""
        f = Features(bars, minutes, np.asarray(positions), self.horizon, self.spans)
        return self.forecaster.predict(f)

    def size(self, predicted: np.ndarray) -> np.ndarray:
        """``min(max_leverage, target_vol / predicted)`` (NaN without a forecast)."""
        return recommended_size(predicted, self.target_vol, self.max_leverage)


@dataclass
class VolCard:
    """The served volatility forecast, live: each decision's forecast against the
    realized volatility of the ``horizon`` minutes after it, scored by QLIKE once those
    bars have come (void across a gap), beside the backtest's interval (the served
    forecaster's test QLIKE). A running sum: memory does not grow with the record."""

    horizon: int
    backtest_ci: list[float] | None
    pending: deque = field(default_factory=deque)  # (minute, forecast), oldest first
    scored: int = 0
    void: int = 0
    total: float = 0.0

    def forecast(self, minute: int, predicted: float | None) -> None:
        """The forecast served at ``minute`` (none, or not finite: nothing to score)."""
        if predicted is not None and math.isfinite(predicted) and predicted > 0:
            self.pending.append((int(minute), float(predicted)))

    def settle(self, minutes: np.ndarray, close: np.ndarray) -> None:
        """Score every pending forecast whose horizon the bars (``minutes``, ``close``:
        the latest bars held) now cover."""
        if len(minutes) == 0:
            return
        last = int(minutes[-1])
        while self.pending and self.pending[0][0] + self.horizon <= last:
            minute, predicted = self.pending.popleft()
            a = int(np.searchsorted(minutes, minute))
            rv = math.nan
            if a < len(minutes) and minutes[a] == minute:
                span = slice(a, a + self.horizon + 1)
                rv = float(forward(close[span], minutes[span], self.horizon)[0])
            if not rv > 0:  # a gap (or no bar at the decision): nothing to score
                self.void += 1
                continue
            self.total += float(losses(np.array([rv]), np.array([predicted]))[0])
            self.scored += 1

    def figures(self) -> dict:
        """What /health shows: forecasts scored (and void), their mean QLIKE, the
        backtest's interval, and those still waiting for their horizon."""
        return {"scored": self.scored, "void": self.void, "pending": len(self.pending),
                "qlike": self.total / self.scored if self.scored else None,
                "backtest_qlike_ci": self.backtest_ci}  # fmt: skip
