"""params.yaml, read one way: every knob's type and default, in one place.

Each section of params.yaml has one frozen dataclass here; its defaults equal the
committed params.yaml (a test checks it). :func:`load_params` reads the file and
rejects any key the dataclasses do not declare, at any depth, with one line naming
the key and the closest valid one (``params.yaml: unknown key 'learning_rate' (did
you mean 'lr'?)``), so a misspelt knob can never be silently ignored.
:func:`read_params` gives the typed :class:`Params`; ``Section.from_params`` reads
one section (numbers that YAML left as strings, such as ``1e-5`` from ``dvc exp run
-S lr=1e-5``, are converted).

The module imports nothing heavier than PyYAML, so every stage can depend on it.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from gafcnn.io import InputError

PARAMS_FILE = "params.yaml"


class Section:
    """A params section: ``from_params`` builds it strictly from its mapping."""

    SECTION: ClassVar[str] = ""

    @classmethod
    def from_params(cls, mapping: dict | None, where: str | None = None) -> Any:
        """The section from its mapping; an unknown key or a bad value is one
        InputError naming params.yaml and the section, never a traceback."""
        where = cls.SECTION if where is None else where
        return _build(cls, mapping or {}, where)


# ---- the CNN (top-level keys, so that `dvc exp run -S lr=1e-5` works)
OPTIMIZERS = ("adamw", "sgd")
IMBALANCE = ("none", "weights", "sampler")
AUGMENT = ("none", "noise")
INPUTS = ("encode", "stored")


@dataclass(frozen=True)
class TrainConfig(Section):
    """The top-level CNN hyperparameters and the seed."""

    SECTION: ClassVar[str] = ""
    arch: str = "simple_cnn"
    width: int = 16
    lr: float = 1e-3
    dropout: float = 0.3
    batch_size: int = 128
    epochs: int = 15
    patience: int = 4
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    momentum: float = 0.9
    augment: str = "none"
    augment_noise: float = 0.1
    inputs: str = "encode"
    imbalance: str = "weights"
    pretrained: str | None = None
    seed: int = 42
    device: str = "auto"
    nproc: int = 1

    def __post_init__(self) -> None:
        for name, allowed in (("optimizer", OPTIMIZERS), ("imbalance", IMBALANCE),
                              ("augment", AUGMENT), ("inputs", INPUTS)):  # fmt: skip
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}")
        if self.batch_size < 1 or self.epochs < 1 or self.patience < 1 or self.nproc < 1:
            raise ValueError("batch_size, epochs, patience and nproc must be >= 1")

    @classmethod
    def from_params(cls, mapping: dict | None, where: str | None = None) -> TrainConfig:
        """The CNN's keys of the top level of params.yaml (sections are read apart)."""
        top = {k: v for k, v in (mapping or {}).items() if k not in SECTIONS}
        return _build(cls, top, "")


# ---- data
@dataclass(frozen=True)
class BinanceParams(Section):
    SECTION: ClassVar[str] = "data.binance"
    base_url: str = "https://data.binance.vision/data/spot/monthly/klines"
    months: list = field(default_factory=lambda: ["2024-01"])
    raw_dir: str = "data/raw"


@dataclass(frozen=True)
class SyntheticConfig(Section):
    """The synthetic market (:mod:`gafcnn.data.synthetic`)."""

    SECTION: ClassVar[str] = "data.synthetic"
    n_bars: int = 60_000
    start: str = "2024-01-01T00:00:00Z"
    seed: int = 7
    signal: float = 0.35
    lookback: int = 5
    price0: float = 40_000.0
    tick: float = 0.01
    sigma: float = 6e-4
    vol_persistence: float = 0.998
    vol_of_vol: float = 0.35
    seasonality: float = 0.4
    tail_df: float = 4.0
    substeps: int = 8
    volume_base: float = 8.0
    trade_prob: float = 0.0  # 0: continuous prices; >0: trades at random substeps


