"""The volatility forecasters, each fitted by the `volatility` stage and served by the
bundle with the same code: from raw bars at decision positions (:class:`Features`) to
the realized volatility predicted over the next ``horizon`` minutes.

* :class:`Persistence`: the last ``horizon`` minutes' realized volatility;
* :class:`Har`: HAR-RV (:mod:`gafcnn.volatility.har`);
* :class:`XgbVol`: XGBoost regression of log realized volatility on the technical
  indicators, HAR's inputs, the hour of the day and the weekday.

The fourth, a head on the direction CNN's trunk, reads the CNN's images and lives
with them (:mod:`gafcnn.serving.cnn_head`). The fitted ones predict the lognormal
mean, exp(log forecast + residual variance / 2), so that a variance loss (QLIKE) is
not biased by the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gafcnn.data.features import INDICATORS, indicators
from gafcnn.models.boosting import xgb_regressor
from gafcnn.volatility import har
from gafcnn.volatility.realized import trailing


@dataclass
class Features:
    """What a forecaster reads at bar ``positions``: the bars (``OHLCV`` arrays), their
    minutes, the horizon and HAR's spans; each input computed once, when first read."""

    bars: dict[str, np.ndarray]
    minutes: np.ndarray
    positions: np.ndarray
    horizon: int
    spans: tuple[int, ...] = har.SPANS

    @cached_property
    def _close(self) -> np.ndarray:
        return np.asarray(self.bars["close"], dtype=np.float64)

    @cached_property
    def persistence(self) -> np.ndarray:
        """The realized volatility of the last ``horizon`` minutes (NaN across a gap)."""
        return trailing(self._close, self.minutes, self.horizon)[self.positions]

    @cached_property
    def har(self) -> np.ndarray:
        """``(n, len(spans))``: HAR's log realized volatility over each span."""
        return har.inputs(self._close, self.minutes, self.horizon, self.spans)[self.positions]

    @cached_property
    def hours(self) -> np.ndarray:
        """The hour of the week of each decision."""
        return har.hour_of_week(self.minutes[self.positions])

    @cached_property
    def indicators(self) -> np.ndarray:
        """The technical indicators at the decision positions."""
        return indicators(self.bars, self.minutes, self.positions)

    def boosted(self) -> np.ndarray:
        """XGBoost's inputs (:func:`xgb_inputs`), in that order."""
        h = self.hours
        return np.column_stack([self.indicators, self.har, h % 24, h // 24]).astype(np.float64)


def xgb_inputs(spans: tuple[int, ...]) -> list[str]:
    """The names of XGBoost's inputs: the indicators, HAR's inputs, hour and weekday."""
    return [*INDICATORS, *(f"log_rv_{s}m" for s in spans), "hour", "weekday"]


@dataclass(frozen=True)
class Fit:
    """What fitting a forecaster sees: train's and val's features and targets, the
    seed, XGBoost's params section, the threads it may use and the window of the
    pipeline's trained CNN a head may read (None outside the pipeline)."""

    train: Features
    train_rv: np.ndarray
    val: Features
    val_rv: np.ndarray
    seed: int
    xgb: Any
    threads: int = 1
    cnn_window: int | None = None


def complete(f: Features) -> np.ndarray:
    """Rows where every one of HAR's inputs is known."""
    return np.all(np.isfinite(f.har), axis=1)


class Persistence:
    """The last ``horizon`` minutes' realized volatility, unchanged: the naive forecast."""

    reads_spans: ClassVar[bool] = False  # only the horizon's bars (:func:`history_bars`)

    def fit(self, fit: Fit) -> Persistence:
        return self

    def predict(self, f: Features) -> np.ndarray:
        return f.persistence

    def save(self, folder: Path, name: str) -> dict:
        return {}

    @classmethod
    def load(cls, spec: dict, folder: Path, name: str, loader: Any = None) -> Persistence:
        return cls()


class Har:
    """HAR-RV fitted by least squares on train."""

    reads_spans: ClassVar[bool] = True

    def __init__(self, model: har.HarRV | None = None):
        self.model = model

    def fit(self, fit: Fit) -> Har:
        self.model = har.HarRV().fit(fit.train.har, fit.train.hours, fit.train_rv)
        return self

    def predict(self, f: Features) -> np.ndarray:
        return self.model.predict(f.har, f.hours)  # type: ignore[union-attr]

    def save(self, folder: Path, name: str) -> dict:
        m = self.model
        return {"coef": [float(c) for c in m.coef_],  # type: ignore[union-attr]
                "resid_var": float(m.resid_var_)}  # type: ignore[union-attr]  # fmt: skip

    @classmethod
    def load(cls, spec: dict, folder: Path, name: str, loader: Any = None) -> Har:
        model = har.HarRV()
        model.coef_ = np.asarray(spec["coef"], dtype=np.float64)
        model.resid_var_ = float(spec["resid_var"])
        return cls(model)


class XgbVol:
    """XGBoost regression of log realized volatility on :func:`xgb_inputs`, early
    stopping on val, on the rows whose HAR inputs are complete (HAR's rows: a forecast
    needs the same history); the residual variance for the lognormal mean is val's."""

    reads_spans: ClassVar[bool] = True

    def __init__(self, booster: Any = None, rounds: int = 0, resid_var: float = 0.0,
                 inputs: list[str] | None = None):  # fmt: skip
        self.booster, self.rounds, self.resid_var = booster, rounds, resid_var
        self.inputs = inputs or []

    def fit(self, fit: Fit) -> XgbVol:
        model = xgb_regressor(fit.xgb, fit.seed, fit.threads)
        tr, va = complete(fit.train), complete(fit.val)
        val = [(fit.val.boosted()[va], np.log(fit.val_rv[va]))]
        model.fit(fit.train.boosted()[tr], np.log(fit.train_rv[tr]), eval_set=val, verbose=False)
        self.booster, self.rounds = model.get_booster(), int(model.best_iteration) + 1
        self.inputs = xgb_inputs(fit.train.spans)
        resid = np.log(fit.val_rv) - self._log(fit.val)
        self.resid_var = float(np.var(resid[va]))
        return self

    def predict(self, f: Features) -> np.ndarray:
        """The forecast where HAR's inputs are complete (as it was fitted), else NaN."""
        return np.where(complete(f), np.exp(self._log(f) + self.resid_var / 2), np.nan)

    def save(self, folder: Path, name: str) -> dict:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.ubj").write_bytes(bytes(self.booster.save_raw(raw_format="ubj")))
        return {"rounds": self.rounds, "resid_var": self.resid_var,
                "inputs": self.inputs}  # fmt: skip

    @classmethod
    def load(cls, spec: dict, folder: Path, name: str, loader: Any = None) -> XgbVol:
        """From the booster file ``save`` wrote; ``loader`` reads it (default: an
        xgboost Booster; the service passes its own, which keeps scikit-learn out)."""
        file = Path(folder) / f"{name}.ubj"
        if loader is None:
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(bytearray(file.read_bytes()))
        else:
            booster = loader(file)
        return cls(booster, int(spec["rounds"]), float(spec["resid_var"]), spec["inputs"])

    def _log(self, f: Features) -> np.ndarray:
        if xgb_inputs(f.spans) != self.inputs:
            raise ValueError(f"fitted on inputs {self.inputs}, given {xgb_inputs(f.spans)}")
        x = np.ascontiguousarray(f.boosted())
        return np.asarray(self.booster.inplace_predict(x, iteration_range=(0, self.rounds)),
                          dtype=np.float64)  # fmt: skip


def history_bars(forecaster: Any, horizon: int, spans: tuple[int, ...]) -> int:
    """Bars a forecast reads behind its decision: its longest span and the horizon's."""
    return max(max(spans) if forecaster.reads_spans else 0, horizon) + 1
