"""Selection-bias statistics against hand-worked cases and their null distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gafcnn.evaluation.bootstrap import bootstrap_indices
from gafcnn.evaluation.selection_bias import (
    deflated_sharpe,
    expected_max_sharpe,
    pbo,
    probabilistic_sharpe,
    reality_check,
)

# ---------------------------------------------------------------- deflated Sharpe


def test_deflated_sharpe_of_the_papers_worked_example():
    """Bailey & Lopez de Prado (2014), section 4: 100 trials whose annualised Sharpe
    ratios have variance 1/2, the best at 2.5 (annualised) over 1250 daily returns
    with skew -3 and kurtosis 10: the expected maximum is 0.1132 per day and the
    DSR 0.9004."""
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    sr = 2.5 / math.sqrt(250)
    assert probabilistic_sharpe(sr, sr0, 1250, -3.0, 10.0) == pytest.approx(0.9004, abs=5e-4)


def test_expected_max_sharpe_grows_with_trials_and_is_zero_for_one():
    assert expected_max_sharpe(1, 1.0) == 0.0
    values = [expected_max_sharpe(n, 1.0) for n in (2, 10, 100, 1000)]
    assert values == sorted(values) and values[-1] > 3.0


def test_deflated_sharpe_from_returns():
    """Normal returns: skew ~0, kurtosis ~3; one trial -> DSR is the PSR against 0,
    i.e. the one-sided p-value of a t-test of the mean, complemented."""
    r = np.random.default_rng(0).normal(0.1, 1.0, 2000)
    one = deflated_sharpe(r, trials=1)
    t = r.mean() / (r.std(ddof=1) / math.sqrt(len(r)))
    assert one.expected_max_sharpe == 0.0
    assert one.dsr == pytest.approx(stats.norm.cdf(t), abs=0.01)
    many = deflated_sharpe(r, trials=1000)  # the same record, picked from 1000 tries
    assert many.dsr < one.dsr
    assert abs(many.skew) < 0.2 and abs(many.kurtosis - 3) < 0.3


# ---------------------------------------------------------------- reality check


def _null_p_values(studentize: bool, sims: int = 300) -> np.ndarray:
    rng = np.random.default_rng(1)
    n, k = 200, 5
    idx = bootstrap_indices(n, 1, 199, seed=2)
    return np.array(
        [reality_check(rng.normal(0, 1, (n, k)), idx, studentize).p_value for _ in range(sims)]
    )


@pytest.mark.parametrize("studentize", [False, True])
def test_reality_check_on_pure_noise_gives_uniform_p_values(studentize):
    """Five skill-less candidates (mean excess exactly 0): the p-value of the best is
    uniform, so 'the best of five looks good' is rejected only 5% of the time at 5%."""
    p = _null_p_values(studentize)
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert 0.02 <= np.mean(p <= 0.05) <= 0.09


def test_the_best_of_many_noise_candidates_looks_significant_alone_but_not_together():
    """Twenty noise candidates: the best one's own bootstrap p-value is small far more
    often than 5%, the reality check's is not."""
    rng = np.random.default_rng(3)
    n, k = 300, 20
    idx = bootstrap_indices(n, 1, 199, seed=4)
    naive, family = [], []
    for _ in range(100):
        x = rng.normal(0, 1, (n, k))
        rc = reality_check(x, idx)
        col = x[:, rc.best]
        naive.append((1 + np.sum(col[idx].mean(axis=1) <= 0)) / 200)
        family.append(rc.p_value)
    assert np.mean(np.array(naive) <= 0.05) > 0.3
    assert np.mean(np.array(family) <= 0.05) < 0.12


def test_reality_check_finds_one_real_edge_among_noise():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (1000, 10))
    x[:, 7] += 0.25
    rc = reality_check(x, bootstrap_indices(1000, 5, 499, seed=6))
    assert rc.best == 7 and rc.p_value < 0.01
    assert rc.best_mean == pytest.approx(x[:, 7].mean())


