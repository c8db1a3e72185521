"""Candlestick-pattern labels and the CULR series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from pipeline import MARKET

from gafcnn.images.encodings import Encoder, window_series
from gafcnn.models.cnn import load_checkpoint
from gafcnn.patterns.labels import (
    PATTERNS,
    balanced_draw,
    pattern_labels,
    pattern_span,
    pattern_windows,
)


def _candles(rows):
    o, h, lo, c = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    return o, h, lo, c


DOWN = [(110 - 2 * i, 111 - 2 * i, 107 - 2 * i, 108 - 2 * i) for i in range(6)]  # falling
UP = [(90 + 2 * i, 93 + 2 * i, 89 + 2 * i, 92 + 2 * i) for i in range(6)]  # rising


@pytest.mark.parametrize(
    ("trend", "last", "expected"),
    [
        (DOWN, [(97.0, 97.5, 93.0, 97.4)], "hammer"),  # long lower shadow after a fall
        (UP, [(101.0, 101.5, 97.0, 101.4)], "hanging_man"),
        (DOWN, [(97.0, 101.0, 96.9, 97.4)], "inverted_hammer"),
        (UP, [(101.0, 105.0, 100.9, 101.4)], "shooting_star"),
        (DOWN, [(98.0, 98.5, 95.5, 96.0), (95.5, 99.5, 95.0, 99.0)], "bullish_engulfing"),
        (UP, [(100.0, 102.5, 99.5, 102.0), (102.5, 103.0, 99.0, 99.5)], "bearish_engulfing"),
        (DOWN, [(99.0, 99.2, 93.8, 94.0), (93.9, 94.2, 93.5, 93.8), (94.0, 98.0, 93.9, 97.5)],
         "morning_star"),
        (UP, [(101.0, 106.2, 100.8, 106.0), (106.1, 106.4, 105.8, 106.2),
              (106.0, 106.1, 102.0, 102.5)], "evening_star"),
        (UP, [(102.0, 103.0, 101.0, 102.5)], "none"),
    ],
)  # fmt: skip
def test_pattern_rules(trend, last, expected):
    y = pattern_labels(*_candles(trend + last))
    assert PATTERNS[y[-1]] == expected


def _random_bars(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    c = 100 + np.cumsum(rng.normal(0, 0.3, n))
    o = np.r_[100, c[:-1]] + rng.normal(0, 0.05, n)
    h = np.maximum(o, c) + rng.uniform(0, 0.3, n)
    lo = np.minimum(o, c) - rng.uniform(0, 0.3, n)
    return o, h, lo, c


@pytest.mark.parametrize("trend_bars", [3, 5, 8])
def test_pattern_label_reads_only_its_span(trend_bars):
    o, h, lo, c = _random_bars(3000)
    base = pattern_labels(o, h, lo, c, trend_bars)
    assert len(set(base.tolist())) == len(PATTERNS)  # every class occurs: the test has teeth
    span = pattern_span(trend_bars)
    for cut in (500, 1200, 2100):
        changed = [a.copy() for a in (o, h, lo, c)]
        for a in changed:
            a[:cut] *= 1.5  # every bar before `cut` changes
        again = pattern_labels(*changed, trend_bars)
        first_free = cut + span - 1  # the first label whose span starts at `cut`
        np.testing.assert_array_equal(again[first_free:], base[first_free:])


def test_pattern_windows_need_the_whole_span():
    o, h, lo, c = _random_bars(200)
    bars = {"open": o, "high": h, "low": lo, "close": c}
    pos, y = pattern_windows(bars, None, 9, 5)
    assert pos[0] == 8 and len(pos) == 192
    np.testing.assert_array_equal(y, pattern_labels(o, h, lo, c, 5)[pos])
    minutes = np.arange(200)
    minutes[100:] += 1  # a missing minute: no window may straddle it
    pos, _ = pattern_windows(bars, minutes, 9, 5)
    assert not ((pos >= 100) & (pos < 108)).any() and 108 in pos
    with pytest.raises(ValueError, match="shorter than the 9 bars"):
        pattern_windows(bars, None, 8, 5)


def test_balanced_draw():
    rng = np.random.default_rng(0)
    y = np.array([0] * 50 + [1] * 5 + [2] * 20)
    idx = balanced_draw(y, 10, 3, rng)
    assert np.bincount(y[idx], minlength=3).tolist() == [10, 5, 10]
    assert len(set(idx.tolist())) == len(idx)
    idx = balanced_draw(y, 10, 3, rng, repeat=True)
    assert np.bincount(y[idx], minlength=3).tolist() == [10, 10, 10]
    assert set(idx[y[idx] == 1].tolist()) == set(range(50, 55))
    idx = balanced_draw(y, np.array([3, 0, 7]), 3, rng)  # a count per class
    assert np.bincount(y[idx], minlength=3).tolist() == [3, 0, 7]


def test_range_relative_culr_series():
    bars = {"open": np.array([10.0, 11.0]), "high": np.array([12.0, 12.0]),
            "low": np.array([9.0, 10.0]), "close": np.array([11.0, 10.5])}  # fmt: skip
    needed = {"close_rel", "upper_rel", "lower_rel", "body_rel", "upper"}
    w = window_series(bars, np.array([1]), 2, needed)
    np.testing.assert_allclose(w["close_rel"][0], [2 / 3, 1.5 / 3])  # (close - 9) / 3
    np.testing.assert_allclose(w["upper_rel"][0], [1 / 3, 1 / 3])
    np.testing.assert_allclose(w["lower_rel"][0], [1 / 3, 0.5 / 3])
    np.testing.assert_allclose(w["body_rel"][0], [1 / 3, -0.5 / 3])
    np.testing.assert_allclose(w["upper"][0], [1.0, 1.0])
    out = Encoder(["gadf:body_rel", "gasf:upper_rel"], 2, threads=1).encode(w)
    x = w["body_rel"][0]
    s = np.sqrt(1 - x**2)
    np.testing.assert_allclose(out[0, 0], np.outer(s, x) - np.outer(x, s), atol=1e-6)


def check_patterns_outputs(root: Path, per_class: int, real_per_class: int,
                           channels: list) -> dict:  # fmt: skip
    """What a patterns stage run wrote in ``root``: every class balanced in training, the
    held-out real windows scored, the confusion rows of the balanced draw, checkpoints
    that load; its metrics."""
    m = json.loads((root / "metrics" / "patterns.json").read_text())
    n_test = sum(m["real_counts_test"])
    assert min(m["real_counts_test"]) >= m["test_balanced_per_class"] > 0
    for name in ("real_only", "mixed"):
        r = m[name]
        assert r["test"]["n"] == n_test
        assert set(r["test"]["recall"]) == set(PATTERNS)
        assert 0 <= r["test"]["mean_recall"] <= 1 and 0 <= r["test_balanced_accuracy"] <= 1
        assert len(set(r["train_per_class"])) == 1  # balanced classes
        rows = (root / f"plots/patterns/confusion_{name}.csv").read_text().splitlines()
        n_bal = m["test_balanced_per_class"] * len(PATTERNS)  # the balanced draw's windows
        assert rows[0] == "actual,predicted" and len(rows) == n_bal + 1
        model, meta = load_checkpoint(root / f"models/patterns/{name}.pt")
        assert meta["classes"] == list(PATTERNS) and meta["channels"] == channels
        assert model(torch.zeros(2, *meta["input_shape"])).shape == (2, len(PATTERNS))
    assert m["real_only"]["train_per_class"][0] == real_per_class
    assert m["mixed"]["train_per_class"][0] == per_class
    # the top-up is synthetic only where real windows run short
    assert all(r <= per_class for r in m["mixed"]["train_real_per_class"])
    assert m["candles"]["synthetic"]["open_at_prev_close_share"] < 0.05  # trade model on
    return m


def test_the_pipelines_patterns_stage_balances_and_reports(project):
    """The patterns stage of the session's pipeline (200 per class, 100 real)."""
    channels = yaml.safe_load((project / "params.yaml").read_text())["patterns"]["channels"]
    check_patterns_outputs(project / MARKET, 200, 100, channels)


