"""Every resampling scheme behind one protocol, like scikit-learn's ``split()``.

A splitter's :meth:`~Splitter.split` takes the bars' epoch minutes and yields
:class:`Fold` s: the bar ranges trained, validated and tested on (a test range holds its
samples' windows and labels) and the decision positions each fold scores. Its
:meth:`~Splitter.paths` says how the folds' scored decisions reassemble into paths, each
scoring every decision time it covers once. One runner
(:mod:`gafcnn.evaluation.resample_runner`) fits the registry's pipeline per fold, one
leak check (:func:`leaks`) reads the samples each fold's models saw, and every scheme
writes one metrics shape (``splits``, ``paths``).

- :class:`SingleSplit`: the pipeline's own train / val / test (``split`` section), one
  fold and one path.
- :class:`WalkForward`: test blocks laid end to end over the later part of the
  history (from ``round(test_from * n)``), each after a test margin of
  ``max(window) - 1`` bars, a purge, val, a purge and train; ``expanding`` trains on
  everything before, ``rolling`` keeps the first fold's train length. One path.
- :class:`Rolling`: a retrain's window (``retrain`` section): at each retrain minute
  (the first once a whole window lies behind it, then every ``every`` days), train,
  val and test are the ``train_days``, ``val_days`` and ``test_days`` before it, in
  that order; what `gafcnn retrain` fits and `gafcnn replay` schedules. One path.
- :class:`Cpcv`: combinatorial purged cross-validation (Lopez de Prado 2018, ch. 12):
  ``groups`` contiguous groups; each of the C(groups, test_groups) folds tests
  ``test_groups`` of them, validates on the latest group not tested and trains on the
  rest, minus the purge and an ``embargo`` after each test stretch. Each group is
  tested in C(groups - 1, test_groups - 1) folds; the j-th of them feeds path j.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from math import comb
from typing import Protocol

import numpy as np

from gafcnn import clock
from gafcnn.data.split import make_split, required_purge, split_purge
from gafcnn.params import Params, RetrainParams, SplitSpec, WalkForwardSpec

Range = tuple[int, int]  # half-open [start, stop) of bar positions
Piece = tuple[int, int, int]  # (fold, start, stop): decision positions a path takes from a fold


@dataclass(frozen=True)
class Fold:
    index: int
    train: tuple[Range, ...]  # bar ranges trained on
    val: tuple[Range, ...]  # bar ranges validated on
    test: tuple[Range, ...]  # bar ranges tested on (windows and labels included)
    decisions: tuple[Range, ...]  # decision positions scored
    groups: tuple[int, ...] = ()  # cpcv: the groups tested

    def to_dict(self, minutes: np.ndarray | None = None) -> dict:
        """The fold as JSON; with ``minutes``, each range's first and last bar's time."""
        d = asdict(self)
        if minutes is not None:
            for name in ("train", "val", "test", "decisions"):
                d[f"{name}_times"] = [[_stamp(minutes, a), _stamp(minutes, b - 1)]
                                      for a, b in getattr(self, name)]  # fmt: skip
        return d


class Splitter(Protocol):
    scheme: str

    def split(self, minutes: np.ndarray) -> list[Fold]:
        """The folds over bars at these epoch minutes; ValueError names what is too short."""
        ...

    def paths(self, folds: list[Fold]) -> list[list[Piece]]:
        """Per path, the decision positions it takes from each fold."""
        ...


def _one_path(folds: list[Fold]) -> list[list[Piece]]:
    return [[(f.index, a, b) for f in folds for a, b in f.decisions]] if folds else []


@dataclass(frozen=True)
class SingleSplit:
    """The pipeline's own split (``split`` section): one fold, one path."""

    spec: SplitSpec
    windows: tuple[int, ...]
    horizon: int
    scheme: str = "single"

    def split(self, minutes: np.ndarray) -> list[Fold]:
        s = make_split(minutes, self.spec, list(self.windows), self.horizon)
        seg = {name: tuple((x.start, x.stop) for x in s.segments if x.name == name)
               for name in ("train", "val", "test")}  # fmt: skip
        margin = max(self.windows) - 1
        decisions = tuple((a + margin, b) for a, b in seg["test"])
        return [Fold(0, seg["train"], seg["val"], seg["test"], decisions)]

    def paths(self, folds: list[Fold]) -> list[list[Piece]]:
        return _one_path(folds)