SOURCES = ("synthetic", "csv", "binance")


@dataclass(frozen=True)
class DataParams(Section):
    SECTION: ClassVar[str] = "data"
    source: str = "synthetic"
    path: str = "data/external"
    fill_gaps: bool = False
    columns: list | None = None
    symbol: str = "BTCUSDT"
    interval: str = "1m"
    binance: BinanceParams = field(default_factory=BinanceParams)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def source_name(self) -> str:
        """What a data error should name: the input file(s), or params.yaml."""
        if self.source == "csv":
            return str(self.path)
        if self.source == "binance":
            return str(self.binance.raw_dir)
        return PARAMS_FILE


# ---- split and labels
@dataclass(frozen=True)
class SplitRanges(Section):
    """``split.method: ranges``: each segment's ``[start, stop)`` timestamp pairs
    (combinatorial purged cross-validation writes them for each of its splits)."""

    SECTION: ClassVar[str] = "split.ranges"
    train: list = field(default_factory=list)
    val: list = field(default_factory=list)
    test: list = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            for pair in getattr(self, name):
                if not (isinstance(pair, list | tuple) and len(pair) == 2):
                    raise ValueError(f"{name}: each range is [start, stop], got {pair!r}")


@dataclass(frozen=True)
class SplitSpec(Section):
    SECTION: ClassVar[str] = "split"
    method: str = "fraction"  # "fraction", "date" or "ranges"
    train: float = 0.7
    val: float = 0.15
    test: float = 0.15
    val_start: str | None = None
    test_start: str | None = None
    purge: int | str = "auto"  # "auto" = max(windows) + horizon; an int may only be larger
    min_samples: int = 100  # fewer samples in any segment stops the pipeline before any model
    ranges: SplitRanges = field(default_factory=SplitRanges)


DEAD_ZONES = ("none", "fixed", "quantile")


@dataclass(frozen=True)
class LabelSpec(Section):
    SECTION: ClassVar[str] = "label"
    horizon: int = 5
    dead_zone: str = "none"
    threshold: float = 0.0
    quantile: float = 0.2

    def __post_init__(self) -> None:
        if self.dead_zone not in DEAD_ZONES:
            raise ValueError(f"label.dead_zone must be one of {DEAD_ZONES}, got {self.dead_zone!r}")
        if self.horizon < 1:
            raise ValueError("label.horizon must be >= 1")
        if self.threshold < 0:
            raise ValueError("label.threshold must be >= 0")
        if not 0 <= self.quantile < 1:
            raise ValueError("label.quantile must be in [0, 1)")


# ---- images
@dataclass(frozen=True)
class GafParams(Section):
    """The image sets; ``windows`` and ``stride`` are checked by
    :func:`gafcnn.stages.common.windows` and ``stride`` with their own messages."""

    SECTION: ClassVar[str] = "gaf"
    windows: list = field(default_factory=lambda: [15, 30, 60])
    channels: list = field(default_factory=lambda: ["gasf", "gadf"])
    image_size: Any = None
    max_image_size: Any = 30
    stride: Any = 2
    dtype: str = "float16"
    mtf_bins: Any = 8


# ---- audit
@dataclass(frozen=True)
class AuditSeverity(Section):
    """fail | warn | off per audit check."""

    SECTION: ClassVar[str] = "audit.severity"
    label_balance: str = "warn"
    dead_zone: str = "warn"
    finite: str = "fail"
    image_range: str = "fail"
    chronology: str = "fail"
    label_definition: str = "fail"
    dead_zone_fit: str = "fail"
    alignment: str = "fail"
    shuffled_label_control: str = "fail"
    leakage_ceiling: str = "fail"
    overlap: str = "warn"
    filled_bars: str = "warn"


