"""GAF build throughput: this project's encoder against pyts and against a memory-copy floor.

Builds the same 100,000 windows of 32 bars (GASF + GADF) three ways, each the best
of several warm runs:

* ours, as the `gaf` stage calls it: both channels into a preallocated float32 array;
* pyts, as users call it: ``GramianAngularField.fit_transform`` once per method
  (float64 output it allocates);
* the floor: ``np.copyto`` of an output-sized float32 array.

Prints windows/s for ours and pyts, their ratio (``N.Nx pyts``) and our time over
the copy floor. Targets: >= 8x pyts, <= 1.5x the copy floor.

    python benchmarks/gaf_throughput.py [--windows 100000] [--bars 32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from gafcnn.images.encodings import Encoder


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up (JIT, page faults)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=100_000)
    ap.add_argument("--bars", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=512)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    n, w = args.windows, args.bars
    x = 40_000 * np.exp(np.cumsum(rng.normal(0, 5e-4, (n, w)), axis=1))

    enc = Encoder(["gasf", "gadf"], w, threads=args.threads, chunk=args.chunk)
    out = np.empty((n, 2, w, w), dtype=np.float32)
    ours = best_of(lambda: enc.encode_into({"close": x}, out), args.repeats)

    src = np.ones_like(out)
    floor = best_of(lambda: np.copyto(out, src), args.repeats)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyts.image import GramianAngularField

        gs = GramianAngularField(method="summation")
        gd = GramianAngularField(method="difference")

        def pyts_run():
            gs.fit_transform(x)
            gd.fit_transform(x)

        theirs = best_of(pyts_run, args.repeats)

    print(f"windows: {n:,} x {w} bars, GASF + GADF, float32 out ({out.nbytes / 2**20:.0f} MiB)")
    print(f"ours:  {n / ours:12,.0f} windows/s  ({ours * 1e3:7.1f} ms)")
    print(f"pyts:  {n / theirs:12,.0f} windows/s  ({theirs * 1e3:7.1f} ms)")
    print(f"copy floor: {floor * 1e3:.1f} ms")
    print(f"speed-up: {theirs / ours:.1f}x pyts")
    print(f"over copy floor: {ours / floor:.2f}x")


if __name__ == "__main__":
    main()
