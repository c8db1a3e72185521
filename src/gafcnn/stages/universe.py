"""`universe` stage: every symbol under each training (its own models, as its own
market's evaluate stage judged them; the pooled ones, judged here by the same judge),
the models pooled over the symbols, the cross-section (three or more symbols: each
model's P(up) and a model of the ranked label as cross-sectional scores, rank IC and a
long-short portfolio with its own decision), and one decision per symbol
(:mod:`gafcnn.universe.evaluation`).

Writes ``metrics/universe.json`` and ``reports/universe.md``.
"""

from __future__ import annotations

import pandas as pd

from gafcnn import clock, paths, registry
from gafcnn.edge.cross_section import MODELS as RANKED_MODELS
from gafcnn.evaluation.bootstrap import block_length
from gafcnn.io import read_json, release_arrow_memory, run_stage, write_json
from gafcnn.models import predictions
from gafcnn.params import Params, read_params, runtime_setting
from gafcnn.universe.evaluation import (
    Market,
    MarketFile,
    as_evaluated,
    choose,
    judge,
    pooled_accuracy,
    portfolio,
    rank_ic,
    ranked_label,
    summary,
)
from gafcnn.universe.layout import market_split, read_spans, trials
from gafcnn.universe.report import write_universe_report

JUDGED = ("val", "test")  # the segments a pooled fit is judged on


def market(symbol: str) -> Market:
    folder = paths.market(symbol)
    return MarketFile(folder / paths.BARS, pd.read_parquet(folder / paths.ORACLE))


def training_runs(params: Params, training: str) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Per symbol, its predictions under ``training`` on the segments it is judged on
    (train's rows, most of them, stay unread) and the run's metrics (audit and latency; a
    symbol's own fit also its evaluate and decision, so its test alone is read)."""
    out = {}
    if training == "pooled":
        preds = pd.read_parquet(paths.POOLED / "predictions.parquet",
                                filters=[("segment", "in", list(JUDGED))])  # fmt: skip
        checks = {k: read_json(paths.POOLED / f"{k}.json") for k in ("audit", "latency")}
        for s, rows in preds.groupby("symbol", sort=False):
            out[s] = (rows.drop(columns="symbol"), checks)
        return {s: out[s] for s in params.data.symbols}
    for s in params.data.symbols:
        folder = paths.market(s)
        out[s] = (
            predictions.read(folder / paths.PREDICTIONS, segments=("test",)),
            {k: read_json(folder / paths.metrics(k))
             for k in ("audit", "latency", "evaluate", "decision")},
        )  # fmt: skip
    return out


def train_last_ms(split: dict) -> int:
    """The last bar of the common train (a universe's ranges), as epoch ms."""
    train_end = clock.parse_minute(split["ranges"]["train"][-1][1], "split", "train")
    return int(clock.ms_of_minutes(train_end - 1))


def main() -> None:
    params = read_params()
    trainings = params.universe.trainings(len(params.data.symbols))
    split = market_split(params, read_spans(list(params.data.symbols)))
    markets = {s: market(s) for s in params.data.symbols}
    n_trials, cfg, horizon = trials(params), params.evaluate, params.label.horizon
    block = block_length(max(params.gaf.windows), horizon, params.gaf.stride)
    per_symbol: dict = {s: {} for s in params.data.symbols}
    pooled, ic = {}, {}
    # the long-shorts tried: every scored model per training and the ranked label's
    n_scored = len(registry.scored(list(params.gaf.windows), params.ensemble.method))
    cs_trials = params.evaluate.trials * (len(trainings) * n_scored + len(RANKED_MODELS))
    for training in trainings:
        last = train_last_ms(split) if training == "pooled" else None  # common ranges
        judged = {
            s: as_evaluated(params, preds, markets[s], checks["evaluate"], checks["decision"])
            if training == "per_symbol"  # judged once, by its own evaluate stage
            else judge(params, preds, markets[s], checks, n_trials, last)
            for s, (preds, checks) in training_runs(params, training).items()
        }
        release_arrow_memory()  # the predictions read for it, dropped
        for s, j in judged.items():
            per_symbol[s][training] = summary(j, horizon)
        pooled[training] = pooled_accuracy(judged, block, cfg.bootstrap_reps, params.seed)
        ic[training] = rank_ic(judged, markets, horizon, params, cs_trials)
    if len(markets) >= 3:
        threads = runtime_setting(params, "threads")
        ic["ranked_label"] = ranked_label(markets, split["ranges"], horizon, params, cs_trials,
                                          threads)  # fmt: skip
        ic["portfolio"] = portfolio({k: v for k, v in ic.items() if v is not None}) | {
            "trials": cs_trials
        }
    decision = {s: choose(per_symbol[s]) for s in params.data.symbols}
    out = {
        "symbols": list(params.data.symbols),
        "training": trainings,
        "trials": n_trials,
        "split": split,
        "decision": decision,
        "per_symbol": per_symbol,
        "pooled": pooled,
        "rank_ic": ic,
    }
    write_json(paths.metrics("universe"), out)
    write_universe_report(out, paths.UNIVERSE_REPORT)
    for s, d in decision.items():
        how = f" ({d['model']} at theta {d['theta']:g})" if d["model"] else ""
        print(f"universe {s}: {d['decision']}{how}")


if __name__ == "__main__":
    run_stage(main)
