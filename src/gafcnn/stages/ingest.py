"""`ingest` stage (one DVC matrix entry per symbol of ``data.symbols``): one market's
bars from the synthetic generator, local files, a freqtrade directory or the Binance
archive, read with the project's params (a synthetic universe's symbols are drawn
together).

Writes the market's ``data/interim/bars.parquet``, ``data/interim/oracle.parquet``
(the generator's P(up) per bar on synthetic data; empty otherwise) and
``metrics/ingest.json`` into ``markets/<symbol>/``, and its span (first and last
bar) into ``data/universe/spans/<symbol>.json``, what the common split is cut from.
Nothing is written when the input is bad.
"""

from __future__ import annotations

from gafcnn import paths
from gafcnn.data.ingest import ingest
from gafcnn.io import run_stage, write_json, write_parquet
from gafcnn.params import read_params
from gafcnn.stages.args import symbol_arg
from gafcnn.universe.layout import span_record


def main() -> None:
    params = read_params()
    symbol = symbol_arg(__doc__, params)
    bars, oracle, metrics = ingest(params, symbol)
    metrics["symbol"] = symbol
    market = paths.market(symbol)
    write_parquet(bars, market / paths.BARS)
    write_parquet(oracle, market / paths.ORACLE)
    write_json(market / paths.metrics("ingest"), metrics)
    write_json(paths.span_file(symbol), span_record(bars))
    print(
        f"ingest {symbol}: {metrics['rows']:,} bars from {metrics['source']}, "
        f"{metrics['gaps']['count']} gaps ({metrics['gaps']['minutes']} minutes)"
    )


if __name__ == "__main__":
    run_stage(main)
