"""The project's reality check against ``arch.bootstrap.SPA`` on evaluate-sized data:
speed and agreement of the p-values.

Candidates are like the evaluate stage's policy family (150 columns of per-decision
net returns, most of them zero, a few with an edge) over 4,458 test decisions, with
the stage's block length (33) and 1,000 resamples. White's Reality Check is the
project's ``reality_check(studentize=False)`` and arch's ``upper`` p-value (arch
computes its p-values from the un-studentized maximum; the project's studentized
SPA has no counterpart there). Interleaved rounds; prints medians and the ratio.

    python benchmarks/reality_check.py [--n 4458] [--k 150] [--reps 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from arch.bootstrap import SPA

from gafcnn.evaluation.bootstrap import bootstrap_indices
from gafcnn.evaluation.selection_bias import reality_check


def candidates(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Sparse per-decision returns: each candidate trades a share of decisions."""
    rng = np.random.default_rng(seed)
    trades = rng.random((n, k)) < np.linspace(0.02, 0.33, k)
    x = np.where(trades, rng.normal(-1e-4, 1.3e-3, (n, k)), 0.0)
    x[:, : k // 10] += trades[:, : k // 10] * 5e-4  # a tenth with a small edge
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4458)
    ap.add_argument("--k", type=int, default=150)
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--block", type=int, default=33)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    x = candidates(a.n, a.k)
    ours_t, arch_t, ours_p, arch_p = [], [], [], []
    for r in range(a.rounds):
        t = time.perf_counter()
        ours_p.append(reality_check(x, bootstrap_indices(a.n, a.block, a.reps, seed=r)).p_value)
        ours_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        spa = SPA(np.zeros(a.n), -x, block_size=a.block, reps=a.reps, bootstrap="cbb",
                  studentize=False, seed=100 + r)  # fmt: skip
        spa.compute()
        arch_p.append(float(spa.pvalues["upper"]))
        arch_t.append(time.perf_counter() - t)
    o, h = statistics.median(ours_t), statistics.median(arch_t)
    print(f"{a.k} candidates x {a.n} decisions, block {a.block}, {a.reps} resamples")
    print(f"project reality_check: {o:.2f} s, p-values {', '.join(f'{p:.3f}' for p in ours_p)}")
    print(f"arch SPA (upper):      {h:.2f} s, p-values {', '.join(f'{p:.3f}' for p in arch_p)}")
    print(f"project / arch time: {o / h:.2f}x")


if __name__ == "__main__":
    main()
