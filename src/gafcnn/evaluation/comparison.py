"""Every model on the same test decisions: the comparison table, the backtest, each
model's trading policy (theta chosen on val) and the selection-bias figures, computed
one way for the evaluate stage and the grid report."""

from __future__ import annotations

import numpy as np

from gafcnn import clock, registry
from gafcnn.data.bars import positions
from gafcnn.data.labels import forward_returns
from gafcnn.evaluation.bootstrap import Resamples, bootstrap, bootstrap_indices, per_resample
from gafcnn.evaluation.policy import (
    choose_theta,
    coverage_curve,
    family_p,
    family_test,
    period,
    policy_row,
    trade_block,
)
from gafcnn.evaluation.selection_bias import assess
from gafcnn.models.metrics import calls_up, classification_report, hits
from gafcnn.params import Params
from gafcnn.trading.backtest import Backtest, backtest

BACKTEST_FIELDS = ("trades", "win_rate", "mean_net_return", "sharpe", "max_drawdown", "exposure")


def compare(
    ts: np.ndarray,
    y: np.ndarray,
    probs: dict[str, np.ndarray],
    bars: dict[str, np.ndarray],
    minutes: np.ndarray,
    params: Params,
    block: int,
    trials: int,
    partitions: int,
    val: tuple[np.ndarray, dict[str, np.ndarray]] | None = None,
) -> dict:
    """Every model in ``probs`` on the test decisions ``ts`` (epoch ms, labels ``y``):
    the table (block-bootstrap intervals, paired resamples), the always-in backtest on
    the bars' forward returns, with ``val`` (its decision times and each model's P(up))
    each model's policy, and the selection-bias figures over every model but the oracle."""
    cfg, horizon = params.evaluate, params.label.horizon
    cost = cfg.costs.per_side_bps
    idx = bootstrap_indices(len(y), block, cfg.bootstrap_reps, params.seed)
    table = {}
    for name, p in probs.items():
        row = classification_report(y, p)
        b = bootstrap(y, calls_up(p).astype(int), idx)
        row["accuracy_ci"] = list(b.accuracy_ci)
        row["balanced_accuracy_ci"] = list(b.balanced_accuracy_ci)
        row["p_value_vs_majority"] = b.p_value_vs_majority
        row["accuracy_se"] = b.accuracy_se
        row["signal_detected"] = bool(b.accuracy_ci[0] > row["majority_rate"])
        table[name] = row
    test_minutes = clock.minutes_of_ms(ts)
    forward = forward_returns(bars["close"], minutes, horizon)
    fwd = forward[positions(minutes, ts)]
    span = period(test_minutes, horizon)
    tests = {name: backtest(test_minutes, p, fwd, horizon, cost, span) for name, p in probs.items()}
    bt = {name: {k: getattr(r, k) for k in BACKTEST_FIELDS} for name, r in tests.items()}
    models = [m for m in probs if m != registry.ORACLE]
    selection = assess(
        y,
        {m: probs[m] for m in models},
        {m: (tests[m].trade_times, tests[m].net) for m in models},
        idx,
        span=(float(test_minutes[0]), float(test_minutes[-1] + horizon)),
        trials=trials,
        partitions=partitions,
    )
    out = {"table": table, "tests": tests, "backtest": bt, "selection": selection,
           "images_vs_series": images_vs_series(y, probs, idx)}  # fmt: skip
    if val is not None:
        out["policy"], out["policy_test"], out["policy_trades"] = policies(
            val, forward, minutes, test_minutes, fwd, span, probs, params, block, idx
        )
        out["coverage"] = {
            name: coverage_curve(test_minutes, probs[name], fwd, horizon, cost, span)
            for name in registry.expand(registry.POLICY, [])
            if name in probs
        }
    return out


def images_vs_series(y: np.ndarray, probs: dict[str, np.ndarray], idx: Resamples) -> dict:
    """Per window, the CNN's test accuracy minus each rival's on the same window
    (:data:`gafcnn.registry.RIVALS`), with a 95% interval from the paired moving-block
    resamples: does the image model beat the raw series on identical decisions?"""
    y = np.asarray(y)
    out: dict[str, dict] = {}
    for w in registry.windows_of(probs, registry.CNN):
        hit = hits(y, probs[registry.CNN.at(w)])
        rows = {}
        for name in (r.at(w) for r in registry.RIVALS if r.at(w) in probs):
            diff = hit.astype(np.float64) - hits(y, probs[name])
            d = per_resample(idx, lambda rows_, diff=diff: diff[rows_].mean(axis=1))
            lo, hi = (float(q) for q in np.quantile(d, [0.025, 0.975]))
            verdict = "cnn better" if lo > 0 else "rival better" if hi < 0 else "no difference"
            rows[name] = {"difference": float(diff.mean()), "ci": [lo, hi], "verdict": verdict}
        out[f"w{w}"] = rows
    return out


def policies(
    val: tuple[np.ndarray, dict[str, np.ndarray]], forward: np.ndarray, minutes: np.ndarray,
    test_minutes: np.ndarray, fwd: np.ndarray, span: float, probs: dict[str, np.ndarray],
    params: Params, block: int, idx: Resamples,
) -> tuple[dict, dict, dict[str, Backtest]]:  # fmt: skip
    """Each model's theta chosen on val and its test figures at that theta, with its
    family-wise p-value from the test of every model but the oracle x every theta; and
    each model's test backtest at its theta (its trades)."""
    cfg, horizon = params.evaluate, params.label.horizon
    cost = cfg.costs.per_side_bps
    val_ts, val_probs = val
    val_minutes, val_fwd = clock.minutes_of_ms(val_ts), forward[positions(minutes, val_ts)]
    trades_block = trade_block(block, test_minutes, horizon)
    rows, trades = {}, {}
    for name, p in probs.items():
        theta, tried = choose_theta(
            val_minutes, val_probs[name], val_fwd, horizon, cost, cfg.policy
        )
        b = trades[name] = backtest(test_minutes, p, fwd, horizon, cost, span, theta)
        rows[name] = policy_row(b, theta, trades_block, cfg.bootstrap_reps, params.seed)
        # as many test trades as a val theta needs, or its figures are not judged
        rows[name]["judged"] = b.trades >= cfg.policy.min_val_trades
        rows[name]["val"] = tried
    tradable = {m: p for m, p in probs.items() if m != registry.ORACLE}
    test = family_test(test_minutes, tradable, fwd, horizon, cost, span,
                       cfg.policy.thresholds, idx)  # fmt: skip
    for name in tradable:
        rows[name]["p_value_family"] = family_p(test, name, rows[name]["theta"], tradable)
    return rows, test, trades
