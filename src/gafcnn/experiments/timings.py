"""The wall-time table of every stage's last run, written after `make repro`: each
market's ``reports/timings.md`` (untracked; its `evaluate` stage writes it too,
before the stages after it have run).

    python -m gafcnn.experiments.timings
"""

from __future__ import annotations

from gafcnn import paths
from gafcnn.evaluation.timings import write_timings_report
from gafcnn.io import read_json, run_stage
from gafcnn.params import read_params


def main() -> None:
    for symbol in read_params().data.symbols:
        market = paths.market(symbol)
        timings_file, table = market / paths.TIMINGS, market / paths.TIMINGS_MD
        write_timings_report(timings_file, table)
        timings = read_json(timings_file) if timings_file.exists() else {}
        walls = [v["wall_s"] for k, v in timings.items() if k.startswith("wall/")]
        print(f"make repro: {symbol}'s stages' last runs took {sum(walls):,.0f} s in all "
              f"({len(walls)} stages; per stage: {table})")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
