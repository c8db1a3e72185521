"""The Binance archive download path, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial

import pytest
from conftest import make_bars, write_layout

from gafcnn.data.download import archive_name, download_month, download_months
from gafcnn.data.readers import read_bars
from gafcnn.io import InputError

SYMBOL, INTERVAL = "BTCUSDT", "1m"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def archive(tmp_path):
    """A directory laid out like the public archive, served on 127.0.0.1."""
    root = tmp_path / "www"
    month_dir = root / SYMBOL / INTERVAL
    month_dir.mkdir(parents=True)
    for month, start in (("2024-01", "2024-01-31T23:40:00Z"), ("2024-02", "2024-02-01T00:00:00Z")):
        name = archive_name(SYMBOL, INTERVAL, month)
        zpath = write_layout(make_bars(20, start=start, seed=len(month)), month_dir / name, "zip")
        digest = hashlib.sha256(zpath.read_bytes()).hexdigest()
        (month_dir / f"{name}.CHECKSUM").write_text(f"{digest}  {name}\n")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", month_dir
    server.shutdown()
    server.server_close()


def test_download_verify_and_ingest(tmp_path, archive):
    base, _ = archive
    raw = tmp_path / "raw"
    paths = download_months(base, SYMBOL, INTERVAL, ["2024-01", "2024-02"], str(raw))
    assert [p.name for p in paths] == ["BTCUSDT-1m-2024-01.zip", "BTCUSDT-1m-2024-02.zip"]
    bars, report = read_bars(str(raw))
    assert len(bars) == 40 and len(report.files) == 2
    assert bars["timestamp"].is_monotonic_increasing


def test_existing_verified_zip_is_not_fetched_again(tmp_path, archive):
    base, month_dir = archive
    raw = tmp_path / "raw"
    first = download_month(base, SYMBOL, INTERVAL, "2024-01", str(raw))
    mtime = first.stat().st_mtime_ns
    # remove the zip from the server: a second call must succeed from the local copy
    (month_dir / first.name).unlink()
    again = download_month(base, SYMBOL, INTERVAL, "2024-01", str(raw))
    assert again == first and again.stat().st_mtime_ns == mtime


def test_checksum_mismatch_leaves_nothing(tmp_path, archive):
    base, month_dir = archive
    name = archive_name(SYMBOL, INTERVAL, "2024-01")
    (month_dir / f"{name}.CHECKSUM").write_text("0" * 64 + f"  {name}\n")
    raw = tmp_path / "raw"
    with pytest.raises(InputError, match="checksum mismatch") as err:
        download_month(base, SYMBOL, INTERVAL, "2024-01", str(raw))
    assert name in str(err.value)
    assert not raw.exists() or list(raw.iterdir()) == []


def test_404_is_a_clear_error(tmp_path, archive):
    base, _ = archive
    with pytest.raises(InputError, match="HTTP 404") as err:
        download_month(base, SYMBOL, INTERVAL, "2019-07", str(tmp_path / "raw"))
    assert "BTCUSDT-1m-2019-07.zip" in str(err.value)
