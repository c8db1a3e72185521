"""The audit must catch each of the original project's defects, planted one at a time,
and pass on clean data; the baselines must find signal only where there is some."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gafcnn.clock import MINUTE_MS
from gafcnn.data.labels import LabelSpec, direction_labels, fit_dead_zone, forward_returns
from gafcnn.data.samples import build_samples
from gafcnn.data.split import SEGMENTS, SplitSpec, make_split
from gafcnn.data.synthetic import SyntheticConfig, generate
from gafcnn.evaluation.audit import AuditInput, WindowData, run_audit
from gafcnn.images.encodings import Encoder, window_series
from gafcnn.models.baselines import fit_logistic, flatten, majority_probability, predict_up
from gafcnn.models.metrics import classification_report
from gafcnn.params import AuditParams

WINDOWS = (15, 30, 60)
CFG = AuditParams.from_params(
    {
        "subset": 1500,
        "max_imbalance": 0.1,
        "max_dead_zone_share": 0.5,
        "max_label_autocorr": 0.95,
        "chance_alpha": 0.001,
        "max_plausible_accuracy": 0.75,
        "max_filled_share": 0.05,
        "severity": {
            "label_balance": "warn",
            "dead_zone": "warn",
            "overlap": "warn",
            "filled_bars": "fail",
        },  # fmt: skip
    }
)


@dataclasses.dataclass
class Market:
    minutes: np.ndarray
    arrays: dict
    oracle: float | None = None


def market(n=6000, signal=0.35) -> Market:
    m = generate(SyntheticConfig(n_bars=n, signal=signal))
    arrays = {k: m.bars[k].to_numpy() for k in ("open", "close", "volume")}
    return Market(m.minutes, arrays)


def window_data(mk: Market, positions_by_split, labels_by_split, w, spec, band, size_cap=16):
    enc = Encoder(["gasf", "gadf"], min(w, size_cap), threads=1)
    images, stamps = {}, {}
    for s in SEGMENTS:
        pos = positions_by_split[s]
        images[s] = enc.encode(window_series(mk.arrays, pos, w, {"close"}))
        stamps[s] = mk.minutes[pos] * MINUTE_MS
    labels = {s: np.array(labels_by_split[s]) for s in SEGMENTS}  # each window its own copy
    return WindowData(w, spec.horizon, band, ["gasf:close", "gadf:close"], stamps, labels, images)


def clean_input(mk: Market, spec=None, band=None, stride=1) -> tuple[AuditInput, object]:
    spec = spec or LabelSpec()
    split = make_split(mk.minutes, SplitSpec(), list(WINDOWS), spec.horizon)
    smp = build_samples(mk.minutes, mk.arrays["close"], list(WINDOWS), spec, split, stride, band)
    pos = {s: smp.position[smp.of(s)] for s in SEGMENTS}
    lab = {s: smp.label[smp.of(s)] for s in SEGMENTS}
    windows = {w: window_data(mk, pos, lab, w, spec, smp.band) for w in WINDOWS}
    inp = AuditInput(windows, mk.minutes, mk.arrays["close"], spec, split, stride, mk.oracle)
    return inp, smp


def failures(inp: AuditInput) -> set[str]:
    return {c.name for c in run_audit(inp, CFG) if c.status == "fail"}


@pytest.fixture(scope="module")
def mk():
    return market()


def test_clean_data_passes(mk):
    inp, _ = clean_input(mk)
    checks = run_audit(inp, CFG)
    assert {c.status for c in checks} <= {"pass", "warn"}
    assert {c.name for c in checks} >= {"chronology", "alignment", "label_definition"}


def test_mostly_invented_bars_are_flagged(mk):
    inp, _ = clean_input(mk)  # clean, it passes every check (test_clean_data_passes)
    train = inp.split.segment("train")
    filled = np.zeros(len(mk.minutes), dtype=bool)
    filled[train.start : train.stop : 2] = True  # every other train minute invented
    inp.filled = filled
    checks = {c.name: c for c in run_audit(inp, CFG)}
    c = checks["filled_bars"]
    assert c.status == "fail" and c.value == pytest.approx(0.5, abs=0.01)
    assert c.extra["filled_share"]["val"] == 0.0
    assert c.extra["samples_touching_filled"]["train"] == 1.0
    assert c.extra["samples_touching_filled"]["test"] == 0.0
    assert {n for n, x in checks.items() if x.status == "fail"} == {"filled_bars"}


def test_quantile_thresholds_fitted_on_all_data(mk):
    spec = LabelSpec(dead_zone="quantile", quantile=0.3)
    clean, _ = clean_input(mk, spec)
    assert failures(clean) == set()
    r = forward_returns(mk.arrays["close"], mk.minutes, spec.horizon)
    leaky_band = fit_dead_zone(spec, r)  # every return, val and test included
    inp, _ = clean_input(mk, spec, band=leaky_band)
    assert failures(inp) == {"dead_zone_fit"}


def test_horizon_growing_with_window(mk):
    inp, smp = clean_input(mk)
    for w, wd in inp.windows.items():
        grown = forward_returns(mk.arrays["close"], mk.minutes, inp.spec.horizon + w - 1)
        for s in SEGMENTS:
            y = direction_labels(grown[smp.position[smp.of(s)]], wd.band)
            wd.labels[s] = np.where(y < 0, 0, y).astype(np.int8)
    assert {"label_definition", "alignment"} <= failures(inp)


def test_split_without_purge(mk):
    inp, smp = clean_input(mk)
    order = np.argsort(smp.position)
    pos, lab = smp.position[order], smp.label[order]
    a, b = int(len(pos) * 0.8), int(len(pos) * 0.9)  # 80/10/10, contiguous, no gap
    cuts = {"train": slice(0, a), "val": slice(a, b), "test": slice(b, None)}
    windows = {
        w: window_data(
            mk,
            {s: pos[c] for s, c in cuts.items()},
            {s: lab[c] for s, c in cuts.items()},
            w,
            inp.spec,
            smp.band,
        )
        for w in WINDOWS
    }
    inp = dataclasses.replace(inp, windows=windows)
    assert failures(inp) == {"chronology"}


def test_w60_shifted_one_sample(mk):
    """w60 starts one sample later (arrays of different lengths, as when windows of
    different lengths are combined by index)."""
    inp, _ = clean_input(mk)
    wd = inp.windows[60]
    for s in SEGMENTS:
        wd.timestamps[s], wd.labels[s], wd.images[s] = (
            wd.timestamps[s][1:],
            wd.labels[s][1:],
            wd.images[s][1:],
        )
    assert failures(inp) == {"alignment"}


def test_images_without_scaling(mk):
    inp, smp = clean_input(mk)
    wd = inp.windows[15]
    for s in SEGMENTS:
        x = window_series(mk.arrays, smp.position[smp.of(s)], 15, {"close"})["close"]
        raw = (x[:, :, None] * x[:, None, :])[:, None]  # x_i * x_j on prices, never scaled
        wd.images[s] = np.concatenate([raw, raw], axis=1).astype(np.float32)
    assert failures(inp) == {"image_range"}


def test_feature_containing_future_return(mk):
    inp, smp = clean_input(mk)
    for wd in inp.windows.values():
        for s in SEGMENTS:
            leak = (2.0 * wd.labels[s] - 1)[:, None, None, None] * np.ones(
                (1, 1) + wd.images[s].shape[2:]
            )
            wd.images[s] = np.concatenate([wd.images[s], leak.astype(np.float32)], axis=1)
        wd.channels = [*wd.channels, "future"]
    assert "leakage_ceiling" in failures(inp)


def _baseline_reports(mk: Market):
    inp, _ = clean_input(mk, stride=2)
    reports = []
    for wd in inp.windows.values():
        y_tr, y_te = wd.labels["train"], wd.labels["test"]
        reports.append(classification_report(y_te, majority_probability(y_tr, len(y_te))))
        model = fit_logistic(flatten(wd.images["train"]), y_tr)
        reports.append(classification_report(y_te, predict_up(model, flatten(wd.images["test"]))))
        pos = {
            s: np.searchsorted(mk.minutes, wd.timestamps[s] // MINUTE_MS) for s in ("train", "test")
        }
        ret = {s: window_series(mk.arrays, pos[s], wd.window, {"logret"})["logret"] for s in pos}
        model = fit_logistic(ret["train"], y_tr)
        reports.append(classification_report(y_te, predict_up(model, ret["test"])))
    return reports


def test_baselines_find_nothing_without_signal():
    reports = _baseline_reports(market(20_000, signal=0.0))
    for r in reports:
        lo, hi = r["accuracy_ci"]
        assert lo <= r["majority_rate"] <= hi or r["accuracy"] < r["majority_rate"]
        assert not r["signal_detected"]


def test_baselines_detect_planted_signal():
    reports = _baseline_reports(market(20_000))
    assert any(r["signal_detected"] for r in reports)
