"""The models the pipeline scores and the stages that fit them, each declared once.

A :class:`Model` names a model (``{w}`` where there is one per window), the DVC
stage that fits it and writes its predictions, what it reads, and the serving hook
the deployment bundle serves it with (:mod:`gafcnn.serving.served`). Evaluate, the
report, the grid report, walk-forward, the ensemble and hybrid stages, export and
the bundle take model names and their order from here (and the windows from
``gaf.windows``); no other module spells a model name (a test checks it).

Adding a model (``tests/test_toy_model.py`` does exactly this):

1. a library module with how it is fitted and how it predicts from raw bars, and a
   serving hook whose ``load`` predicts with that same function;
2. its stage module under ``gafcnn/stages`` (fit, write its predictions to
   ``paths.predictions_file(<stage>)``) and its stage in ``dvc.yaml`` (then ``make
   deps`` lists the code it runs);
3. its declaration at the end of this module::

       TOY = Model("toy", Stage("toy"), "the last 5 log returns", serves="pkg.mod:HOOK")
       PIPELINE += (TOY.stage,)  # refitted in every walk-forward fold
       SCORED += (TOY,)          # scored by evaluate, in the report, served
       GRID += (TOY,)            # a column of the grid report

Nothing else changes: evaluate scores it on the shared test samples with every
other model, and export ships it in the bundle that ``gafcnn predict`` serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ORACLE = "oracle"  # not a model: the synthetic market's P(up), scored beside them


@dataclass(frozen=True)
class Stage:
    """A DVC stage of the single-split pipeline; ``per_window`` for a matrix stage."""

    name: str
    per_window: bool = False

    @property
    def module(self) -> str:
        return f"gafcnn.stages.{self.name}"

    def commands(self, windows: Iterable[int]) -> list[list[str]]:
        """``python -m`` arguments of the stage (one per window for a matrix stage)."""
        if self.per_window:
            return [[self.module, "--window", str(w)] for w in windows]
        return [[self.module]]


SPLIT, GAF = Stage("split"), Stage("gaf", per_window=True)
BASELINE, TRAIN = Stage("baseline"), Stage("train", per_window=True)
MINIROCKET_STAGE, XGB_RAW_STAGE = Stage("minirocket", True), Stage("xgb_raw", True)
XGB_INDICATORS_STAGE, ENSEMBLE_STAGE, HYBRID_STAGE = (
    Stage("xgb_indicators"),
    Stage("ensemble"),
    Stage("hybrid"),
)
# What each walk-forward fold reruns, in order (as dvc.yaml runs them; a test checks it).
PIPELINE = (SPLIT, GAF, BASELINE, TRAIN, MINIROCKET_STAGE, XGB_RAW_STAGE, XGB_INDICATORS_STAGE,
            ENSEMBLE_STAGE, HYBRID_STAGE)  # fmt: skip


VOLATILITY_STAGE, SIZING_STAGE = Stage("volatility"), Stage("sizing")
# After the models, a pooled fit runs the audit and the served models' latency (the
# decision's inputs); a retrain then its volatility forecasters, its evaluation, the
# choice of forecaster and its bundle.
CHECKS = (Stage("audit"), Stage("latency"))
DEPLOY = (VOLATILITY_STAGE, Stage("evaluate"), SIZING_STAGE, Stage("export"))


def runs(module: str) -> tuple[Stage, ...]:
    """The stages a stage module runs in subprocesses (walk-forward: the pipeline of
    each fold; a pooled fit: the pipeline and its checks), whose code its DVC deps
    cover too."""
    if module == "gafcnn.stages.pooled":
        return PIPELINE + CHECKS
    return PIPELINE if module == "gafcnn.stages.walkforward" else ()


@dataclass(frozen=True)
class Model:
    """One scored model: ``name`` (``{w}`` per window), the stage that writes its
    predictions, what it reads, ``alias_of`` for a name that repeats another model's
    predictions (``{first}``: the first window, ``{method}``: ``ensemble.method``) and
    ``serves``, the serving hook (``"module:object"``) of a model the bundle serves."""

    name: str
    stage: Stage
    reads: str
    alias_of: str | None = None
    serves: str | None = None

    @property
    def per_window(self) -> bool:
        return "{w}" in self.name

    @property
    def kind(self) -> str:
        """The name without its window (``logreg_images`` for ``logreg_images_w{w}``)."""
        return self.name.removesuffix("_w{w}")

    def names(self, windows: Iterable[int]) -> list[str]:
        """The model's names: one per window, or its one name."""
        return [self.name.format(w=w) for w in windows] if self.per_window else [self.name]

    def at(self, window: int) -> str:
        """The name of the model of ``window``."""
        return self.name.format(w=window)

    def source(self, name: str, windows: list[int], method: str) -> str:
        """The predictions ``name`` is read from."""
        if self.alias_of is None:
            return name
        return self.alias_of.format(first=windows[0], method=method)


