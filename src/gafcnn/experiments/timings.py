"""The wall-time table of every stage's last run, written after `make repro`:
``reports/timings.md`` (untracked; the `evaluate` stage writes it too, before the
stages after it have run).

    python -m gafcnn.experiments.timings
"""

from __future__ import annotations

from gafcnn import paths
from gafcnn.evaluation.report import write_timings_report
from gafcnn.io import read_json, run_stage


def main() -> None:
    write_timings_report(paths.TIMINGS, paths.TIMINGS_MD)
    timings = read_json(paths.TIMINGS) if paths.TIMINGS.exists() else {}
    walls = [v["wall_s"] for k, v in timings.items() if k.startswith("wall/")]
    print(f"make repro: the stages' last runs took {sum(walls):,.0f} s in all "
          f"({len(walls)} stages; per stage: {paths.TIMINGS_MD})")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
