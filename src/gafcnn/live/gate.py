"""Champion against challenger: the promotion rule.

Skill is not re-proved each week. A challenger is promoted only when the decision
gate deploys a model on the configuration's pooled out-of-sample record (every
retrain's test so far, :mod:`gafcnn.live.evidence`), the newest stretch's inputs have
not drifted from what it was trained on (the serving drift gate's PSI and
threshold), and its net return per trade on the newest stretch that neither model
has fitted (its test segment, which the older champion never saw either) is not
below the champion's on the same stretch by more than the noise (twice the block
bootstrap standard error of the challenger's figure there). A champion that trades
nothing there earns 0 (flat), as does an expired one. Its volatility forecaster's
QLIKE on that stretch may not be above the champion's by more than the noise (twice
the block bootstrap standard error of their paired difference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str
    figures: dict = field(default_factory=dict)


def judge_challenger(
    deploys: bool, challenger_net: float, champion_net: float | None, noise: float,
    drifted: str | None = None, vol: dict | None = None,
) -> Verdict:  # fmt: skip
    """The verdict on a challenger: ``deploys`` (the decision gate's on the pooled
    record), its and the champion's net return per trade on the same unseen stretch
    (None: no champion), ``noise`` in the same units (>= 0), ``drifted``, what
    drifted on the newest stretch (None: nothing), and ``vol``, both volatility
    forecasters' QLIKE on that stretch and the noise of their difference (None: no
    comparison)."""
    if not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise}")
    champion_bps = None if champion_net is None else _bps(champion_net)
    figures = {"challenger_net_bps": _bps(challenger_net), "noise_bps": _bps(noise),
               "champion_net_bps": champion_bps}  # fmt: skip
    if not deploys:
        return Verdict(False, "the decision gate deploys nothing on the record", figures)
    if drifted is not None:
        return Verdict(False, f"the newest stretch drifted from its training: {drifted}", figures)
    if champion_net is None:
        return Verdict(True, "no champion: the first version the gate deploys", figures)
    if vol is not None:
        figures["volatility"] = vol
        worse = vol["challenger_qlike"] - vol["champion_qlike"]
        if worse > vol["noise"]:
            return Verdict(False, f"its volatility forecast is worse than the champion's: "
                           f"QLIKE {vol['challenger_qlike']:.4f} against "
                           f"{vol['champion_qlike']:.4f}, beyond the noise "
                           f"({vol['noise']:.4f})", figures)  # fmt: skip
    if not math.isfinite(challenger_net):
        return Verdict(False, "no trade of the challenger on the shared stretch", figures)
    margin = challenger_net - champion_net
    figures["margin_bps"] = _bps(margin)
    if margin < -noise:
        return Verdict(False, f"worse than the champion by {-margin * 1e4:.2f} bps per trade, "
                       f"beyond the noise ({noise * 1e4:.2f} bps)", figures)  # fmt: skip
    return Verdict(True, f"not worse than the champion beyond the noise (margin "
                   f"{margin * 1e4:+.2f} bps, noise {noise * 1e4:.2f} bps)", figures)  # fmt: skip


def _bps(x: float) -> float | None:
    return x * 1e4 if math.isfinite(x) else None
