"""What `gafcnn serve` is told, in one place: limits, auth, the store it watches and
the guards' log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_BODY = 1 << 20  # bytes: about 10,000 bars as JSON objects
MAX_BARS = 5000  # bars in one POST /bars (a stream keeps 2,000)
MAX_AHEAD_S = 60.0  # how far a timestamp may lie ahead of the service clock
RELOAD_S = 2.0  # seconds between reads of the champion pointers and the guards' log


@dataclass(frozen=True)
class Options:
    """How the service runs: ``symbols`` a single bundle also answers; ``token`` every
    request must bear (None: no auth); the body, bars-per-request and clock-skew
    limits; ``clock`` (seconds, the tests set it); ``watch``, a versions store whose
    new champions are swapped in, and ``log``, the promotions log the guards' state is
    kept in, each read every ``reload_s`` seconds; ``guards`` False turns the drift
    gate and the breaker off."""

    symbols: tuple[str, ...] = ()
    token: str | None = None
    max_body: int = MAX_BODY
    max_bars: int = MAX_BARS
    max_ahead_s: float = MAX_AHEAD_S
    clock: Callable[[], float] = time.time
    watch: Path | None = None
    log: Path | None = None
    reload_s: float = RELOAD_S
    guards: bool = True


DEFAULTS = Options()
