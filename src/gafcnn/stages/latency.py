"""`latency` stage: the candidate bundle's speed and memory, measured before the decision.

It writes what `export` would ship (every model, no decision yet) to a temporary
folder and times one decision from raw bars in a fresh process
(:func:`gafcnn.serving.latency.measure`). The timings go to the untracked timings
file only; ``metrics/latency.json`` holds the original plan's two serving checks (p99 under
100 ms, peak RSS under 2 GB) as booleans, which the decision reads.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from gafcnn import paths
from gafcnn.io import record_timings, run_stage, write_json
from gafcnn.params import read_params, runtime_setting
from gafcnn.serving import latency
from gafcnn.serving.bundle import write_bundle


def main() -> None:
    params = read_params()
    with tempfile.TemporaryDirectory() as tmp:
        provisional = write_bundle(
            Path(tmp) / "bundle",
            label_horizon=params.label.horizon,
            costs={},
            policy=None,
            expiry=None,
            decision=None,
            test_metrics=None,
            params={},
        )
        measured = latency.measure(
            provisional, singles=runtime_setting(params, "inference_singles")
        )
    record_timings("latency", {"inference": measured})
    checks = latency.within_limits(measured)
    write_json(paths.metrics("latency"), checks)
    print(
        f"latency: p50 {measured['latency_ms_p50']:.2f} ms, p99 "
        f"{measured['latency_ms_p99']:.2f} ms, peak RSS {measured['peak_rss_mb']:.0f} MB "
        f"(timings file only); under 100 ms: {checks['inference_under_100ms']}, "
        f"under 2 GB: {checks['memory_under_2gb']}"
    )


if __name__ == "__main__":
    run_stage(main)
