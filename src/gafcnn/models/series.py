"""Models on each window's raw per-bar series, the strongest simple alternatives to
the GAF-CNN on identical samples: XGBoost on the flattened series (trees, no images,
no indicators) and MiniRocket (Dempster et al. 2021, from ``aeon``) with a logistic
head. Both read what the 1-D CNN reads (:func:`gafcnn.data.features.window_bar_features`:
log return, log range and the window's volume z-score of every bar).

The stages fit them and write their P(up) with :func:`predict_raw_xgb` and
:class:`Rocket`; the serving hooks (:mod:`gafcnn.serving.series`) call the same
functions on the bars of a decision, so served = evaluated by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from gafcnn.data.features import feature_scale, window_bar_features
from gafcnn.data.samples import evenly
from gafcnn.models.metrics import log_loss

CHUNK = 4096  # decisions whose per-bar series (and features) are held at once


def raw_features(bars: dict[str, np.ndarray], positions: np.ndarray, window: int) -> np.ndarray:
    """``(n, 3 * window)`` float32: the window's per-bar series, flattened (the trees'
    input; trees need no scaling), built :data:`CHUNK` decisions at a time so that
    only the float32 result grows with ``n``."""
    positions = np.asarray(positions)
    out = np.empty((len(positions), 3 * window), np.float32)
    for a in range(0, len(positions), CHUNK):
        x = window_bar_features(bars, positions[a : a + CHUNK], window)
        out[a : a + CHUNK] = x.reshape(len(x), -1)
    return out


def raw_chunks(bars: dict[str, np.ndarray], positions: np.ndarray, window: int,
               labels: np.ndarray | None = None):  # fmt: skip
    """XGBoost's data iterator over :func:`raw_features` of ``positions``, a chunk at a
    time: a ``QuantileDMatrix`` built from it holds only the binned features, never
    every decision's floats."""
    import xgboost as xgb

    class Chunks(xgb.DataIter):
        def __init__(self) -> None:
            self.at = 0
            super().__init__()

        def next(self, input_data) -> bool:
            if self.at >= len(positions):
                return False
            part = slice(self.at, self.at + CHUNK)
            x = raw_features(bars, positions[part], window)
            input_data(data=x, label=None if labels is None else labels[part])
            self.at += CHUNK
            return True

        def reset(self) -> None:
            self.at = 0

    return Chunks()


def fit_raw_xgb(cfg: Any, seed: int, threads: int, bars: dict[str, np.ndarray],
                train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
                window: int) -> Any:  # fmt: skip
    """XGBoost on the raw window of the ``(positions, labels)`` of train, early-stopped
    on val log loss; both fed by chunks (:func:`raw_chunks`), so memory grows with the
    binned features only. Hyperparameters are ``cfg`` (params' ``xgb``)."""
    import xgboost as xgb

    dtrain = xgb.QuantileDMatrix(raw_chunks(bars, train[0], window, train[1]), nthread=threads)
    dval = xgb.QuantileDMatrix(raw_chunks(bars, val[0], window, val[1]), ref=dtrain,
                               nthread=threads)  # fmt: skip
    params = {
        "objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist",
        "eta": cfg.learning_rate, "max_depth": cfg.max_depth, "subsample": cfg.subsample,
        "colsample_bytree": cfg.colsample_bytree, "min_child_weight": cfg.min_child_weight,
        "lambda": cfg.reg_lambda, "seed": seed, "nthread": threads,
    }  # fmt: skip
    rounds, stop = cfg.n_estimators, cfg.early_stopping_rounds
    return xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dval, "val")],
                     early_stopping_rounds=stop, verbose_eval=False)  # fmt: skip


def predict_raw_chunks(booster: Any, bars: dict[str, np.ndarray], positions: np.ndarray,
                       window: int) -> np.ndarray:  # fmt: skip
    """P(up) of a raw-window booster at ``positions``, :data:`CHUNK` decisions at a
    time (each row's P(up) is its own, so the same as all at once)."""
    positions = np.asarray(positions)
    out = [predict_raw_xgb(booster, raw_features(bars, positions[a : a + CHUNK], window))
           for a in range(0, len(positions), CHUNK)]  # fmt: skip
    return np.concatenate(out) if out else np.empty(0)


def predict_raw_xgb(booster: Any, x: np.ndarray) -> np.ndarray:
    """P(up) of a fitted raw-window booster (its early-stopped rounds)."""
    best = booster.attr("best_iteration")
    rounds = 0 if best is None else int(best) + 1
    return booster.inplace_predict(np.ascontiguousarray(x), iteration_range=(0, rounds))


# MiniRocket's 84 base kernels: the positions of the three larger weights among nine.
KERNEL_INDICES = np.array(list(combinations(range(9), 3)), dtype=np.int32)


