"""Which files each symbol reads (``data.source: csv``).

``data.path`` is what DVC tracks, so it is a file or a folder, never a pattern;
``data.files`` picks files inside the folder by name: a glob that may hold
``{symbol}`` (e.g. ``{symbol}-1m-*.csv.gz``), replaced per symbol by its file-name
form (``BTC/USDT`` -> ``BTC_USDT``, as freqtrade names files; ``BTCUSDT`` stays).
Without ``data.files`` a folder's data files are read: a symbol reads the files
named after it, and a one-symbol run every file when none is (a universe refuses a
symbol without its own). A file belongs to the symbol its name starts with, up to
its first ``-`` or ``.`` and compared by :func:`symbol_key` (``BTCUSDT-1m-2024-01.zip``,
``btc_usdt.csv``). A universe whose symbols would read the same file, or a symbol
that matches nothing, is refused in one line.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from gafcnn.io import InputError

DATA_SUFFIXES = (".csv", ".zip", ".gz")
TEMPLATE = "{symbol}"
PATTERN_CHARS = re.compile(r"[*?\[]|\{symbol\}")


def symbol_key(name: str) -> str:
    """``name`` as symbols are compared (``BTC/USDT`` -> ``BTCUSDT``)."""
    return name.upper().replace("/", "").replace("-", "").replace("_", "")


def file_form(symbol: str) -> str:
    """``symbol`` as a file name holds it (``BTC/USDT`` -> ``BTC_USDT``)."""
    return symbol.replace("/", "_")


def is_data_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in DATA_SUFFIXES


def named_symbol(path: Path) -> str:
    """The symbol a file's name starts with, by key (up to its first ``-`` or ``.``)."""
    return symbol_key(re.split(r"[-.]", path.name, maxsplit=1)[0])


def _matching(folder: Path, pattern: str) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and fnmatch.fnmatch(f.name, pattern))


def symbol_files(path: str, files: str | None, symbols: list[str]) -> dict[str, list[Path]]:
    """Per symbol (``symbols``; one empty name for a one-symbol run with none named),
    the sorted files it reads from ``path`` (a file or folder) and ``files`` (a
    pattern inside the folder). Raises :class:`InputError` naming what is wrong."""
    where = Path(path)
    names = list(symbols) or [""]
    if PATTERN_CHARS.search(path):
        raise InputError("params.yaml", f"data.path {path!r} is a pattern; DVC tracks a file "
                         "or a folder: name the folder in data.path and the pattern in "
                         "data.files")  # fmt: skip
    if where.is_file():
        if files is not None:
            raise InputError("params.yaml", f"data.files {files!r} picks files in a folder, "
                             f"but data.path {path!r} is a file")  # fmt: skip
        out = {s: [where] for s in names}
    elif where.is_dir():
        out = {s: _folder_files(where, files, s, len(names) > 1) for s in names}
    else:
        raise InputError(path, "no such file or directory (data.path)")
    _refuse_shared(out, path)
    return out


def _folder_files(folder: Path, files: str | None, symbol: str, universe: bool) -> list[Path]:
    """The files of ``folder`` that ``symbol`` reads."""
    if files is not None:
        if TEMPLATE in files and not symbol:
            raise InputError("params.yaml", f"data.files {files!r} holds {TEMPLATE}, but "
                             "data.symbols names no symbol")  # fmt: skip
        pattern = files.replace(TEMPLATE, file_form(symbol))
        found = _matching(folder, pattern)
        if not found:
            raise InputError(folder, f"no file matches {pattern!r} (data.files {files!r}"
                             f"{f' for {symbol}' if symbol else ''})")  # fmt: skip
        return found
    found = sorted(f for f in folder.iterdir() if is_data_file(f))
    own = [f for f in found if symbol and named_symbol(f) == symbol_key(symbol)]
    if universe:
        found = own
        if not found:
            raise InputError(folder, f"no .csv, .csv.gz or .zip file is named after {symbol} "
                             f"(e.g. {file_form(symbol)}-1m.csv); name each symbol's files so, "
                             "or set data.files with {symbol}")  # fmt: skip
    elif not found:
        raise InputError(folder, "directory holds no .csv, .csv.gz or .zip files")
    return own or found


def _refuse_shared(per_symbol: dict[str, list[Path]], path: str) -> None:
    """Stop when two symbols would read one file (a universe of copies)."""
    owner: dict[Path, str] = {}
    for symbol, found in per_symbol.items():
        for f in found:
            other = owner.setdefault(f.resolve(), symbol)
            if other != symbol:
                raise InputError(f, f"{other} and {symbol} would both read this file (data.path "
                                 f"{path!r}): give each symbol its own files, with a {TEMPLATE} "
                                 "in data.files or one file per symbol named after it")  # fmt: skip
