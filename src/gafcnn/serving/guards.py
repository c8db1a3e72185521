"""The live guards: a drift statistic of what the models read against what they were
trained on, and a breaker on the live trades' net return against the backtest's.

Drift is the population stability index (PSI) of a live window of one input over the
reference's deciles: ``sum((live - ref) * ln(live / ref))`` over the bins, each share
floored at ``FLOOR`` so an empty bin does not make it infinite. The usual reading is
< 0.1 stable, 0.1-0.25 moved, > 0.25 a different population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gafcnn.trading.backtest import trade_figures

FLOOR = 1e-4  # the smallest share a bin counts with
BAR_INPUTS = ("log_return", "range", "log_volume")  # what every model reads, bar by bar


def bar_inputs(bars: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per bar: log(close / previous close) (NaN at the first), log(high / low) and
    log(1 + volume). A z-score with fixed constants would leave the PSI unchanged, so
    the volume is compared as its log."""
    close = np.asarray(bars["close"], dtype=np.float64)
    log_return = np.r_[np.nan, np.diff(np.log(close))] if len(close) else close.copy()
    return {
        "log_return": log_return,
        "range": np.log(np.asarray(bars["high"], np.float64) / np.asarray(bars["low"], np.float64)),
        "log_volume": np.log1p(np.asarray(bars["volume"], dtype=np.float64)),
    }


def training_reference(bars: dict[str, np.ndarray], train: np.ndarray,
                       p_up: np.ndarray | None) -> dict:  # fmt: skip
    """The bundle's drift reference: each bar input over the ``train`` bar positions,
    and the deployed model's P(up) (on val) when one is deployed."""
    inputs = {name: reference(x[train]) for name, x in bar_inputs(bars).items()}
    return {"inputs": inputs, "p_up": None if p_up is None else reference(p_up)}


def breaker_floor(test: dict | None) -> float | None:
    """The breaker's floor: the lower bound of the deployed policy's net return per
    trade on test (``test``: a bundle's test metrics; None when nothing is deployed)."""
    return None if test is None else test["policy"]["mean_net_return_ci"][0]


def drift(ref: dict, bars: dict[str, np.ndarray], p_up: np.ndarray) -> dict[str, float]:
    """The PSI of each bar input over ``bars`` (the live window) and of the P(up)
    served there, against ``ref`` (:func:`training_reference`)."""
    live = bar_inputs(bars)
    out = {name: psi(r, live[name]) for name, r in ref["inputs"].items()}
    if ref.get("p_up") is not None:
        out["p_up"] = psi(ref["p_up"], p_up)
    return out


def drift_reason(figures: dict[str, float], threshold: float) -> str | None:
    """Why ``figures`` (:func:`drift`'s PSIs) count as drift: the worst finite one above
    ``threshold`` (0: the gate is off), else None."""
    worst = max(((v, k) for k, v in figures.items() if math.isfinite(v)), default=None)
    if threshold > 0 and worst is not None and worst[0] > threshold:
        return f"drift: PSI of {worst[1]} {worst[0]:.3f} above {threshold:g}"
    return None


def reference(values: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """What a live window is compared with: the inner quantile edges of ``values``
    (finite ones) and each bin's share of them, as plain lists for the bundle's JSON."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) < bins:
        raise ValueError(f"a reference needs at least {bins} finite values, got {len(x)}")
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    return {"edges": edges.tolist(), "shares": shares(x, edges).tolist()}


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each bin's share of the finite ``values`` (bins split at ``edges``)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
    return counts / max(len(x), 1)


def psi(ref: dict[str, list[float]], values: np.ndarray) -> float:
    """The population stability index of ``values`` against ``ref`` (:func:`reference`);
    NaN when no value is finite (nothing to judge yet, which is not drift)."""
    if not np.isfinite(np.asarray(values, dtype=np.float64)).any():
        return math.nan
    expected = np.maximum(np.asarray(ref["shares"], dtype=np.float64), FLOOR)
    actual = np.maximum(shares(values, np.asarray(ref["edges"])), FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@dataclass
class Scorecard:
    """One symbol's live trades after costs, and the breaker on them: after at least
    ``min_trades``, a mean net return per trade below ``floor`` (the backtest's lower
    bound) trips it, and it stays tripped until :meth:`reset` (a new champion)."""

    floor: float  # the backtest's lower bound on net return per trade
    min_trades: int
    net: list[float] = field(default_factory=list)
    gross: list[float] = field(default_factory=list)
    tripped: str | None = None  # the reason, once tripped

    def add(self, net_return: float, gross_return: float) -> None:
        """One settled trade's returns; trips the breaker when the rule says so."""
        if not (math.isfinite(net_return) and math.isfinite(gross_return)):
            raise ValueError(f"a settled trade's returns must be finite, got {net_return}, "
                             f"{gross_return}")  # fmt: skip
        self.net.append(float(net_return))
        self.gross.append(float(gross_return))
        if self.tripped is None and len(self.net) >= self.min_trades:
            mean = self.mean_net
            if mean < self.floor:
                self.tripped = (f"live net {mean * 1e4:+.2f} bps per trade over {len(self.net)} "
                                f"trades is below the backtest's lower bound "
                                f"{self.floor * 1e4:+.2f} bps")  # fmt: skip

    @property
    def mean_net(self) -> float:
        return trade_figures(np.asarray(self.net), np.asarray(self.gross))["mean_net_return"]

    def figures(self) -> dict:
        """What /health and /metrics show: trades, win rate, mean net (bps), the floor
        (the backtest's :func:`~gafcnn.trading.backtest.trade_figures`)."""
        n = len(self.net)
        f = trade_figures(np.asarray(self.net), np.asarray(self.gross))
        return {"trades": n, "win_rate": f["win_rate"] if n else None,
                "mean_net_bps": f["mean_net_return"] * 1e4 if n else None,
                "floor_bps": self.floor * 1e4, "tripped": self.tripped}  # fmt: skip

    def reset(self) -> None:
        """A new champion: its live record starts empty and the breaker is closed."""
        self.net.clear()
        self.gross.clear()
        self.tripped = None
