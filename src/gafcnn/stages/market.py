"""`market` stage (one DVC matrix entry per symbol of ``data.symbols``): the market's
own ``params.yaml`` in ``markets/<symbol>/``, which every stage of its pipeline reads
(they run in that folder). It holds only what the market changes of the project's
params (``base: ../../params.yaml``, read beneath it): the one symbol it reads, the
split common to every symbol of a universe (cut over the span they share, from the
spans their ingests recorded; one symbol keeps the project's split) and
``evaluate.trials`` counting every symbol and training.
"""

from __future__ import annotations

import os

import yaml

from gafcnn import paths
from gafcnn.io import atomic_path, run_stage
from gafcnn.params import BASE_KEY, market_overrides, read_params
from gafcnn.stages.args import symbol_arg
from gafcnn.universe.layout import market_split, read_spans, trials


def main() -> None:
    params = read_params()
    symbol = symbol_arg(__doc__, params)
    split = market_split(params, read_spans(list(params.data.symbols)))
    folder, n_trials = paths.market(symbol), trials(params)
    own = {BASE_KEY: os.path.relpath(paths.PARAMS, folder),
           **market_overrides(symbol, split, n_trials)}  # fmt: skip
    with atomic_path(folder / paths.PARAMS) as tmp:
        tmp.write_text(yaml.safe_dump(own, sort_keys=False))
    print(f"market {symbol}: split {split.get('method', 'fraction')}, trials {n_trials}")


if __name__ == "__main__":
    run_stage(main)
