"""XGBoost from a params section (``xgb`` or ``hybrid``): the classifier and regressor
every booster of the project is built by, and the importance of its inputs."""

from __future__ import annotations

import numpy as np

from gafcnn.params import XgbParams


def xgb_classifier(
    cfg: XgbParams,
    seed: int,
    n_estimators: int | None = None,
    early_stopping: bool = True,
    n_jobs: int = 1,
):
    """An XGBoost classifier from a params section (``xgb`` or ``hybrid``); ``n_jobs`` is
    a runtime setting (the ``hist`` method gives the same trees for any thread count)."""
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=n_estimators or cfg.n_estimators,
        learning_rate=cfg.learning_rate,
        max_depth=cfg.max_depth,
        subsample=cfg.subsample,
        colsample_bytree=cfg.colsample_bytree,
        min_child_weight=cfg.min_child_weight,
        reg_lambda=cfg.reg_lambda,
        early_stopping_rounds=cfg.early_stopping_rounds if early_stopping else None,
        eval_metric="logloss",
        tree_method="hist",
        n_jobs=int(n_jobs),
        random_state=seed,
    )


def xgb_regressor(cfg: XgbParams, seed: int, n_jobs: int = 1):
    """An XGBoost regressor (squared error, early stopping on the first eval set's RMSE)
    from a params section, as :func:`xgb_classifier`."""
    from xgboost import XGBRegressor

    return XGBRegressor(
        n_estimators=cfg.n_estimators, learning_rate=cfg.learning_rate,
        max_depth=cfg.max_depth, subsample=cfg.subsample,
        colsample_bytree=cfg.colsample_bytree, min_child_weight=cfg.min_child_weight,
        reg_lambda=cfg.reg_lambda, early_stopping_rounds=cfg.early_stopping_rounds,
        eval_metric="rmse", tree_method="hist", n_jobs=int(n_jobs), random_state=seed,
    )  # fmt: skip


def gain_importance(model, names: list[str]) -> dict[str, float]:
    """Total gain per feature, normalised to sum to 1 (0 for unused features)."""
    score = model.get_booster().get_score(importance_type="total_gain")
    raw = np.array([score.get(f"f{i}", score.get(n, 0.0)) for i, n in enumerate(names)])
    total = raw.sum()
    return {n: float(v / total) if total > 0 else 0.0 for n, v in zip(names, raw, strict=True)}
