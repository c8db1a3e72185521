"""Which files each symbol of a csv universe reads: one file per symbol by name, a
``{symbol}`` template in ``data.files``, and one clear refusal (nothing written) for a
universe of copies, a pattern that matches nothing, or a pattern in ``data.path``."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import binance_rows, make_bars
from test_input_errors import refused, workdir

from gafcnn.data.sources import file_form, named_symbol, symbol_files, symbol_key
from gafcnn.io import InputError

UNIVERSE = {"data.source": "csv", "data.symbols": ["BTCUSDT", "ETHUSDT"]}


def write(root, name: str, bars: pd.DataFrame) -> None:
    binance_rows(bars).to_csv(root / "data" / "external" / name, header=False, index=False)


def months(root, symbol: str, seed: int) -> pd.DataFrame:
    """Two monthly files of ``symbol`` (Binance's archive names), their bars joined."""
    a = make_bars(40, "2024-01-31T23:20:00Z", seed)
    b = make_bars(40, "2024-02-01T00:00:00Z", seed + 100)
    write(root, f"{symbol}-1m-2024-01.csv", a)
    write(root, f"{symbol}-1m-2024-02.csv", b)
    return pd.concat([a, b], ignore_index=True)


def ingested(root, symbol: str, monkeypatch) -> pd.DataFrame:
    """``symbol``'s bars as the ingest stage writes them, into its market's folder."""
    from gafcnn.stages import ingest

    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", ["ingest", "--symbol", symbol])
    ingest.main()
    return pd.read_parquet(root / "markets" / symbol / "data" / "interim" / "bars.parquet")


def test_symbols_and_file_names_compare_by_key():
    assert symbol_key("btc/usdt") == symbol_key("BTC-USDT") == symbol_key("BTC_USDT") == "BTCUSDT"
    assert file_form("BTC/USDT") == "BTC_USDT"
    assert named_symbol(Path("BTC_USDT-1m.csv.gz")) == "BTCUSDT"
    assert named_symbol(Path("ethusdt.csv")) == "ETHUSDT"


@pytest.mark.parametrize("files", [None, "{symbol}-1m-*.csv"])
def test_each_symbol_of_a_folder_reads_its_own_files(tmp_path, monkeypatch, files):
    root = workdir(tmp_path, **UNIVERSE, **{"data.path": "data/external", "data.files": files})
    btc, eth = months(root, "BTCUSDT", 1), months(root, "ETHUSDT", 2)
    got = {s: ingested(root, s, monkeypatch) for s in ("BTCUSDT", "ETHUSDT")}
    for symbol, want in (("BTCUSDT", btc), ("ETHUSDT", eth)):
        assert got[symbol]["close"].tolist() == want["close"].tolist(), symbol
    assert got["BTCUSDT"]["close"].tolist() != got["ETHUSDT"]["close"].tolist()


def test_a_pair_symbol_fills_the_template_in_its_file_form(tmp_path):
    (tmp_path / "BTC_USDT-1m.csv").write_text("x")
    (tmp_path / "ETH_USDT-1m.csv").write_text("x")
    found = symbol_files(str(tmp_path), "{symbol}-1m.csv", ["BTC/USDT", "ETH/USDT"])
    assert {s: [f.name for f in fs] for s, fs in found.items()} == {
        "BTC/USDT": ["BTC_USDT-1m.csv"], "ETH/USDT": ["ETH_USDT-1m.csv"]}  # fmt: skip


# name -> (params overrides, files to write, what the one error line says)
REFUSED = {
    "one file for two symbols": (
        {"data.path": "data/external/btc.csv"},
        ["btc.csv"],
        "data/external/btc.csv: BTCUSDT and ETHUSDT would both read this file",
    ),
    "a pattern without the symbol": (
        {"data.path": "data/external", "data.files": "*.csv"},
        ["BTCUSDT-1m.csv", "ETHUSDT-1m.csv"],
        "BTCUSDT and ETHUSDT would both read this file",
    ),
    "a symbol with no file": (
        {"data.path": "data/external"},
        ["BTCUSDT-1m.csv"],
        "data/external: no .csv, .csv.gz or .zip file is named after ETHUSDT",
    ),
    "a template that matches nothing": (
        {"data.path": "data/external", "data.files": "{symbol}-5m-*.csv"},
        ["BTCUSDT-1m.csv", "ETHUSDT-1m.csv"],
        "data/external: no file matches 'BTCUSDT-5m-*.csv' (data.files '{symbol}-5m-*.csv' "
        "for BTCUSDT)",
    ),
    "a glob in data.path": (
        {"data.path": "data/external/*.csv"},
        ["BTCUSDT-1m.csv"],
        "params.yaml: data.path 'data/external/*.csv' is a pattern; DVC tracks a file or a folder",
    ),
    "a template in data.path": (
        {"data.path": "data/external/{symbol}.csv"},
        ["BTCUSDT.csv"],
        "params.yaml: data.path 'data/external/{symbol}.csv' is a pattern",
    ),
    "files beside a file": (
        {"data.path": "data/external/BTCUSDT.csv", "data.files": "*.csv"},
        ["BTCUSDT.csv"],
        "params.yaml: data.files '*.csv' picks files in a folder, but data.path",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_csv_universe_is_refused_in_one_line(tmp_path, monkeypatch, capsys, case):
    overrides, names, message = REFUSED[case]
    root = workdir(tmp_path, **UNIVERSE, **overrides)
    for k, name in enumerate(names):
        write(root, name, make_bars(30, seed=k))
    lines = refused(root, "ingest", monkeypatch, capsys, "--symbol", "BTCUSDT")
    assert len(lines) == 1 and message in lines[0], lines


def test_a_template_needs_a_symbol(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    with pytest.raises(InputError, match="holds {symbol}, but data.symbols names no symbol"):
        symbol_files(str(tmp_path), "{symbol}.csv", [])


def test_one_symbol_reads_every_file_of_a_folder_unless_some_are_named_after_it(tmp_path):
    for name in ("jan.csv", "feb.csv"):
        (tmp_path / name).write_text("x")
    assert [f.name for f in symbol_files(str(tmp_path), None, ["BTCUSDT"])["BTCUSDT"]] == [
        "feb.csv", "jan.csv"]  # fmt: skip
    (tmp_path / "BTCUSDT-1m.csv").write_text("x")
    assert [f.name for f in symbol_files(str(tmp_path), None, ["BTCUSDT"])["BTCUSDT"]] == [
        "BTCUSDT-1m.csv"]  # fmt: skip
