"""Bars of the configured source - the synthetic generator, local files, a freqtrade
directory or the Binance archive - with the oracle's P(up) on synthetic data and what
the bars say of themselves (the `ingest` stage's work, and a retrain's)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import clock
from gafcnn.data import bars as barlib
from gafcnn.data import freqtrade, readers, sources, synthetic
from gafcnn.data.download import download_months
from gafcnn.data.labels import direction_labels, forward_returns
from gafcnn.io import InputError
from gafcnn.params import Params


def ingest(params: Params, symbol: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Bars, per-bar oracle probabilities and ingest metrics for ``params``: of
    ``symbol`` (one of ``data.symbols``), else of the first symbol."""
    data, label = params.data, params.label
    if symbol is not None and symbol not in data.symbols:
        raise InputError("params.yaml", f"{symbol!r} is not in data.symbols {list(data.symbols)}")
    source = data.source
    metrics: dict = {"source": source}
    oracle = pd.DataFrame({"timestamp": pd.Series([], dtype="datetime64[ms, UTC]"), "p_up": []})
    if source == "synthetic":
        try:
            cfg, common = data.synthetic, None
            if symbol is not None:
                cfg = synthetic.symbol_config(cfg, list(data.symbols), symbol)
                common = synthetic.common_shocks(data.synthetic) if cfg.correlation else None
            market = synthetic.generate(cfg, common)
        except (TypeError, ValueError) as exc:
            raise InputError("params.yaml", f"data.synthetic: {exc}") from None
        bars = market.bars
        threshold = label.threshold if label.dead_zone == "fixed" else 0.0
        p_up = synthetic.oracle_probabilities(market, cfg, label.horizon, threshold)
        returns = forward_returns(bars["close"].to_numpy(), market.minutes, label.horizon)
        y = direction_labels(returns, (-threshold, threshold))
        oracle = pd.DataFrame({"timestamp": bars["timestamp"], "p_up": p_up})
        metrics["oracle_accuracy"] = synthetic.oracle_accuracy(p_up, y)
        metrics["oracle_horizon"] = label.horizon
        metrics["signal"] = cfg.signal
        metrics["files"] = []
        metrics["duplicates_dropped"] = 0
        metrics["filled_minutes"] = 0
    else:  # csv, binance or freqtrade (params.py allows no other source)
        path: str | list = data.path
        if source == "csv":
            files = sources.symbol_files(data.path, data.files, list(data.symbols))
            path = files[symbol if symbol is not None else next(iter(files))]
        if source == "freqtrade":
            pair = data.symbols[0] if symbol is None else symbol
            path = str(freqtrade.pair_file(data.path, pair, data.interval))
            metrics["symbols"] = [pair]
        if source == "binance":
            b, name = data.binance, symbol if symbol is not None else data.symbol
            download_months(b.base_url, name, data.interval, b.months, b.raw_dir)
            path = sources.symbol_files(b.raw_dir, None, list(data.symbols))[name]
        bars, report = readers.read_bars(path, fill_gaps=bool(data.fill_gaps), columns=data.columns)
        metrics["files"] = report.files
        metrics["duplicates_dropped"] = report.duplicates_dropped
        metrics["filled_minutes"] = report.filled_minutes
    return bars, oracle, summarise(bars, metrics)


def summarise(bars: pd.DataFrame, metrics: dict) -> dict:
    """``metrics`` with what the bars themselves say: rows, span, gaps, filled and
    flat bars (what the audit and the report read)."""
    metrics = dict(metrics)
    for key, empty in (("files", []), ("duplicates_dropped", 0), ("filled_minutes", 0)):
        metrics.setdefault(key, empty)
    metrics["rows"] = len(bars)
    metrics["filled_share"] = metrics["filled_minutes"] / len(bars)
    metrics["first_timestamp"] = clock.iso(bars["timestamp"].iloc[0])
    metrics["last_timestamp"] = clock.iso(bars["timestamp"].iloc[-1])
    metrics["gaps"] = barlib.gap_summary(bars[~bars["filled"].to_numpy()])
    metrics["flat_bars"] = int(
        np.sum((bars["high"].to_numpy() == bars["low"].to_numpy()) & ~bars["filled"].to_numpy())
    )
    return metrics
