"""The clock: minute arithmetic, ISO text and parsing live in gafcnn.clock alone."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gafcnn import clock
from gafcnn.io import InputError

SRC = Path(__file__).resolve().parents[1] / "src" / "gafcnn"
# What a module writes when it converts or formats time itself.
SELF_FORMATTING = {
    "isoformat(": re.compile(r"\.isoformat\("),
    'unit="ms"': re.compile(r"""unit=["']ms["']"""),
    "ms per minute": re.compile(r"[*/]\s*60_?000\b"),
    "ns per ms": re.compile(r"/\s*1_?000_?000\b"),
    "Timestamp.value": re.compile(r"\.value\s*//"),
    "a bare MINUTE_MS": re.compile(r"(?<!clock\.)\bMINUTE_MS\b"),
    "pd.Timestamp(": re.compile(r"pd\.Timestamp\("),
    "pd.to_datetime(": re.compile(r"pd\.to_datetime\("),
}


def test_no_module_formats_or_converts_minutes_itself():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "clock.py" and path.parent == SRC:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            found += [f"{path.relative_to(SRC)}:{n}: {name}" for name, rx in
                      SELF_FORMATTING.items() if rx.search(code)]  # fmt: skip
    assert found == [], "convert time through gafcnn.clock:\n" + "\n".join(found)


def test_the_forbidding_test_catches_a_module_that_formats_minutes():
    line = 'stamp = pd.Timestamp(m * MINUTE_MS, unit="ms", tz="UTC").isoformat()'
    hit = {name for name, rx in SELF_FORMATTING.items() if rx.search(line)}
    assert {"isoformat(", 'unit="ms"', "a bare MINUTE_MS", "pd.Timestamp("} <= hit
    line = "minute = t.value // 1_000_000 // 60_000"
    hit = {name for name, rx in SELF_FORMATTING.items() if rx.search(line)}
    assert {"ms per minute", "ns per ms", "Timestamp.value"} <= hit


def test_minutes_ms_and_iso_round_trip():
    m = 28_401_120  # 2024-01-01T00:00Z
    assert clock.iso_minute(m) == "2024-01-01T00:00:00+00:00"
    assert clock.ms_of_minutes(m) == m * 60_000 and isinstance(clock.ms_of_minutes(m), int)
    assert clock.minutes_of_ms(m * 60_000 + 59_999) == m
    arr = np.array([m, m + 1, m + 90])
    stamps = clock.datetimes_of_minutes(arr)
    assert str(stamps.dtype) == "datetime64[ms, UTC]"
    assert clock.minutes_of(pd.Series(stamps)).tolist() == arr.tolist()
    assert clock.minutes_of_ms(clock.ms_of(stamps)).tolist() == arr.tolist()
    assert clock.iso(stamps[2]) == "2024-01-01T01:30:00+00:00"


@pytest.mark.parametrize(
    "stamp, want",
    [
        ("2024-01-01T00:05:00", 28_401_125),  # naive: UTC
        ("2024-01-01T01:05:00+01:00", 28_401_125),
        (28_401_125 * 60_000 + 30_000, 28_401_125),  # epoch ms, floored
    ],
)
def test_parse_reads_iso_and_epoch_ms_as_utc(stamp, want):
    assert clock.parse_minute(stamp, "--from") == want


@pytest.mark.parametrize("bad", ["yesterday-ish", "", "NaT"])
def test_parse_names_the_source_of_a_bad_timestamp(bad):
    with pytest.raises(InputError, match=r"--from: timestamp .*not a timestamp"):
        clock.parse(bad, "--from")


def test_an_iso_column_marks_the_cells_that_are_not_timestamps():
    ms, bad = clock.parse_iso_column(pd.Series(["2024-01-01T00:01:00Z", "nope"]))
    assert bad.tolist() == [False, True] and ms[0] == 28_401_121 * 60_000
    assert clock.is_iso("2024-01-01") and not clock.is_iso("12 apples")
    assert clock.days_between("2024-01-01", "2024-01-03T12:00", "x") == 2.5
