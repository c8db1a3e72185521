"""How the bundle serves a declared model: what each serving hook takes and gives.

A model the bundle serves names a *serving hook* in its registry declaration
(``Model.serves``, ``"module:object"``). The hook has two methods:

* ``ship(model, windows, folder) -> dict``: copy the model's fitted files from the
  pipeline's outputs into the bundle ``folder`` and return what serving needs
  besides them (JSON); ``history_bars`` there is how many bars a decision needs;
* ``load(model, spec, folder) -> predict``: ``predict(inputs) -> {name: P(up)}``
  from raw bars (:class:`Inputs`), by the model's registry name(s);
* optionally ``top_features(model, spec, folder, k) -> list[str]``: the model's ``k``
  most informative inputs by gain (the boosters);
* optionally ``bar_columns(spec) -> set[str]``: the bar columns it reads beyond OHLCV
  (the order flow), which every bar served must then carry.

The bundle runs the hooks in registry order, so a model may read the P(up) of any
model declared before it (``inputs.p``). The code a hook imports is part of the
bundle's code digest and of the ``latency`` and ``export`` stages' DVC deps.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gafcnn.data.features import flow_features, indicators


class Computed(dict):
    """P(up) by model name; a name not yet computed is computed on first reading by
    the model that gives it (``producers``), so a decision computes only the models
    the deployed one reads."""

    def __init__(self, inputs: Inputs, producers: dict[str, Predict]):
        super().__init__()
        self.inputs, self.producers = inputs, producers

    def __missing__(self, name: str) -> np.ndarray:
        if name not in self.producers:
            raise KeyError(name)
        self.update(self.producers[name](self.inputs))
        return self[name]


@dataclass
class Inputs:
    """What a served model predicts from: the bars (``OHLCV`` columns), each bar's
    minute, the decision positions, and the P(up) computed so far, by name (``p``;
    with ``producers``, the model giving each name, a name is computed when read)."""

    bars: dict[str, np.ndarray]
    minutes: np.ndarray
    positions: np.ndarray
    producers: dict[str, Predict] = field(default_factory=dict)
    p: Computed = field(init=False)

    def __post_init__(self) -> None:
        self.p = Computed(self, self.producers)

    @cached_property
    def indicators(self) -> np.ndarray:
        """The technical indicators at the decision positions (computed once)."""
        return indicators(self.bars, self.minutes, self.positions)

    @cached_property
    def flow(self) -> np.ndarray:
        """The order-flow features at the decision positions (computed once)."""
        return flow_features(self.bars, self.positions)

    def model_inputs(self, flow: bool) -> np.ndarray:
        """What the indicator models read (:func:`gafcnn.data.features.model_inputs`,
        the same columns from the parts computed once)."""
        return np.column_stack([self.indicators, self.flow]) if flow else self.indicators

    def members(self, names: list[str]) -> np.ndarray:
        """``(n, len(names))``: the P(up) of other models, in the order named."""
        return np.column_stack([self.p[n] for n in names])


Predict = Callable[[Inputs], dict[str, np.ndarray]]


class Hook(Protocol):
    """A serving hook (see the module docstring); :func:`gafcnn.serving.bundle.hook`
    imports it by name."""

    def ship(self, model: Any, windows: list[int], folder: Path) -> dict: ...

    def load(self, model: Any, spec: dict, folder: Path) -> Predict: ...


def named(ref: str) -> Any:
    """The object ``"module:object"`` names, imported by name (a serving hook, a
    volatility forecaster's class)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)
