"""A volatility forecaster on the direction CNN's images: the first window's CNN, its
classifier dropped (:func:`gafcnn.models.trunk.trunk`), gives each decision's pooled
image features, and a ridge regression of log realized volatility on them is the head
(its strength chosen on val). The trunk is exported to ONNX once, at fit, and both
the `volatility` stage and the bundle run that graph, so served equals scored.

GAF images rescale each window to [-1, 1]: they keep the path's shape and drop its
scale, so this head can read volatility only from the shape (how rough the path is).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gafcnn import paths
from gafcnn.data.samples import window_complete
from gafcnn.serving.cnn import SERVED_META, cnn_inputs, encoder_of
from gafcnn.serving.onnx import CHUNK, INPUT, OnnxCnn
from gafcnn.serving.served import Inputs
from gafcnn.volatility.forecasters import Features, Fit

RIDGE = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)  # penalties tried, chosen on val


def ridges(x: np.ndarray, y: np.ndarray, penalties: tuple[float, ...]) -> dict:
    """Ridge coefficients and intercept of ``y`` on standardised ``x`` for each penalty
    (penalty -> (coef, intercept)). ``x`` is centred in place: one copy of the
    features at a time, whatever the number of penalties."""
    xbar, ybar = x.mean(axis=0), y.mean()
    x -= xbar
    gram, xty = x.T @ x, x.T @ (y - ybar)
    out = {}
    for p in penalties:
        coef = np.linalg.solve(gram + p * np.eye(x.shape[1]), xty)
        out[p] = (coef, float(ybar - xbar @ coef))
    return out


class CnnVolHead:
    """The first window's direction CNN trunk and a ridge head on log realized
    volatility; NaN where the window is not whole."""

    reads_spans: ClassVar[bool] = False
    needs_cnn: ClassVar[bool] = True  # fitted on the pipeline's trained CNN

    def __init__(self, graph: bytes | None = None, spec: dict | None = None):
        self.graph, self.spec = graph, spec or {}
        self.session = None if graph is None else OnnxCnn(graph).session

    def _chunks(self, f: Features) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, features) of the decisions' images a chunk at a time: the trunk's
        features, standardised as on train, in float64."""
        meta, w = self.spec["meta"], int(self.spec["window"])
        enc = encoder_of(meta)
        mean, scale = np.asarray(self.spec["mean"]), np.asarray(self.spec["scale"])
        for i in range(0, len(f.positions), CHUNK):
            x = cnn_inputs(Inputs(f.bars, f.minutes, f.positions[i : i + CHUNK]), w, enc, meta)
            x = np.ascontiguousarray(x, dtype=np.float32)
            z = self.session.run(None, {INPUT: x})[0].astype(np.float64)  # type: ignore[union-attr]
            z -= mean
            z /= scale
            yield i, z

    def _embed(self, f: Features) -> np.ndarray:
        """Every decision's features in one array (what fitting reads; a forecast reads
        them a chunk at a time)."""
        out = None
        for i, z in self._chunks(f):
            if out is None:
                out = np.empty((len(f.positions), z.shape[1]))
            out[i : i + len(z)] = z
        return np.empty((0, len(self.spec.get("coef", [])))) if out is None else out

    def fit(self, fit: Fit) -> CnnVolHead:
        if fit.cnn_window is None:
            raise ValueError("the CNN head needs the pipeline's trained CNN (models/cnn)")
        from gafcnn.models.cnn import load_checkpoint
        from gafcnn.models.trunk import trunk
        from gafcnn.serving.onnx import to_onnx

        w = int(fit.cnn_window)
        model, meta = load_checkpoint(paths.cnn_model(w))
        self.graph = to_onnx(trunk(model), meta["input_shape"])
        self.session = OnnxCnn(self.graph).session
        self.spec = {"window": w, "meta": {k: meta[k] for k in SERVED_META if k in meta},
                     "mean": 0.0, "scale": 1.0}  # fmt: skip
        x = self._embed(fit.train)  # unstandardised: mean 0, scale 1 so far
        mean, sd = x.mean(axis=0), x.std(axis=0)
        scale = np.where(sd > 0, sd, 1.0)
        self.spec |= {"mean": mean.tolist(), "scale": scale.tolist()}
        x -= mean  # standardised in place
        x /= scale
        xv = self._embed(fit.val)
        y, yv = np.log(fit.train_rv), np.log(fit.val_rv)
        fits = ridges(x, y, RIDGE)
        mse = {p: float(np.mean((yv - xv @ c - b) ** 2)) for p, (c, b) in fits.items()}
        best = min(mse, key=mse.get)  # type: ignore[arg-type]
        coef, intercept = fits[best]
        resid = yv - xv @ coef - intercept
        self.spec |= {"penalty": best, "coef": coef.tolist(), "intercept": intercept,
                      "resid_var": float(np.var(resid))}  # fmt: skip
        return self

    def predict(self, f: Features) -> np.ndarray:
        w = int(self.spec["window"])
        whole = window_complete(f.minutes, w)[f.positions] & (f.positions >= w - 1)
        out = np.full(len(f.positions), np.nan)
        part = Features(f.bars, f.minutes, f.positions[whole], f.horizon, f.spans)
        z = np.empty(len(part.positions))
        coef = np.asarray(self.spec["coef"])
        for i, x in self._chunks(part):  # never every decision's features at once
            z[i : i + len(x)] = x @ coef + self.spec["intercept"]
        out[whole] = np.exp(z + self.spec["resid_var"] / 2)
        return out

    def save(self, folder: Path, name: str) -> dict:
        (Path(folder) / f"{name}.onnx").write_bytes(self.graph)  # type: ignore[arg-type]
        return dict(self.spec)

    @classmethod
    def load(cls, spec: dict, folder: Path, name: str, loader: Any = None) -> CnnVolHead:
        return cls((Path(folder) / f"{name}.onnx").read_bytes(), dict(spec))
