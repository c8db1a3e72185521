"""Reading every accepted layout, and one clear error for every kind of bad input."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import REAL_CSV, binance_rows, kraken_rows, make_bars, write_layout

from gafcnn.clock import MINUTE_MS
from gafcnn.data.bars import OHLCV, gap_summary, positions
from gafcnn.data.readers import read_bars, read_file
from gafcnn.io import InputError

LAYOUTS = ["spot_ms", "spot_us", "futures", "zip", "iso_offset", "iso_naive", "epoch_s"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip(tmp_path, bars, layout):
    path = write_layout(bars, tmp_path / "bars.csv", layout)
    out, report = read_bars(str(path))
    pd.testing.assert_series_equal(out["timestamp"], bars["timestamp"], check_names=False)
    np.testing.assert_array_equal(out[OHLCV].to_numpy(), bars[OHLCV].to_numpy())
    assert not out["filled"].any()
    assert report.files[0]["rows"] == len(bars)
    assert len(report.files[0]["sha256"]) == 64


def test_several_files_concatenated_in_time_order(tmp_path, bars):
    write_layout(bars.iloc[15:], tmp_path / "b.csv", "spot_ms")
    write_layout(bars.iloc[:15], tmp_path / "a.csv", "futures")
    # file names sort the wrong way round on purpose: order comes from time
    (tmp_path / "a.csv").rename(tmp_path / "z.csv")
    out, _ = read_bars(str(tmp_path))
    assert out["timestamp"].is_monotonic_increasing
    np.testing.assert_array_equal(out["close"].to_numpy(), bars["close"].to_numpy())
    glob_out, _ = read_bars(str(tmp_path / "*.csv"))
    pd.testing.assert_frame_equal(glob_out, out)


def test_unsorted_input_is_sorted(tmp_path, bars):
    shuffled = bars.sample(frac=1.0, random_state=1)
    path = write_layout(shuffled, tmp_path / "x.csv", "iso_offset")
    out, _ = read_bars(str(path))
    np.testing.assert_array_equal(out["close"].to_numpy(), bars["close"].to_numpy())


def test_exact_duplicates_dropped_and_counted(tmp_path, bars):
    dup = pd.concat([bars, bars.iloc[[3, 7, 7]]])
    path = write_layout(dup, tmp_path / "x.csv", "spot_ms")
    out, report = read_bars(str(path))
    assert len(out) == len(bars)
    assert report.duplicates_dropped == 3


def test_overlapping_files_drop_duplicates(tmp_path, bars):
    write_layout(bars.iloc[:20], tmp_path / "a.csv", "spot_ms")
    write_layout(bars.iloc[10:], tmp_path / "b.csv", "spot_ms")
    out, report = read_bars(str(tmp_path))
    assert len(out) == len(bars) and report.duplicates_dropped == 10


def test_gaps_counted_and_kept(tmp_path, bars):
    holey = bars.drop(index=[5, 6, 7, 20])
    path = write_layout(holey, tmp_path / "x.csv", "spot_ms")
    out, _ = read_bars(str(path))
    assert len(out) == len(bars) - 4
    assert gap_summary(out) == {"count": 2, "minutes": 4}


def test_fill_gaps_inserts_flat_bars(tmp_path, bars):
    holey = bars.drop(index=[5, 6])
    path = write_layout(holey, tmp_path / "x.csv", "spot_ms")
    out, report = read_bars(str(path), fill_gaps=True)
    assert len(out) == len(bars) and report.filled_minutes == 2
    assert out["filled"].sum() == 2
    filled = out[out["filled"]]
    prev_close = bars["close"].iloc[4]
    assert (filled[["open", "high", "low", "close"]] == prev_close).all().all()
    assert (filled["volume"] == 0).all()


def _write_text(tmp_path, text, name="bad.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = "2024-01-01T00:00:00Z,10,11,9,10.5,1\n2024-01-01T00:01:00Z,10.5,11,10,10.8,2\n"

BAD_INPUTS = {
    "missing column": (
        "timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,1,1,1\n",
        "missing columns: volume",
        None,
    ),
    "no timestamp": ("open,high,low,close,volume\n1,1,1,1,1\n", "missing columns: timestamp", None),
    "unknown column": (
        "timestamp,open,high,low,close,volume,foo\n2024-01-01,1,1,1,1,1,2\n",
        "unknown columns: foo",
        None,
    ),
    "non-numeric": (
        HEADER + GOOD + "2024-01-01T00:02:00Z,10,abc,9,10,1\n",
        "non-numeric value 'abc' in column 'high'",
        4,
    ),
    "nan": (
        HEADER + GOOD + "2024-01-01T00:02:00Z,10,11,9,NaN,1\n",
        "NaN/empty value in column 'close'",
        4,
    ),
    "empty cell": (
        HEADER + "2024-01-01T00:00:00Z,10,11,9,,1\n",
        "NaN/empty value in column 'close'",
        2,
    ),
    "inf": (
        HEADER + GOOD + "2024-01-01T00:02:00Z,10,inf,9,10,1\n",
        "infinite value in column 'high'",
        4,
    ),
    "high below": (
        HEADER + GOOD + "2024-01-01T00:02:00Z,10,10.2,9,10.5,1\n",
        "high < max(open, close)",
        4,
    ),
    "low above": (HEADER + "2024-01-01T00:00:00Z,10,11,10.2,10.5,1\n", "low > min(open, close)", 2),
    "negative volume": (
        HEADER + GOOD + "2024-01-01T00:02:00Z,10,11,9,10,-1\n",
        "negative volume",
        4,
    ),
    "empty file": ("", "empty file", None),
    "header only": (HEADER, "empty file (no data rows)", None),
    "bad timestamp": (
        HEADER + "2024-13-45T99:00:00Z,10,11,9,10,1\n",
        "unparseable timestamp '2024-13-45T99:00:00Z'",
        2,
    ),
    "30 s bars": (
        HEADER
        + "".join(
            f"2024-01-01T00:{m:02d}:{s:02d}Z,10,11,9,10,1\n" for m in range(3) for s in (0, 30)
        ),
        "not on a 1-minute boundary",
        3,
    ),
    "5 min bars": (
        HEADER + "".join(f"2024-01-01T00:{m:02d}:00Z,10,11,9,10,1\n" for m in range(0, 30, 5)),
        "bars are 5 minutes apart (every step a multiple of 5); expected 1-minute bars",
        None,
    ),
    "10 min bars with a missing one": (
        HEADER + "".join(f"2024-01-01T00:{m:02d}:00Z,10,11,9,10,1\n" for m in (0, 10, 30, 40)),
        "bars are 10 minutes apart",
        None,
    ),
    "conflicting rows": (
        HEADER + GOOD + "2024-01-01T00:01:00Z,10.5,11,10,10.9,2\n",
        "conflicting rows for 2024-01-01T00:01:00+00:00",
        4,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_one_clear_error(tmp_path, case):
    text, message, line = BAD_INPUTS[case]
    path = _write_text(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_bars(str(path))
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert err.value.line == line
    assert "\n" not in str(err.value)


def test_mixed_epoch_units_rejected(tmp_path):
    bars = make_bars(4)
    rows = binance_rows(bars, "ms")
    rows.loc[2, "open_time"] *= 1000
    path = tmp_path / "mixed.csv"
    rows.to_csv(path, header=False, index=False)
    with pytest.raises(InputError, match="mixes timestamp units") as err:
        read_file(path)
    assert err.value.line == 3


def test_corrupt_zip(tmp_path, bars):
    path = write_layout(bars, tmp_path / "x.csv", "zip")
    data = bytearray(path.read_bytes())
    data[40:80] = b"\x00" * 40  # damage the compressed member
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt zip"):
        read_bars(str(path))
    path.write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="corrupt zip"):
        read_bars(str(path))


def test_zip_with_two_members(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", GOOD)
        zf.writestr("b.csv", GOOD)
    with pytest.raises(InputError, match="exactly one csv"):
        read_bars(str(path))


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_bars(str(tmp_path / "nope*.csv"))


@pytest.mark.skipif(not REAL_CSV.exists(), reason=f"real data file not present at {REAL_CSV}")
def test_real_file():
    out, report = read_bars(str(REAL_CSV))
    assert len(out) == 30_240
    assert gap_summary(out) == {"count": 0, "minutes": 0}
    assert report.duplicates_dropped == 0
    assert str(out["timestamp"].iloc[0]) == "2023-03-01 00:00:00+00:00"


@pytest.mark.parametrize("trades", [False, True])
def test_kraken_ohlcvt_detected_without_params(tmp_path, bars, trades):
    path = _write_text(tmp_path, kraken_rows(bars, trades), "XBTUSDC_1.csv")
    out, report = read_bars(str(path))
    pd.testing.assert_series_equal(out["timestamp"], bars["timestamp"], check_names=False)
    np.testing.assert_array_equal(out[OHLCV].to_numpy(), bars[OHLCV].to_numpy())
    assert report.files[0]["layout"] == "kraken-ohlcvt"


def test_declared_columns_read_another_headerless_layout(tmp_path, bars):
    ms = bars["timestamp"].dt.as_unit("ms").astype("int64")
    frame = pd.DataFrame({"time": ms, "vwap": bars["close"], **{c: bars[c] for c in OHLCV}})
    frame["trades"] = 7
    path = tmp_path / "other.csv"
    frame.to_csv(path, header=False, index=False)
    columns = ["time", "vwap", *OHLCV, "trades"]
    out, report = read_bars(str(path), columns=columns)
    np.testing.assert_array_equal(out[OHLCV].to_numpy(), bars[OHLCV].to_numpy())
    assert report.files[0]["layout"] == "declared"
    with pytest.raises(InputError, match="data.columns .* must name one timestamp column"):
        read_bars(str(path), columns=["open", "high", "low", "close", "volume", "a", "b", "c"])
    with pytest.raises(InputError, match="data.columns names 6 columns, the file has 8"):
        read_bars(str(path), columns=["time", *OHLCV])


def test_unknown_headerless_layout_says_what_to_set(tmp_path, bars):
    path = tmp_path / "eight.csv"
    frame = bars.assign(timestamp=bars["timestamp"].dt.as_unit("s").astype("int64"), a=1, b=2)
    frame.to_csv(path, header=False, index=False)
    with pytest.raises(InputError) as err:
        read_bars(str(path))
    msg = str(err.value)
    assert "no header; first row looks like data with 8 columns" in msg
    assert "data.columns" in msg and str(path) in msg and "\n" not in msg
    iso = tmp_path / "iso.csv"
    write_layout(bars, iso, "iso_offset")
    iso.write_text("".join(iso.read_text().splitlines(keepends=True)[1:]))  # drop the header
    with pytest.raises(InputError, match="first row looks like data with 6 columns"):
        read_bars(str(iso))


def test_gzipped_csv_file_and_directory(tmp_path, bars):
    import gzip

    plain = write_layout(bars, tmp_path / "bars.csv", "spot_ms")
    gz = tmp_path / "data" / "BTCUSDT-1m.csv.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    for source in (gz, gz.parent):
        out, _ = read_bars(str(source))
        np.testing.assert_array_equal(out[OHLCV].to_numpy(), bars[OHLCV].to_numpy())
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match="corrupt gzip"):
        read_bars(str(broken))


@pytest.mark.parametrize(
    ("row", "line"),
    [
        ("2024-01-01T00:02:00Z,0,11,0,10,1\n", 4),  # zero price
        ("2024-01-01T00:02:00Z,-1,11,-2,10,1\n", 4),  # negative price
    ],
)
def test_non_positive_price_refused_with_its_line(tmp_path, row, line):
    path = _write_text(tmp_path, HEADER + GOOD + row)
    with pytest.raises(InputError) as err:
        read_bars(str(path))
    assert err.value.line == line and "non-positive price" in str(err.value)


def test_thin_market_with_most_minutes_missing_is_read_as_1_minute_bars(tmp_path):
    full = make_bars(400)
    keep = np.random.default_rng(2).random(len(full)) < 0.3  # median step ~3 minutes
    thin = full[keep].reset_index(drop=True)
    assert thin["timestamp"].diff().median() >= pd.Timedelta(minutes=2)  # once refused
    path = write_layout(thin, tmp_path / "thin.csv", "futures")
    out, _ = read_bars(str(path))
    assert len(out) == len(thin)
    assert gap_summary(out)["minutes"] == (
        (thin["timestamp"].iloc[-1] - thin["timestamp"].iloc[0]) // pd.Timedelta(minutes=1)
        + 1
        - len(thin)
    )
    filled, _ = read_bars(str(path), fill_gaps=True)
    assert filled["filled"].sum() == gap_summary(out)["minutes"]


def test_positions_of_decision_times_and_a_missing_one():
    minutes = np.array([10, 11, 12, 14, 15])  # minute 13 is a gap
    assert positions(minutes, np.array([10, 14, 15]) * MINUTE_MS).tolist() == [0, 3, 4]
    for missing in (13, 16, 9):
        with pytest.raises(ValueError, match="not found among the bars"):
            positions(minutes, np.array([10, missing]) * MINUTE_MS)
