"""A model declared once is scored, reported, in the grid report, exported and
served: a logistic model on the last log returns, added to a copy of the session's
project as a new engineer would add one (a library module with its serving hook, a
stage module, its declaration in the registry, its stage in dvc.yaml, `make deps`),
with no other edit."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import kraken_rows
from pipeline import MARKET, env

from gafcnn.models import predictions
from gafcnn.serving.bundle import seal

NAME = "last_returns"

LIBRARY = '''
"""A logistic model on the last K one-minute log returns."""

from __future__ import annotations

import shutil

import numpy as np

from gafcnn import paths
from gafcnn.io import read_json

K = 5
FILE = paths.MODELS / "last_returns.json"


def features(bars, positions):
    """(n, K): the log returns of the K bars up to each position."""
    log_close, pos = np.log(bars["close"]), np.asarray(positions)
    return np.column_stack([log_close[pos - j] - log_close[pos - j - 1] for j in range(K)])


def fit(x, y, seed):
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(random_state=seed).fit(x, y)
    return {"coef": m.coef_[0].tolist(), "intercept": float(m.intercept_[0])}


def predict(fitted, x):
    """P(up): what the stage writes and what the bundle serves."""
    from scipy.special import expit

    return expit(x @ np.asarray(fitted["coef"]) + fitted["intercept"])


class Hook:
    def ship(self, model, windows, folder):
        shutil.copyfile(FILE, folder / FILE.name)
        return {"history_bars": K + 1, "file": FILE.name}

    def load(self, model, spec, folder):
        fitted = read_json(folder / spec["file"])
        return lambda x: {model.name: predict(fitted, features(x.bars, x.positions))}


HOOK = Hook()
'''

STAGE = '''
"""`last_returns` stage: fit the model on train, write its val and test P(up)."""

from gafcnn import paths, registry
from gafcnn.data.bars import load_bars
from gafcnn.evaluation.grid_report import grid_report, report_markdown
from gafcnn.io import run_stage, write_json
from gafcnn.models import last_returns as toy
from gafcnn.models import predictions
from gafcnn.params import read_params
from gafcnn.data.bars import bar_positions
from gafcnn.stages.common import gaf_sets


def main():
    params = read_params()
    bars, minutes = load_bars()
    gs = next(iter(gaf_sets(params).values()))  # every window has the same samples

    def x(split):
        pos = bar_positions(minutes, gs.timestamps(split), paths.gaf_dir(gs.window))
        return toy.features(bars, pos)

    fitted = toy.fit(x("train"), gs.labels("train"), params.seed)
    model = registry.LAST_RETURNS
    frames = [predictions.frame(gs.timestamps(s), s, gs.labels(s), toy.predict(fitted, x(s)),
                                model.name) for s in ("val", "test")]
    predictions.write(frames, paths.predictions_file(model.stage.name))
    write_json(toy.FILE, fitted)


if __name__ == "__main__":
    run_stage(main)
'''

DECLARATION = """
LAST_RETURNS = Model("last_returns", Stage("last_returns"), "the last 5 log returns",
                     serves="gafcnn.models.last_returns:HOOK")
PIPELINE += (LAST_RETURNS.stage,)
SCORED += (LAST_RETURNS,)
GRID += (LAST_RETURNS,)
"""

DVC_STAGE = """
  last_returns:
    matrix:
      symbol: ${data.symbols}
    wdir: markets/${item.symbol}
    cmd: python -m gafcnn.stages.last_returns
    deps:
      - data/interim/bars.parquet
      - data/gaf
    params:
      - ../../params.yaml:
          - seed
      - params.yaml:
          - data.symbols
    outs:
      - models/last_returns.json
      - data/predictions/last_returns.parquet
"""


GRID_REPORT = """
import json
from gafcnn.data.bars import load_bars
from gafcnn.evaluation.grid_report import grid_report, report_markdown
from gafcnn.models import predictions
from gafcnn.params import load_params
params = load_params("params.yaml")  # the market's, laid over the project's
found = {f"metrics/{n}.json": json.load(open(f"metrics/{n}.json"))
         for n in ("evaluate", "decision")}
