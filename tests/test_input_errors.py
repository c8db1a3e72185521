"""Every documented bad input, fed to the stage that first reads it (ingest, split or
gaf): exit code 1, one line per error naming the file or the param, no traceback,
and no file written."""

from __future__ import annotations

import gzip
import importlib
import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import binance_rows, kraken_rows, make_bars
from test_bars import BAD_INPUTS, GOOD, HEADER

from gafcnn.io import run_stage

REPO = Path(__file__).resolve().parents[1]
SMALL = {"data.synthetic.n_bars": 3000, "gaf.windows": [15, 30]}


def write_params(root: Path, **overrides: object) -> Path:
    """params.yaml in ``root``: the project's, with SMALL and dotted-key overrides."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for key, value in {**SMALL, **overrides}.items():
        node = params
        *path, last = key.split(".")
        for part in path:
            node = node[part]
        node[last] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def workdir(tmp_path: Path, **overrides: object) -> Path:
    """A directory with params.yaml (dotted-key overrides) and data/external/."""
    (tmp_path / "data" / "external").mkdir(parents=True)
    return write_params(tmp_path, **overrides)


def files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


def with_symbol(root: Path, name: str, args: tuple[str, ...]) -> tuple[str, ...]:
    """``args``, with ingest's ``--symbol`` (the first of ``data.symbols``) when none."""
    if name != "ingest" or args:
        return args
    return ("--symbol", yaml.safe_load((root / "params.yaml").read_text())["data"]["symbols"][0])


def stage(root: Path, name: str, monkeypatch, *args: str) -> None:
    """Run a stage's main in ``root`` (for the stages a failing one reads from). Ingest
    writes into the project's ``markets/<symbol>/``; here its outputs are moved into
    ``root``, whose one-symbol params.yaml the later stages read as a market's own."""
    monkeypatch.chdir(root)
    args = with_symbol(root, name, args)
    monkeypatch.setattr(sys, "argv", [name, *args])
    importlib.import_module(f"gafcnn.stages.{name}").main()
    if name == "ingest":
        shutil.copytree(root / "markets" / args[1], root, dirs_exist_ok=True)
        shutil.rmtree(root / "markets")


def _staged(root: Path, name: str) -> Path:
    """``root`` after stage ``name`` ran in it (for module-scoped fixtures)."""
    with pytest.MonkeyPatch.context() as mp:
        stage(root, name, mp)
    return root


def refused(root: Path, name: str, monkeypatch, capsys, *args: str) -> list[str]:
    """Run stage ``name`` as its ``python -m`` entry point does; assert it exits 1 and
    writes nothing; return its stderr lines."""
    before = files(root)
    capsys.readouterr()
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", [name, *with_symbol(root, name, args)])
    with pytest.raises(SystemExit) as exit_:
        run_stage(importlib.import_module(f"gafcnn.stages.{name}").main)
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert "Traceback" not in err
    assert files(root) == before, f"{name} wrote {sorted(files(root) - before)}"
    lines = err.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines), lines
    return lines


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _mixed_units() -> str:
    rows = binance_rows(make_bars(4), "ms")
    rows.loc[2, "open_time"] *= 1000
    return rows.to_csv(header=False, index=False)


