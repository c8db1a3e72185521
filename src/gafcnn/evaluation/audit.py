"""The debugging checklist as code: checks over the built image sets that stop the
pipeline when the data is wrong.

Each check returns a :class:`Check` with a value, a threshold and a status
(``pass`` / ``warn`` / ``fail``); a check's severity (``fail``, ``warn`` or ``off``)
comes from params and caps what a failing check reports. The inputs are plain
arrays (:class:`WindowData`), so tests can plant the defects the original project
had and see the right check fail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from gafcnn import clock
from gafcnn.data.labels import LabelSpec, direction_labels, forward_returns
from gafcnn.data.samples import build_samples, evenly
from gafcnn.data.split import SEGMENTS, Split, segment_shares
from gafcnn.models.baselines import fit_logistic, flatten, predict_up
from gafcnn.models.metrics import accuracy, calls_up, effective_n, lag1_autocorr
from gafcnn.params import AuditParams

FLOAT16_SLACK = 1e-3  # storage rounding allowed beyond [-1, 1]


@dataclass
class WindowData:
    """What the gaf stage wrote for one window, by split."""

    window: int
    horizon: int
    band: tuple[float, float]
    channels: list[str]
    timestamps: dict[str, np.ndarray]  # epoch ms
    labels: dict[str, np.ndarray]
    images: dict[str, np.ndarray]  # (N, C, S, S); ImageFiles allowed


@dataclass
class AuditInput:
    windows: dict[int, WindowData]
    minutes: np.ndarray  # bar timestamps, minutes since the epoch
    close: np.ndarray
    spec: LabelSpec
    split: Split
    stride: int = 1
    oracle_accuracy: float | None = None  # known on synthetic data
    filled: np.ndarray | None = None  # per bar: invented by data.fill_gaps (None: none were)


@dataclass
class Check:
    name: str
    value: float | None
    threshold: float | None
    status: str  # pass | warn | fail
    detail: str = ""
    extra: dict = field(default_factory=dict)


def _status(ok: bool) -> str:
    return "pass" if ok else "fail"


def check_label_balance(inp: AuditInput, max_imbalance: float) -> Check:
    first = next(iter(inp.windows.values()))
    shares = {
        s: float(np.mean(first.labels[s] == 1)) if len(first.labels[s]) else 0.5 for s in SEGMENTS
    }
    worst = max(abs(v - 0.5) for v in shares.values())
    return Check(
        "label_balance",
        worst,
        max_imbalance,
        _status(worst <= max_imbalance),
        f"up share per split {shares}; accuracy must be read against the majority rate",
        {"up_share": shares},
    )


def check_dead_zone(inp: AuditInput, candidates: dict[str, int], max_share: float) -> Check:
    first = next(iter(inp.windows.values()))
    kept = {s: len(first.labels[s]) for s in SEGMENTS}
    share = {s: 1 - kept[s] / candidates[s] if candidates[s] else 0.0 for s in SEGMENTS}
    worst = max(share.values())
    return Check(
        "dead_zone",
        worst,
        max_share,
        _status(worst <= max_share),
        f"share of samples dropped by the dead zone per split {share}",
        {"dropped_share": share},
    )


def check_finite(inp: AuditInput, chunk: int = 8192) -> Check:
    bad = 0
    for wd in inp.windows.values():
        for s in SEGMENTS:
            bad += int(np.count_nonzero(~np.isin(wd.labels[s], (0, 1))))
            img = wd.images[s]
            for a in range(0, len(img), chunk):
                bad += int(
                    np.count_nonzero(~np.isfinite(np.asarray(img[a : a + chunk], np.float32)))
                )
    return Check("finite", bad, 0, _status(bad == 0), "NaN/inf pixels plus labels not in {0, 1}")


def check_image_range(inp: AuditInput, chunk: int = 8192) -> Check:
    worst = 0.0
    per_channel = {}
    for wd in inp.windows.values():
        c = len(wd.channels)
        lo, hi = np.full(c, np.inf), np.full(c, -np.inf)
        total, sq, cnt = np.zeros(c), np.zeros(c), 0
        for s in SEGMENTS:
            img = wd.images[s]
            for a in range(0, len(img), chunk):
                x = np.asarray(img[a : a + chunk], dtype=np.float64)
                lo = np.minimum(lo, x.min(axis=(0, 2, 3), initial=np.inf))
                hi = np.maximum(hi, x.max(axis=(0, 2, 3), initial=-np.inf))
                total += x.sum(axis=(0, 2, 3))
                sq += (x * x).sum(axis=(0, 2, 3))
                cnt += x.shape[0] * x.shape[2] * x.shape[3]
        mean = total / max(cnt, 1)
        std = np.sqrt(np.maximum(sq / max(cnt, 1) - mean**2, 0))
        for k, name in enumerate(wd.channels):
            per_channel[f"w{wd.window}:{name}"] = {
                "min": float(lo[k]),
                "max": float(hi[k]),
                "mean": float(mean[k]),
                "std": float(std[k]),
            }
        worst = max(worst, float(np.max(np.abs(np.r_[lo, hi]))) if cnt else 0.0)
    ok = worst <= 1.0 + FLOAT16_SLACK
    return Check(
        "image_range",
        worst,
        1.0,
        _status(ok),
        "largest |pixel|; GAF/MTF/RP channels must lie in [-1, 1] (unscaled images do not)",
        {"channels": per_channel},
    )


def check_chronology(inp: AuditInput) -> Check:
    """No bar of any sample's window or label shared between segments: decisions of
    different segments at least ``max(window) + horizon`` minutes apart, whatever
    their order in time (a segment may be several ranges, as in CPCV)."""
    need = max(inp.windows) + inp.spec.horizon
    gaps = []
    for wd in inp.windows.values():
        ts = {s: clock.minutes_of_ms(wd.timestamps[s]) for s in SEGMENTS}
        every = np.concatenate([ts[s] for s in SEGMENTS])
        which = np.concatenate([np.full(len(ts[s]), k) for k, s in enumerate(SEGMENTS)])
        order = np.argsort(every, kind="stable")
        every, which = every[order], which[order]
        change = which[1:] != which[:-1]  # neighbours in time from different segments
        if change.any():
            gaps.append(int(np.diff(every)[change].min()))
        for s in SEGMENTS:
            if len(ts[s]) > 1 and np.any(np.diff(ts[s]) <= 0):
                return Check(
                    "chronology", None, need, "fail", f"w{wd.window} {s}: timestamps not increasing"
                )
    gap = min(gaps) if gaps else None
    ok = gap is not None and gap >= need
    return Check(
        "chronology",
        gap,
        need,
        _status(ok),
        "minutes between the last decision of a segment and the first of the next; "
        "below max(window)+horizon a window or label of one segment touches another "
        "(look at split.purge and the split stage)",
    )


def check_label_definition(inp: AuditInput) -> Check:
    """Labels recomputed from the bars with the one horizon must equal the stored ones,
    for every window (catches horizons that grow with the window)."""
    r = forward_returns(inp.close, inp.minutes, inp.spec.horizon)
    mismatched, total, horizons = 0, 0, set()
    detail = []
    for wd in inp.windows.values():
        horizons.add(wd.horizon)
        for s in SEGMENTS:
            pos = np.searchsorted(inp.minutes, clock.minutes_of_ms(wd.timestamps[s]))
            pos = np.clip(pos, 0, len(inp.minutes) - 1)
            expect = direction_labels(r[pos], wd.band)
            bad = int(np.count_nonzero(expect != wd.labels[s]))
            mismatched += bad
            total += len(pos)
            if bad:
                detail.append(f"w{wd.window} {s}: {bad} labels")
    if len(horizons) > 1 or inp.spec.horizon not in horizons:
        mismatched = max(mismatched, 1)
        detail.append(f"recorded horizons {sorted(horizons)} vs label.horizon {inp.spec.horizon}")
    share = mismatched / max(total, 1)
    return Check(
        "label_definition",
        share,
        0.0,
        _status(mismatched == 0),
        "share of labels that differ from close[t+h]/close[t]-1 with the one horizon h"
        + (": " + "; ".join(detail) if detail else ""),
    )


def check_dead_zone_fit(inp: AuditInput, rederived: tuple[float, float]) -> Check:
    """Cut points re-derived from the train segment alone must equal the ones used."""
    diff = max(
        abs(a - b) for wd in inp.windows.values() for a, b in zip(wd.band, rederived, strict=True)
    )
    ok = diff <= 1e-12
    return Check(
        "dead_zone_fit",
        diff,
        0.0,
        _status(ok),
        f"used band vs band re-fitted on train only {list(rederived)}; a difference means "
        "the thresholds saw val/test data",
    )


def check_alignment(inp: AuditInput) -> Check:
    ref_w = min(inp.windows)
    ref = inp.windows[ref_w]
    problems = []
    for w, wd in inp.windows.items():
        for s in SEGMENTS:
            a, b = ref.timestamps[s], wd.timestamps[s]
            if len(a) != len(b):
                problems.append(f"w{w} {s}: {len(b)} samples vs {len(a)} in w{ref_w}")
            elif np.any(a != b):
                i = int(np.flatnonzero(a != b)[0])
                problems.append(f"w{w} {s}: sample {i} is at another timestamp than in w{ref_w}")
            elif np.any(ref.labels[s] != wd.labels[s]):
                problems.append(f"w{w} {s}: same timestamps, different labels")
    return Check(
        "alignment",
        len(problems),
        0,
        _status(not problems),
        "; ".join(problems) or "all windows share timestamps, order and labels",
    )


def _rounded(shares: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in shares.items()}


def check_filled_bars(inp: AuditInput, max_share: float) -> Check:
    """Flag segments whose minutes were mostly invented by ``data.fill_gaps``: flat,
    zero-volume bars at the previous close teach a model the filling rule, not the
    market. Also reports the share of samples whose window or label bar is invented."""
    filled = (
        np.zeros(len(inp.minutes), dtype=bool)
        if inp.filled is None
        else np.asarray(inp.filled, dtype=bool)
    )
    shares = segment_shares(filled, inp.split)
    first = next(iter(inp.windows.values()))
    reach = max(inp.windows)
    cum = np.r_[0, np.cumsum(filled)]
    touched = {}
    for s in SEGMENTS:
        m = clock.minutes_of_ms(first.timestamps[s])
        lo = np.searchsorted(inp.minutes, m - reach + 1, side="left")
        hi = np.searchsorted(inp.minutes, m + inp.spec.horizon, side="right")
        touched[s] = float(np.mean(cum[hi] > cum[lo])) if len(m) else 0.0
    worst = max(shares.values())
    return Check(
        "filled_bars",
        worst,
        max_share,
        _status(worst <= max_share),
        f"share of minutes invented by data.fill_gaps per split {_rounded(shares)}; share of "
        f"samples whose window or label bar is invented {_rounded(touched)} - a model fitted "
        "on them learns the filling rule (flat, zero-volume bars), not the market",
        {"filled_share": shares, "samples_touching_filled": touched},
    )


def _quick_features(wd: WindowData, subset: int) -> tuple[np.ndarray, ...]:
    idx = evenly(len(wd.labels["train"]), subset)
    x_tr = flatten(wd.images["train"], idx)
    x_va = flatten(wd.images["val"], evenly(len(wd.labels["val"]), subset))
    y_va = wd.labels["val"][evenly(len(wd.labels["val"]), subset)]
    return x_tr, wd.labels["train"][idx], x_va, y_va


def chance_band(y: np.ndarray, pred: np.ndarray, alpha: float) -> tuple[float, float]:
    """Accuracy band of a predictor independent of the labels: centred on
    ``q p + (1-q)(1-p)``, binomial with the effective n of the label sequence."""
    q, p = float(np.mean(y == 1)), float(np.mean(pred == 1))
    centre = q * p + (1 - q) * (1 - p)
    n_eff = effective_n(len(y), lag1_autocorr(y))
    half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(centre * (1 - centre) / max(n_eff, 1))
    return centre - half, centre + half


def check_shuffled_labels(inp: AuditInput, subset: int, alpha: float, seed: int) -> Check:
    """A classifier fit on permuted train labels must score at chance on val."""
    worst, detail = 0.0, []
    ok = True
    for wd in inp.windows.values():
        x_tr, y_tr, x_va, y_va = _quick_features(wd, subset)
        y_perm = np.random.default_rng(seed).permutation(y_tr)
        model = fit_logistic(x_tr, y_perm, seed=seed)
        p_va = predict_up(model, x_va)
        pred, acc = calls_up(p_va).astype(np.int64), accuracy(y_va, p_va)
        lo, hi = chance_band(y_va, pred, alpha)
        inside = lo <= acc <= hi
        ok &= inside
        worst = max(worst, abs(acc - (lo + hi) / 2))
        detail.append(
            f"w{wd.window}: {acc:.3f} in [{lo:.3f}, {hi:.3f}]" + ("" if inside else " OUTSIDE")
        )
    return Check(
        "shuffled_label_control",
        worst,
        None,
        _status(ok),
        "val accuracy after training on permuted labels; outside the chance band points to "
        "leakage through the features or the split: " + "; ".join(detail),
    )


def check_leakage_ceiling(inp: AuditInput, subset: int, max_plausible: float, seed: int) -> Check:
    """A quick linear model must not beat what is possible: the oracle on synthetic
    data (plus sampling noise), a plausibility cap on real data."""
    best, detail, n_eff = 0.0, [], np.inf
    for wd in inp.windows.values():
        x_tr, y_tr, x_va, y_va = _quick_features(wd, subset)
        acc = accuracy(y_va, predict_up(fit_logistic(x_tr, y_tr, seed=seed), x_va))
        best = max(best, acc)
        detail.append(f"w{wd.window}: {acc:.3f}")
        n_eff = min(n_eff, effective_n(len(y_va), lag1_autocorr(y_va)))
    if inp.oracle_accuracy is not None:
        o = inp.oracle_accuracy
        ceiling = o + 3 * np.sqrt(o * (1 - o) / max(n_eff, 1))
        basis = f"oracle {o:.3f} + 3 SE"
    else:
        ceiling, basis = max_plausible, "audit.max_plausible_accuracy"
    return Check(
        "leakage_ceiling",
        best,
        float(ceiling),
        _status(best <= ceiling),
        f"val accuracy of logistic regression on flattened images ({'; '.join(detail)}) "
        f"against {basis}; above it the features see the future",
    )


def check_overlap(inp: AuditInput, max_autocorr: float) -> Check:
    first = next(iter(inp.windows.values()))
    s = inp.stride
    shared = {f"w{w}": max(0, w - s) for w in sorted(inp.windows)}
    rho = {k: lag1_autocorr(first.labels[k]) for k in SEGMENTS}
    worst = max(rho.values())
    return Check(
        "overlap",
        worst,
        max_autocorr,
        _status(worst <= max_autocorr),
        f"stride {s}: consecutive samples share {shared} window bars and "
        f"{max(0, inp.spec.horizon - s)} label bars; lag-1 label autocorrelation {rho} - "
        "the effective sample size is smaller than N",
        {
            "shared_window_bars": shared,
            "shared_label_bars": max(0, inp.spec.horizon - s),
            "label_autocorr": rho,
        },
    )


def run_audit(inp: AuditInput, cfg: AuditParams, seed: int = 0) -> list[Check]:
    """Run every check; apply each check's severity (fail / warn / off) from ``cfg``."""
    sev = dataclasses.asdict(cfg.severity)
    # one re-derivation from bars + split + params serves two checks
    rebuilt = build_samples(
        inp.minutes, inp.close, sorted(inp.windows), inp.spec, inp.split, stride=inp.stride
    )
    candidates = rebuilt.candidates
    runners = {
        "label_balance": lambda: check_label_balance(inp, cfg.max_imbalance),
        "dead_zone": lambda: check_dead_zone(inp, candidates, cfg.max_dead_zone_share),
        "finite": lambda: check_finite(inp),
        "image_range": lambda: check_image_range(inp),
        "chronology": lambda: check_chronology(inp),
        "label_definition": lambda: check_label_definition(inp),
        "dead_zone_fit": lambda: check_dead_zone_fit(inp, rebuilt.band),
        "alignment": lambda: check_alignment(inp),
        "shuffled_label_control": lambda: check_shuffled_labels(
            inp, cfg.subset, cfg.chance_alpha, seed
        ),
        "leakage_ceiling": lambda: check_leakage_ceiling(
            inp, cfg.subset, cfg.max_plausible_accuracy, seed
        ),
        "overlap": lambda: check_overlap(inp, cfg.max_label_autocorr),
        "filled_bars": lambda: check_filled_bars(inp, cfg.max_filled_share),
    }
    checks = []
    for name, run in runners.items():
        level = sev.get(name, "fail")
        if level == "off":
            continue
        check = run()
        if check.status == "fail" and level == "warn":
            check.status = "warn"
        checks.append(check)
    return checks
