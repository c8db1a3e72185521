"""Peak memory of the `gaf` stage on a year of 1-minute bars (525,600 rows).

Generates a synthetic year, runs the real `split` and `gaf` stage modules in child
processes in a scratch directory, and reads each child's peak RSS from
``os.wait4``. Also measures a reference child that only imports the stage and
loads the bars, so the stage's own growth is visible. Target: every window's
peak RSS < 1.5 GB while its output is larger than that.

    python benchmarks/gaf_scale.py [--bars 525600] [--stride 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from gafcnn.data.synthetic import SyntheticConfig, generate
from gafcnn.io import write_parquet

REPO = Path(__file__).resolve().parents[1]
LIMIT = 1.5e9


def run_child(args: list[str], cwd: Path) -> tuple[float, float]:
    """Run a Python child; return (peak RSS bytes, wall seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed")
    return usage.ru_maxrss * 1024.0, time.perf_counter() - t0  # ru_maxrss is KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=525_600)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="work here and keep the outputs")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="gaf_scale."))
    work.mkdir(parents=True, exist_ok=True)
    try:
        params = yaml.safe_load((REPO / "params.yaml").read_text())
        params["data"]["synthetic"]["n_bars"] = args.bars
        params["gaf"]["stride"] = args.stride
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        market = generate(SyntheticConfig.from_params(params["data"]["synthetic"]))
        write_parquet(market.bars, work / "data" / "interim" / "bars.parquet")
        del market
        run_child(["-m", "gafcnn.stages.split"], work)

        probe = (
            "import pandas as pd, gafcnn.stages.gaf as g; "
            "b = pd.read_parquet('data/interim/bars.parquet')"
        )
        floor, _ = run_child(["-c", probe], work)
        print(f"bars: {args.bars:,}, stride {args.stride}, channels {params['gaf']['channels']}")
        print(f"reference (import + load bars): peak RSS {floor / 1e6:,.0f} MB")
        worst = 0.0
        for w in params["gaf"]["windows"]:
            rss, wall = run_child(
                ["-m", "gafcnn.stages.gaf", "--window", str(w), "--no-progress"], work
            )
            out_bytes = sum(f.stat().st_size for f in (work / "data" / "gaf" / f"w{w}").iterdir())
            worst = max(worst, rss)
            print(
                f"w{w}: peak RSS {rss / 1e6:,.0f} MB ({rss / LIMIT:.2f}x the 1.5 GB limit, "
                f"{rss / floor:.1f}x reference), output {out_bytes / 1e6:,.0f} MB, {wall:.1f} s"
            )
        print(f"worst peak RSS: {worst / 1e6:,.0f} MB -> {'PASS' if worst < LIMIT else 'FAIL'}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
