"""Bundle versions and the champion pointer.

Each symbol has a store, ``models/versions/<SYMBOL>/`` (the symbol as the service
keys it: ``BTCUSDT``): ``<version>/`` (the bundle's one id,
:func:`~gafcnn.serving.bundle.version_id`) holds each exported bundle a retrain produced
(the newest ``retrain.keep`` of them, never the champion or the one before it), and
``CHAMPION`` is a small JSON file, replaced atomically, naming the version that
serves. Every promotion, refusal and rollback is one line appended to the log
(``reports/promotions.jsonl``): when (the newest bar's time, not the wall clock, so a
replay writes the same log), which symbol, what, which versions, the figures and
the reason.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gafcnn import clock, paths
from gafcnn.data.sources import symbol_key
from gafcnn.io import InputError, atomic_dir, json_clean, read_json, write_json
from gafcnn.serving.bundle import version_id

POINTER = paths.CHAMPION.name
# A champion's changes (retrain, by hand) and the live guards' (the service): a breaker
# tripped, reset by an operator; a drift flat on and off.
ACTIONS = ("promote", "refuse", "rollback", "trip", "reset", "drift_on", "drift_off")


@dataclass(frozen=True)
class Event:
    """One line of the promotions log."""

    at: str  # the newest bar's time (ISO minute, UTC) when it was decided
    action: str  # promote, refuse or rollback
    champion: str | None  # the version serving after the event
    challenger: str | None  # the version judged (promote, refuse) or restored (rollback)
    reason: str
    figures: dict = field(default_factory=dict)
    symbol: str | None = None


def fitted_until(bundle: Path, spec: dict | None = None) -> str:
    """The last bar a stored bundle was fitted on (ISO), which orders the store (``spec``:
    its ``bundle.json``, when already read)."""
    spec = read_json(Path(bundle) / "bundle.json") if spec is None else spec
    fitted = (spec.get("expiry") or {}).get("fitted_until")
    if fitted is None:
        raise InputError(Path(bundle) / "bundle.json", "no expiry.fitted_until: not a "
                         "bundle a retrain exported")  # fmt: skip
    return clock.iso_minute(int(clock.minutes_of_ms(
        clock.parse_ms(fitted, "bundle.json", "fitted_until"))))  # fmt: skip


def version_of(bundle: Path) -> str:
    """A stored bundle's folder name: its version (:func:`~gafcnn.serving.bundle.version_id`,
    the one id the service and the log show too); only a bundle with ``fitted_until``
    (what a retrain exports) is stored."""
    spec = read_json(Path(bundle) / "bundle.json")
    fitted_until(bundle, spec)
    return version_id(spec)


class Log:
    """The promotions log at ``path``, as ``symbol``'s events (every event without one):
    read in order, appended one line at a time, flushed and synced."""

    def __init__(self, path: str | os.PathLike[str], symbol: str | None = None):
        self.path, self.symbol = Path(path), symbol

    def events(self) -> list[Event]:
        """Every line of the log about the symbol, oldest first."""
        if not self.path.exists():
            return []
        events = []
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line:
                continue
            try:
                events.append(Event(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise InputError(self.path, f"line {n} is not an event: {exc}") from None
        return [e for e in events if e.symbol == self.symbol]

    def record(self, event: Event) -> None:
        """Append one event to the log (one line, flushed and synced)."""
        if event.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {event.action!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(json_clean(asdict(event)), sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


class Versions:
    """The store of bundle versions under ``root`` and its promotions ``log``."""

    def __init__(self, root: str | os.PathLike[str], log: str | os.PathLike[str],
                 symbol: str | None = None):  # fmt: skip
        self.root, self.symbol = Path(root), symbol
        self.log = Log(log, symbol)

    def all(self) -> list[str]:
        """Every stored version, oldest first (by the last bar each was fitted on)."""
        if not self.root.is_dir():
            return []
        stored = [p for p in self.root.iterdir() if (p / "bundle.json").is_file()]
        return [p.name for p in sorted(stored, key=lambda p: (fitted_until(p), p.name))]

    def path(self, version: str) -> Path:
        p = self.root / version
        if not (p / "bundle.json").is_file():
            raise InputError(p, f"no stored version {version!r}")
        return p

    def add(self, bundle: str | os.PathLike[str]) -> str:
        """Copy an exported bundle into the store (atomically); its version. Adding a
        version already stored changes nothing."""
        version = version_of(Path(bundle))
        if version not in self.all():
            with atomic_dir(self.root / version) as tmp:
                shutil.copytree(bundle, tmp, dirs_exist_ok=True)
        return version

    def champion(self) -> str | None:
        """The version that serves, or None before the first promotion."""
        pointer = self.root / POINTER
        return read_json(pointer)["version"] if pointer.exists() else None

    def events(self) -> list[Event]:
        """Every line of the log about this store's symbol, oldest first."""
        return self.log.events()

    def record(self, event: Event) -> None:
        self.log.record(event)

    def promote(self, version: str, at: str, reason: str, figures: dict | None = None) -> None:
        """Make ``version`` the champion: the pointer first, then the log line."""
        self.path(version)
        write_json(self.root / POINTER, {"version": version})
        self.record(Event(at, "promote", version, version, reason, figures or {}, self.symbol))

    def refuse(self, version: str, at: str, reason: str, figures: dict | None = None) -> None:
        """Record that ``version`` was judged and the champion stays."""
        self.record(Event(at, "refuse", self.champion(), version, reason, figures or {},
                          self.symbol))  # fmt: skip

    def champions(self) -> list[str]:
        """The champions as a stack, by the log: a promotion pushes one, a rollback
        pops back to the version it restored."""
        stack: list[str] = []
        for e in self.events():
            if e.action == "promote":
                stack.append(e.champion)
            elif e.action == "rollback":
                while stack and stack[-1] != e.champion:
                    stack.pop()
        return stack

    def previous(self) -> str | None:
        """The newest champion below the current one that is still stored, or None."""
        stored = set(self.all())
        return next((v for v in reversed(self.champions()[:-1]) if v in stored), None)

    def rollback(self, at: str, reason: str = "rolled back by hand") -> str:
        """Restore the previous champion; its version. One error when there is none."""
        back = self.previous()
        if back is None:
            raise InputError(self.root, "no previous champion to roll back to")
        write_json(self.root / POINTER, {"version": back})
        self.record(Event(at, "rollback", back, back, reason, {}, self.symbol))
        return back

    def prune(self, keep: int) -> list[str]:
        """Remove all but the newest ``keep`` versions (never the champion or the one
        before it); the versions removed."""
        spared = {self.champion(), self.previous()}
        stored = self.all()
        gone = [v for v in stored[: max(0, len(stored) - keep)] if v not in spared]
        for v in gone:
            shutil.rmtree(self.root / v)
        return gone


def store(root: str | os.PathLike[str], symbol: str, log: str | os.PathLike[str]) -> Versions:
    """``symbol``'s store under ``root`` (its folder named by the symbol's key)."""
    key = symbol_key(symbol)
    return Versions(Path(root) / key, log, key)


def stores(root: str | os.PathLike[str], log: str | os.PathLike[str]) -> dict[str, Versions]:
    """Every symbol's store under ``root`` that has a champion, by symbol key."""
    found = sorted(p.parent for p in Path(root).glob(f"*/{POINTER}"))
    return {p.name: Versions(p, log, p.name) for p in found}
