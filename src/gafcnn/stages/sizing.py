"""`sizing` stage: the volatility forecasters judged, the one the bundle serves chosen,
and what sizing by it does to the strategies a user would run
(:mod:`gafcnn.volatility.evaluation`):

* each forecaster's QLIKE and R² of log realized volatility on val and test, with
  block-bootstrap intervals and the paired differences to HAR-RV and persistence;
* the served forecaster: the lowest val QLIKE among those that beat HAR-RV beyond
  their interval on val, else HAR-RV;
* the reality check (Hansen's SPA) of the forecasters against persistence on test,
  a family of their own;
* backtests on test of always long (rebalanced every ``sizing.horizon`` minutes) and
  of each direction policy (:data:`gafcnn.registry.POLICY`, as evaluate traded them),
  unsized and sized by the served forecast at the same mean exposure.

Writes ``metrics/sizing.json`` and ``reports/sizing.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.data.bars import load_bars
from gafcnn.io import read_json, run_stage, write_bytes, write_json
from gafcnn.params import read_params
from gafcnn.volatility import evaluation, report


def trades_of(trades: pd.DataFrame, name: str) -> pd.DataFrame:
    """Model ``name``'s test trades as periods: entry and exit minutes, side, gross
    return and round-trip cost at size 1."""
    t = trades[trades["model"] == name]
    return pd.DataFrame({"entry": clock.minutes_of(t["entry"]),
                         "exit": clock.minutes_of(t["exit"]),
                         "side": t["side"].to_numpy(np.int64),
                         "gross": t["gross"].to_numpy(np.float64),
                         "cost": (t["gross"] - t["net"]).to_numpy(np.float64)})  # fmt: skip


def main() -> None:
    params = read_params()
    r = evaluation.rules(params)
    # val and test only (what is judged and sized): train's rows, most of them, stay unread
    frame = pd.read_parquet(paths.VOLATILITY_PREDICTIONS,
                            filters=[("segment", "in", ["val", "test"])])  # fmt: skip
    cols, minutes = load_bars(("close", "low", "high"))
    prices = evaluation.Prices(cols["close"], cols["low"], cols["high"], minutes)
    cost = read_json(paths.metrics("evaluate"))["costs"]["per_side_bps"]
    names = [m.name for m in registry.VOLATILITY]
    metrics, sizes = evaluation.assess(frame, names, prices, cost, r)
    tests = metrics["backtests"]
    trades = pd.read_parquet(paths.TRADES)
    for name in registry.expand(registry.POLICY, params.gaf.windows):
        tests[name] = evaluation.policy(prices, trades_of(trades, name), sizes, r)
    write_json(paths.metrics(registry.SIZING_STAGE.name), metrics)
    write_bytes(paths.SIZING_REPORT, report.markdown(metrics).encode())
    served = metrics["served"]
    t, dd = served["test"], tests["always_long"]["difference"]["max_drawdown"]
    print(f"sizing: serves {served['model']} (test QLIKE {t['qlike']:.4f}, R² {t['r2_log']:.3f}); "
          f"always long, sized minus unsized max drawdown {dd['value']:+.4f} "
          f"[{dd['ci'][0]:+.4f}, {dd['ci'][1]:+.4f}]")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