# name -> (file name, content, expected message)
FILES: dict[str, tuple[str, bytes, str]] = {
    **{
        case: ("bad.csv", text.encode(), message)
        for case, (text, message, *_) in BAD_INPUTS.items()
    },
    "zero price": (
        "bad.csv",
        (HEADER + GOOD + "2024-01-01T00:02:00Z,0,11,0,10,1\n").encode(),
        "data/external/bad.csv:4: non-positive price",
    ),
    "negative price, Kraken layout": (
        "bad.csv",
        b"1704067200,10,11,9,10,1,5\n1704067260,10,11,-9,10,1,5\n",
        "data/external/bad.csv:2: non-positive price",
    ),
    "headerless, no known layout": (
        "bad.csv",
        b"1704067200,10,11,9,10,1,5,6\n",
        "data/external/bad.csv: no header; first row looks like data with 8 columns, which "
        "matches no known layout (Binance: 12, Kraken OHLCVT: 6 or 7) - name them with "
        "data.columns",
    ),
    "mixed epoch units": ("bad.csv", _mixed_units().encode(), "bad.csv:3: file mixes timestamp"),
    "corrupt zip": ("bad.zip", b"not a zip at all", "data/external/bad.zip: corrupt zip"),
    "zip with two members": (
        "bad.zip",
        _zip({"a.csv": HEADER + GOOD, "b.csv": HEADER + GOOD}),
        "data/external/bad.zip: zip must hold exactly one csv, found 2",
    ),
    "corrupt gzip": ("bad.csv.gz", b"\x1f\x8b not gzip", "data/external/bad.csv.gz: corrupt gzip"),
    "gzip of a bad file": (
        "bad.csv.gz",
        gzip.compress((HEADER + "2024-01-01T00:00:00Z,10,11,-1,10,1\n").encode()),
        "data/external/bad.csv.gz:2: non-positive price",
    ),
    "not UTF-8": ("bad.csv", b"\xff\xfe\x00\x81 binary", "data/external/bad.csv: not a UTF-8"),
}


@pytest.mark.parametrize("case", sorted(FILES))
def test_ingest_refuses_bad_file(tmp_path, monkeypatch, capsys, case):
    name, content, message = FILES[case]
    root = workdir(tmp_path, **{"data.source": "csv", "data.path": f"data/external/{name}"})
    (root / "data" / "external" / name).write_bytes(content)
    lines = refused(root, "ingest", monkeypatch, capsys)
    assert len(lines) == 1 and message in lines[0], lines
    assert f"data/external/{name}" in lines[0]


KRAKEN7 = kraken_rows(make_bars(5))  # 7 columns

# name -> (params overrides, a file to write or None, expected message)
INGEST_PARAMS: dict[str, tuple[dict, str | None, str]] = {
    "no such path": (
        {"data.source": "csv", "data.path": "data/external/nope.csv"},
        None,
        "data/external/nope.csv: no such file or directory (data.path)",
    ),
    "empty directory": (
        {"data.source": "csv", "data.path": "data/external"},
        None,
        "data/external: directory holds no .csv, .csv.gz or .zip files",
    ),
    "unknown source": (
        {"data.source": "ftp"},
        None,
        'params.yaml: data.source: "ftp" is not allowed (allowed: one of synthetic, csv, '
        "binance, freqtrade)",
    ),
    "not 1-minute": (
        {"data.source": "csv", "data.path": "data/external/x.csv", "data.interval": "5m"},
        KRAKEN7,
        'params.yaml: data.interval: "5m" is not allowed (allowed: 1m)',
    ),
    "data.columns without OHLCV": (
        {
            "data.source": "csv",
            "data.path": "data/external/x.csv",
            "data.columns": ["time", "price", "qty"],
        },
        KRAKEN7,
        "params.yaml: data.columns ['time', 'price', 'qty'] must name one timestamp column",
    ),  # fmt: skip
    "data.columns of another length": (
        {
            "data.source": "csv",
            "data.path": "data/external/x.csv",
            "data.columns": ["time", "open", "high", "low", "close", "volume"],
        },
        KRAKEN7,
        "data/external/x.csv:1: data.columns names 6 columns, the file has 7",
    ),  # fmt: skip
    "data.columns on a file with a header": (
        {
            "data.source": "csv",
            "data.path": "data/external/x.csv",
            "data.columns": ["time", "open", "high", "low", "close", "volume"],
        },
        HEADER + GOOD,
        "data/external/x.csv: data.columns is set, but the file starts with a header row",
    ),  # fmt: skip
    "unknown synthetic param": (
        {"data.synthetic.bars": 10},
        None,
        "params.yaml: unknown key 'data.synthetic.bars' (did you mean 'data.synthetic.n_bars'?)",
    ),
    "non-numeric synthetic param": (
        {"data.synthetic.n_bars": "many"},
        None,
        'params.yaml: data.synthetic.n_bars: "many" is not allowed (allowed: an integer >= 1)',
    ),
    "bad label": ({"label.dead_zone": "wide"}, None, 'params.yaml: label.dead_zone: "wide"'),
    # a misspelt key anywhere stops the first stage, naming the key and the closest one
    "misspelt top-level key": (
        {"learning_rate": 1e-5},
        None,
        "params.yaml: unknown key 'learning_rate' (did you mean 'lr'?)",
    ),
    "misspelt nested key": (
        {"xgb.lerning_rate": 0.1},
        None,
        "params.yaml: unknown key 'xgb.lerning_rate' (did you mean 'xgb.learning_rate'?)",
    ),
    "key in the wrong section": (
        {"gaf.horizon": 5},
        None,
        "params.yaml: unknown key 'gaf.horizon' (did you mean 'label.horizon'?)",
    ),
}


