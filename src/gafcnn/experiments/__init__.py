"""Many runs at once: the original plan's grid as DVC experiments, and the review of a change."""

from __future__ import annotations

from pathlib import Path

from gafcnn import paths
from gafcnn.params import read_params


def studied_market() -> Path:
    """The folder of the market that grids, seeds and reviews compare: the first symbol
    of params.yaml's ``data.symbols`` (the one market of a one-symbol run)."""
    return paths.market(read_params().data.symbols[0])
