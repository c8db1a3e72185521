"""`pooled` stage: a universe's every model fitted once over all its symbols' samples
(:mod:`gafcnn.universe.fit`), on the split common to every market, for the
`universe` stage to judge per symbol. Fits nothing (writes ``skipped.json``) for one
symbol or with ``universe.pooled: false``.

Writes ``data/universe/pooled/`` (predictions with their symbol, the run's audit,
latency and split metrics).
"""

from __future__ import annotations

from gafcnn import paths
from gafcnn.io import atomic_dir, run_stage, write_json
from gafcnn.params import read_params
from gafcnn.universe.fit import fit_pooled


def main() -> None:
    params = read_params()
    symbols = list(params.data.symbols)
    with atomic_dir(paths.POOLED) as out:
        if "pooled" not in params.universe.trainings(len(symbols)):
            write_json(out / "skipped.json", {"symbols": symbols, "pooled": params.universe.pooled})
            print("pooled: one symbol or universe.pooled false, nothing fitted")
            return
        fit_pooled(params, out)
    print(f"pooled: {len(symbols)} symbols fitted at once")


if __name__ == "__main__":
    run_stage(main)
