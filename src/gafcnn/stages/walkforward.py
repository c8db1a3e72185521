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

import pandas as pd

from gafcnn import paths
from gafcnn.data.bars import minute_index
from gafcnn.evaluation import resample_runner as runner
from gafcnn.evaluation.resampling import splitter
from gafcnn.io import InputError, run_stage, write_json, write_parquet
from gafcnn.models import predictions
from gafcnn.params import read_params


def main() -> None:
    params = read_params()
    try:
        split = splitter(params)
        bars = pd.read_parquet(paths.BARS) if split is not None else None
        folds = split.split(minute_index(bars)) if split is not None else []
    except ValueError as exc:
        raise InputError("params.yaml", f"walkforward: {exc}") from None
    result = runner.resample(split, folds, bars, pd.read_parquet(paths.ORACLE), params) \
        if folds else runner.Resampled([], [], [], [])  # fmt: skip
    first = result.paths[0] if folds else predictions.frame([], "test", [], [], "none")
    predictions.write([first[list(predictions.COLUMNS)]], paths.WALKFORWARD_PREDICTIONS)
    if folds:
        write_parquet(pd.concat([p.assign(path=j) for j, p in enumerate(result.paths)],
                                ignore_index=True), paths.CPCV_PATHS)  # fmt: skip
    write_json(paths.WALKFORWARD_FOLDS, {"splits": result.folds})
    write_json(paths.metrics("walkforward"), runner.resampling_metrics(
        result.splits, result.path_rows, asdict(params.walkforward)))  # fmt: skip
    if not folds:
        print("walkforward: off (walkforward.folds: 0); the decision rests on the single split")
    else:
        print(f"walkforward: {split.scheme}, {len(folds)} folds, {len(result.paths)} paths, "
              f"{result.path_rows[0]['samples']} decisions per path")  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