@dataclass(frozen=True)
class AuditParams(Section):
    SECTION: ClassVar[str] = "audit"
    subset: int = 4000
    max_imbalance: float = 0.1
    max_dead_zone_share: float = 0.5
    max_label_autocorr: float = 0.8
    chance_alpha: float = 0.001
    max_plausible_accuracy: float = 0.75
    max_filled_share: float = 0.05
    severity: AuditSeverity = field(default_factory=AuditSeverity)


# ---- models
@dataclass(frozen=True)
class BaselineParams(Section):
    SECTION: ClassVar[str] = "baseline"
    subset: int = 10000
    C: float = 0.1


@dataclass(frozen=True)
class XgbParams(Section):
    """Phase 1's XGBoost on technical indicators."""

    SECTION: ClassVar[str] = "xgb"
    n_estimators: int = 600
    learning_rate: float = 0.05
    max_depth: int = 4
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 5.0
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 40


@dataclass(frozen=True)
class HybridParams(XgbParams):
    """The hybrid meta-learner: XGBoost fitted on val, its rounds chosen over ``folds``."""

    SECTION: ClassVar[str] = "hybrid"
    folds: int = 4
    n_estimators: int = 400
    max_depth: int = 3
    early_stopping_rounds: int = 30


@dataclass(frozen=True)
class MiniRocketParams(Section):
    """MiniRocket on each window's per-bar series, with a logistic head whose L2
    strength is chosen on val (the raw-window XGBoost reuses ``xgb``)."""

    SECTION: ClassVar[str] = "minirocket"
    kernels: int = 2000
    max_dilations: int = 32
    C: list = field(default_factory=lambda: [0.000001, 0.00001, 0.0001, 0.001])

    def __post_init__(self) -> None:
        if self.kernels < 84:
            raise ValueError(f"kernels must be >= 84 (one of each base kernel), got {self.kernels}")
        if self.max_dilations < 1:
            raise ValueError(f"max_dilations must be >= 1, got {self.max_dilations}")
        if not self.C or not all(isinstance(c, int | float) and c > 0 for c in self.C):
            raise ValueError(f"C must be a non-empty list of positive numbers, got {self.C}")


ENSEMBLE_METHODS = ("mean", "weighted", "stacking")


@dataclass(frozen=True)
class EnsembleParams(Section):
    SECTION: ClassVar[str] = "ensemble"
    method: str = "weighted"

    def __post_init__(self) -> None:
        if self.method not in ENSEMBLE_METHODS:
            raise ValueError(f"method must be one of {ENSEMBLE_METHODS}")


# ---- evaluation
SCHEMES = ("expanding", "rolling", "cpcv")


@dataclass(frozen=True)
class WalkForwardSpec(Section):
    SECTION: ClassVar[str] = "walkforward"
    folds: int = 0  # 0 = off: the decision rests on the single split
    scheme: str = "expanding"  # expanding | rolling | cpcv (runs whatever folds says)
    test_from: float = 0.5  # share of the history before the first test block
    val: float = 0.15  # val length, as a share of the history before the first test block
    groups: int = 6  # cpcv: contiguous groups of the history
    test_groups: int = 2  # cpcv: groups each split tests on
    embargo: int = 60  # cpcv: bars after each test stretch that no training sample starts in

    @property
    def pooled(self) -> bool:
        """Whether evaluate rests on pooled walk-forward folds (not the single split)."""
        return self.folds > 0 and self.scheme != "cpcv"

    def __post_init__(self) -> None:
        if self.folds < 0:
            raise ValueError(f"folds must be >= 0, got {self.folds}")
        if self.embargo < 0:
            raise ValueError(f"embargo must be >= 0 bars, got {self.embargo}")
        if not 1 <= self.test_groups < self.groups - 1:
            raise ValueError(
                f"test_groups must be at least 1 and leave two of the {self.groups} groups "
                f"(train and val), got {self.test_groups}"
            )
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if not 0 < self.test_from < 1:
            raise ValueError(f"test_from must be between 0 and 1, got {self.test_from}")
        if not 0 < self.val < 1:
            raise ValueError(f"val must be between 0 and 1, got {self.val}")