# fmt: off
MAJORITY_W = Model("majority_w{w}", BASELINE, "the train labels' majority class")
MAJORITY = Model("majority", BASELINE, "the train labels' majority class", "majority_w{first}")
LOGREG_IMAGES = Model("logreg_images_w{w}", BASELINE, "the flattened GAF images of window w")
LOGREG_RETURNS = Model("logreg_returns_w{w}", BASELINE, "the log returns of window w's bars")
CNN = Model("cnn_w{w}", TRAIN, "window w's GAF images (conv1d: its bar series)",
            serves="gafcnn.serving.cnn:CNNS")
MINIROCKET = Model("minirocket_w{w}", MINIROCKET_STAGE, "window w's bar series: MiniRocket",
                   serves="gafcnn.serving.series:MINIROCKET")
XGB_RAW = Model("xgb_raw_w{w}", XGB_RAW_STAGE, "window w's bar series, flattened: XGBoost",
                serves="gafcnn.serving.series:XGB_RAW")
ENSEMBLE = Model("ensemble", ENSEMBLE_STAGE, "the CNNs' P(up)", "ensemble_{method}")
ENSEMBLE_MEAN = Model("ensemble_mean", ENSEMBLE_STAGE, "the CNNs' P(up): their mean",
                      serves="gafcnn.serving.combiners:MEAN")
ENSEMBLE_WEIGHTED = Model("ensemble_weighted", ENSEMBLE_STAGE, "the CNNs' P(up), val-AUC weights",
                          serves="gafcnn.serving.combiners:WEIGHTED")
ENSEMBLE_STACKING = Model("ensemble_stacking", ENSEMBLE_STAGE, "the CNNs' logits, stacked",
                          serves="gafcnn.serving.combiners:STACKING")
XGB_INDICATORS = Model("xgb_indicators", XGB_INDICATORS_STAGE, "technical indicators of the bars",
               serves="gafcnn.serving.boosters:XGB_INDICATORS")
HYBRID = Model("hybrid", HYBRID_STAGE, "technical indicators and the CNNs' P(up)",
               serves="gafcnn.serving.boosters:HYBRID")

# The volatility forecasters (the `volatility` stage fits them on the direction's samples;
# `sizing` scores them and chooses the one the bundle serves). ``serves`` names the
# class that fits, predicts and is served.
VOL_PERSISTENCE = Model("vol_persistence", VOLATILITY_STAGE,
                        "the realized volatility of the last sizing.horizon minutes",
                        serves="gafcnn.volatility.forecasters:Persistence")
VOL_HAR = Model("vol_har", VOLATILITY_STAGE,
                "realized volatility over the last hour, day and week, hour of day, weekday",
                serves="gafcnn.volatility.forecasters:Har")
VOL_XGB = Model("vol_xgb_indicators", VOLATILITY_STAGE,
                "technical indicators and HAR's inputs: XGBoost on log realized volatility",
                serves="gafcnn.volatility.forecasters:XgbVol")
VOL_CNN = Model("vol_cnn_head", VOLATILITY_STAGE,
                "the first window's GAF images through the direction CNN's trunk: a ridge head",
                serves="gafcnn.serving.cnn_head:CnnVolHead")
# fmt: on
VOLATILITY = (VOL_PERSISTENCE, VOL_HAR, VOL_XGB, VOL_CNN)
VOL_BENCHMARK = VOL_PERSISTENCE  # the reality check's benchmark: the naive forecast
VOL_REFERENCE = VOL_HAR  # each forecaster's paired rival; served unless one beats it on val

# The baseline stage's models, in the order it writes them for each window.
BASELINES = (MAJORITY_W, LOGREG_IMAGES, LOGREG_RETURNS)
ENSEMBLE_METHODS = {"mean": ENSEMBLE_MEAN, "weighted": ENSEMBLE_WEIGHTED,
                    "stacking": ENSEMBLE_STACKING}  # fmt: skip
# Every model evaluate scores, in its table's order (a run of per-window models of
# one stage is listed window by window).
SCORED = (MAJORITY, LOGREG_IMAGES, LOGREG_RETURNS, CNN, MINIROCKET, XGB_RAW, ENSEMBLE,
          ENSEMBLE_MEAN, ENSEMBLE_WEIGHTED, ENSEMBLE_STACKING, XGB_INDICATORS, HYBRID)  # fmt: skip
