"""Every model on the same test decisions: the comparison table, the backtest and the
selection-bias figures, computed one way for the evaluate stage and the grid report."""

from __future__ import annotations

import numpy as np

from gafcnn import registry
from gafcnn.data.bars import MINUTE_MS, positions
from gafcnn.data.labels import forward_returns
from gafcnn.evaluation.backtest import backtest
from gafcnn.evaluation.bootstrap import bootstrap, bootstrap_indices
from gafcnn.evaluation.metrics import classification_report
from gafcnn.evaluation.selection_bias import assess
from gafcnn.params import Params

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
) -> dict:
    """Every model in ``probs`` on the test decisions ``ts`` (epoch ms, labels ``y``):
    the table (block-bootstrap intervals, paired resamples), the backtest on the bars'
    forward returns, and the selection-bias figures over every model but the oracle."""
    cfg, horizon = params.evaluate, params.label.horizon
    idx = bootstrap_indices(len(y), block, cfg.bootstrap_reps, params.seed)
    table = {}
    for name, p in probs.items():
        row = classification_report(y, p)
        b = bootstrap(y, (p >= 0.5).astype(int), idx)
        row["accuracy_ci"] = list(b.accuracy_ci)
        row["balanced_accuracy_ci"] = list(b.balanced_accuracy_ci)
        row["p_value_vs_majority"] = b.p_value_vs_majority
        row["signal_detected"] = bool(b.accuracy_ci[0] > row["majority_rate"])
        table[name] = row
    test_minutes = np.asarray(ts) // MINUTE_MS
    fwd = forward_returns(bars["close"], minutes, horizon)[positions(minutes, ts)]
    period = float(test_minutes[-1] - test_minutes[0] + horizon)
    tests = {
        name: backtest(test_minutes, p, fwd, horizon, cfg.fee_bps, period)
        for name, p in probs.items()
    }
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
    return {"table": table, "tests": tests, "backtest": bt, "selection": selection}
