"""`ingest` stage: bars from the synthetic generator, local files or the Binance archive.

Outputs ``data/interim/bars.parquet``, ``data/interim/oracle.parquet`` (the
generator's P(up) per bar on synthetic data; empty otherwise) and
``metrics/ingest.json``. Nothing is written when the input is bad.
"""

from __future__ import annotations

from gafcnn import paths
from gafcnn.data.ingest import ingest
from gafcnn.io import InputError, run_stage, write_json, write_parquet
from gafcnn.params import read_params


def main() -> None:
    params = read_params()
    if params.data.universe:
        raise InputError("params.yaml", f"data.symbols names {len(params.data.symbols)} "
                         f"symbols ({', '.join(params.data.symbols)}): the single pipeline "
                         "reads one; `dvc repro universe/dvc.yaml` runs them all")  # fmt: skip
    bars, oracle, metrics = ingest(params)
    write_parquet(bars, paths.BARS)
    write_parquet(oracle, paths.ORACLE)
    write_json(paths.metrics("ingest"), metrics)
    print(
        f"ingest: {metrics['rows']:,} bars from {metrics['source']}, "
        f"{metrics['gaps']['count']} gaps ({metrics['gaps']['minutes']} minutes)"
    )


if __name__ == "__main__":
    run_stage(main)