# The original plan's three deployment candidates, from the most to the least complex.
CANDIDATES = (ENSEMBLE, HYBRID, XGB_INDICATORS)
# Drawn in the ROC, calibration and confusion pictures, in this order.
CURVES = (ENSEMBLE, XGB_INDICATORS, HYBRID, ORACLE, CNN)
# Drawn in the equity picture, in this order.
EQUITY = (ENSEMBLE, XGB_INDICATORS, HYBRID, ORACLE, MAJORITY)
# Drawn in the cost-sweep and coverage pictures, in this order.
POLICY = (ENSEMBLE, XGB_INDICATORS, HYBRID, ORACLE)
# What each window's CNN is compared with on the same window: images against the raw
# series (MiniRocket, trees, a linear model) and against a linear model of the images.
RIVALS = (MINIROCKET, XGB_RAW, LOGREG_RETURNS, LOGREG_IMAGES)
# Columns of the grid report.
GRID = (CNN, MINIROCKET, XGB_RAW, ENSEMBLE, XGB_INDICATORS, HYBRID)
# Drawn per walk-forward fold (with the configured ensemble).
FOLDS = (CNN, MINIROCKET, XGB_RAW, XGB_INDICATORS, HYBRID)


def scored(windows: list[int], method: str) -> dict[str, str]:
    """Every scored name -> the predictions it is read from, in the table's order."""
    out: dict[str, str] = {}
    i = 0
    while i < len(SCORED):
        run = [SCORED[i]]
        while (i + len(run) < len(SCORED) and run[0].per_window
               and SCORED[i + len(run)].per_window
               and SCORED[i + len(run)].stage == run[0].stage):  # fmt: skip
            run.append(SCORED[i + len(run)])
        for w in windows if run[0].per_window else [None]:
            for m in run:
                name = m.name if w is None else m.at(w)
                out[name] = m.source(name, windows, method)
        i += len(run)
    return out


def expand(models: Iterable[Model | str], windows: Iterable[int]) -> list[str]:
    """Names of ``models`` (and :data:`ORACLE`) in the order given."""
    windows = list(windows)
    out: list[str] = []
    for m in models:
        out += [m] if isinstance(m, str) else m.names(windows)
    return out


def forecaster(name: str) -> Model:
    """The volatility forecaster named ``name``; one error naming the declared ones."""
    for m in VOLATILITY:
        if m.name == name:
            return m
    raise KeyError(f"no volatility forecaster {name!r}; declared: "
                   f"{', '.join(m.name for m in VOLATILITY)}")  # fmt: skip


def forecaster_modules() -> list[str]:
    """The modules of the volatility forecasters' classes (imported by name)."""
    return sorted({m.serves.partition(":")[0] for m in VOLATILITY})  # type: ignore[union-attr]


def model_of(name: str) -> Model | None:
    """The declared model a name belongs to (``cnn_w15`` -> :data:`CNN`), or None."""
    for m in (*SCORED, MAJORITY_W):
        if m.per_window:
            prefix = m.name.split("{w}")[0]
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                return m
        elif name == m.name:
            return m
    return None


def served() -> list[Model]:
    """The models the bundle serves, in :data:`SCORED` order (a model may read the
    P(up) of those before it)."""
    return [m for m in SCORED if m.serves is not None]


def served_aliases(windows: list[int], method: str) -> dict[str, str]:
    """Served names that repeat another served model's predictions -> that model."""
    names = set(expand(served(), windows))
    return {n: src for n, src in scored(windows, method).items()
            if src != n and src in names}  # fmt: skip


def serving_modules() -> list[str]:
    """The modules of the serving hooks (imported by name when a bundle loads)."""
    return sorted({m.serves.partition(":")[0] for m in served()})  # type: ignore[union-attr]


def configured_ensemble(method: str) -> str:
    """The predictions :data:`ENSEMBLE` repeats: the one of ``ensemble.method``."""
    return ENSEMBLE_METHODS[method].name


def windows_of(names: Iterable[str], model: Model) -> list[int]:
    """The windows of a per-window ``model`` among ``names``, in their order."""
    prefix = model.name.split("{w}")[0]
    return [int(n[len(prefix) :]) for n in names if model_of(n) == model]


def is_model(name: str, models: Iterable[Model]) -> bool:
    """Whether ``name`` is one of ``models``."""
    return model_of(name) in tuple(models)
