"""Where every stage reads and writes: each path is named once, here.

Stages import these names instead of repeating string constants; dvc.yaml spells
the same paths for DVC (a test checks that each stage's deps and outs agree). The
files inside an output folder are named by the module that owns their format and
both writes and reads them (:mod:`gafcnn.images.imageset` for an image set,
:mod:`gafcnn.serving.bundle` for the deployment bundle).

Every symbol of ``data.symbols`` is a market with a folder of its own,
``markets/<symbol>/`` (:func:`market`): its ``params.yaml`` and every output of its
pipeline, at the paths below, relative to that folder (a market's stages run in it,
as a scratch run's stages run in theirs). What spans the markets - each symbol's
span, the pooled fit, the universe's judgement - lies at the project's root.
"""

from __future__ import annotations

from pathlib import Path

BARS = "data/interim/bars.parquet"
ORACLE = "data/interim/oracle.parquet"
SPLIT = "data/interim/split.json"
GAF_DIR = Path("data/gaf")
PREDICTIONS = Path("data/predictions")
CNN_PREDICTIONS = PREDICTIONS / "cnn"
MODELS = Path("models")
CNN_MODELS = MODELS / "cnn"
BUNDLE = MODELS / "bundle"  # the deployment bundle (export stage)
# A served symbol's pointer to the bundle that answers it, in every store: a market's
# (export: its bundle) and the versions store's (a retrain's promotion: its champion).
CHAMPION = Path("CHAMPION")
TRADES = "data/trades.parquet"  # each model's test trades at its theta (evaluate stage)
WALKFORWARD = Path("data/walkforward")  # pooled out-of-sample predictions, folds
ENSEMBLE_MODEL = MODELS / "ensemble.json"  # the combiner's coefficients
XGB_INDICATORS_MODEL = MODELS / "xgb_indicators.ubj"
HYBRID_MODEL = MODELS / "hybrid.ubj"
XGB_RAW_MODELS = MODELS / "xgb_raw"  # per window: the booster on the raw window
MINIROCKET_MODELS = MODELS / "minirocket"  # per window: the transform and its head
PATTERNS_MODELS = MODELS / "patterns"
VOLATILITY_MODELS = MODELS / "volatility"  # each forecaster's fitted state (volatility stage)
VOLATILITY_PREDICTIONS = "data/volatility.parquet"  # realized and forecast, per decision time
SIZING_REPORT = "reports/sizing.md"  # the forecasters' table and what sizing does (sizing stage)
HORIZONS_REPORT = "reports/horizons.md"  # every horizon of label.horizon (horizons stage)
WALKFORWARD_PREDICTIONS = WALKFORWARD / "predictions.parquet"
WALKFORWARD_FOLDS = WALKFORWARD / "folds.json"
CPCV_PATHS = WALKFORWARD / "paths.parquet"  # walkforward.scheme cpcv: every path's predictions
METRICS = Path("metrics")
PLOTS = Path("plots")
AUDIT_PLOT = PLOTS / "audit.png"
EVAL_PLOTS = PLOTS / "eval"  # ROC, calibration and confusion data for `dvc plots`
EQUITY_PLOT = PLOTS / "equity.png"
PATTERNS_PLOTS = PLOTS / "patterns"
REPORTS = Path("reports")
REPORT_MD = REPORTS / "report.md"
REPORT_HTML = REPORTS / "report.html"
REPORT_FIGURES = REPORTS / "figures"
REVIEW = REPORTS / "review.md"  # `make review` (untracked)
PLOTS_DIFF = REPORTS / "plots_diff"
GRID_REPORT = REPORTS / "grid.md"
SEEDS_REPORT = REPORTS / "seeds.md"  # `make seeds` (and seeds.json beside it)
SEEDS_REAL_REPORT = REPORTS / "seeds_real.md"  # `make seeds-real`
MARKETS = Path("markets")
PARAMS = "params.yaml"  # the project's, and each market's own (`market` stage)
UNIVERSE = Path("data/universe")
SPANS = UNIVERSE / "spans"  # per symbol: its first and last bar (ingest), cut in common
POOLED = UNIVERSE / "pooled"  # the pooled fit over every symbol
UNIVERSE_REPORT = REPORTS / "universe.md"
# A model that lives (`gafcnn retrain`, `gafcnn replay`): untracked and git-ignored,
# they change as bars arrive, not as code and params do.
VERSIONS = MODELS / "versions"  # per symbol: its bundle versions and CHAMPION pointer
PROMOTIONS = REPORTS / "promotions.jsonl"  # every promotion, refusal and rollback
REPLAY = REPORTS / "replay"  # `gafcnn replay`: its versions, log, timeline and summary
# Untracked and git-ignored: speed, wall time, latency and memory of the last run.
TIMINGS = REPORTS / "timings.json"
TIMINGS_MD = REPORTS / "timings.md"


def gaf_dir(window: int) -> Path:
    return GAF_DIR / f"w{window}"


def cnn_model(window: int) -> Path:
    return CNN_MODELS / f"w{window}.pt"


def cnn_onnx(window: int) -> Path:
    """The served form of the window's CNN (:mod:`gafcnn.serving.onnx`)."""
    return CNN_MODELS / f"w{window}.onnx"


def meta_of(checkpoint: str | Path) -> Path:
    """The JSON beside a model checkpoint: what the model is and how to rebuild it."""
    return Path(checkpoint).with_suffix(".json")


def cnn_meta(window: int) -> Path:
    return meta_of(cnn_model(window))


def cnn_predictions(window: int) -> Path:
    return CNN_PREDICTIONS / f"w{window}.parquet"


def xgb_raw_model(window: int) -> Path:
    return XGB_RAW_MODELS / f"w{window}.ubj"


def minirocket_model(window: int) -> Path:
    """The window's fitted MiniRocket (its parameters) and logistic head, one ``.npz``."""
    return MINIROCKET_MODELS / f"w{window}.npz"


def window_predictions(stage: str, window: int) -> Path:
    """The predictions of a per-window stage's model of ``window``."""
    return PREDICTIONS / stage / f"w{window}.parquet"


def predictions_file(stage: str) -> Path:
    """The predictions a stage writes (``baseline``, ``xgb_indicators``, ...), in the
    shared layout."""
    return PREDICTIONS / f"{stage}.parquet"


def train_live_dir(window: int) -> Path:
    """dvclive's folder for the window's training curves."""
    return PLOTS / "train" / f"w{window}"


def train_curves(window: int) -> Path:
    """The window's per-epoch curves (``{train,val}/{metric}.tsv``) under dvclive's folder."""
    return train_live_dir(window) / "plots" / "metrics"


def pattern_model(run: str) -> Path:
    return PATTERNS_MODELS / f"{run}.pt"


def pattern_confusion(run: str) -> Path:
    return PATTERNS_PLOTS / f"confusion_{run}.csv"


def gaf_samples_plot(window: int) -> Path:
    return PLOTS / "gaf" / f"w{window}_samples.png"


def metrics(name: str) -> Path:
    return METRICS / f"{name}.json"


def market(symbol: str) -> Path:
    """The folder of ``symbol``'s market: its params and its pipeline's outputs."""
    return MARKETS / symbol


def span_file(symbol: str) -> Path:
    """``symbol``'s first and last bar (ingest), what the common split is cut from."""
    return SPANS / f"{symbol}.json"