@dataclass(frozen=True)
class WalkForward:
    """Walk-forward folds (``walkforward.folds`` of them; none when 0)."""

    spec: WalkForwardSpec
    windows: tuple[int, ...]
    horizon: int
    purge: int = 0  # bars between segments, at least max(window) + horizon

    @property
    def scheme(self) -> str:
        return self.spec.scheme

    def split(self, minutes: np.ndarray) -> list[Fold]:
        n, spec, windows = len(minutes), self.spec, list(self.windows)
        need = required_purge(windows, self.horizon)  # a segment must hold one sample
        purge, margin = max(self.purge, need), max(windows) - 1
        first_test = int(round(spec.test_from * n))
        edges = np.linspace(first_test, n, spec.folds + 1).round().astype(int)
        val_len = int(round(spec.val * first_test))
        folds: list[Fold] = []
        train_len = None
        for k in range(spec.folds):
            start, stop = int(edges[k]), int(edges[k + 1])
            val_stop = start - margin - purge
            val_start = val_stop - val_len
            train_stop = val_start - purge
            train_len = train_stop if train_len is None else train_len
            first = 0 if spec.scheme == "expanding" else max(0, train_stop - train_len)
            sizes = {"train": train_stop - first, "val": val_len, "test": stop - start}
            short = {k_: v for k_, v in sizes.items() if v < need}
            if short:
                raise ValueError(
                    f"fold {k}: {', '.join(f'{s} has {max(v, 0)} bars' for s, v in short.items())}"
                    f"; each needs at least max(window) + horizon = {need} "
                    f"({n} bars, {spec.folds} folds): use fewer folds or more history"
                )
            test = (start - margin, min(n, stop + self.horizon))
            folds.append(Fold(k, ((first, train_stop),), ((val_start, val_stop),), (test,),
                              ((start, stop),)))  # fmt: skip
        return folds

    def paths(self, folds: list[Fold]) -> list[list[Piece]]:
        return _one_path(folds)


DAY = 1440  # minutes


@dataclass(frozen=True)
class Rolling:
    """Rolling retrain windows ending at each retrain minute (``windows`` and
    ``horizon`` place the decisions a test scores)."""

    spec: RetrainParams
    windows: tuple[int, ...]
    horizon: int
    scheme: str = "retrain"

    def ends(self, first: int, last: int) -> list[int]:
        """The retrain minutes of a history from epoch minute ``first`` to ``last``: the
        first once a whole window lies behind it, then every ``every`` days while a bar
        remains to trade."""
        start, step = first + round(self.spec.span_days * DAY), round(self.spec.every * DAY)
        return list(range(start, last + 1, step))

    def bounds(self, end: int) -> tuple[int, int, int, int]:
        """The epoch minutes where train, val and test start, and ``end``."""
        test0 = end - round(self.spec.test_days * DAY)
        val0 = test0 - round(self.spec.val_days * DAY)
        return val0 - round(self.spec.train_days * DAY), val0, test0, end

    def ranges(self, end: int) -> dict[str, list[list[str]]]:
        """The split ranges (``split.method: ranges``) of the retrain at epoch minute
        ``end`` (exclusive), oldest first, each ``[start, stop)`` as ISO timestamps."""
        a, b, c, d = (clock.iso_minute(m) for m in self.bounds(end))
        return {"train": [[a, b]], "val": [[b, c]], "test": [[c, d]]}

    def split(self, minutes: np.ndarray) -> list[Fold]:
        out = []
        for k, end in enumerate(self.ends(int(minutes[0]), int(minutes[-1]))):
            a, b, c, d = (int(x) for x in np.searchsorted(minutes, self.bounds(end)))
            decisions = ((c + max(self.windows) - 1, max(c, d - self.horizon)),)
            out.append(Fold(k, ((a, b),), ((b, c),), ((c, d),), decisions))
        return out

    def paths(self, folds: list[Fold]) -> list[list[Piece]]:
        return _one_path(folds)


def group_edges(n_bars: int, groups: int) -> np.ndarray:
    """``groups + 1`` edges cutting ``range(n_bars)`` into near-equal contiguous groups."""
    return np.linspace(0, n_bars, groups + 1).round().astype(np.int64)


def _merge(ranges: list[Range]) -> list[Range]:
    out: list[Range] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        elif b > a:
            out.append((a, b))
    return out


def _minus(ranges: list[Range], cut: list[Range]) -> list[Range]:
    """``ranges`` with every bar of ``cut`` removed."""
    out = []
    for a, b in ranges:
        pieces = [(a, b)]
        for c, d in cut:
            pieces = [p for x, y in pieces for p in ((x, min(y, c)), (max(x, d), y)) if p[1] > p[0]]
        out += pieces
    return out


