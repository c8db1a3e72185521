"""What the test could have seen: the smallest edge it detects at 80% power and a 5%
two-sided level, from the block-bootstrap standard error of each judged figure, and
the days of test a given edge would need (the error shrinks as one over the square
root of the test's length).

For a figure estimated with standard error ``se``, the detectable edge is
``(z(1 - alpha/2) + z(power)) * se`` (2.80 x se at the defaults). A test of ``days``
days detects ``edge`` after ``days * (detectable / edge)^2`` days.
"""

from __future__ import annotations

import math

from scipy.stats import norm

ALPHA, POWER = 0.05, 0.8


def detectable_edge(se: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true edge over the null a test with standard error ``se`` detects."""
    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * se)


def days_to_detect(edge: float, se: float, days: float, alpha: float = ALPHA,
                   power: float = POWER) -> float:  # fmt: skip
    """Days of test needed to detect ``edge``, given ``se`` over ``days`` days."""
    if not (edge > 0 and math.isfinite(se)):
        return math.nan
    return float(days * (detectable_edge(se, alpha, power) / edge) ** 2)


def power_table(table: dict, policy: dict | None, days: float, exclude: str) -> dict:
    """Per model (but ``exclude``, the oracle): the detectable accuracy edge over the
    majority rate and days to detect +1 point; with its policy, the detectable net
    return per trade (bps) and days to detect +1 bp. Standard errors are the block
    bootstrap's."""
    rows = {}
    for m, r in table.items():
        if m == exclude:
            continue
        se = r["accuracy_se"]
        row = {"accuracy_se": se, "detectable_accuracy_edge": detectable_edge(se),
               "days_for_1pt_accuracy": days_to_detect(0.01, se, days)}  # fmt: skip
        if policy is not None and m in policy:
            se_net = policy[m]["mean_net_return_se"]  # None once read back: no test trade
            net_se = math.nan if se_net is None else se_net * 1e4  # bps
            row |= {"net_se_bps": net_se, "detectable_net_bps": detectable_edge(net_se),
                    "days_for_1bp_net": days_to_detect(1.0, net_se, days)}  # fmt: skip
        rows[m] = row
    return {"alpha": ALPHA, "power": POWER, "test_days": days, "models": rows}
