"""`split` stage: chronological, purged train / val / test segments.

Outputs ``data/interim/split.json`` (segment bar ranges, read by later stages)
and ``metrics/split.json`` (boundaries as timestamps, sizes, purge sizes).
"""

from __future__ import annotations

import pandas as pd

from gafcnn import paths
from gafcnn.bars import minute_index
from gafcnn.io import InputError, load_params, run_stage, write_json
from gafcnn.split import SplitSpec, make_split, required_purge


def split_metrics(split_dict: dict, windows: list[int], horizon: int) -> dict:
    segs = split_dict["segments"]
    return {
        "purge_bars": split_dict["purge"],
        "purge_required": required_purge(windows, horizon),
        "purges": [
            {"between": f"{a['name']}/{b['name']}", "bars": b["start"] - a["stop"]}
            for a, b in zip(segs, segs[1:], strict=False)
        ],
        **{
            s["name"]: {
                "bars": s["stop"] - s["start"],
                "first_timestamp": s.get("first_timestamp"),
                "last_timestamp": s.get("last_timestamp"),
            }
            for s in segs
        },
    }


def main() -> None:
    params = load_params()
    windows = [int(w) for w in params["gaf"]["windows"]]
    horizon = int(params["label"]["horizon"])
    bars = pd.read_parquet(paths.BARS, columns=["timestamp"])
    minutes = minute_index(bars)
    try:
        split = make_split(minutes, SplitSpec.from_params(params["split"]), windows, horizon)
    except (TypeError, ValueError) as exc:
        raise InputError("params.yaml", f"split: {exc}") from None
    d = split.to_dict(minutes)
    write_json(paths.SPLIT, d)
    m = split_metrics(d, windows, horizon)
    write_json(paths.metrics("split"), m)
    print(
        f"split: train {m['train']['bars']:,} / val {m['val']['bars']:,} / "
        f"test {m['test']['bars']:,} bars, purge {m['purge_bars']}"
    )


if __name__ == "__main__":
    run_stage(main)