def minirocket_features(
    x: np.ndarray, parameters: tuple[np.ndarray, ...], chunk: int = 64
) -> np.ndarray:
    """``(n, features)`` float32: the MiniRocket transform of multivariate series ``x``
    ``(n, channels, t)`` with fitted ``parameters`` (aeon's five arrays), in NumPy.

    A port of aeon's multivariate transform (``_static_transform_multi``), step for
    step, so that serving needs neither numba nor aeon's imports (which load torch).
    aeon compiles it with ``fastmath``, free to reorder float32 sums, so a feature may
    differ where a convolution output lies within rounding of its bias
    (``tests/test_series.py`` measures the agreement)."""
    n_per_combo, channel_indices, dilations, n_per_dilation, biases = parameters
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"MiniRocket features need (n, channels >= 2, t) series, got {x.shape}")
    out = np.zeros((len(x), len(KERNEL_INDICES) * int(np.sum(n_per_dilation))), np.float32)
    for a in range(0, len(x), chunk):
        out[a : a + chunk] = _features(x[a : a + chunk], n_per_combo, channel_indices,
                                       dilations, n_per_dilation, biases)  # fmt: skip
    return out


def _features(x, n_per_combo, channel_indices, dilations, n_per_dilation, biases) -> np.ndarray:
    """The transform of one chunk, every base kernel of a dilation at once, each sum in
    aeon's order (its channels in their drawn order; a padding channel adds 0)."""
    n, c, t = x.shape
    big_a, big_g = -x, 3 * x
    out = np.zeros((n, len(KERNEL_INDICES) * int(np.sum(n_per_dilation))), np.float32)
    k = len(KERNEL_INDICES)
    counts = np.asarray(n_per_combo, dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts)]
    f_start = 0
    for j, dilation in enumerate(int(d) for d in dilations):
        padding = (8 * dilation) // 2
        alpha = big_a.copy()
        gamma = np.zeros((9, *x.shape), np.float32)
        gamma[4] = big_g
        start, end = dilation, t - padding
        for g in range(4):
            alpha[:, :, -end:] = alpha[:, :, -end:] + big_a[:, :, :end]
            gamma[g, :, :, -end:] = big_g[:, :, :end]
            end += dilation
        for g in range(5, 9):
            alpha[:, :, :-start] = alpha[:, :, :-start] + big_a[:, :, start:]
            gamma[g, :, :, :-start] = big_g[:, :, start:]
            start += dilation
        i0, i1, i2 = KERNEL_INDICES.T
        # (k, n, c + 1, t): each kernel's term per channel, then a channel of zeros
        terms = np.zeros((k, n, c + 1, t), np.float32)
        terms[:, :, :c] = alpha[None] + gamma[i0] + gamma[i1] + gamma[i2]
        chans = np.full((k, c), c)  # each kernel's channels in drawn order, padded
        for kernel in range(k):
            comb = j * k + kernel
            chans[kernel, : counts[comb]] = channel_indices[starts[comb] : starts[comb + 1]]
        rows = np.arange(k)
        conv = terms[rows, :, chans[:, 0], :]  # (k, n, t)
        for m in range(1, c):
            conv = conv + terms[rows, :, chans[:, m], :]
        nf = int(n_per_dilation[j])
        bias = biases[f_start : f_start + k * nf].reshape(k, nf)
        ppv = np.empty((k, n, nf), np.float32)
        for parity in (0, 1):  # every other kernel reads the outputs without the padding
            sel = np.flatnonzero((j % 2 + np.arange(k)) % 2 == parity)
            y = conv[sel] if parity == 0 else conv[sel][:, :, padding:-padding]
            ppv[sel] = (y[:, :, None, :] > bias[sel][:, None, :, None]).mean(axis=3)
        out[:, f_start : f_start + k * nf] = ppv.transpose(1, 0, 2).reshape(n, k * nf)
        f_start += k * nf
    return out


