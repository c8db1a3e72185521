"""The service's Prometheus metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MAX_FIELD_LABELS = 32  # distinct ignored field names counted by name; the rest as "other"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


@dataclass
class Metrics:
    """The service's Prometheus metrics, in a registry of their own."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("gafcnn_requests", "HTTP requests", ["path", "status"], registry=r)
        self.errors = Counter("gafcnn_request_errors", "HTTP requests answered >= 400",
                              ["path"], registry=r)  # fmt: skip
        self.latency = Histogram("gafcnn_request_seconds", "Time to answer a request", ["path"],
                                 buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.bars = Gauge("gafcnn_bars_held", "Closed bars held", ["symbol"], registry=r)
        self.ignored = Counter("gafcnn_ignored_fields", "Request fields ignored (unknown)",
                               ["field"], registry=r)  # fmt: skip
        self.reloads = Counter("gafcnn_reloads", "Champions swapped in", ["symbol"], registry=r)
        self.reload_errors = Counter("gafcnn_reload_errors", "New champions that failed to load",
                                     ["symbol"], registry=r)  # fmt: skip
        self.live_trades = Gauge("gafcnn_live_trades", "Live trades settled under the champion",
                                 ["symbol"], registry=r)  # fmt: skip
        self.live_win = Gauge("gafcnn_live_win_rate", "Live trades' win rate after costs",
                              ["symbol"], registry=r)  # fmt: skip
        self.live_net = Gauge("gafcnn_live_net_bps", "Live net return per trade after costs, bps",
                              ["symbol"], registry=r)  # fmt: skip
        self.floor = Gauge("gafcnn_backtest_floor_bps", "Backtest's lower bound, net bps per trade",
                           ["symbol"], registry=r)  # fmt: skip
        self.drift = Gauge("gafcnn_drift_psi", "PSI of an input's live window against train",
                           ["symbol", "input"], registry=r)  # fmt: skip
        self.flat = Gauge("gafcnn_guard_flat", "1 while a guard holds the symbol flat",
                          ["symbol", "guard"], registry=r)  # fmt: skip
        self.vol_qlike = Gauge("gafcnn_live_vol_qlike",
                               "Live QLIKE of the volatility forecasts scored so far",
                               ["symbol"], registry=r)  # fmt: skip
        self._fields: set[str] = set()

    def ignore(self, fields: list[str]) -> None:
        """Count ignored fields by name (the first ``MAX_FIELD_LABELS`` names; later
        ones as ``other``, so no client can grow the series without bound)."""
        for name in fields:
            if name not in self._fields and len(self._fields) < MAX_FIELD_LABELS:
                self._fields.add(name)
            self.ignored.labels(name if name in self._fields else "other").inc()

    def live(self, name: str, figures: dict) -> None:
        """Set a symbol's live gauges from its desk's figures (NaN where none yet)."""
        live, nan = figures["live"], float("nan")
        self.live_trades.labels(name).set(live["trades"])
        self.live_win.labels(name).set(nan if live["win_rate"] is None else live["win_rate"])
        self.live_net.labels(name).set(nan if live["mean_net_bps"] is None
                                       else live["mean_net_bps"])  # fmt: skip
        self.floor.labels(name).set(nan if live["floor_bps"] is None else live["floor_bps"])
        for key, value in figures["drift_psi"].items():
            self.drift.labels(name, key).set(nan if value is None else value)
        for guard in ("drift", "breaker"):
            self.flat.labels(name, guard).set(float(figures["flat_by"] == guard))
        vol = figures.get("volatility") or {}
        self.vol_qlike.labels(name).set(nan if vol.get("qlike") is None else vol["qlike"])

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)
        if status >= 400:
            self.errors.labels(path).inc()