@dataclass(frozen=True)
class CostParams(Section):
    """Trading costs per side, in basis points: a round trip pays each twice."""

    SECTION: ClassVar[str] = "evaluate.costs"
    fee_bps: float = 5.0
    spread_bps: float = 0.0  # half the quoted spread
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        for k in ("fee_bps", "spread_bps", "slippage_bps"):
            if getattr(self, k) < 0:
                raise ValueError(f"{k} must be >= 0, got {getattr(self, k)}")

    @property
    def per_side_bps(self) -> float:
        """Everything one side of a trade pays."""
        return self.fee_bps + self.spread_bps + self.slippage_bps


@dataclass(frozen=True)
class PolicyParams(Section):
    """The trading policy's threshold grid: long when P(up) >= 0.5 + theta, short when
    <= 0.5 - theta, flat between; theta is chosen on the val segment."""

    SECTION: ClassVar[str] = "evaluate.policy"
    thresholds: list = field(
        default_factory=lambda: [0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2]
    )
    min_val_trades: int = 30

    def __post_init__(self) -> None:
        t = [float(x) for x in self.thresholds]
        if not t or t[0] != 0.0 or t != sorted(set(t)) or t[-1] >= 0.5:
            raise ValueError(
                f"thresholds must rise from 0.0 (always in) and stay below 0.5, got {t}"
            )
        if self.min_val_trades < 1:
            raise ValueError(f"min_val_trades must be >= 1, got {self.min_val_trades}")


@dataclass(frozen=True)
class EvaluateParams(Section):
    SECTION: ClassVar[str] = "evaluate"
    costs: CostParams = field(default_factory=CostParams)
    policy: PolicyParams = field(default_factory=PolicyParams)
    require_profit: bool = True
    alpha: float = 0.05
    bootstrap_reps: int = 1000
    block: str = "window"
    trials: int = 1
    pbo_partitions: int = 8

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ValueError(f"trials must be an integer >= 1, got {self.trials!r}")
        if self.block not in ("window", "optimal"):
            raise ValueError(f"block must be window or optimal, got {self.block!r}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha!r}")
        if self.pbo_partitions < 2 or self.pbo_partitions % 2:
            raise ValueError(
                f"pbo_partitions must be an even integer >= 2, got {self.pbo_partitions!r}"
            )


# ---- the candlestick-pattern task
CULR = ("gasf:close_rel", "gadf:close_rel", "gasf:upper_rel", "gasf:lower_rel",
        "gasf:body_rel", "gadf:body_rel")  # fmt: skip


@dataclass(frozen=True)
class PatternConfig(Section):
    """The ``patterns`` section; ``synthetic`` holds overrides of the synthetic market
    (keys of :class:`SyntheticConfig`) for the top-up windows."""

    SECTION: ClassVar[str] = "patterns"
    window: int = 10
    trend_bars: int = 5
    channels: list = field(default_factory=lambda: list(CULR))
    train_fraction: float = 0.7
    real_per_class: int = 600
    per_class: int = 6000
    synthetic: dict = field(
        default_factory=lambda: {"n_bars": 1000000, "seed": 11, "trade_prob": 0.4, "substeps": 16},
        metadata={"keys_of": SyntheticConfig},
    )
    width: int = 16
    hidden: int = 128
    dropout: float = 0.2
    lr: float = 0.003
    weight_decay: float = 0.0001
    batch_size: int = 512
    epochs: int = 20
    seed: int = 42  # its own, so that the CNNs' seed (`seed`) does not rerun this side task


