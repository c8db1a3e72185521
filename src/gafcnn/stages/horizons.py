"""`horizons` stage: the symbol's direction at every horizon ``label.horizon`` lists,
judged together on the pipeline's own split (``data/interim/split.json``, purged for
the longest horizon) by :func:`gafcnn.edge.horizons.study`: XGBoost and a logistic
regression on the indicators at each horizon, and XGBoost with the order flow where
the bars carry it. The market's ``evaluate.trials`` counts every horizon, so each
horizon's p-values and cost gate are corrected for all of them. The pipeline's other
models fit the first horizon only (the one the bundle serves).

Outputs ``metrics/horizons.json`` and ``reports/horizons.md``.
"""

from __future__ import annotations

from gafcnn import paths
from gafcnn.data.bars import load_bars
from gafcnn.data.split import Split
from gafcnn.edge.horizons import Market, study
from gafcnn.edge.report import horizons_markdown
from gafcnn.io import read_json, run_stage, write_bytes, write_json
from gafcnn.params import read_params, runtime_setting


def main() -> None:
    params = read_params()
    arrays, minutes = load_bars()
    split = Split.from_dict(read_json(paths.SPLIT))
    figures = study(params, Market(arrays, minutes), list(params.label.horizons),
                    threads=runtime_setting(params, "threads"), split=split,
                    trials=params.evaluate.trials)  # fmt: skip
    write_json(paths.metrics("horizons"), figures)
    write_bytes(paths.HORIZONS_REPORT, horizons_markdown(figures).encode())
    for h, r in figures["horizons"].items():
        best = max(r["models"].items(), key=lambda kv: kv[1]["accuracy"])
        print(
            f"horizons: {h} bars: best accuracy {best[1]['accuracy']:.4f} ({best[0]}, "
            f"majority {best[1]['majority_rate']:.4f}); deploys {r['deploys'] or 'nothing'}"
        )


if __name__ == "__main__":
    run_stage(main)
