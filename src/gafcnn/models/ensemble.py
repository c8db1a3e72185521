"""Combining models: join predictions by decision timestamp, ensemble methods and
purged time-ordered folds for meta-learners.

Predictions are always aligned by their decision timestamp (an inner join whose
size is checked), never by position.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from gafcnn.images.imageset import AlignmentError
from gafcnn.models.metrics import hits
from gafcnn.models.predictions import logit
from gafcnn.params import ENSEMBLE_METHODS as METHODS  # noqa: F401 - the combine methods


def join_predictions(frames: dict[str, pd.DataFrame], expected: dict[str, int]) -> pd.DataFrame:
    """Inner-join members' predictions (the :mod:`gafcnn.models.predictions` layout) on timestamp.

    Returns ``timestamp, segment, label, p_<name>...``. Raises :class:`AlignmentError`
    when the join loses samples (a member is missing timestamps or is shifted), when
    two members disagree on a label, or when a segment's size differs from ``expected``.
    """
    joined = None
    for name, f in frames.items():
        if f["timestamp"].duplicated().any():
            raise AlignmentError(f"{name}: duplicate decision timestamps")
        part = f[["timestamp", "segment", "label", "p_up"]].rename(
            columns={"p_up": f"p_{name}", "label": f"label_{name}", "segment": f"segment_{name}"}
        )
        joined = part if joined is None else joined.merge(part, on="timestamp", how="inner")
    assert joined is not None
    names = list(frames)
    for name in names[1:]:
        if (joined[f"label_{name}"] != joined[f"label_{names[0]}"]).any():
            raise AlignmentError(f"{name} and {names[0]} disagree on labels at the same timestamp")
        if (joined[f"segment_{name}"] != joined[f"segment_{names[0]}"]).any():
            raise AlignmentError(f"{name} and {names[0]} disagree on segments")
    joined = joined.rename(columns={f"label_{names[0]}": "label", f"segment_{names[0]}": "segment"})
    joined = joined[["timestamp", "segment", "label", *[f"p_{n}" for n in names]]]
    for segment, n in expected.items():
        got = int((joined["segment"] == segment).sum())
        if got != n:
            raise AlignmentError(
                f"{segment}: the join by timestamp kept {got} samples, the image sets have {n}"
                " - a member's predictions are missing or shifted"
            )
    return joined.sort_values("timestamp", ignore_index=True)


def member_weights(y_val: np.ndarray, p_val: np.ndarray) -> np.ndarray:
    """Weights from validation performance: proportional to max(0, AUC - 0.5);
    equal weights when no member beats chance."""
    skill = np.array(
        [max(0.0, roc_auc_score(y_val, p_val[:, j]) - 0.5) for j in range(p_val.shape[1])]
    )
    if skill.sum() <= 0:
        return np.full(p_val.shape[1], 1.0 / p_val.shape[1])
    return skill / skill.sum()


class Stacker:
    """Logistic regression on members' logits, fitted on validation predictions only; it
    predicts through :func:`gafcnn.models.combine.stacking`, as the bundle does."""

    def __init__(self, c: float = 1.0, seed: int = 0):
        self.model = LogisticRegression(C=c, max_iter=1000, random_state=seed)
        self.fit_timestamps: np.ndarray | None = None

    def fit(self, p_val: np.ndarray, y_val: np.ndarray, timestamps: np.ndarray) -> Stacker:
        self.model.fit(logit(p_val), y_val)
        self.fit_timestamps = np.asarray(timestamps)
        return self


def error_correlation(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Correlation matrix of members' mistakes (1 where ``p >= 0.5`` misses ``y``): near 1,
    they err on the same samples and an ensemble cannot fix them; near 0, it can."""
    miss = (~hits(np.asarray(y)[:, None], p)).astype(float)
    return np.corrcoef(miss.T)


def purged_folds(timestamps: np.ndarray, k: int, purge: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` contiguous, time-ordered folds over sorted ``timestamps``; each fold's
    training part leaves out every sample within ``purge`` (same unit as the
    timestamps) of the held-out block, on both sides."""
    ts = np.asarray(timestamps)
    if np.any(np.diff(ts) <= 0):
        raise ValueError("timestamps must be strictly increasing")
    bounds = np.linspace(0, len(ts), k + 1).astype(int)
    folds = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        test = np.arange(a, b)
        lo, hi = ts[a] - purge, ts[b - 1] + purge
        train = np.flatnonzero((ts < lo) | (ts > hi))
        folds.append((train, test))
    return folds
