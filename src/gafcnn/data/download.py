"""Download monthly kline archives from the Binance public data archive, verified.

Layout of the archive: ``{base_url}/{SYMBOL}/{interval}/{SYMBOL}-{interval}-{YYYY-MM}.zip``
beside a ``.zip.CHECKSUM`` file holding ``<sha256>  <file name>``. Each zip is kept
under ``raw_dir``; a zip already there whose SHA-256 matches the published
checksum is not fetched again.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from gafcnn.data.readers import sha256_file
from gafcnn.io import InputError, atomic_path

TIMEOUT_S = 60


def archive_name(symbol: str, interval: str, month: str) -> str:
    return f"{symbol.upper()}-{interval}-{month}.zip"


def archive_url(base_url: str, symbol: str, interval: str, month: str) -> str:
    name = archive_name(symbol, interval, month)
    return f"{base_url.rstrip('/')}/{symbol.upper()}/{interval}/{name}"


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        raise InputError(url, f"download failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise InputError(url, f"download failed: {exc}") from None


def _published_sha256(url: str) -> str:
    text = _fetch(url + ".CHECKSUM").decode("utf-8", "replace").strip()
    digest = text.split()[0].lower() if text else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(url + ".CHECKSUM", "not a SHA-256 checksum file")
    return digest


def download_month(base_url: str, symbol: str, interval: str, month: str, raw_dir: str) -> Path:
    """Fetch one month's zip into ``raw_dir`` and verify it; returns its path."""
    url = archive_url(base_url, symbol, interval, month)
    target = Path(raw_dir) / archive_name(symbol, interval, month)
    expected = _published_sha256(url)
    if target.exists() and sha256_file(target) == expected:
        return target
    with atomic_path(target) as tmp:
        tmp.write_bytes(_fetch(url))
        actual = sha256_file(tmp)
        if actual != expected:
            raise InputError(url, f"checksum mismatch: expected {expected}, got {actual}")
    return target


def download_months(
    base_url: str, symbol: str, interval: str, months: list[str], raw_dir: str
) -> list[Path]:
    if not months:
        raise InputError("params.yaml", "data.binance.months is empty for data.source=binance")
    return [download_month(base_url, symbol, interval, m, raw_dir) for m in months]