@pytest.mark.parametrize("case", sorted(INGEST_PARAMS))
def test_ingest_refuses_bad_params(tmp_path, monkeypatch, capsys, case):
    overrides, text, message = INGEST_PARAMS[case]
    root = workdir(tmp_path, **overrides)
    if text is not None:
        (root / "data" / "external" / "x.csv").write_text(text)
    lines = refused(root, "ingest", monkeypatch, capsys)
    assert len(lines) == 1 and message in lines[0], lines


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """A workdir after a good ingest of a small synthetic market."""
    return _staged(workdir(tmp_path_factory.mktemp("ingested")), "ingest")


def _copy(src: Path, dst: Path, **overrides: object) -> Path:
    """A copy of a workdir with other params."""
    shutil.copytree(src, dst)
    return write_params(dst, **overrides)


# name -> (params overrides, expected messages, one per line)
SPLIT_PARAMS: dict[str, tuple[dict, list[str]]] = {
    "fractions not summing to 1": (
        {"split.train": 0.9},
        ["params.yaml: split: split fractions must be positive and sum to 1"],
    ),
    "purge below the requirement": (
        {"split.purge": 10},
        ["params.yaml: split: split.purge=10 is below max(window) + horizon = 35"],
    ),
    "unknown method": ({"split.method": "random"}, ['params.yaml: split.method: "random" is not']),
    "date method without dates": (
        {"split.method": "date"},
        ["params.yaml: split: split.method=date needs split.val_start and split.test_start"],
    ),
    "unknown split param": ({"split.folds": 5}, ["params.yaml: unknown key 'split.folds'"]),
    "non-numeric min_samples": ({"split.min_samples": "lots"}, ["params.yaml: split.min_samples"]),
    "windows not a list of lengths": ({"gaf.windows": [15, 0]}, ["params.yaml: gaf.windows"]),
    "window repeated": ({"gaf.windows": [15, 15]}, ["params.yaml: gaf.windows: [15, 15] is not"]),
    "stride zero": (
        {"gaf.stride": 0},
        ["params.yaml: gaf.stride: 0 is not allowed (allowed: an integer >= 1)"],
    ),  # fmt: skip
    "too few bars for a window": (
        {"gaf.windows": [1500]},
        [
            "params.yaml: split: segment train has 0 bars; it needs at least max(window) + "
            "horizon = 1505 to hold one sample (data has 3000 bars, purge 1505)"
        ],
    ),
    "too few samples": (
        {"split.min_samples": 5000},
        [f"params.yaml: split segment {s} has" for s in ("train", "val", "test")],
    ),
}


