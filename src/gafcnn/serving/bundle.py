"""The deployment bundle: what was evaluated, in one folder that serves it.

``models/bundle/`` holds ``bundle.json`` and the model files it names: every model
the registry declares a serving hook for (:func:`gafcnn.registry.served`), each
shipped by its hook (:mod:`gafcnn.serving.served`): the CNNs as ONNX graphs with
the architecture and encoding they were trained on, the ensemble methods' fitted
coefficients, the xgb_indicators and hybrid XGBoost boosters with their inputs' order,
and the volatility forecaster the `sizing` stage chose (``recommended_size``).
Beside them: the names that repeat another model (the configured ``ensemble``),
the label horizon, the fee, the decision with its reasons and the deployed model's
test metrics, the params that made it, the code version, and a SHA-256 per file,
checked on load. ``spec_sha256`` digests the rest of ``bundle.json`` itself (canonical
JSON: sorted keys, no spaces), so a bundle whose deployed model, thresholds, costs
or expiry were edited after export is refused at load, and the bundle's
:attr:`Bundle.version` (``model_version`` in the service's answers) names exactly
what is traded.

:class:`Bundle` loads it without ``params.yaml``, any other pipeline output, torch
or scikit-learn and computes P(up) of every served model (:meth:`Bundle.predict_all`)
or of the deployed model alone (:meth:`Bundle.predict`), each with the code its
stage evaluated; when the decision is "deploy nothing" it serves no model.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import gafcnn
from gafcnn import clock, paths, registry
from gafcnn.data.bars import FLOW
from gafcnn.io import InputError, atomic_dir, read_json, write_json
from gafcnn.serving import sizing
from gafcnn.serving.served import Hook, Inputs, named
from gafcnn.trading.engine import Policy

BUNDLE_FILE = "bundle.json"
FORMAT = 6  # 6: the volatility forecaster; 5: the live guards' references; 4: spec_sha256
SPEC_DIGEST = "spec_sha256"
TOP_FEATURES = 5  # inputs named in each answer's top_features


def version_id(spec: dict) -> str:
    """The one name of what a bundle trades, wherever it is shown (its store folder,
    ``/health``, every answer's ``model_version``, the promotions log, a replay's
    timeline): the gafcnn version and 12 hex digits of its ``bundle.json`` digest
    (models, code, deployed model, thetas, costs, expiry)."""
    return f"{spec['code']['gafcnn']}+{spec[SPEC_DIGEST][:12]}"


def hook(ref: str) -> Hook:
    """The serving hook ``"module:object"`` names (:mod:`gafcnn.serving.served`)."""
    return named(ref)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spec_digest(spec: dict) -> str:
    """SHA-256 of ``bundle.json``'s canonical JSON (sorted keys, no spaces), its own
    ``spec_sha256`` left out: it covers every file's digest, the code's and each
    value that decides a trade."""
    body = {k: v for k, v in spec.items() if k != SPEC_DIGEST}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(folder: str | Path, spec: dict) -> None:
    """Write ``spec`` as ``folder``'s ``bundle.json`` with its digest: what export does,
    and what a deliberate change of a bundle's decision (:func:`redeploy`) must do
    for the bundle to load."""
    path = Path(folder) / BUNDLE_FILE
    write_json(path, {k: v for k, v in spec.items() if k != SPEC_DIGEST})
    written = read_json(path)  # digest the values as a reader will see them
    write_json(path, {**written, SPEC_DIGEST: spec_digest(written)})


def serving_code_digest() -> str:
    """SHA-256 over the source of every gafcnn module that loading and serving a bundle
    runs (this module, what it imports and the serving hooks), in path order: the
    code version."""
    from gafcnn.depgraph import closure

    src = Path(gafcnn.__file__).resolve().parents[1]
    h = hashlib.sha256()
    for f in sorted(closure(src, "gafcnn.serving.bundle")):
        h.update(f.relative_to(src).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def deployed_metrics(table: dict, backtest: dict, policy: dict,
                     deployed: str | None) -> dict | None:  # fmt: skip
    """The deployed model's test figures a bundle carries: its comparison row, its
    always-in backtest and its policy at its theta (the val thetas tried left out);
    None when nothing is deployed."""
    if deployed is None:
        return None
    return {"table": table[deployed], "backtest": backtest[deployed],
            "policy": {k: v for k, v in policy[deployed].items() if k != "val"}}  # fmt: skip


def write_bundle(
    target: str | Path,
    *,
    label_horizon: int,
    costs: dict,
    policy: dict[str, float] | None,
    expiry: dict | None,
    decision: dict | None,
    test_metrics: dict | None,
    params: dict,
    guards: dict | None = None,
    volatility: dict | None = None,
) -> Path:
    """Write the bundle to ``target`` (a folder, replaced atomically) from the pipeline's
    models; ``costs`` per side, ``policy`` each model's val-chosen theta, ``expiry`` the
    last bar the models were fitted on (``fitted_until``) and ``max_age_days``; ``decision``
    None marks a bundle built before the decision (the latency stage measures such
    one's speed); ``guards`` the drift reference and breaker floor
    (:mod:`gafcnn.serving.guards`); ``volatility`` the arguments of
    :func:`gafcnn.serving.sizing.ship` (the chosen forecaster, its horizon, target,
    cap and test scores), or None for no ``recommended_size``."""
    target = Path(target)
    ens = read_json(paths.ENSEMBLE_MODEL)
    windows = [int(w) for w in ens["windows"]]
    with atomic_dir(target) as tmp:
        models = {m.name: hook(m.serves).ship(m, windows, tmp) for m in registry.served()}
        sizer = None if volatility is None else sizing.ship(tmp, **volatility)
        aliases = registry.served_aliases(windows, ens["method"])
        served = [*registry.expand(registry.served(), windows), *aliases]
        deployed = None if decision is None else decision.get("deployed_model")
        bundle: dict[str, Any] = {
            "format": FORMAT,
            "deployed": deployed,
            "decision": None
            if decision is None
            else {
                k: decision[k] for k in ("decision", "reasons", "accuracy_rule") if k in decision
            },
            "test_metrics": test_metrics,
            "windows": windows,
            "models": models,
            "aliases": aliases,
            "policy": None if policy is None else {n: policy[n] for n in served if n in policy},
            "label_horizon": int(label_horizon),
            "costs": costs,
            "expiry": expiry,
            "history_bars": max(int(m.get("history_bars", 1)) for m in models.values()),
            "params": params,
            "guards": guards,
            "volatility": sizer,
            "code": {"gafcnn": gafcnn.__version__, "serving_sha256": serving_code_digest()},
            "files": {f.name: _sha256(f) for f in sorted(tmp.iterdir())},
        }
        seal(tmp, bundle)
    return target


def restate(src: str | Path, target: str | Path, change: Callable[[dict], dict]) -> Path:
    """A copy of bundle ``src`` at ``target`` whose ``bundle.json`` is ``change(spec)``:
    the same models under another decision (a retrain's judgement on its record, a
    test's redeploy), sealed anew, so its version differs from ``src``'s. One error
    when the deployed model is not served."""
    shutil.copytree(src, target)
    spec = change(read_json(Path(target) / BUNDLE_FILE))
    deployed = spec["deployed"]
    if deployed is not None and deployed not in (spec["policy"] or {}):
        raise InputError(src, f"{deployed} is not served; served: {', '.join(spec['policy'])}")
    seal(target, spec)
    return Path(target)


def redeploy(src: str | Path, target: str | Path, deployed: str | None, decision: str) -> Path:
    """A copy of bundle ``src`` at ``target`` with another decision, ``deployed``
    trading at theta 0 (long at P(up) >= 0.5, else short): to exercise serving a
    model the pipeline did not deploy (tests, benchmarks)."""

    def change(spec: dict) -> dict:
        policy = spec["policy"]
        if deployed in (policy or {}):  # an unserved name stays out, for restate to refuse
            policy = {**policy, deployed: 0.0}
        return {**spec, "deployed": deployed, "policy": policy,
                "decision": {**(spec["decision"] or {}), "decision": decision}}  # fmt: skip

    return restate(src, target, change)


class Bundle:
    """A loaded bundle: every served model's P(up) from raw bars."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        spec_file = self.path / BUNDLE_FILE
        if not spec_file.exists():
            raise InputError(self.path, f"not a bundle (no {BUNDLE_FILE}); `dvc repro export`")
        self.spec = read_json(spec_file)
        if self.spec.get("format") != FORMAT:
            raise InputError(spec_file, f"bundle format {self.spec.get('format')}, need {FORMAT}; "
                             "`dvc repro export`")  # fmt: skip
        if self.spec.get(SPEC_DIGEST) != spec_digest(self.spec):
            raise InputError(spec_file, "edited after export (its SHA-256 differs from the one "
                             "export recorded); `dvc repro export`")  # fmt: skip
        for name, digest in self.spec["files"].items():
            f = self.path / name
            if not f.exists() or _sha256(f) != digest:
                raise InputError(f, "missing or altered bundle file (SHA-256 differs)")
        declared = [m.name for m in registry.served()]
        if list(self.spec["models"]) != declared:
            raise InputError(spec_file, f"serves {list(self.spec['models'])}, this code "
                             f"declares {declared}; `dvc repro export`")  # fmt: skip
        self.windows = [int(w) for w in self.spec["windows"]]
        self.deployed: str | None = self.spec["deployed"]
        self.history = int(self.spec["history_bars"])
        self.aliases: dict[str, str] = self.spec["aliases"]
        self.warned_expired = False
        expiry = self.spec["expiry"]
        self.expires_after: int | None = None  # the last epoch minute it may trade
        if expiry:
            fitted_ms = clock.parse_ms(expiry["fitted_until"], "bundle.json", "fitted_until")
            age_ms = expiry["max_age_days"] * 86_400_000
            self.expires_after = int(clock.minutes_of_ms(fitted_ms + age_ms))
        self.models = [
            hook(m.serves).load(m, self.spec["models"][m.name], self.path)
            for m in registry.served()
        ]
        self.producers = {name: predict for m, predict in zip(registry.served(), self.models,
                                                              strict=True)
                          for name in m.names(self.windows)}  # fmt: skip
        self.top_features = self._top_features(TOP_FEATURES)
        vol = self.spec["volatility"]
        self.sizer = None if vol is None else sizing.Sizer(vol, self.path)
        self.bar_columns = self._bar_columns()

    def _bar_columns(self) -> tuple[str, ...]:
        """The bar columns beyond OHLCV its models read (the order flow, when a booster
        was fitted on it or a CNN's channels encode it): every bar served must carry
        them."""
        need: set[str] = set()
        for m in registry.served():
            columns = getattr(hook(m.serves), "bar_columns", None)
            if columns is not None:
                need |= columns(self.spec["models"][m.name])
        return tuple(c for c in FLOW if c in need)

    def check_bars(self, bars: Any, source: str, line: int | None = None) -> None:
        """One error when ``bars`` lack a column its models read."""
        missing = [c for c in self.bar_columns if c not in bars]
        if missing:
            raise InputError(source, f"this bundle's models read the order flow "
                             f"({', '.join(self.bar_columns)}); the bars carry no "
                             f"{', '.join(missing)}", line)  # fmt: skip

    def _top_features(self, k: int) -> list[str]:
        """The deployed model's ``k`` most informative inputs by gain, where its hook
        ranks them (the boosters); none for a model without per-input gain (a CNN, an
        ensemble of CNNs) or when nothing is deployed."""
        name = None if self.deployed is None else self.aliases.get(self.deployed, self.deployed)
        for m in registry.served():
            if name in m.names(self.windows):
                rank = getattr(hook(m.serves), "top_features", None)
                return [] if rank is None else rank(m, self.spec["models"][m.name], self.path, k)
        return []

    @property
    def version(self) -> str:
        """What this bundle trades, named (:func:`version_id`)."""
        return version_id(self.spec)

    @functools.cached_property
    def deployed_policy(self) -> Policy:
        """How the deployed model trades (:meth:`policy`)."""
        return self.policy()

    @property
    def theta(self) -> float:
        """The deployed model's val-chosen threshold."""
        return self.deployed_policy.theta

    def policy(self, model: str | None = None) -> Policy:
        """How ``model`` (the deployed one by default) is traded: its val-chosen theta,
        the label horizon, the decision stride and the costs, as the backtest traded it."""
        model = self.deployed if model is None else model
        spec = self.spec
        return Policy(
            theta=float((spec["policy"] or {}).get(model, 0.0)),
            horizon=int(spec["label_horizon"]),
            cost_bps=float(spec["costs"]["per_side_bps"]),
            stride=int(spec["params"]["gaf"]["stride"]),
            model=model or "",
        )

    def expired(self, minute: int) -> str | None:
        """Why a decision at epoch ``minute`` must not trade on this bundle's models (more
        than ``max_age_days`` past the last bar they were fitted on), or None."""
        if self.expires_after is None or minute <= self.expires_after:
            return None
        expiry = self.spec["expiry"]
        return (
            f"model expired: bars more than {expiry['max_age_days']:.2f} days past "
            f"{expiry['fitted_until']}, the last bar its models were fitted on, answer flat "
            "(retrain: `dvc repro` on newer bars)"
        )

    def ready(self, minutes: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Where a decision at bar ``positions`` has its history: at least
        ``history_bars`` bars, the last ``max(windows)`` of them consecutive minutes."""
        need = max(self.windows)
        start = np.maximum(positions - need + 1, 0)
        return (positions >= self.history - 1) & (minutes[positions] - minutes[start] == need - 1)

    def predict_all(
        self, bars: dict[str, np.ndarray], minutes: np.ndarray, positions: np.ndarray
    ) -> dict[str, np.ndarray]:
        """P(up) of every served model at bar ``positions``, by registry name, each
        computed by its serving hook in registry order."""
        x = Inputs(bars, minutes, np.asarray(positions))
        for predict in self.models:
            x.p.update(predict(x))
        return x.p | {name: x.p[source] for name, source in self.aliases.items()}

    def predict(
        self, bars: dict[str, np.ndarray], minutes: np.ndarray, positions: np.ndarray
    ) -> np.ndarray | None:
        """P(up) of the deployed model, or None when nothing is deployed; computes only
        the models it reads (the same bits as :meth:`predict_all`)."""
        if self.deployed is None:
            return None
        x = Inputs(bars, minutes, np.asarray(positions), self.producers)
        return x.p[self.aliases.get(self.deployed, self.deployed)]
