"""Training noise measured: one config run with N seeds as DVC experiments, and the
report of how far each model's test figures move (:mod:`gafcnn.evaluation.noise`).

    python -m gafcnn.experiments.seeds run -n 5                      # `make seeds N=5`
    python -m gafcnn.experiments.seeds run -n 5 --prefix real \\
        --set data.source=csv --set data.path=../shared/data/BTCUSDT_1m_binanceus_2023-03.csv \\
        --out reports/seeds_real.md                                  # `make seeds-real N=5`
    python -m gafcnn.experiments.seeds report -n 5 [--prefix real --out ...]

``run`` runs each seed with ``dvc exp run --temp`` (a temporary copy: the workspace
keeps its params), named ``<prefix>seed-<seed>``, then reports; ``report`` reads the
finished experiments. The first seed is the params' own (42): on the committed config
its run is the committed one (HEAD's outputs), not rerun; with ``--set`` it is run.
The report goes to ``reports/seeds.md`` and its JSON beside it; the grid report and
``make review`` read the JSON.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from gafcnn import paths
from gafcnn.evaluation.noise import seed_summary, seeds_markdown
from gafcnn.experiments.grid import experiments
from gafcnn.io import InputError, run_stage, write_bytes, write_json

SEEDS = (42, 1, 2, 3, 4, 5, 6, 7, 8, 9)


def names(n: int, prefix: str = "") -> list[str]:
    """The experiments of the first ``n`` seeds."""
    if not 2 <= n <= len(SEEDS):
        raise InputError("-n", f"{n} seeds: give 2 to {len(SEEDS)}")
    return [f"{prefix + '-' if prefix else ''}seed-{s}" for s in SEEDS[:n]]


def run(n: int, prefix: str, sets: list[str], dvc: str = "dvc") -> None:
    """Run the first ``n`` seeds as experiments (``sets``: other ``KEY=VALUE`` params);
    without ``sets`` the first seed's run is the committed one, not rerun."""
    for name, seed in zip(names(n, prefix), SEEDS, strict=False):
        if not sets and seed == SEEDS[0]:
            continue
        cmd = [dvc, "exp", "run", "--temp", "-n", name, "-S", f"seed={seed}"]
        for s in sets:
            cmd += ["-S", s]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)


def report(n: int, prefix: str, out: Path, title: str) -> dict:
    """Write the seed report of the finished experiments to ``out`` (and ``.json``)."""
    wanted = names(n, prefix)
    _, found, missing = experiments(wanted)
    if not prefix and wanted[0] in missing:  # the committed run is the first seed's
        base = next(e for e in found if e["name"] == "baseline")
        if base["params"].get("seed") == SEEDS[0]:
            found.append({**base, "name": wanted[0]})
            del missing[wanted[0]]
    found = sorted((e for e in found if e["name"] in wanted), key=lambda e: wanted.index(e["name"]))
    runs = {e["name"]: e["metrics"]["metrics/evaluate.json"] for e in found}
    if len(runs) < 2:
        raise InputError("dvc exp show", f"fewer than 2 finished seed experiments ({missing})")
    data = found[0]["params"]["data"]
    summary = seed_summary(runs) | {"data": data, "missing": missing}
    write_json(out.with_suffix(".json"), summary)
    write_bytes(out, seeds_markdown(summary, title).encode())
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=("run", "report"))
    ap.add_argument("-n", type=int, default=5, help="seeds (the first n of 42, 1, 2, ...)")
    ap.add_argument("--prefix", default="", help="experiment name prefix, e.g. real")
    ap.add_argument("--set", action="append", default=[], help="another param, KEY=VALUE")
    ap.add_argument("--out", default=str(paths.SEEDS_REPORT))
    ap.add_argument("--title", default="Training noise over seeds (default config)")
    a = ap.parse_args()
    if a.cmd == "run":
        run(a.n, a.prefix, a.set)
    summary = report(a.n, a.prefix, Path(a.out), a.title)
    print(seeds_markdown(summary, a.title))


if __name__ == "__main__":
    run_stage(main)
