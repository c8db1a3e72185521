"""Models built on other models' P(up): how they predict, once, for the stages that
fit them (`ensemble`, `hybrid`) and the bundle that serves them, so the served
probabilities are the evaluated ones by construction.

NumPy and SciPy's ``expit`` only: the serving process loads neither scikit-learn
nor torch.
"""

from __future__ import annotations

import numpy as np

from gafcnn import registry
from gafcnn.data.features import input_names
from gafcnn.models.predictions import logit


def stacking(p: np.ndarray, coef: np.ndarray | list[float], intercept: float) -> np.ndarray:
    """The stacking combiner's P(up): a logistic model on the members' logits, computed
    as scikit-learn's ``LogisticRegression.predict_proba`` does (the same bits)."""
    from scipy.special import expit

    x = logit(np.asarray(p, dtype=np.float64))
    scores = x @ np.asarray(coef, dtype=np.float64).reshape(-1, 1) + np.asarray([intercept])
    return expit(scores.reshape(-1))


def mean(p: np.ndarray) -> np.ndarray:
    """The mean combiner's P(up): the members' mean."""
    return p.mean(axis=1)


def weighted(p: np.ndarray, weights: np.ndarray | list[float]) -> np.ndarray:
    """The weighted combiner's P(up): the members' P(up) with weights summing to 1,
    summed member by member, so a row gets the same bits in a batch of any size (a
    matrix product's kernel depends on the batch's shape)."""
    out = np.zeros(len(p))
    for column, weight in zip(p.T, weights, strict=True):
        out = out + column * float(weight)
    return out


# Each ``ensemble.method`` value's combiner: P(up) from the members' P(up), ``(n,
# members)`` in window order, and the method's coefficients.
METHODS = {"mean": mean, "weighted": weighted, "stacking": stacking}


def ensemble(
    p: np.ndarray, weights: np.ndarray | list[float], coef: np.ndarray | list[float],
    intercept: float,
) -> dict[str, np.ndarray]:  # fmt: skip
    """P(up) of every ensemble method (``ensemble.method`` values) from the members'
    P(up), ``(n, members)`` in window order."""
    return {"mean": mean(p), "weighted": weighted(p, weights),
            "stacking": stacking(p, coef, intercept)}  # fmt: skip


def hybrid_members(windows: list[int]) -> list[str]:
    """The names of the hybrid's CNN inputs (each window's P(up)), in order."""
    return [f"p_{registry.CNN.at(w)}" for w in windows]


def hybrid_inputs(windows: list[int], flow: bool = False) -> list[str]:
    """The hybrid's feature names, in the order it reads them: the indicator models'
    inputs (:func:`gafcnn.data.features.input_names`), then the CNNs' P(up)."""
    return [*input_names(flow), *hybrid_members(windows)]


def hybrid_features(indicators: np.ndarray, cnn: np.ndarray) -> np.ndarray:
    """The hybrid's features: the indicator models' inputs, then each window's CNN P(up)."""
    return np.column_stack([indicators, cnn])