@pytest.mark.slow  # the stage three times (16 s); the pipeline's run above stays in make test
def test_patterns_stage_is_deterministic_and_refuses_too_few_bars(tmp_path):
    import subprocess
    import sys

    from pipeline import REPO, env

    from gafcnn.data.synthetic import SyntheticConfig, generate
    from gafcnn.io import write_parquet

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["patterns"].update(epochs=2, per_class=60, real_per_class=40)
    params["patterns"]["synthetic"]["n_bars"] = 30000
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    write_parquet(
        generate(SyntheticConfig(n_bars=40000, seed=3)).bars, tmp_path / "data/interim/bars.parquet"
    )

    def run() -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "gafcnn.stages.patterns"]
        return subprocess.run(cmd, cwd=tmp_path, env=env(), capture_output=True, text=True)

    proc = run()
    assert proc.returncode == 0, proc.stderr
    check_patterns_outputs(tmp_path, 60, 40, params["patterns"]["channels"])
    first = (tmp_path / "metrics" / "patterns.json").read_text()
    assert run().returncode == 0
    assert (tmp_path / "metrics" / "patterns.json").read_text() == first  # deterministic

    params["patterns"]["synthetic"]["n_bars"] = 2000
    params["patterns"]["per_class"] = 1000  # more than the ingested bars hold: top-up needed
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run()
    assert proc.returncode == 1
    assert "patterns.synthetic.n_bars too small" in proc.stderr
    assert (tmp_path / "metrics" / "patterns.json").read_text() == first  # left untouched