@dataclass
class Rocket:
    """A fitted MiniRocket transform of scaled per-bar series and its logistic head:
    ``scale`` (per feature, from train), the transform's ``parameters`` (aeon's five
    arrays), the head's standardisation ``mean``/``sd``, ``coef``, ``intercept`` and
    the chosen ``c`` (one of ``minirocket.C``). Saved as one ``.npz`` (no pickle),
    rebuilt by :meth:`load`."""

    window: int
    kernels: int
    max_dilations: int
    scale: np.ndarray
    parameters: tuple[np.ndarray, ...]
    mean: np.ndarray
    sd: np.ndarray
    coef: np.ndarray
    intercept: float
    c: float

    def series(self, bars: dict[str, np.ndarray], positions: np.ndarray) -> np.ndarray:
        """``(n, 3, window)`` float32: the scaled per-bar series MiniRocket reads."""
        return rocket_scaled(window_bar_features(bars, positions, self.window), self.scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """MiniRocket features of scaled series (each row on its own)."""
        return minirocket_features(x, self.parameters)

    def head(self, features: np.ndarray) -> np.ndarray:
        """P(up) from MiniRocket features; row by row, so a row's P(up) does not depend
        on the rows predicted with it."""
        z = (features.astype(np.float64) - self.mean) / self.sd
        return 1.0 / (1.0 + np.exp(-((z * self.coef).sum(axis=1) + self.intercept)))

    def predict(self, bars: dict[str, np.ndarray], positions: np.ndarray) -> np.ndarray:
        """P(up) at decision ``positions`` of ``bars``, :data:`CHUNK` decisions at a
        time (each row on its own, so the same as all at once)."""
        positions = np.asarray(positions)
        out = [self.head(self.transform(self.series(bars, positions[a : a + CHUNK])))
               for a in range(0, len(positions), CHUNK)]  # fmt: skip
        return np.concatenate(out) if out else np.empty(0)

    def save(self, path: str | Path) -> None:
        """Write the ``.npz`` (through a temporary file: never half written)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh, window=self.window, kernels=self.kernels, max_dilations=self.max_dilations,
                scale=self.scale, mean=self.mean, sd=self.sd, coef=self.coef,
                intercept=self.intercept, C=self.c,
                **{f"parameters_{i}": a for i, a in enumerate(self.parameters)},
            )  # fmt: skip
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> Rocket:
        with np.load(path, allow_pickle=False) as z:
            parts = sorted(k for k in z.files if k.startswith("parameters_"))
            return cls(
                window=int(z["window"]), kernels=int(z["kernels"]),
                max_dilations=int(z["max_dilations"]), scale=z["scale"],
                parameters=tuple(z[k] for k in parts), mean=z["mean"], sd=z["sd"],
                coef=z["coef"], intercept=float(z["intercept"]), c=float(z["C"]),
            )  # fmt: skip


def fit_rocket(
    bars: dict[str, np.ndarray],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    window: int,
    cfg: Any,
    seed: int,
) -> tuple[Rocket, dict[float, float]]:
    """Fit MiniRocket on the ``(positions, labels)`` of train (at most
    ``cfg.fit_samples`` of them, evenly spaced: :func:`evenly`), and a logistic head on
    its standardised features for each of ``cfg.C``; keep the C with the lowest log
    loss on every val decision (transformed by chunks). ``cfg`` is params'
    ``minirocket``. Returns the fitted :class:`Rocket` and the val log loss of every C."""
    import warnings

    from aeon.transformations.collection.convolution_based import MiniRocket
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    keep = evenly(len(train[0]), cfg.fit_samples)
    raw = window_bar_features(bars, train[0][keep], window)
    scale = feature_scale(raw)
    xt = rocket_scaled(raw, scale)
    del raw
    transform = MiniRocket(n_kernels=cfg.kernels, max_dilations_per_kernel=cfg.max_dilations,
                           random_state=seed)  # fmt: skip
    parameters = tuple(transform.fit(xt).parameters)
    z = np.empty((len(xt), len(KERNEL_INDICES) * int(np.sum(parameters[3]))))  # float64
    for a in range(0, len(xt), CHUNK):  # no float32 copy of every row beside it
        z[a : a + CHUNK] = minirocket_features(xt[a : a + CHUNK], parameters)
    mean, sd = z.mean(axis=0), z.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z -= mean  # standardised in place
    z /= sd
    heads = []
    for c in (float(c) for c in cfg.C):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr = LogisticRegression(C=c, max_iter=300, random_state=seed).fit(z, train[1][keep])
        heads.append(Rocket(window, cfg.kernels, cfg.max_dilations, scale, parameters, mean, sd,
                            lr.coef_[0].copy(), float(lr.intercept_[0]), c))  # fmt: skip
    del z
    p_val = [np.empty(len(val[0])) for _ in heads]
    for a in range(0, len(val[0]), CHUNK):
        f = heads[0].transform(heads[0].series(bars, val[0][a : a + CHUNK]))
        for h, p in zip(heads, p_val, strict=True):
            p[a : a + CHUNK] = h.head(f)
    losses = {h.c: log_loss(val[1], p, eps=1e-12) for h, p in zip(heads, p_val, strict=True)}
    best = min(heads, key=lambda h: (losses[h.c], cfg.C.index(h.c)))
    return best, losses


def rocket_scaled(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Unscaled per-bar series divided by the train scale, as MiniRocket reads them."""
    return (x / scale[None, :, None]).astype(np.float32)