def test_adjusted_p_values_hold_the_family_wise_error():
    """Each candidate's adjusted p-value: the best one's is the family's p-value; a
    real edge gets a small one, noise candidates large ones, in the order of their
    statistics; under the null, any candidate below 5% is rare (family-wise)."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, (1000, 10))
    x[:, 3] += 0.3
    idx = bootstrap_indices(1000, 5, 499, seed=12)
    rc = reality_check(x, idx, studentize=True)
    assert rc.adjusted[rc.best] == rc.p_value and rc.best == 3 and rc.p_value < 0.01
    others = np.delete(rc.adjusted, 3)
    assert others.min() > 0.05
    order = np.argsort(x.mean(axis=0) / x.std(axis=0))
    assert np.all(np.diff(rc.adjusted[order]) <= 1e-12)
    null = bootstrap_indices(300, 1, 199, seed=13)
    any_low = [
        (reality_check(rng.normal(0, 1, (300, 20)), null, True).adjusted <= 0.05).any()
        for _ in range(60)
    ]
    assert np.mean(any_low) < 0.15


def test_the_policy_family_test_finds_the_confident_edge_and_only_it():
    """Two models over ten thresholds: one whose confident calls are right, one noise.
    The skilled model's confident thresholds get small family-wise p-values; every
    noise (model, theta) and the skilled model's always-in policy, which pays costs on
    its unconfident calls, do not."""
    from gafcnn.evaluation.policy import family_test

    rng = np.random.default_rng(21)
    n, horizon = 4000, 5
    minutes = np.arange(n) * 2
    fwd = rng.normal(0, 0.002, n)  # |move| 16 bps on average, a round trip costs 10
    confident = rng.random(n) < 0.15
    skilled = np.where(confident, 0.5 + 0.2 * np.sign(fwd), 0.5 + rng.normal(0, 0.01, n))
    noise = 0.5 + rng.normal(0, 0.1, n)
    thresholds = [0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2]
    idx = bootstrap_indices(n, 33, 499, seed=22)
    test = family_test(minutes, {"skilled": skilled, "noise": noise, "again": noise}, fwd,
                       horizon, 5.0, float(minutes[-1] + horizon), thresholds, idx)  # fmt: skip
    assert test["candidates"] == 20  # "again" repeats "noise": not a new try
    assert test["best"]["model"] == "skilled" and test["p_value"] < 0.01
    assert test["adjusted"]["skilled"]["0.15"] < 0.01
    assert test["adjusted"]["skilled"]["0"] > 0.5
    assert min(test["adjusted"]["noise"].values()) > 0.05


@pytest.mark.parametrize(
    ("edge", "band"), [(0.0, (0.5, 1.0)), (0.05, (0.05, 0.5)), (0.25, (0.0, 0.01))]
)
def test_reality_check_agrees_with_arch(edge, band):
    """White's Reality Check, the project's and ``arch.bootstrap.SPA``'s (its ``upper``
    p-value: every candidate recentred, un-studentized), on the same fixed data with
    the same circular block length and independent resamples: no edge, a modest
    edge (p between 0.05 and 0.5) and a clear one agree within bootstrap noise
    (2,000 resamples each: sd of a difference about 0.013 at p = 0.2)."""
    from arch.bootstrap import SPA

    rng = np.random.default_rng(31)
    n, k = 800, 6
    x = rng.normal(0, 1, (n, k)) * np.linspace(0.8, 1.2, k)
    x[:, 2] += edge
    ours = reality_check(x, bootstrap_indices(n, 8, 2000, seed=32)).p_value
    spa = SPA(np.zeros(n), -x, block_size=8, reps=2000, bootstrap="cbb", studentize=False,
              seed=33)  # fmt: skip
    spa.compute()
    theirs = float(spa.pvalues["upper"])
    assert abs(ours - theirs) <= 0.04, (ours, theirs)
    assert band[0] <= min(ours, theirs) and max(ours, theirs) <= band[1]


def test_the_optimal_block_length_follows_the_dependence():
    """Politis-White via arch: about 1 for independent noise, long for a persistent
    AR(1); the block rule takes the largest over the columns and reports both."""
    from gafcnn.evaluation.bootstrap import choose_block, optimal_block

    rng = np.random.default_rng(5)
    noise = rng.normal(size=3000)
    ar = np.zeros(3000)
    for t in range(1, 3000):
        ar[t] = 0.9 * ar[t - 1] + rng.normal()
    assert optimal_block(noise) <= 3 and optimal_block(ar) >= 15
    both = np.column_stack([noise, ar, np.ones(3000)])  # a constant column is ignored
    assert optimal_block(both) == optimal_block(ar)
    chosen = choose_block("optimal", 33, both)
    assert chosen == {"rule": "optimal", "block_samples": optimal_block(ar),
                      "window_samples": 33, "optimal_samples": optimal_block(ar)}  # fmt: skip
    assert choose_block("window", 33, both)["block_samples"] == 33
    with pytest.raises(ValueError, match="block rule"):
        choose_block("auto", 33, both)


def test_spa_is_not_diluted_by_hopeless_candidates():
    """One modest edge; adding forty clearly bad candidates leaves SPA's p-value where
    it was (they are not recentred), and it stays at most the Reality Check's."""
    rng = np.random.default_rng(7)
    n = 500
    edge = rng.normal(0.12, 1, (n, 1))
    bad = rng.normal(-0.5, 1, (n, 40))
    idx = bootstrap_indices(n, 1, 999, seed=8)
    alone = reality_check(edge, idx, studentize=True).p_value
    crowd = reality_check(np.hstack([edge, bad]), idx, studentize=True).p_value
    assert crowd == pytest.approx(alone, abs=0.01)
    assert crowd <= reality_check(np.hstack([edge, bad]), idx).p_value + 0.01


def test_no_candidate_above_the_benchmark_gives_p_one():
    x = -np.abs(np.random.default_rng(9).normal(0, 1, (100, 3)))
    assert reality_check(x, bootstrap_indices(100, 1, 99, seed=0)).p_value == 1.0


# ---------------------------------------------------------------- PBO


def test_pbo_of_a_hand_worked_case():
    """Two trials that swap places between the halves: whichever wins in sample
    loses out of sample -> PBO 1, each logit log((1/3)/(2/3)) = -log 2."""
    m = np.array([[1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, 1.0]])
    r = pbo(m, partitions=2)
    assert r.splits == 2 and r.pbo == 1.0
    np.testing.assert_allclose(r.logits, [-math.log(2)] * 2)


def test_pbo_is_zero_when_one_trial_dominates_everywhere():
    rng = np.random.default_rng(10)
    m = rng.normal(0, 0.1, (160, 12))
    m[:, 4] += 1.0
    r = pbo(m, partitions=8)
    assert r.splits == math.comb(8, 4) and r.pbo == 0.0
    np.testing.assert_allclose(r.logits, math.log(12 / 1))  # rank 12 of 12: w = 12/13


def test_pbo_of_pure_noise_is_about_one_half():
    rng = np.random.default_rng(11)
    values = [pbo(rng.normal(0, 1, (240, 20)), partitions=8).pbo for _ in range(30)]
    assert 0.35 <= np.mean(values) <= 0.65


@pytest.mark.parametrize("partitions", [1, 3, 0, 500])
def test_pbo_refuses_bad_partitions(partitions):
    with pytest.raises(ValueError, match="partitions"):
        pbo(np.zeros((100, 3)), partitions=partitions)