@pytest.mark.parametrize("case", sorted(SPLIT_PARAMS))
def test_split_refuses_bad_params(ingested, tmp_path, monkeypatch, capsys, case):
    overrides, messages = SPLIT_PARAMS[case]
    root = _copy(ingested, tmp_path / "w", **overrides)
    lines = refused(root, "split", monkeypatch, capsys)
    assert len(lines) == len(messages), lines
    for line, message in zip(lines, messages, strict=True):
        assert message in line, line


WALKFORWARD_PARAMS = {
    "negative folds": ({"walkforward.folds": -1}, "params.yaml: walkforward.folds: -1 is not"),
    "unknown scheme": (
        {"walkforward.folds": 2, "walkforward.scheme": "sliding"},
        'params.yaml: walkforward.scheme: "sliding" is not allowed (allowed: one of expanding',
    ),
    "more folds than the history holds": (
        {"walkforward.folds": 100},
        "params.yaml: walkforward: fold 0: test has 15 bars",
    ),
}


@pytest.mark.parametrize("case", sorted(WALKFORWARD_PARAMS))
def test_walkforward_refuses_bad_params(ingested, tmp_path, monkeypatch, capsys, case):
    overrides, message = WALKFORWARD_PARAMS[case]
    root = _copy(ingested, tmp_path / "w", **overrides)
    lines = refused(root, "walkforward", monkeypatch, capsys)
    assert len(lines) == 1 and message in lines[0], lines


def test_split_refuses_gap_heavy_file(tmp_path, monkeypatch, capsys):
    import numpy as np

    bars = make_bars(6000)
    thin = bars[np.random.default_rng(0).random(len(bars)) < 0.45]
    root = workdir(tmp_path, **{"data.source": "csv", "data.path": "data/external/thin.csv.gz"})
    (root / "data" / "external" / "thin.csv.gz").write_bytes(
        gzip.compress(kraken_rows(thin).encode())
    )
    stage(root, "ingest", monkeypatch)
    lines = refused(root, "split", monkeypatch, capsys)
    assert [line.split(" has ")[0] for line in lines] == [
        f"error: data/external/thin.csv.gz: split segment {s}" for s in ("train", "val", "test")
    ]
    assert all(" has 0 samples (split.min_samples is 100); its longest gap-free run is " in x
               for x in lines)  # fmt: skip


