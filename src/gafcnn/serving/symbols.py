"""Which bundle answers which symbol.

Three layouts serve: one bundle (a market's ``models/bundle``), which answers the
symbol it was fitted on and any other named beside it (``--symbols``); the markets
folder (``markets``, the default), in which each ``<symbol>/models/bundle`` answers
its own symbol by its own decision; or a store
of retrained versions (``models/versions``, :mod:`gafcnn.live.versions`), in which
each symbol's champion answers it. Symbols are
compared by their key: upper case without separators, so ``btc/usdt``, ``BTC-USDT``
and ``BTCUSDT`` are one symbol.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gafcnn import paths
from gafcnn.data.sources import symbol_key
from gafcnn.io import InputError, read_json
from gafcnn.live.versions import POINTER
from gafcnn.serving.bundle import BUNDLE_FILE, Bundle


def fitted_symbol(bundle: Bundle) -> str:
    """The symbol ``bundle``'s models were fitted on: its market's one ``data.symbols``
    entry (``data.symbol`` in a bundle of an older release)."""
    data = bundle.spec["params"]["data"]
    return (data.get("symbols") or [data["symbol"]])[0]


def universe_bundles(root: Path) -> dict[str, Path]:
    """Each market's bundle under the markets folder ``root``
    (``<symbol>/models/bundle``) by its symbol, in symbol order."""
    found = sorted(p.parent for p in root.glob(f"*/{paths.BUNDLE.as_posix()}/{BUNDLE_FILE}"))
    return {p.relative_to(root).parts[0]: p for p in found}


@dataclass(frozen=True)
class Served:
    """The bundle of every served symbol (by :func:`symbol_key`) and the symbol a
    request without one is about (None: every request names its symbol)."""

    bundles: dict[str, Bundle]
    default: str | None

    @classmethod
    def one(cls, bundle: Bundle, also: list[str] = ()) -> Served:
        """``bundle`` for the symbol it was fitted on and for each of ``also``."""
        default = symbol_key(fitted_symbol(bundle))
        keys = dict.fromkeys([default, *map(symbol_key, also)])
        return cls({k: bundle for k in keys}, default)

    @classmethod
    def _chosen(cls, root: str | Path, found: dict[str, Path], only: list[str], empty: str,
                what: str) -> Served:  # fmt: skip
        """The bundles ``found`` by symbol key (those of ``only`` when given); ``empty``
        says how to make one when none is found, ``what`` names a missing one."""
        if not found:
            raise InputError(root, empty)
        keys = list(dict.fromkeys(map(symbol_key, only))) or list(found)
        missing = [k for k in keys if k not in found]
        if missing:
            raise InputError(root, f"no {what} for {', '.join(missing)} "
                             f"(it has {', '.join(found)})")  # fmt: skip
        return cls({k: Bundle(found[k]) for k in keys}, keys[0] if len(keys) == 1 else None)

    @classmethod
    def universe(cls, root: str | Path, only: list[str] = ()) -> Served:
        """Each symbol's own bundle under ``root`` (those of ``only`` when given)."""
        found = {symbol_key(s): p for s, p in universe_bundles(Path(root)).items()}
        empty = f"no <symbol>/{paths.BUNDLE.as_posix()}/{BUNDLE_FILE} under it; `dvc repro`"
        return cls._chosen(root, found, only, empty, "bundle")

    @classmethod
    def champions(cls, root: str | Path, only: list[str] = ()) -> Served:
        """Each symbol's champion in the versions store ``root`` (those of ``only``)."""
        empty = f"no <symbol>/{POINTER} under it: `gafcnn retrain` promotes a first champion"
        return cls._chosen(root, champion_paths(root), only, empty, "champion")

    @classmethod
    def open(cls, path: str | Path, symbols: list[str] = ()) -> Served:
        """A bundle folder (:meth:`one`), the markets folder (:meth:`universe`)
        or a versions store (:meth:`champions`)."""
        path = Path(path)
        if (path / BUNDLE_FILE).exists() or not path.is_dir():
            return cls.one(Bundle(path), symbols)
        if any(path.glob(f"*/{POINTER}")) or path.resolve() == paths.VERSIONS.resolve():
            return cls.champions(path, symbols)
        return cls.universe(path, symbols)

    def key(self, symbol: str | None, source: str) -> str:
        """The served symbol ``symbol`` names (the default without one), or InputError."""
        if symbol is None:
            if self.default is None:
                raise InputError(source, f"symbol: required (serves {', '.join(self.bundles)}, "
                                 "each by its own bundle)")  # fmt: skip
            return self.default
        key = symbol_key(symbol)
        if key not in self.bundles:
            raise InputError(source, f"symbol {symbol!r} is not served (serves "
                             f"{', '.join(self.bundles)}; `--symbols` adds others)")  # fmt: skip
        return key

    def bundle(self, symbol: str | None, source: str) -> Bundle:
        return self.bundles[self.key(symbol, source)]

    @property
    def single(self) -> Bundle | None:
        """The one bundle serving every symbol, or None for a universe's bundles."""
        distinct = {id(b): b for b in self.bundles.values()}
        return next(iter(distinct.values())) if len(distinct) == 1 else None

    @property
    def version(self) -> str:
        """The bundle's version, or for several bundles ``universe+`` and 12 hex digits
        of a digest over each symbol's version."""
        if self.single is not None:
            return self.single.version
        text = ";".join(f"{k}={b.version}" for k, b in sorted(self.bundles.items()))
        return f"universe+{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def champion_paths(root: str | Path) -> dict[str, Path]:
    """Each symbol's champion folder in the versions store ``root``, by symbol key
    (what its ``CHAMPION`` pointer names)."""
    pointers = sorted(Path(root).glob(f"*/{POINTER}"))
    return {p.parent.name: p.parent / read_json(p)["version"] for p in pointers}


def bundle_for(path: str | Path, symbol: str | None) -> Bundle:
    """The bundle that answers ``symbol`` (`gafcnn predict`, `paper`): ``path`` itself,
    fitted on ``symbol`` when one is named, or in a universe's models folder the
    symbol's own (named by ``--symbol`` unless the folder holds one)."""
    if symbol is None:
        served = Served.open(path)
        if served.default is None:
            raise InputError(path, f"holds a bundle per symbol ({', '.join(served.bundles)}): "
                             "name one with --symbol")  # fmt: skip
        return served.bundles[served.default]
    served = Served.open(path, [symbol])
    key = served.key(symbol, "--symbol")
    if key != served.default:
        raise InputError(path, f"fitted on {served.default}, not {symbol}; the markets "
                         f"folder ({paths.MARKETS}) has a bundle per symbol")  # fmt: skip
    return served.bundles[key]
