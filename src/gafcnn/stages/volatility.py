"""`volatility` stage: the volatility forecasters (:data:`gafcnn.registry.VOLATILITY`)
fitted on the direction's samples and split, each forecasting the realized volatility
of the next ``sizing.horizon`` minutes at every decision time
(:mod:`gafcnn.volatility.target`); the CNN head reads the first window's trained CNN.

Writes each forecaster's state to ``models/volatility/``, the realized and forecast
volatility per decision time to ``data/volatility.parquet`` and each forecaster's val
and test QLIKE and R² to ``metrics/volatility.json`` (the intervals, the choice and
the backtests are the `sizing` stage's).
"""

from __future__ import annotations

from gafcnn import paths, registry
from gafcnn.data.bars import bar_positions, load_bars
from gafcnn.io import InputError, atomic_dir, run_stage, write_json, write_parquet
from gafcnn.params import read_params, runtime_setting
from gafcnn.serving.sizing import forecasters
from gafcnn.stages.common import gaf_sets, samples_frame
from gafcnn.volatility.target import Target, fit_forecasters


def main() -> None:
    params = read_params()
    sets = gaf_sets(params)
    samples = samples_frame(sets[min(sets)])
    bars, minutes = load_bars()
    pos = bar_positions(minutes, samples["ts"].to_numpy(), paths.GAF_DIR)
    sz = params.sizing
    target = Target(bars, minutes, pos, samples["segment"].to_numpy(), sz.horizon, sz.spans,
                    sz.fit_samples)  # fmt: skip
    fit = target.fit(params.seed, params.xgb, runtime_setting(params, "threads"),
                     cnn_window=min(params.gaf.windows))  # fmt: skip
    with atomic_dir(paths.VOLATILITY_MODELS) as folder:
        try:
            frame, scores = fit_forecasters(forecasters(), target, fit, folder)
        except ValueError as exc:
            raise InputError(paths.PARAMS, f"sizing: {exc}") from None
    write_parquet(frame, paths.VOLATILITY_PREDICTIONS)
    write_json(paths.metrics(registry.VOLATILITY_STAGE.name),
               {"horizon_minutes": sz.horizon, "har_spans": list(sz.spans),
                "samples": target.counts(), "models": scores})  # fmt: skip
    line = ", ".join(f"{n} {m['test']['qlike']:.4f}" for n, m in scores.items())
    print(f"volatility: test QLIKE of the next {sz.horizon} minutes' volatility: {line}")


if __name__ == "__main__":
    run_stage(main)
