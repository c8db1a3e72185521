"""Peak memory and wall time of every pipeline stage at N and 4N bars.

Builds two scratch projects with this repo's dvc.yaml and params.yaml on synthetic
markets of N and 4N 1-minute bars, runs every stage's command in DVC's order in a
child process (in the stage's folder: a market's stages in ``markets/<symbol>``),
and reads each child's peak RSS from ``os.wait4``. Training runs a
fixed number of epochs (``--epochs``, patience equal to it) so that both sizes do
the same work per sample. Audit checks only warn here: the benchmark measures cost,
and one market's audit verdict (printed in the log) must not stop it. Targets:
every stage's peak RSS ratio (4N / N) <= 1.3x, every peak <= 1.5 GB at 4N, and wall
time ratio <= 4.5x (linear, with a margin).

    python benchmarks/pipeline_scale.py [--bars 131400] [--epochs 2] [--keep DIR]
                                        [--stop-after STAGE, e.g. gaf@BTCUSDT-60]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RSS_RATIO, RSS_LIMIT, WALL_RATIO = 1.3, 1.5e9, 4.5
SKIP = ("patterns",)  # its own fixed-size market: it does not grow with the bars


def run_child(cmd: str, cwd: Path, src: Path, log: Path) -> tuple[float, float]:
    """Run a stage command in ``cwd``; return (peak RSS bytes of its largest process,
    wall s)."""
    args = shlex.split(cmd)
    if args[0] == "python":
        args[0] = sys.executable
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(src))  # the project's copy of the code
    with open(log, "ab") as fh:
        proc = subprocess.Popen(args, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed in {cwd}; see {log}")
    return usage.ru_maxrss * 1024.0, time.perf_counter() - t0  # KiB on Linux


def ordered(root: Path) -> list[tuple[str, str, Path]]:
    """(stage name, command, folder) of every stage, in the order `dvc repro` plans
    them."""
    from dvc.repo import Repo
    from dvc.repo.reproduce import get_active_graph, plan_repro

    with Repo(str(root)) as repo:
        plan = plan_repro(get_active_graph(repo.index.graph))
        return [(s.name, s.cmd, Path(s.wdir)) for s in plan if getattr(s, "cmd", None)]


def project(work: Path, bars: int, epochs: int) -> Path:
    root = work / f"n{bars}"
    (root / "data" / "external").mkdir(parents=True)
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["source"] = "synthetic"
    params["data"]["synthetic"]["n_bars"] = bars
    params.update(epochs=epochs, patience=epochs)
    params["audit"]["severity"] = {k: "warn" for k in params["audit"]["severity"]}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", type=int, default=131_400, help="N; the second run has 4N")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=None, help="work here and keep the outputs")
    ap.add_argument("--stop-after", default=None, help="the last stage to run (e.g. gaf@60)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="pipeline_scale."))
    work.mkdir(parents=True, exist_ok=True)
    sizes = (args.bars, 4 * args.bars)
    results: dict[int, dict[str, tuple[float, float]]] = {}
    try:
        for n in sizes:
            root = project(work, n, args.epochs)
            results[n] = {}
            for name, cmd, folder in ordered(root):
                if name.split("@")[0] in SKIP:
                    continue
                rss, wall = run_child(cmd, folder, root / "src", work / f"n{n}.log")
                results[n][name] = (rss, wall)
                print(f"{n:>9,} bars  {name:<22} {rss / 1e6:7,.0f} MB {wall:8.1f} s", flush=True)
                if name == args.stop_after:
                    break
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    small, large = results[sizes[0]], results[sizes[1]]
    print(f"\nepochs fixed at {args.epochs}; skipped (size-independent): {', '.join(SKIP)}")
    print(f"{'stage':<22} {'RSS N':>8} {'RSS 4N':>8} {'ratio':>6}", end=" ")
    print(f"{'wall N':>8} {'wall 4N':>8} {'ratio':>6}")
    fails = []
    for name in small:
        (r1, t1), (r4, t4) = small[name], large[name]
        rr, tr = r4 / r1, t4 / max(t1, 1e-9)
        flags = []
        if rr > RSS_RATIO:
            flags.append("RSS ratio")
        if r4 > RSS_LIMIT:
            flags.append("RSS > 1.5 GB")
        if tr > WALL_RATIO:
            flags.append("wall ratio")
        fails += [f"{name}: {f}" for f in flags]
        print(
            f"{name:<22} {r1 / 1e6:7,.0f}M {r4 / 1e6:7,.0f}M {rr:5.2f}x "
            f"{t1:7.1f}s {t4:7.1f}s {tr:5.2f}x {' '.join(flags)}"
        )
    t1 = sum(t for _, t in small.values())
    t4 = sum(t for _, t in large.values())
    worst = max(r for r, _ in large.values())
    print(f"{'all':<22} {'':>8} {worst / 1e6:7,.0f}M {'':>6} {t1:7.1f}s {t4:7.1f}s {t4 / t1:5.2f}x")
    print(
        f"targets: RSS ratio <= {RSS_RATIO}x, RSS <= {RSS_LIMIT / 1e9} GB at "
        f"{sizes[1]:,} bars, wall ratio <= {WALL_RATIO}x -> "
        + ("PASS" if not fails else "FAIL (" + "; ".join(fails) + ")")
    )


if __name__ == "__main__":
    main()
