"""`split` stage: chronological, purged train / val / test segments (or the ranges
``split.method: ranges`` names, as each split of combinatorial purged CV does).

Outputs ``data/interim/split.json`` (segment bar ranges, read by later stages)
and ``metrics/split.json`` (boundaries as timestamps, sizes, purge sizes, the
samples each segment holds and the share of its minutes invented by
``data.fill_gaps``). A segment with fewer than ``split.min_samples`` samples for
the chosen windows stops the pipeline here, before any image or model, with one
line per such segment; nothing is written.
"""

from __future__ import annotations

from gafcnn import paths
from gafcnn.data.bars import load_bars
from gafcnn.data.samples import build_samples, segment_coverage, shortfalls
from gafcnn.data.split import SEGMENTS, make_split, required_purge, segment_shares
from gafcnn.io import InputError, InputErrors, run_stage, write_json
from gafcnn.params import read_params


def split_metrics(
    split_dict: dict,
    windows: list[int],
    horizon: int,
    coverage: dict[str, dict],
    filled_share: dict[str, float],
) -> dict:
    """Boundaries, sizes and purges of the split; per segment its samples, longest
    gap-free run and share of filled minutes."""
    segs = sorted(split_dict["segments"], key=lambda s: s["start"])
    out = {
        "purge_bars": split_dict["purge"],
        "purge_required": required_purge(windows, horizon),
        "purges": [
            {"between": f"{a['name']}/{b['name']}", "bars": b["start"] - a["stop"]}
            for a, b in zip(segs, segs[1:], strict=False)
        ],
    }
    for name in dict.fromkeys(s["name"] for s in split_dict["segments"]):
        mine = [s for s in segs if s["name"] == name]  # several ranges: first to last, summed
        out[name] = {
            "bars": sum(s["stop"] - s["start"] for s in mine),
            "first_timestamp": mine[0].get("first_timestamp"),
            "last_timestamp": mine[-1].get("last_timestamp"),
            "samples": coverage[name]["samples"],
            "longest_gap_free_run": coverage[name]["longest_run"],
            "filled_share": filled_share[name],
        }
    if len(segs) > len(SEGMENTS):
        for name in SEGMENTS:
            out[name]["ranges"] = sum(s["name"] == name for s in segs)
    return out


def main() -> None:
    params = read_params()
    windows = list(params.gaf.windows)
    stride = params.gaf.stride
    spec = params.label
    bars, minutes = load_bars(("close", "filled"))
    split_spec = params.split
    try:
        split = make_split(minutes, split_spec, windows, spec.longest)
    except (TypeError, ValueError) as exc:
        raise InputError("params.yaml", f"split: {exc}") from None
    samples = build_samples(minutes, bars["close"], windows, spec, split, stride=stride)
    coverage = segment_coverage(minutes, samples, split)
    short = shortfalls(coverage, windows, spec.horizon, stride, split_spec.min_samples)
    if short:
        raise InputErrors([InputError(params.data.source_name(), msg) for msg in short])
    d = split.to_dict(minutes)
    write_json(paths.SPLIT, d)
    filled = segment_shares(bars["filled"], split)
    m = split_metrics(d, windows, spec.longest, coverage, filled)
    write_json(paths.metrics("split"), m)
    counts = ", ".join(f"{k} {v['samples']:,}" for k, v in coverage.items())
    print(
        f"split: train {m['train']['bars']:,} / val {m['val']['bars']:,} / "
        f"test {m['test']['bars']:,} bars ({counts} samples), purge {m['purge_bars']}"
    )


if __name__ == "__main__":
    run_stage(main)
