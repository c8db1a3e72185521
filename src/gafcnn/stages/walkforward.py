"""`walkforward` stage: every model refitted from scratch in each fold of the splitter
``walkforward`` names (:mod:`gafcnn.evaluation.resampling`): walk-forward folds
(``folds`` > 0, ``expanding`` or ``rolling``) or CPCV (``scheme: cpcv``); off with
``folds: 0``, when the decision rests on the single split.

Writes the first path's predictions (walk-forward: every decision time of the later
history tested once; what ``evaluate`` pools) to ``data/walkforward/predictions.parquet``,
every path to ``data/walkforward/paths.parquet``, the folds to
``data/walkforward/folds.json`` and one metrics shape for every scheme (``splits``,
``paths``) to ``metrics/walkforward.json``.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from gafcnn import clock, paths
from gafcnn.data.bars import minute_index
from gafcnn.data.labels import forward_returns
from gafcnn.evaluation import resample_runner as runner
from gafcnn.evaluation.resampling import splitter
from gafcnn.io import InputError, run_stage, write_json, write_parquet
from gafcnn.models import predictions
from gafcnn.params import read_params


def oracle_of(path: str) -> runner.Callable[[np.ndarray], np.ndarray] | None:
    """The synthetic market's P(up) at decision timestamps (epoch ms), or None (real data)."""
    oracle = pd.read_parquet(path)
    if not len(oracle):
        return None
    p = oracle.set_index(clock.ms_of(oracle["timestamp"]))["p_up"]
    return lambda stamps_ms: p.reindex(stamps_ms).to_numpy()


def main() -> None:
    params = read_params()
    spec, windows, horizon = params.walkforward, list(params.gaf.windows), params.label.horizon
    shown = asdict(spec)
    try:
        split = splitter(params)
        bars = pd.read_parquet(paths.BARS) if split is not None else None
        minutes = minute_index(bars) if bars is not None else np.array([], dtype=np.int64)
        folds = split.split(minutes) if split is not None else []
    except ValueError as exc:
        raise InputError("params.yaml", f"walkforward: {exc}") from None
    embargo = spec.embargo if spec.scheme == "cpcv" else 0
    tested = runner.fit_folds(split, folds, bars, minutes, params.raw, windows, horizon,
                              embargo) if folds else {}  # fmt: skip
    oracle = oracle_of(paths.ORACLE) if folds else None
    path_frames = runner.assemble(split, folds, tested, oracle) if folds else []
    rows = [runner.fold_figures(f, tested[f.index], minutes, oracle) for f in folds]
    forward = forward_returns(bars["close"].to_numpy(), minutes, horizon) if folds else None
    per_path = [{"path": j, **runner.path_figures(p, forward, minutes, horizon,
                 params.evaluate.costs.per_side_bps, params.evaluate.pbo_partitions)}
                for j, p in enumerate(path_frames)]  # fmt: skip
    first = path_frames[0] if path_frames else predictions.frame([], "test", [], [], "none")
    predictions.write([first[list(predictions.COLUMNS)]], paths.WALKFORWARD_PREDICTIONS)
    if path_frames:
        every = pd.concat([p.assign(path=j) for j, p in enumerate(path_frames)], ignore_index=True)
        write_parquet(every, paths.CPCV_PATHS)
    write_json(paths.WALKFORWARD_FOLDS, {"splits": [f.to_dict(minutes) for f in folds]})
    write_json(paths.metrics("walkforward"),
               runner.resampling_metrics(rows, per_path, shown))  # fmt: skip
    if split is None:
        print("walkforward: off (walkforward.folds: 0); the decision rests on the single split")
    else:
        print(f"walkforward: {split.scheme}, {len(folds)} folds, {len(per_path)} paths, "
              f"{per_path[0]['samples']} decisions per path")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