# ---- what the deployment bundle serves
@dataclass(frozen=True)
class ServingParams(Section):
    """How many days after the last bar its models were fitted on (the end of val) a
    bundle may trade; ``auto``: only as long as the evaluation tested them (to the last
    test decision), which expires an exported bundle at once. The default, 14, is about
    twice the oldest age the default split tests (6.3 days on the default synthetic
    market, 3.2 on the shared real file): a week past what was measured."""

    SECTION: ClassVar[str] = "serving"
    max_age_days: Any = 14

    def __post_init__(self) -> None:
        ok = self.max_age_days == "auto" or (
            isinstance(self.max_age_days, int | float)
            and not isinstance(self.max_age_days, bool)
            and self.max_age_days > 0
        )
        if not ok:
            raise ValueError(f"max_age_days must be 'auto' or days > 0, got {self.max_age_days!r}")

    def max_age(self, tested_days: float) -> float:
        """The age limit in days, given how far past its fit the model was tested."""
        return float(tested_days if self.max_age_days == "auto" else self.max_age_days)


# ---- speed only (no stage lists it)
@dataclass(frozen=True)
class RuntimeParams(Section):
    SECTION: ClassVar[str] = "runtime"
    threads: int = 2
    gaf_chunk: int = 8192
    inference_singles: int = 200


SECTIONS: dict[str, type] = {
    "data": DataParams,
    "split": SplitSpec,
    "label": LabelSpec,
    "gaf": GafParams,
    "audit": AuditParams,
    "baseline": BaselineParams,
    "xgb": XgbParams,
    "ensemble": EnsembleParams,
    "hybrid": HybridParams,
    "minirocket": MiniRocketParams,
    "walkforward": WalkForwardSpec,
    "evaluate": EvaluateParams,
    "patterns": PatternConfig,
    "serving": ServingParams,
    "runtime": RuntimeParams,
}


# What the deployment bundle records of params.yaml (with the seed): the sections that
# shape the served models and their decision.
SERVED_SECTIONS = ("seed", "data", "split", "label", "gaf", "xgb", "ensemble", "hybrid",
                   "minirocket", "evaluate", "serving")  # fmt: skip


@dataclass(frozen=True)
class Params:
    """The whole of params.yaml, typed; ``raw`` is the mapping as read."""

    cnn: TrainConfig
    data: DataParams
    split: SplitSpec
    label: LabelSpec
    gaf: GafParams
    audit: AuditParams
    baseline: BaselineParams
    xgb: XgbParams
    ensemble: EnsembleParams
    hybrid: HybridParams
    minirocket: MiniRocketParams
    walkforward: WalkForwardSpec
    evaluate: EvaluateParams
    patterns: PatternConfig
    serving: ServingParams
    runtime: RuntimeParams
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def seed(self) -> int:
        return self.cnn.seed

    @classmethod
    def from_dict(cls, raw: dict) -> Params:
        check_keys(raw)
        sections = {name: kind.from_params(raw.get(name)) for name, kind in SECTIONS.items()}
        return cls(cnn=TrainConfig.from_params(raw), raw=raw, **sections)


# ---- reading
def load_params(path: str | os.PathLike[str] = PARAMS_FILE) -> dict[str, Any]:
    """params.yaml as a mapping, every key checked against the declared sections."""
    with open(path) as fh:
        params = yaml.safe_load(fh)
    if not isinstance(params, dict):
        raise InputError(path, "params file is empty or not a mapping")
    check_keys(params, str(path))
    return params


def read_params(path: str | os.PathLike[str] = PARAMS_FILE) -> Params:
    """params.yaml, typed and checked (keys and values)."""
    return Params.from_dict(load_params(path))


def runtime_setting(params: Params, key: str) -> Any:
    """A speed-only knob: ``GAFCNN_<KEY>`` from the environment, else ``runtime.<key>``.

    The ``runtime`` section is listed by no stage, so changing a thread count or a
    chunk size reruns nothing. Outputs are byte-identical for the same values on the
    same kind of machine; torch may round differently with another thread count.
    """
    env = os.environ.get(f"GAFCNN_{key.upper()}")
    if env is not None:
        return env
    return getattr(params.runtime, key)


