"""Combinatorial purged cross-validation (CPCV; López de Prado 2018, ch. 12): the
geometry of its splits and the backtest paths they reassemble into.

The history's ``n`` bars are cut into ``groups`` contiguous groups of decision times.
Each of the C(groups, test_groups) splits tests on ``test_groups`` of them. A test
group ``[a, b)`` of decision positions is scored on the bars ``[a - W + 1, b + h)``
(``W`` the longest window, ``h`` the label horizon): every bar its samples touch.
Training and validation samples must lie wholly inside their own ranges, which are
disjoint from every test range and start at least ``embargo`` bars after one ends,
so no training sample's window or label touches a test bar (the purge) and none
starts right after a test stretch (the embargo). The validation group is the latest
group not tested; the other groups, minus the purge and embargo, are trained on.

Each group is tested in C(groups - 1, test_groups - 1) splits; the j-th of them (in
split order) gives the group's predictions to path j, so there are that many paths,
each covering every decision time once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from gafcnn.evaluation.metrics import accuracy

Range = tuple[int, int]  # half-open [start, stop) of bar positions


@dataclass(frozen=True)
class CpcvSplit:
    index: int
    test_groups: tuple[int, ...]
    val_group: int
    train: tuple[Range, ...]  # bar ranges trained on
    val: tuple[Range, ...]  # bar ranges validated on
    test: tuple[Range, ...]  # bar ranges tested on (windows and labels included)
    decisions: tuple[Range, ...]  # decision positions scored: the test groups

    def to_dict(self) -> dict:
        return asdict(self)


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


def make_splits(
    n_bars: int, groups: int, test_groups: int, window: int, horizon: int, embargo: int
) -> list[CpcvSplit]:
    """Every CPCV split over ``n_bars`` bars (``window`` the longest window); a
    ValueError names what is too short."""
    if not 1 <= test_groups < groups - 1:
        raise ValueError(
            f"test_groups must be at least 1 and leave two groups (train and val), got "
            f"{test_groups} of {groups}"
        )
    if embargo < 0:
        raise ValueError(f"embargo must be >= 0 bars, got {embargo}")
    edges = group_edges(n_bars, groups)
    need = window + horizon
    if np.diff(edges).min() < 2 * need + embargo:
        raise ValueError(
            f"{groups} groups of {n_bars} bars leave {int(np.diff(edges).min())} bars per group; "
            f"each needs at least 2 x (max window + horizon) + embargo = {2 * need + embargo}"
        )
    out = []
    for i, tested in enumerate(combinations(range(groups), test_groups)):
        decisions = _merge([(int(edges[g]), int(edges[g + 1])) for g in tested])
        test = [(max(0, a - window + 1), min(n_bars, b + horizon)) for a, b in decisions]
        blocked = [(a, min(n_bars, b + embargo)) for a, b in test]
        v = max(g for g in range(groups) if g not in tested)
        val = _minus([(int(edges[v]), int(edges[v + 1]))], blocked)
        train = _minus(_minus([(0, n_bars)], blocked), [(int(edges[v]), int(edges[v + 1]))])
        out.append(CpcvSplit(i, tuple(tested), v, tuple(train), tuple(val), tuple(test),
                             tuple(decisions)))  # fmt: skip
    return out


def n_paths(groups: int, test_groups: int) -> int:
    """Backtest paths: each group is tested in this many splits."""
    return comb(groups - 1, test_groups - 1)


def path_splits(splits: list[CpcvSplit], groups: int) -> list[dict[int, int]]:
    """Per path, the split whose predictions each group takes (``{group: split}``): the
    j-th split, in split order, that tests a group feeds path j."""
    testers: dict[int, list[int]] = {g: [] for g in range(groups)}
    for s in splits:
        for g in s.test_groups:
            testers[g].append(s.index)
    k = len(testers[0])
    if any(len(t) != k for t in testers.values()):
        raise ValueError("every group must be tested equally often")
    return [{g: testers[g][j] for g in range(groups)} for j in range(k)]


def inside(ranges: tuple[Range, ...] | list[Range], start: int, stop: int) -> bool:
    """Whether bars ``[start, stop)`` lie wholly inside one of ``ranges``."""
    return any(a <= start and stop <= b for a, b in ranges)


def leaks(
    s: CpcvSplit, seen: dict[str, np.ndarray], window: int, horizon: int, embargo: int
) -> list[str]:
    """What is wrong with the decision positions a split's models ``seen`` per segment
    (``train``, ``val``): each sample whose window or label touches a test stretch's
    bars, or starts within ``embargo`` bars after one."""
    out = []
    for seg, t in seen.items():
        t = np.asarray(t)
        for a, b in s.decisions:
            hit = (t + horizon >= a - window + 1) & (t - window + 1 < b + horizon + embargo)
            if hit.any():
                out.append(
                    f"{int(hit.sum())} {seg} samples touch test bars "
                    f"[{a - window + 1}, {b + horizon}) or the {embargo} bars after"
                )
    return out


def _stamp(minutes: np.ndarray, position: int) -> str:
    """The ISO time of bar ``position`` (one minute past the last bar for ``len``)."""
    from gafcnn import clock

    if position >= len(minutes):
        return clock.iso_minute(int(minutes[-1]) + 1)
    return clock.iso_minute(int(minutes[position]))


def split_params(split: dict, s: CpcvSplit, minutes: np.ndarray) -> dict:
    """The ``split`` section (the user's, with ``method: ranges``) that makes the
    single-split pipeline, run on every bar, train, validate and test as ``s`` says."""
    ranges = {
        name: [[_stamp(minutes, a), _stamp(minutes, b)] for a, b in getattr(s, name)]
        for name in ("train", "val", "test")
    }
    return {**split, "method": "ranges", "ranges": ranges}


def path_positions(
    splits: list[CpcvSplit], groups: int, n_bars: int
) -> list[list[tuple[int, int, int]]]:
    """Per path, ``(split, start, stop)``: the decision positions ``[start, stop)`` it
    takes from each split (one entry per group)."""
    edges = group_edges(n_bars, groups)
    return [
        [(i, int(edges[g]), int(edges[g + 1])) for g, i in sorted(path.items())]
        for path in path_splits(splits, groups)
    ]


def path_figures(
    path: pd.DataFrame,
    forward: np.ndarray,
    minutes: np.ndarray,
    horizon: int,
    cost_bps: float,
    partitions: int,
    oracle: str,
) -> dict:
    """One path's figures: per model its accuracy and always-in backtest (trades, mean
    net return after costs), and PBO (CSCV over ``partitions`` time slices of the
    path) over every model but the ``oracle``."""
    from gafcnn import clock
    from gafcnn.data.bars import positions
    from gafcnn.evaluation.policy import period
    from gafcnn.evaluation.selection_bias import pbo, period_returns
    from gafcnn.models.predictions import of_model
    from gafcnn.trading.backtest import backtest

    out: dict = {"accuracy": {}, "mean_net_return": {}, "trades": {}}
    trades = {}
    for model in sorted(path["model"].unique()):
        g = of_model(path, model)
        ts = clock.ms_of(g["timestamp"])
        at = clock.minutes_of_ms(ts)
        p, y = g["p_up"].to_numpy(), g["label"].to_numpy()
        b = backtest(at, p, forward[positions(minutes, ts)], horizon, cost_bps,
                     period(at, horizon))  # fmt: skip
        out["accuracy"][model] = accuracy(y, p)
        out["mean_net_return"][model] = b.mean_net_return
        out["trades"][model] = b.trades
        if model != oracle:
            trades[model] = (b.trade_times, b.net)
    span = clock.minutes_of(path["timestamp"])
    perf = period_returns(trades, float(span.min()), float(span.max() + horizon), partitions)
    out["pbo"] = pbo(perf, partitions).pbo if len(trades) > 1 else None
    out["samples"] = int(len(path) // max(path["model"].nunique(), 1))
    return out


def summary(per_path: list[dict], key: str) -> dict[str, dict[str, float]]:
    """Per model, the mean, standard deviation, minimum and maximum of ``key`` over
    the paths."""
    models = sorted(per_path[0][key])
    out = {}
    for m in models:
        v = np.array([p[key][m] for p in per_path], dtype=np.float64)
        out[m] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                  "min": float(v.min()), "max": float(v.max())}  # fmt: skip
    return out
