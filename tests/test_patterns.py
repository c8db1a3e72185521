"""Candlestick-pattern labels and the CULR series."""

from __future__ import annotations

import numpy as np
import pytest

from gafcnn.encodings import Encoder, window_series
from gafcnn.labels import PATTERNS, pattern_labels


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


def test_pattern_label_uses_only_the_window():
    rng = np.random.default_rng(0)
    c = 100 + np.cumsum(rng.normal(0, 0.3, 500))
    o = np.r_[100, c[:-1]]
    h = np.maximum(o, c) + rng.uniform(0, 0.3, 500)
    lo = np.minimum(o, c) - rng.uniform(0, 0.3, 500)
    base = pattern_labels(o, h, lo, c)
    o2, h2, lo2, c2 = o.copy(), h.copy(), lo.copy(), c.copy()
    for a in (o2, h2, lo2, c2):
        a[:200] *= 1.5  # change everything more than 10 bars before t = 209
    again = pattern_labels(o2, h2, lo2, c2)
    np.testing.assert_array_equal(again[210:], base[210:])


def test_range_relative_culr_series():
    bars = {"open": np.array([10.0, 11.0]), "high": np.array([12.0, 12.0]),
            "low": np.array([9.0, 10.0]), "close": np.array([11.0, 10.5])}  # fmt: skip
    w = window_series(bars, np.array([1]), 2, {"upper_rel", "lower_rel", "body_rel", "upper"})
    np.testing.assert_allclose(w["upper_rel"][0], [1 / 3, 1 / 3])
    np.testing.assert_allclose(w["lower_rel"][0], [1 / 3, 0.5 / 3])
    np.testing.assert_allclose(w["body_rel"][0], [1 / 3, -0.5 / 3])
    np.testing.assert_allclose(w["upper"][0], [1.0, 1.0])
    out = Encoder(["gadf:body_rel", "gasf:upper_rel"], 2, threads=1).encode(w)
    x = w["body_rel"][0]
    s = np.sqrt(1 - x**2)
    np.testing.assert_allclose(out[0, 0], np.outer(s, x) - np.outer(x, s), atol=1e-6)


def test_patterns_stage_balances_and_reports(tmp_path):
    import json
    import subprocess
    import sys

    import yaml
    from pipeline import REPO, env

    from gafcnn.io import write_parquet
    from gafcnn.synthetic import SyntheticConfig, generate

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["patterns"].update(epochs=2, per_class=60, synthetic_bars=30000)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    write_parquet(
        generate(SyntheticConfig(n_bars=40000, seed=3)).bars, tmp_path / "data/interim/bars.parquet"
    )
    proc = subprocess.run([sys.executable, "-m", "gafcnn.stages.patterns"], cwd=tmp_path, env=env(),
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "metrics" / "patterns.json").read_text())
    for name in ("real_only", "mixed"):
        assert m[name]["n_test"] == m["test_per_class"] * len(PATTERNS)
        assert set(m[name]["per_class_recall"]) == set(PATTERNS)
        assert len(set(m[name]["train_per_class"])) == 1  # balanced classes
    assert m["mixed"]["train_per_class"][0] == 60