@dataclass(frozen=True)
class Cpcv:
    """Combinatorial purged cross-validation folds (``window`` the longest window)."""

    groups: int
    test_groups: int
    window: int
    horizon: int
    embargo: int
    scheme: str = "cpcv"

    def split(self, minutes: np.ndarray) -> list[Fold]:
        n_bars, groups = len(minutes), self.groups
        if not 1 <= self.test_groups < groups - 1:
            raise ValueError(
                f"test_groups must be at least 1 and leave two groups (train and val), got "
                f"{self.test_groups} of {groups}"
            )
        if self.embargo < 0:
            raise ValueError(f"embargo must be >= 0 bars, got {self.embargo}")
        edges = group_edges(n_bars, groups)
        need = self.window + self.horizon
        if np.diff(edges).min() < 2 * need + self.embargo:
            raise ValueError(
                f"{groups} groups of {n_bars} bars leave {int(np.diff(edges).min())} bars per "
                f"group; each needs at least 2 x (max window + horizon) + embargo = "
                f"{2 * need + self.embargo}"
            )
        out = []
        for i, tested in enumerate(combinations(range(groups), self.test_groups)):
            decisions = _merge([(int(edges[g]), int(edges[g + 1])) for g in tested])
            test = [(max(0, a - self.window + 1), min(n_bars, b + self.horizon))
                    for a, b in decisions]  # fmt: skip
            blocked = [(a, min(n_bars, b + self.embargo)) for a, b in test]
            v = max(g for g in range(groups) if g not in tested)
            val_group = [(int(edges[v]), int(edges[v + 1]))]
            val = _minus(val_group, blocked)
            train = _minus(_minus([(0, n_bars)], blocked), val_group)
            out.append(Fold(i, tuple(train), tuple(val), tuple(test), tuple(decisions),
                            tuple(tested)))  # fmt: skip
        return out

    def n_paths(self) -> int:
        """Backtest paths: each group is tested in this many folds."""
        return comb(self.groups - 1, self.test_groups - 1)

    def paths(self, folds: list[Fold]) -> list[list[Piece]]:
        """The j-th fold, in order, that tests a group gives that group to path j."""
        testers: dict[int, list[int]] = {g: [] for g in range(self.groups)}
        for f in folds:
            for g in f.groups:
                testers[g].append(f.index)
        k = len(testers[0])
        if any(len(t) != k for t in testers.values()):
            raise ValueError("every group must be tested equally often")
        n_bars = max(b for f in folds for _, b in f.decisions)
        edges = group_edges(n_bars, self.groups)
        return [[(testers[g][j], int(edges[g]), int(edges[g + 1])) for g in range(self.groups)]
                for j in range(k)]  # fmt: skip


def splitter(params: Params) -> Splitter | None:
    """The splitter ``walkforward`` asks for: CPCV, walk-forward folds, or None (off:
    the decision rests on the pipeline's single split)."""
    spec, windows, horizon = params.walkforward, tuple(params.gaf.windows), params.label.horizon
    if spec.scheme == "cpcv":
        return Cpcv(spec.groups, spec.test_groups, max(windows), horizon, spec.embargo)
    if spec.folds == 0:
        return None
    return WalkForward(spec, windows, horizon, split_purge(params.split, list(windows), horizon))


def _stamp(minutes: np.ndarray, position: int) -> str:
    """The ISO time of bar ``position`` (one minute past the last bar for ``len``)."""
    if position >= len(minutes):
        return clock.iso_minute(int(minutes[-1]) + 1)
    return clock.iso_minute(int(minutes[position]))


def fold_ranges(fold: Fold, minutes: np.ndarray) -> dict:
    """``split.ranges`` (ISO timestamps) that make the single-split pipeline, run on
    every bar, train, validate and test as ``fold`` says."""
    return {
        name: [[_stamp(minutes, a), _stamp(minutes, b)] for a, b in getattr(fold, name)]
        for name in ("train", "val", "test")
    }


def split_params(split: dict, fold: Fold, minutes: np.ndarray) -> dict:
    """The ``split`` section (the user's, with ``method: ranges``) of ``fold``."""
    return {**split, "method": "ranges", "ranges": fold_ranges(fold, minutes)}


def leaks(fold: Fold, seen: dict[str, np.ndarray], window: int, horizon: int,
          embargo: int = 0) -> list[str]:  # fmt: skip
    """What is wrong with the decision positions a fold's models ``seen`` per segment
    (``train``, ``val``): each sample whose window or label touches a test stretch's
    bars, or starts within ``embargo`` bars after one."""
    out = []
    for seg, t in seen.items():
        t = np.asarray(t)
        for a, b in fold.decisions:
            hit = (t + horizon >= a - window + 1) & (t - window + 1 < b + horizon + embargo)
            if hit.any():
                out.append(
                    f"{int(hit.sum())} {seg} samples touch test bars "
                    f"[{a - window + 1}, {b + horizon}) or the {embargo} bars after"
                )
    return out
