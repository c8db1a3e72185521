"""`universe_fit` stage: ``--symbol S`` (one DVC matrix entry per symbol) fits,
evaluates and exports the single pipeline on one symbol of the universe;
``--pooled`` fits every model once over all the symbols' samples
(:mod:`gafcnn.universe.fit`). Both use the common split (`universe_split`).

Writes ``data/universe/<symbol>/fit/`` (predictions, the audit, latency, split,
evaluate and decision metrics, the report) and ``models/universe/<symbol>/bundle``,
or ``data/universe_pooled/`` (predictions with their symbol, audit and latency).
"""

from __future__ import annotations

import argparse

from gafcnn import paths
from gafcnn.io import InputError, atomic_dir, read_json, run_stage, write_json
from gafcnn.params import read_params
from gafcnn.universe.fit import fit_pooled, fit_symbol
from gafcnn.universe.layout import Lanes


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--symbol", help="one of data.symbols: its own pipeline")
    which.add_argument("--pooled", action="store_true", help="one fit over every symbol")
    args = ap.parse_args()
    params = read_params()
    layout = read_json(paths.UNIVERSE_SPLIT)
    if layout["symbols"] != list(params.data.symbols):
        rerun = "made for other symbols; run `dvc repro universe/dvc.yaml`"
        raise InputError(paths.UNIVERSE_SPLIT, rerun)
    if args.pooled:
        lanes = Lanes(tuple(layout["symbols"]), **layout["lanes"])
        with atomic_dir(paths.POOLED) as out:
            if "pooled" not in params.universe.training:
                write_json(out / "skipped.json", {"training": params.universe.training})
                print("universe_fit pooled: not in universe.training, nothing fitted")
                return
            fit_pooled(params, lanes, layout["ranges"], out)
        print(f"universe_fit pooled: {len(lanes.symbols)} symbols fitted at once")
        return
    if args.symbol not in layout["symbols"]:
        raise InputError(
            "params.yaml", f"--symbol {args.symbol!r} is not in data.symbols {layout['symbols']}"
        )
    with (
        atomic_dir(paths.symbol_fit(args.symbol)) as out,
        atomic_dir(paths.symbol_bundle(args.symbol)) as bundle,
    ):
        bundle.rmdir()  # copytree makes it
        fit_symbol(params, args.symbol, layout["ranges"], out, bundle)
    decision = read_json(paths.symbol_fit(args.symbol) / "decision.json")
    print(f"universe_fit {args.symbol}: decision = {decision['decision']}")


if __name__ == "__main__":
    run_stage(main)
