"""Training noise over seeds, and a review that says which changes are within it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gafcnn.evaluation.document import Document, Section, to_markdown
from gafcnn.evaluation.noise import judge, seed_summary, seeds_markdown
from gafcnn.experiments.review import headline


def _evaluate(acc: dict[str, float], net: dict[str, float] | None = None) -> dict:
    table = {m: {"accuracy": a, "accuracy_ci": [a - 0.015, a + 0.015], "roc_auc": a + 0.05,
                 "p_value_vs_majority": 0.01} for m, a in acc.items()}  # fmt: skip
    policy = {m: {"mean_net_return": r, "mean_net_return_ci": [r - 1e-4, r + 1e-4]}
              for m, r in (net or {}).items()}  # fmt: skip
    return {"table": table, "policy": policy}


def test_seed_summary_gives_mean_sd_range_and_one_runs_interval():
    runs = {f"seed-{s}": _evaluate({"cnn_w15": a, "xgb_indicators": 0.55}, {"cnn_w15": r})
            for s, a, r in ((42, 0.60, 1e-4), (1, 0.62, -1e-4), (2, 0.61, 0.0))}  # fmt: skip
    s = seed_summary(runs)
    acc = s["models"]["cnn_w15"]["accuracy"]
    assert (acc["n"], acc["min"], acc["max"]) == (3, 0.60, 0.62)
    assert np.isclose(acc["mean"], 0.61) and np.isclose(acc["sd"], 0.01)
    assert acc["one_run_ci"] == [0.60 - 0.015, 0.60 + 0.015]  # the first run's
    assert s["models"]["xgb_indicators"]["accuracy"]["sd"] == 0.0  # the seed does not touch it
    assert "net_return" not in s["models"]["xgb_indicators"]  # no policy row: no figure
    md = seeds_markdown(s, "t")
    assert "| cnn_w15 | 0.6100 ± 0.0100 [0.6000, 0.6200] | [0.5850, 0.6150] |" in md


def test_judge_by_seed_sd_else_by_the_interval():
    assert judge(0.60, 0.61, sd=0.006, ci=None) == "within noise"
    assert judge(0.60, 0.613, sd=0.006, ci=None) == "beyond noise"
    assert judge(0.60, 0.61, sd=None, ci=[0.585, 0.615]) == "within noise"
    assert judge(0.60, 0.62, sd=None, ci=[0.585, 0.615]) == "beyond noise"
    assert judge(0.60, 0.62, sd=None, ci=None) is None
    # a model the seed does not move (sd 0) is judged by its interval, not flagged for
    # every rounding-level change another CPU gives it
    assert judge(0.5650, 0.5655, sd=0.0, ci=[0.550, 0.582]) == "within noise"
    assert judge(0.5650, 0.5900, sd=0.0, ci=[0.550, 0.582]) == "beyond noise"


def _markdown(blocks: list) -> str:
    return to_markdown(Document("review", (Section("", tuple(blocks)),)), Path("."))


def test_review_marks_noise_and_leads_with_what_is_beyond_it():
    before = _evaluate({"cnn_w15": 0.600, "xgb_indicators": 0.550, "hybrid": 0.570})
    after = _evaluate({"cnn_w15": 0.602, "xgb_indicators": 0.550, "hybrid": 0.600})
    base = {"decision": None, "evaluate": before, "ensemble": None}
    head = {"decision": None, "evaluate": after, "ensemble": None}
    noise = {"cnn_w15": {"accuracy": {"sd": 0.004}}, "hybrid": {"accuracy": {"sd": 0.005}}}
    text = _markdown(headline(base, head, noise))
    assert "**1 of 2 changes of test accuracy are beyond noise (twice the seed standard" in text
    lines = text.splitlines()
    rows = [line for line in lines if line.startswith("| hybrid") or line.startswith("| cnn_w15")]
    assert rows[0].startswith("| hybrid") and "beyond noise (+0.0300 vs seed sd 0.0050)" in rows[0]
    assert "within noise (+0.0020 vs seed sd 0.0040)" in rows[1]
    assert "xgb_indicators" not in text  # unchanged
    # only within-noise changes: one line says so; without seed figures, the interval
    head["evaluate"] = _evaluate({"cnn_w15": 0.602, "xgb_indicators": 0.550, "hybrid": 0.571})
    text = _markdown(headline(base, head, None))
    assert "**Every change of test accuracy (2) is within noise (the base run's bootstrap" in text
    assert "within noise (+0.0010 vs the base's 95% CI)" in text


def test_a_rerun_that_moved_metrics_ends_with_one_line_on_noise(monkeypatch):
    from gafcnn.experiments import review

    committed = _evaluate({"cnn_w15": 0.600, "hybrid": 0.570})
    rerun = _evaluate({"cnn_w15": 0.604, "hybrid": 0.571})
    edits = ""  # what `git status` says of params.yaml, dvc.yaml and src

    def git(args: list[str]) -> str:
        return edits if args[1] == "status" else "metrics/evaluate.json\nmetrics/train_w15.json"

    monkeypatch.setattr(review, "_run", git)
    monkeypatch.setattr(review, "metrics_at", lambda rev, name: committed if rev else rerun)
    monkeypatch.setattr(
        review, "load_noise", lambda params: {"cnn_w15": {"accuracy": {"sd": 0.0015}}}
    )
    line = review.drift()
    assert "\n" not in line and line.startswith("make repro: 2 metrics files differ")
    assert "every change of test accuracy" not in line.lower()  # 0.004 > 2 x 0.0015: beyond
    assert "1 of 2 changes of test accuracy are beyond noise" in line and "cnn_w15." in line
    assert line.endswith("`dvc pull` from the team's remote gives the committed outputs exactly.")
    assert "another CPU" in line
    edits = " M params.yaml"  # a rerun of edited params: the edit moved them, not the CPU
    line = review.drift()
    assert "working tree changes params" in line and "another CPU" not in line
    assert "1 of 2 changes of test accuracy are beyond noise" in line
    monkeypatch.setattr(review, "_run", lambda args: "")
    assert review.drift() == "make repro: every metric equals the committed one."