preds = predictions.read("data/predictions")
preds = preds[preds["segment"] == "test"]
exps = [{"name": "toy", "params": params, "metrics": found}]
report = grid_report(exps, params, {"toy": preds}, *load_bars(), trials=1)
print(report_markdown(report))
"""


def _run(root, *cmd, stdin=None, cwd=None):
    e = env() | {"PYTHONPATH": str(root / "src")}  # the copy's code, toy model included
    proc = subprocess.run(cmd, cwd=cwd or root, env=e, capture_output=True, text=True,
                          input=stdin)  # fmt: skip
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _add_toy_model(root):
    src = root / "src" / "gafcnn"
    (src / "models" / f"{NAME}.py").write_text(textwrap.dedent(LIBRARY).lstrip())
    (src / "stages" / f"{NAME}.py").write_text(textwrap.dedent(STAGE).lstrip())
    with (src / "registry.py").open("a") as f:
        f.write(DECLARATION)
    text = (root / "dvc.yaml").read_text()
    stage = DVC_STAGE.lstrip("\n") + "\n"
    (root / "dvc.yaml").write_text(text.replace("\nstages:\n", f"\nstages:\n{stage}", 1))
    return _run(root, sys.executable, "-m", "gafcnn.depgraph", ".")


@pytest.mark.slow  # 35 s: a copy of the pipeline rerun downstream of the new model
def test_a_declared_model_is_scored_reported_in_the_grid_exported_and_served(project, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(project, root, symlinks=True)
    added = dict(line.split(": ", 1) for line in _add_toy_model(root).splitlines())
    assert "+../../src/gafcnn/stages/last_returns.py" in added[NAME].split()
    for stage in ("latency", "export"):  # they load the bundle: its code, the file it ships
        assert {f"+../../src/gafcnn/models/{NAME}.py", f"+models/{NAME}.json"} <= set(
            added[stage].split()
        )
    # The fitting stages list registry.py among their deps, but a new declaration does
    # not change what they compute: run the new stage and those that read every model.
    for stage in (NAME, "latency", "evaluate", "export"):
        _run(root, sys.executable, "-m", "dvc", "repro", "--single-item", stage)

    # scored by evaluate with every other model, in the report
    ev = json.loads((root / MARKET / "metrics" / "evaluate.json").read_text())
    assert 0.3 < ev["table"][NAME]["accuracy"] < 0.7
    assert NAME in ev["backtest"]
    assert f"| {NAME} |" in (root / MARKET / "reports" / "report.md").read_text()

    # a column of the grid report (this run as its one experiment)
    grid = _run(root, sys.executable, "-c", GRID_REPORT, cwd=root / MARKET)  # in its market
    header = next(line for line in grid.splitlines() if line.startswith("| experiment |"))
    assert f"| {NAME} |" in header, grid
    bars = pd.read_parquet(root / MARKET / "data" / "interim" / "bars.parquet")
    test = predictions.read(root / MARKET / "data" / "predictions")
    test = test[test["segment"] == "test"]

    # exported, and served by `gafcnn predict` with the P(up) the stage wrote
    bundle = json.loads((root / MARKET / "models" / "bundle" / "bundle.json").read_text())
    assert NAME in bundle["models"] and f"{NAME}.json" in bundle["files"]
    bundle["deployed"] = NAME
    seal(root / MARKET / "models" / "bundle", bundle)
    mine = test[test["model"] == NAME]
    last = mine["timestamp"].max()
    path = tmp_path / "bars.csv"
    path.write_text(kraken_rows(bars[bars["timestamp"] <= last].iloc[-400:]))
    out = _run(
        root, sys.executable, "-m", "gafcnn.cli", "predict", "--bars", str(path), "--last", "5"
    )  # the default: the markets folder, its one market's bundle
    served = pd.read_csv(io.StringIO(out), parse_dates=["timestamp"])
    both = served.merge(mine, on="timestamp", suffixes=("_served", "_evaluated"))
    assert len(both) >= 1 and both["p_up_served"].notna().all()
    np.testing.assert_allclose(both["p_up_served"], both["p_up_evaluated"], atol=1e-6)
