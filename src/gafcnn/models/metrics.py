"""Classification metrics, computed one way for every stage.

Every model in the project is reported with :func:`classification_report`, so a
baseline, a CNN, an ensemble and XGBoost are compared on the same footing:
accuracy next to the majority rate (an accuracy of 0.78 on 78/22 labels is no
skill), balanced accuracy, ROC AUC, log loss, Brier score, MCC, and a 95%
interval for accuracy.

Samples built from overlapping windows and overlapping label horizons are
autocorrelated, so a plain binomial interval is too narrow. The interval uses an
effective sample size ``n (1 - rho) / (1 + rho)`` where ``rho`` is the lag-1
autocorrelation of the hit/miss sequence (the AR(1) variance inflation factor).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

EPS = 1e-7


def calls_up(p_up: np.ndarray) -> np.ndarray:
    """The call at 0.5: True (up) where ``p_up >= 0.5``."""
    return np.asarray(p_up) >= 0.5


def hits(y: np.ndarray, p_up: np.ndarray) -> np.ndarray:
    """Per sample, whether the call at 0.5 matches the label (0/1)."""
    return calls_up(p_up) == (np.asarray(y) == 1)


def accuracy(y: np.ndarray, p_up: np.ndarray) -> float:
    """Share of samples whose call at 0.5 matches the label (NaN without samples)."""
    h = hits(y, p_up)
    return float(h.mean()) if len(h) else float("nan")


def log_loss(y: np.ndarray, p_up: np.ndarray, eps: float = EPS) -> float:
    """Mean binary log loss, P(up) clipped to ``[eps, 1 - eps]`` (NaN without samples)."""
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    p = np.clip(np.asarray(p_up, dtype=np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``n`` may be fractional)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (centre - half, centre + half)


def lag1_autocorr(x: np.ndarray) -> float:
    """Lag-1 autocorrelation of a sequence (0 for constant or too-short input)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 3:
        return 0.0
    a, b = x[:-1] - x.mean(), x[1:] - x.mean()
    denom = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def effective_n(n: int, rho: float) -> float:
    """AR(1) effective sample size; positive autocorrelation shrinks it, never grows it."""
    rho = min(max(rho, 0.0), 0.99)
    return n * (1 - rho) / (1 + rho)


def majority_rate(y: np.ndarray) -> float:
    """Accuracy of always predicting the more frequent class of ``y``."""
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    up = float(np.mean(y == 1))
    return max(up, 1 - up)


def classification_report(
    y: np.ndarray, p_up: np.ndarray, confidence: float = 0.95
) -> dict[str, float | int | bool | list[float]]:
    """All shared metrics for labels ``y`` (0/1) and predicted probabilities of up."""
    # scikit-learn here, not at import: serving uses this module's accuracy without it
    from sklearn.metrics import balanced_accuracy_score, matthews_corrcoef, roc_auc_score

    y = np.asarray(y).astype(np.int64)
    p = np.clip(np.asarray(p_up, dtype=np.float64), EPS, 1 - EPS)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} predictions")
    n = len(y)
    pred = calls_up(p).astype(np.int64)
    hit = hits(y, p)
    both = len(np.unique(y)) == 2
    rho = lag1_autocorr(hit)
    n_eff = effective_n(n, rho)
    acc = accuracy(y, p)
    lo, hi = wilson_interval(acc * n_eff, n_eff, confidence)
    maj = majority_rate(y)
    return {
        "n": n,
        "accuracy": acc,
        "majority_rate": maj,
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)) if both else float("nan"),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "log_loss": log_loss(y, p),
        "brier": float(np.mean((p - y) ** 2)) if n else float("nan"),
        "mcc": float(matthews_corrcoef(y, pred)) if both else float("nan"),
        "predicted_up_share": float(pred.mean()) if n else float("nan"),
        "hit_autocorr": rho,
        "n_effective": n_eff,
        "accuracy_ci": [lo, hi],
        "signal_detected": bool(lo > maj),
    }


def multiclass_report(y: np.ndarray, pred: np.ndarray, names: tuple[str, ...] | list[str]) -> dict:
    """Accuracy, per-class recall and precision, their means, and the confusion matrix
    (rows: true class, columns: predicted). Mean recall is the accuracy one would see on
    a test set with every class equally often (classes absent from ``y`` are left out)."""
    y, pred = np.asarray(y, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    k = len(names)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    present = support > 0
    recall = {names[i]: float(confusion[i, i] / support[i]) for i in range(k) if present[i]}
    precision = {
        names[i]: float(confusion[i, i] / predicted[i]) for i in range(k) if predicted[i] > 0
    }
    return {
        "n": len(y),
        "accuracy": float(np.mean(y == pred)) if len(y) else float("nan"),
        "mean_recall": float(np.mean(list(recall.values()))) if recall else float("nan"),
        "recall": recall,
        "precision": precision,
        "support": {names[i]: int(support[i]) for i in range(k)},
        "confusion": confusion.tolist(),
    }
