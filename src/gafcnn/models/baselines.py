"""Simple models that say whether there is anything to learn: majority class and
logistic regression on flattened images or on the raw window of log returns."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def flatten(images: np.ndarray, index: np.ndarray | None = None, chunk: int = 4096) -> np.ndarray:
    """Rows of ``images`` (an ImageFile allowed) flattened to float32 features, read in chunks."""
    idx = np.arange(len(images)) if index is None else np.asarray(index)
    out = np.empty((len(idx), int(np.prod(images.shape[1:]))), dtype=np.float32)
    for a in range(0, len(idx), chunk):
        rows = idx[a : a + chunk]
        out[a : a + len(rows)] = np.asarray(images[rows], dtype=np.float32).reshape(len(rows), -1)
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 0.1, seed: int = 0):
    """Standardised L2 logistic regression; returns a fitted sklearn pipeline."""
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=c, max_iter=500, random_state=seed)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


def predict_up(model, x: np.ndarray) -> np.ndarray:
    """P(up) from a fitted classifier (class 1 column)."""
    classes = list(model.classes_)
    if 1 not in classes:
        return np.zeros(len(x))
    return model.predict_proba(x)[:, classes.index(1)]


def predict_images(model, images: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """P(up) of every row of ``images`` (an :class:`~gafcnn.images.imageset.ImageFile` allowed),
    flattened and predicted a chunk at a time, so memory does not grow with the rows."""
    n = len(images)
    parts = [
        predict_up(model, flatten(images, np.arange(a, min(a + chunk, n))))
        for a in range(0, n, chunk)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def majority_probability(y_train: np.ndarray, n: int) -> np.ndarray:
    """The majority-class model: always the train base rate of up."""
    return np.full(n, float(np.mean(y_train == 1)))
