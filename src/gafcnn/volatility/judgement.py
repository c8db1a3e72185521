"""How volatility forecasters are judged: QLIKE and R² of log realized volatility, each
with a moving-block bootstrap interval, the paired difference to HAR-RV and to
persistence, the one served (chosen on val), and the reality check of the family
against persistence.

Every forecaster is scored on the same rows (those where each has a positive forecast
and the target is known) and resampled with the same blocks (paired)."""

from __future__ import annotations

import numpy as np

from gafcnn.evaluation.bootstrap import Resamples, bootstrap_indices, per_resample
from gafcnn.evaluation.selection_bias import reality_check
from gafcnn.volatility.scores import losses, r2_log


def common_rows(realized: np.ndarray, forecasts: dict[str, np.ndarray]) -> np.ndarray:
    """Rows where the target and every forecast are finite and positive."""
    ok = np.isfinite(realized) & (realized > 0)
    for f in forecasts.values():
        ok &= np.isfinite(f) & (f > 0)
    return ok


def _interval(values: np.ndarray, confidence: float = 0.95) -> list[float]:
    a = (1 - confidence) / 2
    return [float(np.quantile(values, a)), float(np.quantile(values, 1 - a))]


def _r2_resampled(y: np.ndarray, f: np.ndarray, idx: Resamples) -> np.ndarray:
    def r2(rows: np.ndarray) -> np.ndarray:
        yy = y[rows]
        sse = ((yy - f[rows]) ** 2).sum(axis=1)
        sst = ((yy - yy.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        return 1 - sse / sst

    return per_resample(idx, r2)


def _mean_resampled(x: np.ndarray, idx: Resamples) -> np.ndarray:
    return per_resample(idx, lambda rows: x[rows].mean(axis=1))


def score_table(realized: np.ndarray, forecasts: dict[str, np.ndarray], reference: str,
                benchmark: str, block: int, reps: int, seed: int) -> dict:  # fmt: skip
    """Each forecaster's QLIKE and R² of log realized volatility on the common rows,
    with 95% block-bootstrap intervals, and its paired QLIKE and R² differences to
    ``reference`` (HAR) and ``benchmark`` (persistence): negative QLIKE differences
    and positive R² differences favour the forecaster."""
    ok = common_rows(realized, forecasts)
    n = int(ok.sum())
    if n < 2 * block:
        raise ValueError(f"{n} rows with every forecast: too few to score (block {block})")
    rv = realized[ok]
    y = np.log(rv)
    idx = bootstrap_indices(n, block, reps, seed)
    loss = {name: losses(rv, f[ok]) for name, f in forecasts.items()}
    boot = {name: {"qlike": _mean_resampled(loss[name], idx),
                   "r2": _r2_resampled(y, np.log(f[ok]), idx)}
            for name, f in forecasts.items()}  # fmt: skip
    r2 = {name: r2_log(rv, f[ok]) for name, f in forecasts.items()}
    table: dict = {}
    for name in forecasts:
        row = {"qlike": float(loss[name].mean()), "qlike_ci": _interval(boot[name]["qlike"]),
               "r2_log": r2[name], "r2_log_ci": _interval(boot[name]["r2"])}  # fmt: skip
        for rival, key in ((reference, "vs_reference"), (benchmark, "vs_benchmark")):
            if rival == name:
                continue
            d_q = boot[name]["qlike"] - boot[rival]["qlike"]
            d_r = boot[name]["r2"] - boot[rival]["r2"]
            row[key] = {"model": rival,
                        "qlike_diff": float(loss[name].mean() - loss[rival].mean()),
                        "qlike_diff_ci": _interval(d_q),
                        "r2_log_diff": r2[name] - r2[rival],
                        "r2_log_diff_ci": _interval(d_r)}  # fmt: skip
        table[name] = row
    return {"rows": n, "block": block, "reps": reps, "models": table}


def beats(row: dict, key: str) -> bool:
    """Whether a forecaster's QLIKE is below its rival's (``key``: ``vs_reference`` or
    ``vs_benchmark``) beyond the interval of their paired difference."""
    return key in row and row[key]["qlike_diff_ci"][1] < 0


def choose(val: dict, reference: str) -> tuple[str, str]:
    """The forecaster to serve and why: the lowest val QLIKE among those that beat
    ``reference`` beyond their paired interval on val, else ``reference`` itself."""
    models = val["models"]
    better = [n for n, row in models.items() if beats(row, "vs_reference")]
    if not better:
        return reference, f"no forecaster beats {reference} on val beyond its interval"
    best = min(better, key=lambda n: models[n]["qlike"])
    d = models[best]["vs_reference"]
    return best, (f"lowest val QLIKE among those beating {reference}: {models[best]['qlike']:.4f} "
                  f"(difference {d['qlike_diff']:+.4f}, interval {d['qlike_diff_ci'][0]:+.4f} "
                  f"to {d['qlike_diff_ci'][1]:+.4f})")  # fmt: skip


def family_check(realized: np.ndarray, forecasts: dict[str, np.ndarray], benchmark: str,
                 block: int, reps: int, seed: int) -> dict:  # fmt: skip
    """Hansen's SPA over the forecasters against ``benchmark`` on QLIKE (their own
    family, apart from the direction models'): the family-wise p-value that the best
    beats it, and each one's adjusted p-value."""
    ok = common_rows(realized, forecasts)
    rivals = [n for n in forecasts if n != benchmark]
    base = losses(realized[ok], forecasts[benchmark][ok])
    excess = np.column_stack([base - losses(realized[ok], forecasts[n][ok]) for n in rivals])
    rc = reality_check(excess, bootstrap_indices(int(ok.sum()), block, reps, seed),
                       studentize=True)  # fmt: skip
    adjusted = {n: float(p) for n, p in zip(rivals, rc.adjusted, strict=True)}
    return {"benchmark": benchmark, "family": rivals, "p_value": rc.p_value,
            "best": rivals[rc.best], "adjusted": adjusted}  # fmt: skip
