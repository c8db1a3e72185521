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
import functools
import json
import math
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
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

    def __post_init__(self) -> None:
        """Every value obeys its rule (the section's ``RULES``, else its type), however
        the section was built; a section's own ``__post_init__`` adds rules across
        fields after calling this."""
        kinds = _fields(type(self))
        for name, kind in kinds.items():
            if not _is_section(kind):
                check_value(type(self), name, getattr(self, name), self.SECTION)


# ---- what a value may be (scikit-learn's ``_parameter_constraints``, per section)
class Rule:
    """What one param's value may be: ``allows`` tests a value (already converted
    to the field's type), ``__str__`` says what is allowed."""

    def allows(self, value: Any) -> bool:
        raise NotImplementedError


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Range(Rule):
    """A finite number (an integer when ``integer``) between optional bounds."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def allows(self, value: Any) -> bool:
        if not _is_number(value) or (self.integer and not isinstance(value, int)):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        what = "an integer" if self.integer else "a number"
        lo = None if self.low is None else (">" if self.low_open else ">=")
        hi = None if self.high is None else ("<" if self.high_open else "<=")
        if lo and hi:
            return f"{what} {lo} {self.low:g} and {hi} {self.high:g}"
        if lo or hi:
            return f"{what} {lo or hi} {self.low if lo else self.high:g}"
        return what


@dataclass(frozen=True)
class Choice(Rule):
    """One of a fixed set of values."""

    options: tuple

    def allows(self, value: Any) -> bool:
        return (
            isinstance(value, str | int | float)
            and not isinstance(value, bool)
            and any(type(value) is type(o) and value == o for o in self.options)
        )

    def __str__(self) -> str:
        if len(self.options) == 1:
            return str(self.options[0])
        return "one of " + ", ".join(map(str, self.options))


@dataclass(frozen=True)
class Kind(Rule):
    """Any value of one Python type (``bool`` only for ``bool``)."""

    kind: type

    def allows(self, value: Any) -> bool:
        return isinstance(value, self.kind) and (self.kind is bool or not isinstance(value, bool))

    def __str__(self) -> str:
        words = {str: "a string", bool: "true or false", list: "a list", dict: "a mapping"}
        return words[self.kind]


@dataclass(frozen=True)
class ListOf(Rule):
    """A list whose items each obey ``item``, at least ``min_len`` long, its items
    distinct when ``distinct``."""

    item: Rule
    min_len: int = 0
    distinct: bool = False

    def allows(self, value: Any) -> bool:
        if not isinstance(value, list) or len(value) < self.min_len:
            return False
        if not all(self.item.allows(v) for v in value):
            return False
        return not self.distinct or len({repr(v) for v in value}) == len(value)

    def __str__(self) -> str:
        size = "a non-empty list" if self.min_len == 1 else "a list"
        if self.min_len > 1:
            size = f"a list of at least {self.min_len}"
        return f"{size}{' of distinct items' if self.distinct else ''}, each {self.item}"


@dataclass(frozen=True)
class AnyOf(Rule):
    """A value any of ``rules`` allows."""

    rules: tuple

    def allows(self, value: Any) -> bool:
        return any(r.allows(value) for r in self.rules)

    def __str__(self) -> str:
        return " or ".join(map(str, self.rules))


@dataclass(frozen=True)
class Satisfies(Rule):
    """A value a function accepts, described in words (for vocabularies that live
    with the code that reads them)."""

    check: Any
    words: str

    def allows(self, value: Any) -> bool:
        try:
            return bool(self.check(value))
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return self.words


def _timestamp(value: Any) -> bool:
    """An ISO timestamp string, or a date YAML read from an unquoted one."""
    from datetime import date, datetime

    if isinstance(value, date):
        return True
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _month(text: Any) -> bool:
    """A month ``YYYY-MM`` (Binance's monthly archives)."""
    from datetime import datetime

    return isinstance(text, str) and bool(datetime.strptime(text, "%Y-%m"))


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
SHARE = Range(0, 1, low_open=True, high_open=True)  # strictly between 0 and 1
COUNT = Range(1, integer=True)
TIMESTAMP = Satisfies(_timestamp, "an ISO timestamp")


def _default_rule(kind: Any) -> Rule | None:
    """The rule a field's type implies when its section names none."""
    args = [a for a in (typing.get_args(kind) or (kind,)) if a is not type(None)]
    rules: list[Rule] = []
    for a in args:
        if a is int:
            rules.append(Range(integer=True))
        elif a is float:
            rules.append(Range())
        elif a in (str, bool, list, dict):
            rules.append(Kind(a))
        else:
            return None  # Any: only the section's rule says
    return rules[0] if len(rules) == 1 else AnyOf(tuple(rules))


def _nullable(kind: Any) -> bool:
    return type(None) in typing.get_args(kind)


def value_problem(cls: type, name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for field ``name`` of section ``cls`` (the value
    and what is allowed, by the section's ``RULES``, else the field's type), or None."""
    kind = _fields(cls)[name]
    rule = getattr(cls, "RULES", {}).get(name) or _default_rule(kind)
    if rule is None or (value is None and _nullable(kind)) or rule.allows(value):
        return None
    allowed = f"{rule} or null" if _nullable(kind) else str(rule)
    return f"{json.dumps(value, default=str)} is not allowed (allowed: {allowed})"


def check_value(cls: type, name: str, value: Any, where: str) -> None:
    """One InputError naming params.yaml, ``where.name``, the value and what is
    allowed, unless ``value`` obeys the field's rule."""
    problem = value_problem(cls, name, value)
    if problem is not None:
        key = f"{where}.{name}" if where else name
        raise InputError(PARAMS_FILE, f"{key}: {problem}")


# ---- the CNN (top-level keys, so that `dvc exp run -S lr=1e-5` works)
ARCHS = ("simple_cnn", "resnet18", "conv1d")
DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("adamw", "sgd")
IMBALANCE = ("none", "weights", "sampler")
AUGMENT = ("none", "noise")
INPUTS = ("encode", "stored")


@dataclass(frozen=True)
class TrainConfig(Section):
    """The top-level CNN hyperparameters and the seed."""

    SECTION: ClassVar[str] = ""
    RULES: ClassVar[dict[str, Rule]] = {
        "arch": Choice(ARCHS),
        "width": COUNT,
        "lr": POSITIVE,
        "dropout": Range(0, 1, high_open=True),
        "batch_size": COUNT,
        "epochs": COUNT,
        "patience": COUNT,
        "weight_decay": NON_NEGATIVE,
        "optimizer": Choice(OPTIMIZERS),
        "momentum": Range(0, 1, high_open=True),
        "augment": Choice(AUGMENT),
        "augment_noise": NON_NEGATIVE,
        "inputs": Choice(INPUTS),
        "imbalance": Choice(IMBALANCE),
        "seed": Range(0, integer=True),
        "device": Choice(DEVICES),
        "nproc": COUNT,
    }
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

    @classmethod
    def from_params(cls, mapping: dict | None, where: str | None = None) -> TrainConfig:
        """The CNN's keys of the top level of params.yaml (sections are read apart)."""
        top = {k: v for k, v in (mapping or {}).items() if k not in SECTIONS}
        return _build(cls, top, "")


# ---- data
@dataclass(frozen=True)
class BinanceParams(Section):
    SECTION: ClassVar[str] = "data.binance"
    RULES: ClassVar[dict[str, Rule]] = {
        "months": ListOf(Satisfies(_month, "a month YYYY-MM"), min_len=1, distinct=True)
    }
    base_url: str = "https://data.binance.vision/data/spot/monthly/klines"
    months: list = field(default_factory=lambda: ["2024-01"])
    raw_dir: str = "data/raw"


@dataclass(frozen=True)
class SyntheticConfig(Section):
    """The synthetic market (:mod:`gafcnn.data.synthetic`)."""

    SECTION: ClassVar[str] = "data.synthetic"
    RULES: ClassVar[dict[str, Rule]] = {
        "n_bars": COUNT,
        "start": TIMESTAMP,
        "seed": Range(0, integer=True),
        "signal": NON_NEGATIVE,
        "lookback": COUNT,
        "price0": POSITIVE,
        "tick": NON_NEGATIVE,
        "sigma": POSITIVE,
        "vol_persistence": Range(0, 1, high_open=True),
        "vol_of_vol": NON_NEGATIVE,
        "seasonality": Range(0, 1, high_open=True),
        "tail_df": Range(2, low_open=True),
        "substeps": COUNT,
        "volume_base": POSITIVE,
        "trade_prob": Range(0, 1),
        "signals": ListOf(NON_NEGATIVE),
        "correlation": Range(0, 1, high_open=True),
    }
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
    signals: list = field(default_factory=list)  # a universe: each symbol's signal ([] = signal)
    correlation: float = 0.0  # a universe: correlation of the symbols' return shocks


SOURCES = ("synthetic", "csv", "binance", "freqtrade")
MARKET_NAME = (
    "a symbol name of letters, digits, '_' or '-' (a market's folder, "
    "markets/<symbol>: a pair is written BTC_USDT)"
)


def is_market_name(v: object) -> bool:
    """A ``data.symbols`` entry: one folder name, as DVC's matrix and freqtrade's files
    write it (``BTCUSDT``, ``BTC_USDT``)."""
    return isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", v) is not None


@dataclass(frozen=True)
class DataParams(Section):
    SECTION: ClassVar[str] = "data"
    RULES: ClassVar[dict[str, Rule]] = {
        "source": Choice(SOURCES),
        "columns": ListOf(Kind(str), min_len=1, distinct=True),
        "files": Satisfies(
            lambda v: isinstance(v, str) and v.strip() == v != "" and "/" not in v,
            "a file-name pattern inside data.path, e.g. '{symbol}-1m-*.csv.gz'",
        ),
        "interval": Choice(("1m",)),
        "symbols": ListOf(Satisfies(is_market_name, MARKET_NAME), min_len=1, distinct=True),
    }
    source: str = "synthetic"
    path: str = "data/external"
    files: str | None = None  # csv: file names inside the folder data.path (may hold {symbol})
    fill_gaps: bool = False
    columns: list | None = None
    interval: str = "1m"
    symbols: list = field(default_factory=lambda: ["BTCUSDT"])  # one market each; 2+: a universe
    binance: BinanceParams = field(default_factory=BinanceParams)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        signals = self.synthetic.signals
        if self.source == "synthetic" and signals and len(signals) != len(self.symbols):
            n = len(self.symbols)
            raise ValueError(f"synthetic.signals: {len(signals)} signals for {n} symbols; "
                             "give one per symbol or none")  # fmt: skip

    @property
    def universe(self) -> bool:
        """Several symbols: one split common to all, and a pooled fit beside theirs."""
        return len(self.symbols) > 1

    @property
    def symbol(self) -> str:
        """The market of a one-symbol run (a market's own params name only it)."""
        if self.universe:
            raise ValueError(f"data.symbols names {len(self.symbols)} symbols, not one")
        return self.symbols[0]

    def source_name(self) -> str:
        """What a data error should name: the input file(s), or params.yaml."""
        if self.source in ("csv", "freqtrade"):
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
    RULES: ClassVar[dict[str, Rule]] = {
        k: ListOf(ListOf(AnyOf((TIMESTAMP, Range())), min_len=2)) for k in ("train", "val", "test")
    }
    train: list = field(default_factory=list)
    val: list = field(default_factory=list)
    test: list = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("train", "val", "test"):
            for pair in getattr(self, name):
                if not (isinstance(pair, list | tuple) and len(pair) == 2):
                    raise ValueError(f"{name}: each range is [start, stop], got {pair!r}")


SPLIT_METHODS = ("fraction", "date", "ranges")


@dataclass(frozen=True)
class SplitSpec(Section):
    SECTION: ClassVar[str] = "split"
    RULES: ClassVar[dict[str, Rule]] = {
        "method": Choice(SPLIT_METHODS),
        "train": SHARE,
        "val": SHARE,
        "test": SHARE,
        "val_start": TIMESTAMP,
        "test_start": TIMESTAMP,
        "purge": AnyOf((Choice(("auto",)), Range(0, integer=True))),
        "min_samples": COUNT,
    }
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
    RULES: ClassVar[dict[str, Rule]] = {
        "horizon": AnyOf((COUNT, ListOf(COUNT, min_len=1, distinct=True))),
        "dead_zone": Choice(DEAD_ZONES),
        "threshold": NON_NEGATIVE,
        "quantile": Range(0, 1, high_open=True),
    }
    horizon: int = 5  # bars ahead; params.yaml may list several (``horizons``)
    dead_zone: str = "none"
    threshold: float = 0.0
    quantile: float = 0.2
    horizons: tuple = field(default=(), metadata={"derived": True})  # not a key

    def __post_init__(self) -> None:
        """A list of horizons keeps its first as ``horizon`` (what the pipeline's
        models fit and the bundle serves) and all of them as ``horizons`` (what the
        `horizons` stage judges on the same split, purged for the longest); another
        ``horizon`` given to ``replace`` leaves it alone."""
        super().__post_init__()
        if isinstance(self.horizon, list):
            listed = tuple(self.horizon)
        else:
            keep = self.horizons[:1] == (self.horizon,)
            listed = self.horizons if keep else (self.horizon,)
        object.__setattr__(self, "horizon", listed[0])
        object.__setattr__(self, "horizons", listed)

    @property
    def longest(self) -> int:
        """The longest horizon: the split's purge and the samples' margin cover it."""
        return max(self.horizons)


# ---- images
# The image encodings' vocabulary: a channel is ``method[:series]`` (series close by
# default); :mod:`gafcnn.images.encodings` computes each.
CHANNEL_METHODS = ("gasf", "gadf", "mtf", "rp")
CHANNEL_SERIES = (
    "close", "logret", "volume",
    "upper", "lower", "body",  # candle parts, each min-max scaled on its own
    "close_rel", "upper_rel", "lower_rel", "body_rel",  # on one scale: the window's range
    "taker_imbalance", "trades",  # order flow, from bars that carry it
)  # fmt: skip
STORAGE_DTYPES = ("float16", "float32")


def channel_spec(spec: Any) -> tuple[str, str]:
    """(method, series) of a channel ``method[:series]``; ValueError naming the part
    that is not known."""
    if not isinstance(spec, str):
        raise ValueError(f"a channel is a string method[:series], got {spec!r}")
    method, _, series = spec.partition(":")
    method, series = method.strip().lower(), (series or "close").strip().lower()
    if method not in CHANNEL_METHODS:
        raise ValueError(f"unknown channel method {method!r} in {spec!r}; use {CHANNEL_METHODS}")
    if series not in CHANNEL_SERIES:
        raise ValueError(f"unknown channel series {series!r} in {spec!r}; use {CHANNEL_SERIES}")
    return method, series


CHANNEL = Satisfies(
    channel_spec,
    f"a channel method[:series] (methods {', '.join(CHANNEL_METHODS)}; "
    f"series {', '.join(CHANNEL_SERIES)})",
)


@dataclass(frozen=True)
class GafParams(Section):
    """The image sets: one per window length, each decision time's window encoded
    as ``channels`` images of ``image_size`` (or the window capped by
    ``max_image_size``), every ``stride``-th minute."""

    SECTION: ClassVar[str] = "gaf"
    RULES: ClassVar[dict[str, Rule]] = {
        "windows": ListOf(Range(2, integer=True), min_len=1, distinct=True),
        "channels": ListOf(CHANNEL, min_len=1, distinct=True),
        "image_size": COUNT,
        "max_image_size": COUNT,
        "stride": COUNT,
        "dtype": Choice(STORAGE_DTYPES),
        "mtf_bins": Range(2, integer=True),
    }
    windows: list = field(default_factory=lambda: [15, 30, 60])
    channels: list = field(default_factory=lambda: ["gasf", "gadf"])
    image_size: int | None = None
    max_image_size: int | None = 30
    stride: int = 2
    dtype: str = "float16"
    mtf_bins: int = 8

    def image_size_for(self, window: int) -> int:
        """``image_size`` if set, else the window length capped by ``max_image_size``;
        larger than the window is an error (no upsampling)."""
        size = self.image_size or min(window, self.max_image_size or window)
        if size > window:
            raise ValueError(f"gaf.image_size {size} must be in 1..{window} (no upsampling)")
        return size


# ---- audit
SEVERITIES = ("fail", "warn", "off")


@dataclass(frozen=True)
class AuditSeverity(Section):
    """fail | warn | off per audit check."""

    SECTION: ClassVar[str] = "audit.severity"
    RULES: ClassVar[dict[str, Rule]] = {
        k: Choice(SEVERITIES)
        for k in ("label_balance", "dead_zone", "finite", "image_range", "chronology",
                  "label_definition", "dead_zone_fit", "alignment", "shuffled_label_control",
                  "leakage_ceiling", "overlap", "filled_bars")
    }  # fmt: skip
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
    RULES: ClassVar[dict[str, Rule]] = {
        "subset": COUNT,
        "max_imbalance": Range(0, 0.5),
        "max_dead_zone_share": Range(0, 1),
        "max_label_autocorr": Range(0, 1),
        "chance_alpha": SHARE,
        "max_plausible_accuracy": Range(0.5, 1),
        "max_filled_share": Range(0, 1),
    }
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
    RULES: ClassVar[dict[str, Rule]] = {"subset": COUNT, "C": POSITIVE}
    subset: int = 10000
    C: float = 0.1


@dataclass(frozen=True)
class XgbParams(Section):
    """xgb_indicators's XGBoost on technical indicators."""

    SECTION: ClassVar[str] = "xgb"
    RULES: ClassVar[dict[str, Rule]] = {
        "n_estimators": COUNT,
        "learning_rate": Range(0, 1, low_open=True),
        "max_depth": COUNT,
        "subsample": Range(0, 1, low_open=True),
        "colsample_bytree": Range(0, 1, low_open=True),
        "min_child_weight": NON_NEGATIVE,
        "reg_lambda": NON_NEGATIVE,
        "early_stopping_rounds": COUNT,
    }
    n_estimators: int = 600
    learning_rate: float = 0.05
    max_depth: int = 4
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 5.0
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 40


@dataclass(frozen=True)
class XgbSection(XgbParams):
    """The ``xgb`` section: XgbParams, and the raw-window XGBoost's fitting sample."""

    RULES: ClassVar[dict[str, Rule]] = {**XgbParams.RULES, "raw_fit_samples": COUNT}
    raw_fit_samples: int = 25_000  # xgb_raw: train decisions fitted on, at most (evenly spaced)


@dataclass(frozen=True)
class HybridParams(XgbParams):
    """The hybrid meta-learner: XGBoost fitted on val, its rounds chosen over ``folds``."""

    SECTION: ClassVar[str] = "hybrid"
    RULES: ClassVar[dict[str, Rule]] = {**XgbParams.RULES, "folds": Range(2, integer=True)}
    folds: int = 4
    n_estimators: int = 400
    max_depth: int = 3
    early_stopping_rounds: int = 30


@dataclass(frozen=True)
class MiniRocketParams(Section):
    """MiniRocket on each window's per-bar series, with a logistic head whose L2
    strength is chosen on val (the raw-window XGBoost reuses ``xgb``)."""

    SECTION: ClassVar[str] = "minirocket"
    RULES: ClassVar[dict[str, Rule]] = {
        "kernels": Range(84, integer=True),  # at least one of each base kernel
        "max_dilations": COUNT,
        "C": ListOf(POSITIVE, min_len=1),
        "fit_samples": COUNT,
    }
    kernels: int = 2000
    max_dilations: int = 32
    C: list = field(default_factory=lambda: [0.000001, 0.00001, 0.0001, 0.001])
    fit_samples: int = 25_000  # train decisions the transform and head are fitted on, at most


@dataclass(frozen=True)
class UniverseParams(Section):
    """Several symbols in one run (``data.symbols``): each market fits its own models;
    ``pooled`` also fits them once over every symbol's samples."""

    SECTION: ClassVar[str] = "universe"
    pooled: bool = True

    def trainings(self, symbols: int) -> list[str]:
        """How the models are fitted: per symbol always; pooled too for 2+ symbols."""
        return ["per_symbol"] + (["pooled"] if self.pooled and symbols > 1 else [])


@dataclass(frozen=True)
class FeaturesParams(Section):
    """What the indicator models (xgb_indicators and the hybrid) read besides the
    technical indicators: ``flow``, the bars' order flow
    (:data:`gafcnn.data.features.FLOW_FEATURES`), which the bars must carry."""

    SECTION: ClassVar[str] = "features"
    flow: bool = False


ENSEMBLE_METHODS = ("mean", "weighted", "stacking")


@dataclass(frozen=True)
class EnsembleParams(Section):
    SECTION: ClassVar[str] = "ensemble"
    RULES: ClassVar[dict[str, Rule]] = {"method": Choice(ENSEMBLE_METHODS)}
    method: str = "weighted"


# ---- evaluation
SCHEMES = ("expanding", "rolling", "cpcv")


@dataclass(frozen=True)
class WalkForwardSpec(Section):
    SECTION: ClassVar[str] = "walkforward"
    RULES: ClassVar[dict[str, Rule]] = {
        "folds": Range(0, integer=True),
        "scheme": Choice(SCHEMES),
        "test_from": SHARE,
        "val": SHARE,
        "groups": Range(3, integer=True),
        "test_groups": COUNT,
        "embargo": Range(0, integer=True),
    }
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
        super().__post_init__()
        if not 1 <= self.test_groups < self.groups - 1:
            raise ValueError(
                f"test_groups must be at least 1 and leave two of the {self.groups} groups "
                f"(train and val), got {self.test_groups}"
            )


@dataclass(frozen=True)
class CostParams(Section):
    """Trading costs per side, in basis points: a round trip pays each twice."""

    SECTION: ClassVar[str] = "evaluate.costs"
    RULES: ClassVar[dict[str, Rule]] = {
        "fee_bps": NON_NEGATIVE,
        "spread_bps": NON_NEGATIVE,
        "slippage_bps": NON_NEGATIVE,
    }
    fee_bps: float = 5.0
    spread_bps: float = 0.0  # half the quoted spread
    slippage_bps: float = 0.0

    @property
    def per_side_bps(self) -> float:
        """Everything one side of a trade pays."""
        return self.fee_bps + self.spread_bps + self.slippage_bps


@dataclass(frozen=True)
class PolicyParams(Section):
    """The trading policy's threshold grid: long when P(up) >= 0.5 + theta, short when
    <= 0.5 - theta, flat between; theta is chosen on the val segment."""

    SECTION: ClassVar[str] = "evaluate.policy"
    RULES: ClassVar[dict[str, Rule]] = {
        "thresholds": ListOf(Range(0, 0.5, high_open=True), min_len=1, distinct=True),
        "min_val_trades": COUNT,
    }
    thresholds: list = field(
        default_factory=lambda: [0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2]
    )
    min_val_trades: int = 30

    def __post_init__(self) -> None:
        super().__post_init__()
        t = [float(x) for x in self.thresholds]
        if not t or t[0] != 0.0 or t != sorted(set(t)) or t[-1] >= 0.5:
            raise ValueError(
                f"thresholds must rise from 0.0 (always in) and stay below 0.5, got {t}"
            )


@dataclass(frozen=True)
class EvaluateParams(Section):
    SECTION: ClassVar[str] = "evaluate"
    RULES: ClassVar[dict[str, Rule]] = {
        "alpha": SHARE,
        "bootstrap_reps": Range(100, integer=True),
        "block": Choice(("window", "optimal")),
        "trials": COUNT,
        "pbo_partitions": Satisfies(
            lambda v: _is_number(v) and int(v) == v >= 2 and v % 2 == 0, "an even integer >= 2"
        ),  # fmt: skip
    }
    costs: CostParams = field(default_factory=CostParams)
    policy: PolicyParams = field(default_factory=PolicyParams)
    require_profit: bool = True
    alpha: float = 0.05
    bootstrap_reps: int = 1000
    block: str = "window"
    trials: int = 1
    pbo_partitions: int = 8


# ---- the candlestick-pattern task
CULR = ("gasf:close_rel", "gadf:close_rel", "gasf:upper_rel", "gasf:lower_rel",
        "gasf:body_rel", "gadf:body_rel")  # fmt: skip


@dataclass(frozen=True)
class PatternConfig(Section):
    """The ``patterns`` section; ``synthetic`` holds overrides of the synthetic market
    (keys of :class:`SyntheticConfig`) for the top-up windows."""

    SECTION: ClassVar[str] = "patterns"
    RULES: ClassVar[dict[str, Rule]] = {
        "window": Range(2, integer=True),
        "trend_bars": COUNT,
        "channels": ListOf(CHANNEL, min_len=1, distinct=True),
        "train_fraction": SHARE,
        "real_per_class": Range(0, integer=True),
        "per_class": COUNT,
        "width": COUNT,
        "hidden": COUNT,
        "dropout": Range(0, 1, high_open=True),
        "lr": POSITIVE,
        "weight_decay": NON_NEGATIVE,
        "batch_size": COUNT,
        "epochs": COUNT,
        "seed": Range(0, integer=True),
    }
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


# ---- the size of the next move (recommended_size)
@dataclass(frozen=True)
class SizingParams(Section):
    """The volatility forecast and the size it gives: the realized volatility of the
    next ``horizon`` minutes is forecast at every decision time, and a position's size
    is ``min(max_leverage, target_vol / forecast)`` (:mod:`gafcnn.volatility`). HAR-RV
    reads the realized volatility over each of ``har_spans`` minutes (the last hour,
    day and week), so its first forecast needs the longest span of bars."""

    SECTION: ClassVar[str] = "sizing"
    RULES: ClassVar[dict[str, Rule]] = {
        "horizon": Range(2, 1440, integer=True),
        "target_vol": POSITIVE,
        "max_leverage": POSITIVE,
        "har_spans": ListOf(Range(1, 43200, integer=True), min_len=1, distinct=True),
        "fit_samples": COUNT,
    }
    horizon: int = 60
    target_vol: float = 0.005
    max_leverage: float = 10.0
    har_spans: list = field(default_factory=lambda: [60, 1440, 10080])
    fit_samples: int = 25_000  # train (and val) decisions the forecasters fit on, at most

    def __post_init__(self) -> None:
        super().__post_init__()
        if list(self.har_spans) != sorted(self.har_spans):
            raise ValueError(f"har_spans must be in increasing order, got {self.har_spans}")

    @property
    def spans(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.har_spans)


# ---- what the deployment bundle serves
@dataclass(frozen=True)
class DriftParams(Section):
    """The drift gate: the population stability index of the last ``bars`` bars of each
    input (and of the last P(up) served) against the bundle's training reference;
    above ``threshold`` the answer is flat (0: the gate is off)."""

    SECTION: ClassVar[str] = "serving.drift"
    RULES: ClassVar[dict[str, Rule]] = {
        "threshold": NON_NEGATIVE,
        "bars": Range(30, 2000, integer=True),  # a served market holds its last 2,000 bars
    }
    threshold: float = 0.25
    bars: int = 1440


@dataclass(frozen=True)
class BreakerParams(Section):
    """The live breaker: after ``min_trades`` settled trades, a live net return per trade
    below the backtest's lower bound turns the symbol flat until a new champion
    (0: the breaker is off)."""

    SECTION: ClassVar[str] = "serving.breaker"
    RULES: ClassVar[dict[str, Rule]] = {"min_trades": Range(0, integer=True)}
    min_trades: int = 30


@dataclass(frozen=True)
class RetrainParams(Section):
    """The rolling window a retrain fits (`gafcnn retrain`, `gafcnn replay`): train, val
    and test days ending at the newest complete bar, a retrain every ``every`` days,
    and the newest ``keep`` versions kept. Skill is judged on the record of every
    retrain's test since the store began, or of those ending within the last
    ``evidence_days`` (:mod:`gafcnn.live.evidence`)."""

    SECTION: ClassVar[str] = "retrain"
    RULES: ClassVar[dict[str, Rule]] = {
        "train_days": POSITIVE, "val_days": POSITIVE, "test_days": POSITIVE,
        "every": POSITIVE, "keep": Range(2, integer=True), "evidence_days": POSITIVE,
    }  # fmt: skip
    train_days: float = 14.0
    val_days: float = 3.0
    test_days: float = 3.0
    every: float = 7.0  # days between retrains
    keep: int = 5
    evidence_days: float | None = None  # null: every stretch since the store began

    @property
    def span_days(self) -> float:
        """Days of bars one retrain reads."""
        return self.train_days + self.val_days + self.test_days


@dataclass(frozen=True)
class ServingParams(Section):
    """How many days after the last bar its models were fitted on (the end of val) a
    bundle may trade; ``auto``: only as long as the evaluation tested them (to the last
    test decision), which expires an exported bundle at once. The default, 14, is about
    twice the oldest age the default split tests (6.3 days on the default synthetic
    market, 3.2 on the shared real file): a week past what was measured."""

    SECTION: ClassVar[str] = "serving"
    RULES: ClassVar[dict[str, Rule]] = {"max_age_days": AnyOf((Choice(("auto",)), POSITIVE))}
    max_age_days: float | str = 14
    drift: DriftParams = field(default_factory=lambda: DriftParams())
    breaker: BreakerParams = field(default_factory=lambda: BreakerParams())

    def max_age(self, tested_days: float) -> float:
        """The age limit in days, given how far past its fit the model was tested."""
        return float(tested_days if self.max_age_days == "auto" else self.max_age_days)


# ---- speed only (no stage lists it)
@dataclass(frozen=True)
class RuntimeParams(Section):
    SECTION: ClassVar[str] = "runtime"
    RULES: ClassVar[dict[str, Rule]] = {
        "threads": COUNT,
        "gaf_chunk": COUNT,
        "inference_singles": Range(0, integer=True),
        "engine": Choice(("local", "ray")),
        "workers": COUNT,
        "task_memory_gb": POSITIVE,
        "retries": Range(0, integer=True),
    }
    threads: int = 2
    gaf_chunk: int = 8192
    inference_singles: int = 200
    engine: str = "local"  # where independent fits run (gafcnn.executor); RAY_ADDRESS: ray
    workers: int = 1  # local: worker processes side by side (each with `threads` threads)
    task_memory_gb: float = 2.0  # ray: memory each fit declares
    retries: int = 3  # ray: times a fit whose worker died is run again


SECTIONS: dict[str, type] = {
    "data": DataParams,
    "split": SplitSpec,
    "label": LabelSpec,
    "gaf": GafParams,
    "audit": AuditParams,
    "baseline": BaselineParams,
    "features": FeaturesParams,
    "xgb": XgbSection,
    "ensemble": EnsembleParams,
    "hybrid": HybridParams,
    "minirocket": MiniRocketParams,
    "walkforward": WalkForwardSpec,
    "universe": UniverseParams,
    "evaluate": EvaluateParams,
    "sizing": SizingParams,
    "patterns": PatternConfig,
    "serving": ServingParams,
    "retrain": RetrainParams,
    "runtime": RuntimeParams,
}


# What the deployment bundle records of params.yaml (with the seed): the sections that
# shape the served models and their decision.
SERVED_SECTIONS = ("seed", "data", "split", "label", "gaf", "features", "xgb", "ensemble",
                   "hybrid", "minirocket", "evaluate", "sizing", "serving")  # fmt: skip


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
    features: FeaturesParams
    xgb: XgbSection
    ensemble: EnsembleParams
    hybrid: HybridParams
    minirocket: MiniRocketParams
    walkforward: WalkForwardSpec
    universe: UniverseParams
    evaluate: EvaluateParams
    sizing: SizingParams
    patterns: PatternConfig
    serving: ServingParams
    retrain: RetrainParams
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
BASE_KEY = "base"  # a params file that holds only what differs from another file


def load_params(path: str | os.PathLike[str] = PARAMS_FILE) -> dict[str, Any]:
    """params.yaml as a mapping, every key checked against the declared sections. A
    file with ``base: <path>`` (a market's own, relative to its folder) holds only its
    differences: they are laid over the base file's params, section by section."""
    with open(path) as fh:
        params = yaml.safe_load(fh)
    if not isinstance(params, dict):
        raise InputError(path, "params file is empty or not a mapping")
    base = params.pop(BASE_KEY, None)
    if base is not None:
        where = Path(path).parent / str(base)
        if not where.is_file():
            raise InputError(path, f"base: {base} is not a params file ({where})")
        params = overlaid(load_params(where), params)
    check_keys(params, str(path))
    return params


def overlaid(base: dict, over: dict) -> dict:
    """``base`` with ``over`` laid on it: mappings merged key by key, any other value
    (a list, a number) replaced."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = overlaid(out[key], value) if both else value
    return out


def market_overrides(symbol: str, split: dict | None = None, trials: int | None = None) -> dict:
    """What ``symbol``'s market changes of the project's params: it reads that symbol
    alone (its bars are given, so no synthetic universe's signals); ``split``
    replaces the split section and ``trials`` ``evaluate.trials``."""
    out: dict = {"data": {"symbols": [symbol], "synthetic": {"signals": []}}}
    if split is not None:
        out["split"] = split
    if trials is not None:
        out["evaluate"] = {"trials": trials}
    return out


def market_params(params: Params, symbol: str, split: dict | None = None,
                  trials: int | None = None) -> dict:  # fmt: skip
    """The params of ``symbol``'s market, whole (a scratch run on it): the project's
    with the market's :func:`market_overrides` laid on them."""
    return overlaid(params.raw, market_overrides(symbol, split, trials))


def read_params(path: str | os.PathLike[str] = PARAMS_FILE) -> Params:
    """params.yaml, typed and checked (keys and values)."""
    return Params.from_dict(load_params(path))


def runtime_setting(params: Params, key: str) -> Any:
    """A speed-only knob: ``GAFCNN_<KEY>`` from the environment, else ``runtime.<key>``.

    The ``runtime`` section is listed by no stage, so changing a thread count or a
    chunk size reruns nothing. Outputs are byte-identical for the same values on the
    same kind of machine; torch may round differently with another thread count.
    The environment's value obeys the field's rule like the file's (one InputError
    naming the variable otherwise).
    """
    name = f"GAFCNN_{key.upper()}"
    env = os.environ.get(name)
    if env is None:
        return getattr(params.runtime, key)
    value = convert(env, _fields(RuntimeParams)[key])
    problem = value_problem(RuntimeParams, key, value)
    if problem is not None:
        raise InputError(name, problem)
    return value


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    """Field name -> resolved type (a Section class for nested sections)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def schema() -> dict[str, Any]:
    """The declared keys as a tree: a key maps to its sub-tree, or None for a value."""

    def tree(cls: type) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.metadata.get("derived"):  # computed from other keys, not one itself
                continue
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
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("derived")}
    kinds = {name: kind for name, kind in _fields(cls).items() if name in fields}
    for key in mapping:
        if key not in kinds:
            tree = {k: None for k in kinds}
            prefix = f"{where}." if where else ""
            raise InputError(PARAMS_FILE, unknown_key_message(str(key), prefix, tree, []))
    values = {}
    for name, value in mapping.items():
        kind = kinds[name]
        if _is_section(kind):
            values[name] = kind.from_params(value, f"{where}.{name}" if where else name)
            continue
        values[name] = convert(value, kind)
        nested = fields[name].metadata.get("keys_of")
        if nested is not None:  # a mapping of another section's keys: their rules hold
            for key, v in values[name].items():
                check_value(nested, key, convert(v, _fields(nested)[key]), f"{where}.{name}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # a rule across fields (__post_init__)
        raise InputError(PARAMS_FILE, f"{label}: {exc}" if where else str(exc)) from None


def convert(value: Any, kind: Any) -> Any:
    """``value`` as the field type where it is a number written another way: YAML 1.1
    reads ``1e-5`` as a string, and a whole float fills an integer field; anything
    else is left for the field's rule to judge."""
    if value is None or isinstance(value, bool):
        return value
    args = set(typing.get_args(kind)) or {kind}
    if isinstance(value, list | dict) or not _numeric(value):
        return value
    number = float(value)
    if float in args:
        return number
    if int in args and math.isfinite(number) and number == int(number):
        return int(number)
    return value


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
