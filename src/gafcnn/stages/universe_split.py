"""`universe_split` stage: one split for every symbol of the universe, cut at the
same timestamps over the span they share (:mod:`gafcnn.universe.layout`), and the
lanes of the pooled fit. One line per symbol says how many of its minutes each
segment holds and how many it misses (gaps).

Writes ``data/universe/split.json`` and ``metrics/universe_split.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gafcnn import clock, paths
from gafcnn.data.split import required_purge
from gafcnn.io import InputError, run_stage, write_json
from gafcnn.params import read_params
from gafcnn.universe.layout import Lanes, common_ranges, common_span


def minutes_of_symbol(symbol: str) -> np.ndarray:
    """The symbol's bar minutes (invented fill bars left out)."""
    bars = pd.read_parquet(paths.symbol_bars(symbol), columns=["timestamp", "filled"])
    return clock.minutes_of(bars["timestamp"][~bars["filled"].to_numpy()])


def coverage(minutes: np.ndarray, ranges: dict) -> dict:
    """Per segment: minutes in its ranges, and how many of them the symbol has."""
    out = {}
    for seg, pairs in ranges.items():
        total = have = 0
        for a, b in pairs:
            lo, hi = (clock.parse_minute(str(x), "split", seg) for x in (a, b))
            total += hi - lo
            have += int(np.searchsorted(minutes, hi) - np.searchsorted(minutes, lo))
        out[seg] = {"minutes": int(total), "bars": have, "missing": int(total - have)}
    return out


def main() -> None:
    params = read_params()
    symbols = list(params.data.symbols)
    if len(symbols) < 2:
        raise InputError("params.yaml", "data.symbols: a universe needs 2 or more symbols")
    minutes = {s: minutes_of_symbol(s) for s in symbols}
    spans = {s: (int(m[0]), int(m[-1])) for s, m in minutes.items()}
    try:
        span = common_span(spans)
        ranges = common_ranges(span, params.split)
    except ValueError as exc:
        raise InputError(paths.UNIVERSE, str(exc)) from None
    margin = required_purge(params.gaf.windows, params.label.horizon)
    lanes = Lanes.of(symbols, spans, margin)
    per_symbol = {s: coverage(minutes[s], ranges) for s in symbols}
    write_json(
        paths.UNIVERSE_SPLIT,
        {
            "symbols": symbols,
            "ranges": ranges,
            "lanes": {"origin": lanes.origin, "width": lanes.width},
        },
    )
    write_json(
        paths.metrics("universe_split"),
        {
            "symbols": symbols,
            "common_first": clock.iso_minute(span[0]),
            "common_last": clock.iso_minute(span[1] - 1),
            "ranges": ranges,
            "coverage": per_symbol,
        },
    )
    for s in symbols:
        c = per_symbol[s]
        print(
            f"universe_split {s}: "
            + ", ".join(
                f"{seg} {v['bars']:,} of {v['minutes']:,} minutes ({v['missing']:,} missing)"
                for seg, v in c.items()
            )
        )


if __name__ == "__main__":
    run_stage(main)
