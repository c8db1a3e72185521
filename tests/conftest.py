"""Shared fixtures: small generated bar sets and writers for every accepted file layout."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pipeline import MARKET

from gafcnn.data.readers import BINANCE_COLUMNS

REPO = Path(__file__).resolve().parents[1]
REAL_CSV = REPO.parent / "shared" / "data" / "BTCUSDT_1m_binanceus_2023-03.csv"


def make_bars(n: int = 30, start: str = "2024-05-01T00:00:00Z", seed: int = 0) -> pd.DataFrame:
    """A small valid bar frame on a 1-minute grid with prices on a 0.01 tick."""
    rng = np.random.default_rng(seed)
    close = np.round(100 + np.cumsum(rng.normal(0, 0.2, n)), 2)
    open_ = np.r_[100.0, close[:-1]]
    high = np.round(np.maximum(open_, close) + rng.uniform(0, 0.1, n), 2)
    low = np.round(np.minimum(open_, close) - rng.uniform(0, 0.1, n), 2)
    ts = pd.date_range(start, periods=n, freq="min", tz="UTC").as_unit("ms")
    return pd.DataFrame(
        {
            "timestamp": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": np.round(rng.uniform(0, 5, n), 6),
        }
    )


def binance_rows(bars: pd.DataFrame, unit: str = "ms") -> pd.DataFrame:
    """The 12-column Binance kline layout for ``bars``."""
    ms = bars["timestamp"].dt.as_unit("ms").astype("int64").to_numpy()
    scale = 1000 if unit == "us" else 1
    out = pd.DataFrame(
        {
            "open_time": ms * scale,
            "open": bars["open"],
            "high": bars["high"],
            "low": bars["low"],
            "close": bars["close"],
            "volume": bars["volume"],
            "close_time": (ms + 59_999) * scale,
            "quote_volume": bars["volume"] * bars["close"],
            "count": 10,
            "taker_buy_volume": bars["volume"] / 2,
            "taker_buy_quote_volume": bars["volume"] * bars["close"] / 2,
            "ignore": 0,
        }
    )
    assert list(out.columns) == BINANCE_COLUMNS
    return out


def kraken_rows(bars: pd.DataFrame, trades: bool = True) -> str:
    """Kraken OHLCVT text for ``bars``: no header, epoch seconds, OHLCV, trade count."""
    out = bars[["timestamp", "open", "high", "low", "close", "volume"]].copy()
    out["timestamp"] = bars["timestamp"].dt.as_unit("s").astype("int64")
    if trades:
        out["trades"] = np.arange(10, 10 + len(bars))
    return out.to_csv(header=False, index=False)


def write_layout(bars: pd.DataFrame, path: Path, layout: str) -> Path:
    """Write ``bars`` in one of the accepted layouts; returns the file written."""
    if layout == "spot_ms":
        binance_rows(bars, "ms").to_csv(path, header=False, index=False)
    elif layout == "spot_us":
        binance_rows(bars, "us").to_csv(path, header=False, index=False)
    elif layout == "futures":
        binance_rows(bars, "ms").to_csv(path, header=True, index=False)
    elif layout == "zip":
        buf = io.StringIO()
        binance_rows(bars, "ms").to_csv(buf, header=False, index=False)
        path = path.with_suffix(".zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.with_suffix(".csv").name, buf.getvalue())
    elif layout == "iso_offset":
        out = bars.assign(timestamp=bars["timestamp"].map(lambda t: t.isoformat()))
        out.rename(columns={"timestamp": "open_time"}).to_csv(path, index=False)
    elif layout == "iso_naive":
        out = bars.assign(timestamp=bars["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S"))
        out.to_csv(path, index=False)
    elif layout == "epoch_s":
        secs = bars["timestamp"].dt.as_unit("s").astype("int64")
        bars.assign(timestamp=secs).to_csv(path, index=False)
    else:
        raise ValueError(layout)
    return path


@pytest.fixture
def bars() -> pd.DataFrame:
    return make_bars()


@pytest.fixture(scope="session")
def pipeline_project(tmp_path_factory):
    """The default pipeline on a small synthetic market, reproduced once per session."""
    from pipeline import dvc, scratch_project

    root = scratch_project(
        tmp_path_factory.mktemp("e2e"),
        **{
            "data.synthetic.n_bars": 8000,
            "epochs": 3,
            "patience": 2,
            "width": 8,
            "patterns.per_class": 200,
            "patterns.real_per_class": 100,
            "patterns.epochs": 2,
            "patterns.width": 8,
            "patterns.synthetic.n_bars": 60000,
            "minirocket.kernels": 252,
            "minirocket.C": [0.0001, 0.001],
            "sizing.har_spans": [60, 360, 1440],  # 5.6 days of bars: no week to read
        },  # fmt: skip
    )
    dvc(root, "repro")
    return root


def _shared_state(root: Path) -> dict[str, bytes]:
    """What tests read from the shared project: its stages, params, lock and metrics."""
    files = [root / n for n in ("dvc.yaml", "params.yaml", "dvc.lock")]
    files += sorted((root / MARKET / "metrics").glob("*.json"))
    return {str(f.relative_to(root)): f.read_bytes() for f in files}


@pytest.fixture
def project(pipeline_project):
    """The session's pipeline project. Every test that uses it sees it as the fixture
    built it: a test that leaves its stages, params, lock or metrics changed (a
    workspace `dvc exp run`, an unrestored edit) fails here, so it cannot change what
    later tests read. Tests that change the project work on a copy."""
    before = _shared_state(pipeline_project)
    yield pipeline_project
    after = _shared_state(pipeline_project)
    changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    assert not changed, f"the shared project's {', '.join(changed)} changed; use a copy"


@pytest.fixture
def deployed(project, tmp_path):
    """The project's bundle with the ensemble deployed, whatever the project decided."""
    from gafcnn.serving.bundle import redeploy

    return redeploy(project / MARKET / "models" / "bundle", tmp_path / "bundle", "ensemble",
                    "deploy ensemble")  # fmt: skip
