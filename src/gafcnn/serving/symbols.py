"""Which bundle answers which symbol.

Two things serve, told apart by one rule: a folder holding ``bundle.json`` is one
bundle, which answers the symbol it was fitted on and any other named beside it
(``--symbols``); any other folder is a store, ``<symbol>/CHAMPION`` per symbol, each
pointer naming the bundle that answers that symbol (``{"version": ..., "path": ...}``,
the path relative to the symbol's folder, the version's own folder without one). The
markets folder (``markets``, the default: each market's `export` writes its pointer to
its ``models/bundle``) and the versions store of retrains (``models/versions``,
:mod:`gafcnn.serving.versions`: the champion) are both stores; a single symbol is a
store with one champion. Symbols are compared by their key: upper case without
separators, so ``btc/usdt``, ``BTC-USDT`` and ``BTCUSDT`` are one symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gafcnn import paths
from gafcnn.data.sources import symbol_key
from gafcnn.io import InputError, read_json
from gafcnn.serving.bundle import BUNDLE_FILE, Bundle
from gafcnn.serving.versions import POINTER


def fitted_symbol(bundle: Bundle) -> str:
    """The symbol ``bundle``'s models were fitted on: its market's one ``data.symbols``
    entry (``data.symbol`` in a bundle of an older release)."""
    data = bundle.spec["params"]["data"]
    return (data.get("symbols") or [data["symbol"]])[0]


@dataclass(frozen=True)
class Served:
    """The bundle of every served symbol (by :func:`symbol_key`), the symbol a request
    without one is about (None: every request names its symbol) and the store they
    came from (None: one bundle), whose new champions a service swaps in."""

    bundles: dict[str, Bundle]
    default: str | None
    store: Path | None = None

    @classmethod
    def one(cls, bundle: Bundle, also: list[str] = ()) -> Served:
        """``bundle`` for the symbol it was fitted on and for each of ``also``."""
        default = symbol_key(fitted_symbol(bundle))
        keys = dict.fromkeys([default, *map(symbol_key, also)])
        return cls({k: bundle for k in keys}, default)

    @classmethod
    def champions(cls, root: str | Path, only: list[str] = ()) -> Served:
        """Each symbol's champion in the store ``root`` (those of ``only``)."""
        found = champion_paths(root)
        if not found:
            raise InputError(root, f"no <symbol>/{POINTER} under it: `dvc repro` exports "
                             "each market's; `gafcnn retrain` promotes one")  # fmt: skip
        keys = list(dict.fromkeys(map(symbol_key, only))) or list(found)
        missing = [k for k in keys if k not in found]
        if missing:
            raise InputError(root, f"no champion for {', '.join(missing)} "
                             f"(it has {', '.join(found)})")  # fmt: skip
        bundles = {k: Bundle(found[k]) for k in keys}
        return cls(bundles, keys[0] if len(keys) == 1 else None, Path(root))

    @classmethod
    def open(cls, path: str | Path, symbols: list[str] = ()) -> Served:
        """A bundle folder (:meth:`one`), else a store (:meth:`champions`)."""
        path = Path(path)
        if (path / BUNDLE_FILE).exists():
            return cls.one(Bundle(path), symbols)
        if not path.is_dir():
            raise InputError(path, f"neither a bundle (no {BUNDLE_FILE}) nor a store (no folder)")
        return cls.champions(path, symbols)

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
        """The bundle's version, or for several bundles each symbol's, ``SYMBOL=version``
        joined by commas in symbol order (the one id, never another name for it)."""
        if self.single is not None:
            return self.single.version
        return ",".join(f"{k}={b.version}" for k, b in sorted(self.bundles.items()))


def pointers(root: str | Path) -> dict[str, tuple[Path, str]]:
    """Each symbol's champion in the store ``root``, by symbol key: the folder its
    ``CHAMPION`` pointer names (its ``path``, else the version's own folder) and the
    version it names."""
    found = {}
    for pointer in sorted(Path(root).glob(f"*/{POINTER}")):
        named = read_json(pointer)
        folder = pointer.parent / named.get("path", named["version"])
        found[symbol_key(pointer.parent.name)] = (folder, named["version"])
    return found


def champion_paths(root: str | Path) -> dict[str, Path]:
    """Each symbol's champion folder in the store ``root``, by symbol key."""
    return {key: folder for key, (folder, _) in pointers(root).items()}


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
                         f"folder ({paths.MARKETS}) serves each symbol by its own")  # fmt: skip
    return served.bundles[key]
