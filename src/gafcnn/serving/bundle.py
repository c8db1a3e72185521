"""The deployment bundle: what was evaluated, in one folder that serves it.

``models/bundle/`` holds ``bundle.json`` and the model files it names:

* the CNNs as ONNX graphs (``cnn_w{W}.onnx``, run by :mod:`gafcnn.serving.onnx`) with, per
  window, the architecture, channels, image size, Markov-field bins and the image
  dtype the CNN was trained on;
* the ensemble combiner with every method's coefficients (mean, val-AUC weights,
  stacking coefficients and intercept) and the configured method;
* the Phase 1 and hybrid XGBoost boosters (``phase1.ubj``, ``hybrid.ubj``) and the
  indicator names in the order they take them;
* the label horizon, the fee, the decision with its reasons and the deployed
  model's test metrics, the params that made it and the code version;
* a SHA-256 per file, checked on load.

:class:`Bundle` loads it without ``params.yaml``, any other pipeline output, torch
or scikit-learn (ONNX Runtime, the XGBoost booster and NumPy serve it) and computes
P(up) of every candidate (:meth:`Bundle.predict_all`) or of the deployed model alone
(:meth:`Bundle.predict`); when the decision is "deploy nothing" it serves no model.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

import gafcnn
from gafcnn import paths, registry
from gafcnn.data.features import INDICATORS, indicators, window_bar_features
from gafcnn.images.encodings import Encoder, window_series
from gafcnn.io import InputError, atomic_dir, read_json, write_json
from gafcnn.models import combine
from gafcnn.serving.onnx import OnnxCnn

BUNDLE_FILE = "bundle.json"
FORMAT = 2  # 2: the CNNs are ONNX graphs
# Bars a decision needs behind it: the indicators' slowest EMA (span 27) keeps less
# than 1e-7 of its starting value after 240 bars, so P(up) from the last 240 bars
# matches P(up) computed over the whole history.
WARMUP_BARS = 240


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serving_code_digest() -> str:
    """SHA-256 over the source of every gafcnn module that loading and serving a bundle
    runs (this module and what it imports), in path order: the code version."""
    from gafcnn.depgraph import closure

    src = Path(gafcnn.__file__).resolve().parents[1]
    h = hashlib.sha256()
    for f in sorted(closure(src, "gafcnn.serving.bundle")):
        h.update(f.relative_to(src).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def write_bundle(
    target: str | Path,
    *,
    label_horizon: int,
    fee_bps: float,
    decision: dict | None,
    test_metrics: dict | None,
    params: dict,
) -> Path:
    """Write the bundle to ``target`` (a folder, replaced atomically) from the pipeline's
    models; ``decision`` None marks a bundle built before the decision (the latency
    stage measures such one's speed)."""
    target = Path(target)
    ens = read_json(paths.ENSEMBLE_MODEL)
    windows = [int(w) for w in ens["windows"]]
    with atomic_dir(target) as tmp:
        cnns = {}
        for w in windows:
            meta = read_json(paths.cnn_meta(w))
            shutil.copyfile(paths.cnn_onnx(w), tmp / f"{registry.CNN.at(w)}.onnx")
            served = ("arch", "window", "input_shape", "image_size", "channels", "mtf_bins",
                      "image_dtype", "normalisation")  # fmt: skip
            cnns[f"w{w}"] = {k: meta[k] for k in served if k in meta} | {
                "width": meta["params"]["width"],
                "dropout": meta["params"]["dropout"],
                "train_params": meta["params"],
            }
        for model, source in BOOSTERS:
            shutil.copyfile(source, tmp / f"{model.name}.ubj")
        deployed = None if decision is None else decision.get("deployed_model")
        bundle: dict[str, Any] = {
            "format": FORMAT,
            "deployed": deployed,
            "decision": None
            if decision is None
            else {k: decision[k] for k in ("decision", "reasons", "guide_rule") if k in decision},
            "test_metrics": test_metrics,
            "windows": windows,
            "cnns": cnns,
            "combiner": {
                "method": ens["method"],
                "weights": [ens["weights"][f"w{w}"] for w in windows],
                "stacking_coef": [ens["stacking_coef"][f"w{w}"] for w in windows],
                "stacking_intercept": ens["stacking_intercept"],
            },
            "indicators": list(INDICATORS),
            "hybrid_inputs": combine.hybrid_inputs(windows),
            "label_horizon": int(label_horizon),
            "fee_bps": float(fee_bps),
            "history_bars": max(windows + [WARMUP_BARS]),
            "params": params,
            "code": {"gafcnn": gafcnn.__version__, "serving_sha256": serving_code_digest()},
            "files": {f.name: _sha256(f) for f in sorted(tmp.iterdir())},
        }
        write_json(tmp / BUNDLE_FILE, bundle)
    return target


def _xgboost() -> Any:
    """xgboost for the booster alone: when scikit-learn is not loaded yet, it is kept
    out (xgboost would import it, and SciPy's extras, for its sklearn wrapper), which
    saves about 60 MB in a serving process."""
    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        import xgboost

        return xgboost
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # import fails -> not installed
    try:
        import xgboost
    finally:
        del sys.modules["sklearn"]
    return xgboost


# The XGBoost models the bundle ships, with the pipeline's file of each.
BOOSTERS = ((registry.PHASE1, paths.PHASE1_MODEL), (registry.HYBRID, paths.HYBRID_MODEL))


class Bundle:
    """A loaded bundle: every candidate's P(up) from raw bars."""

    def __init__(self, path: str | Path):
        xgboost = _xgboost()

        self.path = Path(path)
        spec_file = self.path / BUNDLE_FILE
        if not spec_file.exists():
            raise InputError(self.path, f"not a bundle (no {BUNDLE_FILE}); `dvc repro export`")
        self.spec = read_json(spec_file)
        if self.spec.get("format") != FORMAT:
            raise InputError(spec_file, f"bundle format {self.spec.get('format')}, need {FORMAT}")
        for name, digest in self.spec["files"].items():
            f = self.path / name
            if not f.exists() or _sha256(f) != digest:
                raise InputError(f, "missing or altered bundle file (SHA-256 differs)")
        self.windows = [int(w) for w in self.spec["windows"]]
        self.deployed: str | None = self.spec["deployed"]
        self.history = int(self.spec["history_bars"])
        self.cnns = {}
        for w in self.windows:
            m = self.spec["cnns"][f"w{w}"]
            model = OnnxCnn(self.path / f"{registry.CNN.at(w)}.onnx")
            enc = None
            if m["arch"] != "conv1d":
                enc = Encoder(m["channels"], m["image_size"], m["mtf_bins"], threads=1)
            self.cnns[w] = (model, enc, m)
        self.boosters = {}
        for model, _ in BOOSTERS:
            b = xgboost.Booster()
            b.load_model(bytearray((self.path / f"{model.name}.ubj").read_bytes()))
            best = b.attr("best_iteration")
            self.boosters[model.name] = (b, None if best is None else int(best) + 1)

    def _cnn(self, bars: dict[str, np.ndarray], positions: np.ndarray) -> np.ndarray:
        out = np.empty((len(positions), len(self.windows)))
        for j, w in enumerate(self.windows):
            model, enc, m = self.cnns[w]
            if enc is None:
                scale = np.asarray(m["normalisation"]["feature_scale"])
                x = window_bar_features(bars, positions, w) / scale[None, :, None]
            else:  # encoded and stored as in training, then read as float32
                series = window_series(bars, positions, w, enc.series_needed)
                x = enc.encode(series, dtype=np.dtype(m.get("image_dtype", "float32")))
            out[:, j] = model.predict(x)
        return out

    def _xgb(self, name: str, x: np.ndarray) -> np.ndarray:
        booster, rounds = self.boosters[name]
        return booster.inplace_predict(
            np.ascontiguousarray(x, dtype=np.float64), iteration_range=(0, rounds or 0)
        )

    def predict_all(
        self, bars: dict[str, np.ndarray], minutes: np.ndarray, positions: np.ndarray
    ) -> dict[str, np.ndarray]:
        """P(up) of every candidate at bar ``positions``, by registry name: each window's
        CNN, each ensemble method and the configured one, Phase 1 and the hybrid - each
        computed by the code its stage evaluated (:mod:`gafcnn.models.combine`)."""
        positions = np.asarray(positions)
        cnn = self._cnn(bars, positions)
        comb = self.spec["combiner"]
        out = {registry.CNN.at(w): cnn[:, j] for j, w in enumerate(self.windows)}
        methods = combine.ensemble(
            cnn, comb["weights"], comb["stacking_coef"], comb["stacking_intercept"]
        )
        out.update({registry.configured_ensemble(m): p for m, p in methods.items()})
        out[registry.ENSEMBLE.name] = methods[comb["method"]]
        feats = indicators(bars, minutes, positions)
        out[registry.PHASE1.name] = self._xgb(registry.PHASE1.name, feats)
        hybrid = combine.hybrid_features(feats, cnn)
        out[registry.HYBRID.name] = self._xgb(registry.HYBRID.name, hybrid)
        return out

    def predict(
        self, bars: dict[str, np.ndarray], minutes: np.ndarray, positions: np.ndarray
    ) -> np.ndarray | None:
        """P(up) of the deployed model, or None when nothing is deployed."""
        if self.deployed is None:
            return None
        return self.predict_all(bars, minutes, positions)[self.deployed]
