"""`universe_ingest` stage (one DVC matrix entry per symbol of ``data.symbols``): one
symbol's bars, validated as the single pipeline's ingest validates them.

Writes ``data/universe/<symbol>/{bars,oracle}.parquet`` and
``metrics/universe/<symbol>/ingest.json``; nothing when the input is bad.
"""

from __future__ import annotations

import argparse

from gafcnn import paths
from gafcnn.data.ingest import ingest
from gafcnn.io import InputError, run_stage, write_json, write_parquet
from gafcnn.params import read_params


def symbol_arg(doc: str | None) -> str:
    ap = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    ap.add_argument("--symbol", required=True, help="one of data.symbols")
    return ap.parse_args().symbol


def main() -> None:
    symbol = symbol_arg(__doc__)
    params = read_params()
    if symbol not in params.data.symbols:
        raise InputError(
            "params.yaml", f"--symbol {symbol!r} is not in data.symbols {list(params.data.symbols)}"
        )
    bars, oracle, metrics = ingest(params, symbol)
    metrics["symbol"] = symbol
    write_parquet(bars, paths.symbol_bars(symbol))
    write_parquet(oracle, paths.symbol_oracle(symbol))
    write_json(paths.symbol_metrics(symbol, "ingest"), metrics)
    print(
        f"universe_ingest {symbol}: {metrics['rows']:,} bars from {metrics['source']}, "
        f"{metrics['gaps']['count']} gaps ({metrics['gaps']['minutes']} minutes)"
    )


if __name__ == "__main__":
    run_stage(main)
