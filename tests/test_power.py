"""Power stated: the smallest edge a test detects, from the block bootstrap's errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gafcnn.evaluation.bootstrap import bootstrap, bootstrap_indices
from gafcnn.evaluation.power import days_to_detect, detectable_edge, power_table


def test_the_detectable_edge_is_2_8_standard_errors_and_days_scale_with_its_square():
    assert detectable_edge(1.0) == pytest.approx(1.959964 + 0.841621, abs=1e-6)
    se, days = 0.01, 10.0  # detects 2.8 points in 10 days
    assert days_to_detect(detectable_edge(se), se, days) == pytest.approx(days)
    assert days_to_detect(0.01, se, days) == pytest.approx(days * 2.8016**2, rel=1e-4)
    assert math.isnan(days_to_detect(0.0, se, days))


def test_the_bootstrap_error_of_coin_flips_is_the_binomial_one():
    """On independent coin flips the block bootstrap's accuracy error is about
    sqrt(1/4n): 4,000 decisions detect an edge of about 2.2 points, not less."""
    rng = np.random.default_rng(3)
    n = 4000
    y, pred = rng.integers(0, 2, n), rng.integers(0, 2, n)
    b = bootstrap(y, pred, bootstrap_indices(n, 10, 1000, seed=1))
    assert b.accuracy_se == pytest.approx(0.5 / math.sqrt(n), rel=0.12)
    assert detectable_edge(b.accuracy_se) == pytest.approx(0.0221, rel=0.12)


def test_the_power_table_leaves_out_the_oracle_and_reads_each_policy():
    table = {"a": {"accuracy_se": 0.01}, "oracle": {"accuracy_se": 0.0}}
    policy = {"a": {"mean_net_return_se": 0.5e-4}}
    out = power_table(table, policy, 5.0, "oracle")
    assert set(out["models"]) == {"a"} and out["test_days"] == 5.0
    row = out["models"]["a"]
    assert row["net_se_bps"] == pytest.approx(0.5)
    assert row["days_for_1bp_net"] == pytest.approx(5.0 * (2.8016 * 0.5) ** 2, rel=1e-4)


def test_a_policy_without_test_trades_has_no_power_figure():
    """Its standard error is NaN in the run and None once read back from the metrics
    JSON (a universe reads each market's evaluation): no figure, no error, either way."""
    table = {"a": {"accuracy_se": 0.01}, "b": {"accuracy_se": 0.01}}
    policy = {"a": {"mean_net_return_se": None}, "b": {"mean_net_return_se": float("nan")}}
    rows = power_table(table, policy, 5.0, "oracle")["models"]
    for m in ("a", "b"):
        assert math.isnan(rows[m]["detectable_net_bps"]) and math.isnan(rows[m]["days_for_1bp_net"])