@pytest.fixture(scope="module")
def split_done(ingested, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("split") / "w"
    shutil.copytree(ingested, root)
    return _staged(root, "split")


# name -> (params overrides, --window, expected message)
GAF_PARAMS: dict[str, tuple[dict, int, str]] = {
    "unknown channel": ({"gaf.channels": ["gasf", "fft"]}, 15, "params.yaml: gaf.channels: "),
    "unknown series": ({"gaf.channels": ["gasf:price"]}, 15, "params.yaml: gaf.channels: "),
    "image larger than the window": (
        {"gaf.image_size": 64},
        15,
        "params.yaml: gaf.image_size 64 must be in 1..15 (no upsampling)",
    ),
    "window not configured": ({}, 45, "params.yaml: window 45 is not in gaf.windows [15, 30]"),
    "storage dtype": ({"gaf.dtype": "int7"}, 15, 'params.yaml: gaf.dtype: "int7" is not allowed'),
    "mtf bins": ({"gaf.channels": ["mtf"], "gaf.mtf_bins": 1}, 15, "params.yaml: gaf.mtf_bins: 1 "),
}


@pytest.mark.parametrize("case", sorted(GAF_PARAMS))
def test_gaf_refuses_bad_params(split_done, tmp_path, monkeypatch, capsys, case):
    overrides, window, message = GAF_PARAMS[case]
    root = _copy(split_done, tmp_path / "w", **overrides)
    lines = refused(root, "gaf", monkeypatch, capsys, "--window", str(window), "--no-progress")
    assert len(lines) == 1 and message in lines[0], lines


def test_outputs_built_from_other_bars_are_named(split_done, tmp_path, monkeypatch, capsys):
    # image sets from one market, then the bars of another (an experiment stopped at
    # ingest): the train stage names both outputs instead of a traceback
    root = _copy(split_done, tmp_path / "w")
    stage(root, "gaf", monkeypatch, "--window", "15", "--no-progress")
    write_params(root, **{"data.synthetic.start": "2024-03-01T00:00:00Z"})
    stage(root, "ingest", monkeypatch)
    lines = refused(root, "train", monkeypatch, capsys, "--window", "15")
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: data/gaf/w15: ")
    assert "decision timestamps (the first 2024-01-" in lines[0]
    assert "are not bars of data/interim/bars.parquet" in lines[0]
    assert lines[0].endswith("`dvc repro` rebuilds them")


# dotted key -> (a bad value, what the one line says is allowed): every section's
# values, typed and ranged where they are declared (params.py), stop the first stage
BAD_VALUES: dict[str, tuple[object, str]] = {
    "lr": (True, "a number > 0"),
    "dropout": (None, "a number >= 0 and < 1"),
    "epochs": (None, "an integer >= 1"),
    "batch_size": (0, "an integer >= 1"),
    "arch": (5, "one of simple_cnn, resnet18, conv1d"),
    "optimizer": ("adam", "one of adamw, sgd"),
    "pretrained": (3, "a string or null"),
    "seed": (-1, "an integer >= 0"),
    "data.fill_gaps": ("yes", "true or false"),
    "data.columns": ("time,open", "a non-empty list of distinct items, each a string or null"),
    "data.synthetic.signal": (-0.1, "a number >= 0"),
    "data.synthetic.start": ("the first of May", "an ISO timestamp"),
    "data.binance.months": (["2024-13"], "each a month YYYY-MM"),
    "split.val": (1.5, "a number > 0 and < 1"),
    "split.purge": ("auto-ish", "auto or an integer >= 0"),
    "label.horizon": (0, "an integer >= 1"),
    "label.quantile": (1.0, "a number >= 0 and < 1"),
    "gaf.windows": (["abc"], "a non-empty list of distinct items, each an integer >= 2"),
    "gaf.channels": (["gasf", "fft"], "each a channel method[:series]"),
    "gaf.image_size": (0, "an integer >= 1 or null"),
    "audit.severity.finite": ("loud", "one of fail, warn, off"),
    "audit.max_plausible_accuracy": (0.3, "a number >= 0.5 and <= 1"),
    "xgb.learning_rate": (0, "a number > 0 and <= 1"),
    "xgb.subsample": (float("nan"), "a number > 0 and <= 1"),
    "hybrid.folds": (1, "an integer >= 2"),
    "minirocket.kernels": (10, "an integer >= 84"),
    "minirocket.C": ([], "a non-empty list"),
    "ensemble.method": ("vote", "one of mean, weighted, stacking"),
    "walkforward.embargo": (-5, "an integer >= 0"),
    "evaluate.costs.fee_bps": (-1, "a number >= 0"),
    "evaluate.policy.thresholds": ([0.0, 0.6], "each a number >= 0 and < 0.5"),
    "evaluate.alpha": (0, "a number > 0 and < 1"),
    "evaluate.pbo_partitions": (3, "an even integer >= 2"),
    "patterns.synthetic.seed": ("x", "an integer >= 0"),
    "serving.max_age_days": ("soon", "auto or a number > 0"),
    "runtime.threads": (0, "an integer >= 1"),
}


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_a_bad_value_stops_the_first_stage_in_one_line(tmp_path, monkeypatch, capsys, key):
    value, allowed = BAD_VALUES[key]
    lines = refused(workdir(tmp_path, **{key: value}), "ingest", monkeypatch, capsys)
    shown = yaml.safe_load(yaml.safe_dump(value))  # as params.yaml holds it
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: params.yaml: {key}: "), lines[0]
    assert " is not allowed (allowed: " in lines[0] and allowed in lines[0], lines[0]
    if not isinstance(shown, float):  # NaN is shown as JSON writes it
        assert json.dumps(shown) in lines[0], lines[0]
