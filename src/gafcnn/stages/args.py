"""The ``--symbol`` argument of a stage run once per market (a DVC matrix entry per
symbol of ``data.symbols``) from the project's root."""

from __future__ import annotations

import argparse

from gafcnn.io import InputError
from gafcnn.params import Params


def symbol_arg(doc: str | None, params: Params) -> str:
    """``--symbol``, one of ``params.data.symbols`` (one InputError otherwise)."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    ap.add_argument("--symbol", required=True, help="one of data.symbols")
    symbol = ap.parse_args().symbol
    if symbol not in params.data.symbols:
        raise InputError(
            "params.yaml", f"--symbol {symbol!r} is not in data.symbols {list(params.data.symbols)}"
        )
    return symbol
