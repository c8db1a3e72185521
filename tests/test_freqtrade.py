"""Freqtrade data directories as a source: every format freqtrade writes reads to the
same bars, validated as CSVs are; a missing pair, another timeframe or two formats of
one pair is one line naming the directory."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_bars
from test_input_errors import refused, stage, workdir

from gafcnn.data.freqtrade import pair_file
from gafcnn.data.readers import read_bars
from gafcnn.io import InputError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FORMATS = ("feather", "parquet", "json", "json.gz")


def write_pair(directory: Path, bars: pd.DataFrame, fmt: str, stem: str = "BTC_USDT-1m") -> Path:
    """``bars`` as freqtrade writes them in ``fmt``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.{fmt}"
    table = bars.drop(columns="filled", errors="ignore").rename(columns={"timestamp": "date"})
    if fmt == "feather":
        table.to_feather(path)
    elif fmt == "parquet":
        table.to_parquet(path)
    else:
        ms = table["date"].astype("int64").to_numpy()
        rows = [[int(t), *map(float, r)] for t, r in zip(ms, table.iloc[:, 1:].to_numpy(),
                                                         strict=True)]  # fmt: skip
        text = json.dumps(rows).encode()
        path.write_bytes(gzip.compress(text) if fmt == "json.gz" else text)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_freqtrade_format_reads_to_the_same_bars(tmp_path, fmt):
    want = make_bars(50).drop(index=[10, 11]).reset_index(drop=True)  # a 2-minute gap
    path = pair_file(write_pair(tmp_path, want, fmt).parent, "BTC/USDT")
    bars, report = read_bars(str(path))
    pd.testing.assert_frame_equal(bars, want.assign(filled=False), check_dtype=False)
    assert report.files[0]["layout"] == f"freqtrade {fmt.replace('json.gz', 'jsongz')}"
    assert pair_file(tmp_path, "btc_usdt") == path  # either spelling of the pair


def test_a_bad_candle_is_named_by_file_and_row(tmp_path):
    bars = make_bars(20)
    bars.loc[7, "high"] = bars.loc[7, "low"] - 1
    with pytest.raises(InputError, match=r"BTC_USDT-1m.json.gz:8: high < max\(open, close\)"):
        read_bars(str(write_pair(tmp_path, bars, "json.gz")))
    bars = make_bars(20)
    bars.loc[3, "close"] = np.nan
    with pytest.raises(InputError, match=r"BTC_USDT-1m.feather:4: close is nan"):
        read_bars(str(write_pair(tmp_path, bars, "feather")))
    (tmp_path / "ETH_USDT-1m.json").write_text("[[1, 2, 3]]")
    with pytest.raises(InputError, match=r"ETH_USDT-1m.json: row 1: expected rows of"):
        read_bars(str(tmp_path / "ETH_USDT-1m.json"))
    five = make_bars(20).iloc[::5].reset_index(drop=True)
    with pytest.raises(InputError, match="bars are 5 minutes apart"):
        read_bars(str(write_pair(tmp_path, five, "parquet", "SOL_USDT-1m")))


@pytest.mark.parametrize(
    ("files", "symbol", "words"),
    [
        (["ETH_USDT-1m.feather"], "BTC/USDT", r"no BTC/USDT candles \(pairs here: ETH/USDT\)"),
        (["BTC_USDT-5m.feather"], "BTC/USDT", "BTC/USDT: only 5m candles here; gafcnn reads 1m"),
        (["BTC_USDT-1m.feather", "BTC_USDT-1m.json.gz"], "BTC/USDT",
         r"BTC/USDT 1m in 2 formats \(BTC_USDT-1m.feather, BTC_USDT-1m.json.gz\): keep one"),
        ([], "BTC-USDT", "'BTC-USDT' is not a pair like BTC/USDT"),
    ],
)  # fmt: skip
def test_a_pair_the_directory_cannot_give_is_one_line(tmp_path, files, symbol, words):
    for name in files:
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(InputError, match=words) as exc:
        pair_file(tmp_path, symbol)
    assert str(exc.value).startswith(str(tmp_path)) and "\n" not in str(exc.value)


def test_ingest_reads_the_named_pair_of_an_exchange_directory(tmp_path, monkeypatch, capsys):
    root = workdir(tmp_path / "ok", **{"data.source": "freqtrade", "data.path": "ft",
                                       "data.symbols": ["ETH_USDT"]})  # fmt: skip
    write_pair(root / "ft", make_bars(40, seed=1), "feather", "ETH_USDT-1m")
    write_pair(root / "ft", make_bars(40, seed=2), "json.gz", "BTC_USDT-1m")
    stage(root, "ingest", monkeypatch)
    metrics = json.loads((root / "metrics" / "ingest.json").read_text())
    assert metrics["rows"] == 40 and metrics["symbols"] == ["ETH_USDT"]
    assert metrics["files"][0]["path"].endswith("ETH_USDT-1m.feather")
    bad = workdir(tmp_path / "bad", **{"data.source": "freqtrade", "data.path": "ft",
                                       "data.symbols": ["SOL_USDT"]})  # fmt: skip
    write_pair(bad / "ft", make_bars(40), "feather", "ETH_USDT-1m")
    assert refused(bad, "ingest", monkeypatch, capsys) == [
        "error: ft: no SOL_USDT candles (pairs here: ETH/USDT)"
    ]
    slash = workdir(tmp_path / "slash", **{"data.source": "freqtrade", "data.path": "ft",
                                           "data.symbols": ["ETH/USDT"]})  # fmt: skip
    [line] = refused(slash, "ingest", monkeypatch, capsys, "--symbol", "ETH/USDT")
    assert line.startswith('error: params.yaml: data.symbols: ["ETH/USDT"] is not allowed')
    assert "a pair is written BTC_USDT" in line
    none = workdir(tmp_path / "none", **{"data.source": "freqtrade", "data.path": "ft",
                                         "data.symbols": []})  # fmt: skip
    [line] = refused(none, "ingest", monkeypatch, capsys, "--symbol", "ETH_USDT")
    assert line.startswith("error: params.yaml: data.symbols: [] is not allowed")


def _shared(folder: str, symbol: str, rows: int | None, gaps: int) -> object:
    """One shared set's case, skipped with the reason when the set is absent."""
    directory = SHARED / folder / "binance"
    absent = pytest.mark.skipif(not directory.is_dir(), reason=f"real data not at {directory}")
    return pytest.param(directory, symbol, rows, gaps, id=folder, marks=absent)


@pytest.mark.parametrize(
    ("directory", "symbol", "rows", "gaps"),
    [_shared("freqtrade-2025", "ETH/USDT", 130_708, 0),
     _shared("freqtrade-2021", "XRP/USDT", None, 2)],
)  # fmt: skip
def test_the_shared_freqtrade_sets_read_as_their_readme_says(directory, symbol, rows, gaps):
    bars, _ = read_bars(str(pair_file(directory, symbol)))
    step = np.diff(bars["timestamp"].astype("int64").to_numpy()) // 60_000
    assert rows is None or len(bars) == rows
    assert int((step > 1).sum()) == gaps