def _fields(cls: type) -> dict[str, Any]:
    """Field name -> resolved type (a Section class for nested sections)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def schema() -> dict[str, Any]:
    """The declared keys as a tree: a key maps to its sub-tree, or None for a value."""

    def tree(cls: type) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            kind = _fields(cls)[f.name]
            nested = f.metadata.get("keys_of") or (kind if _is_section(kind) else None)
            out[f.name] = tree(nested) if nested else None
        return out

    top = tree(TrainConfig)
    top.update({name: tree(kind) for name, kind in SECTIONS.items()})
    return top


def _is_section(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Section)


def _dotted(tree: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, sub in tree.items():
        out.append(prefix + k)
        if sub:
            out += _dotted(sub, f"{prefix}{k}.")
    return out


def check_keys(params: dict[str, Any], source: str = PARAMS_FILE) -> None:
    """Raise one InputError for the first key, at any depth, that no section declares."""
    full = schema()
    everywhere = _dotted(full)

    def walk(mapping: Any, tree: dict[str, Any], prefix: str) -> None:
        if not isinstance(mapping, dict):
            return
        for key, value in mapping.items():
            if key not in tree:
                raise InputError(source, unknown_key_message(str(key), prefix, tree, everywhere))
            if tree[key]:
                walk(value, tree[key], f"{prefix}{key}.")

    walk(params, full, "")


def unknown_key_message(key: str, prefix: str, tree: dict[str, Any], everywhere: list[str]) -> str:
    """``unknown key 'x.y' (did you mean 'x.z'?)``: the closest key of the same
    section (an abbreviation, e.g. ``lr`` for ``learning_rate``, or a near spelling),
    else the same key in another section."""
    hint = suggest(key, list(tree))
    if hint is not None:
        hint = prefix + hint
    else:
        hint = next((d for d in everywhere if d.rsplit(".", 1)[-1] == key), None)
    tail = f" (did you mean '{hint}'?)" if hint else f" (valid here: {', '.join(tree)})"
    return f"unknown key '{prefix}{key}'{tail}"


def suggest(key: str, valid: list[str]) -> str | None:
    """The valid key ``key`` most likely meant: one whose initials it is (or that
    is its initials), else the closest spelling."""

    def initials(name: str) -> str:
        return "".join(part[0] for part in name.split("_") if part)

    for v in valid:
        if "_" in key + v and (initials(key) == v or initials(v) == key):
            return v
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return close[0] if close else None


def _build(cls: type, mapping: Any, where: str) -> Any:
    """``cls`` from ``mapping``: unknown keys rejected, values converted to the field
    types, nested sections built recursively."""
    label = where or "top level"
    if not isinstance(mapping, dict):
        raise InputError(PARAMS_FILE, f"{label} must be a mapping, got {mapping!r}")
    kinds = _fields(cls)
    for key in mapping:
        if key not in kinds:
            tree = {k: None for k in kinds}
            prefix = f"{where}." if where else ""
            raise InputError(PARAMS_FILE, unknown_key_message(str(key), prefix, tree, []))
    values = {}
    try:
        for name, value in mapping.items():
            kind = kinds[name]
            if _is_section(kind):
                values[name] = kind.from_params(value, f"{where}.{name}" if where else name)
            else:
                values[name] = convert(name, value, kind)
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise InputError(PARAMS_FILE, f"{label}: {exc}" if where else str(exc)) from None


def convert(name: str, value: Any, kind: Any) -> Any:
    """``value`` as the field type: YAML 1.1 reads ``1e-5`` as a string, so numbers
    are converted here; ``int | str`` takes a number or a keyword such as ``auto``."""
    if value is None or isinstance(value, bool):
        return value
    args = set(typing.get_args(kind)) or {kind}
    if float in args:
        return _to_number(name, value, float)
    if int in args and (str not in args or _numeric(value)):
        return _to_number(name, value, int)
    return value


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _to_number(name: str, value: Any, kind: type) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if kind is int:
        if number != int(number):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        return int(number)
    return number
