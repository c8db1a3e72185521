"""The deployment decision: the original plan's rules applied to measured numbers, under
the project's two rules above them (skill beyond the majority rate, profit after costs)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gafcnn.registry import ORACLE

# The original plan's serving targets for a deployed model (measured by the `latency` stage).
LIMITS = {"latency_ms_p99": 100.0, "peak_rss_mb": 2048.0}


@dataclass(frozen=True)
class DecisionInputs:
    """What the deployment decision is made from.

    ``table`` maps model name to a row with ``accuracy``, ``majority_rate`` and
    ``accuracy_ci``; the oracle row, if present, is ignored. ``ensemble``,
    ``xgb_indicators`` and ``hybrid`` name the three candidates. ``policy`` maps a model
    to its trading policy on test (:mod:`gafcnn.evaluation.policy`): ``theta``,
    ``mean_net_return`` per trade after costs, ``judged`` (enough trades) and
    ``p_value_family`` (beating flat, corrected for every model x theta tried).
    ``trials`` is how many experiments (configs) this run was picked from: a winner of a
    grid must clear the bar corrected for every model of every experiment.
    """

    table: dict[str, dict]
    ensemble: str
    xgb_indicators: str
    hybrid: str
    audit_passed: bool
    out_of_sample: bool
    inference_ok: bool
    memory_ok: bool
    policy: dict[str, dict] | None = None
    alpha: float = 0.05
    require_profit: bool = True
    trials: int = 1
    bootstrap_reps: int | None = None  # the p-values' resamples: their floor is 1 / (reps + 1)


def floor_note(reps: int | None, k: int, alpha: float) -> str:
    """Why no model can pass when the bootstrap's smallest p-value, corrected for ``k``
    comparisons, is not below ``alpha`` (empty when it can be)."""
    if reps is None or k / (reps + 1) < alpha:
        return ""
    return (f"; the {reps} bootstrap resamples give p-values of at least 1/{reps + 1}, which "
            f"times {k} comparisons cannot fall below {alpha}: set evaluate.bootstrap_reps "
            f"to at least {math.ceil(k / alpha)}")  # fmt: skip


def decide(inputs: DecisionInputs) -> dict:
    """The original plan's deployment rules applied to measured numbers, under two rules
    above them: if no model's accuracy interval lies above the majority rate, deploy
    nothing; with ``require_profit``, never deploy a model that loses money after costs.

    The plan's accuracy rule picks the ensemble (> 70%), the hybrid (60-70%) or
    xgb_indicators (< 60%). With ``require_profit`` a model deploys only with its
    policy, when that policy passes the cost gate: judged, positive net return, and a
    family-wise p-value (times ``trials``) below ``alpha``; when the plan's pick does
    not, the next simpler candidate (hybrid, then xgb_indicators) that shows skill and
    passes is deployed, else nothing. What the accuracy rule alone would have chosen is
    ``accuracy_rule``.
    """
    table, ensemble, xgb_indicators, hybrid = (
        inputs.table, inputs.ensemble, inputs.xgb_indicators, inputs.hybrid)  # fmt: skip
    policy, alpha, require_profit = inputs.policy, inputs.alpha, inputs.require_profit
    candidates = {m: r for m, r in table.items() if m != ORACLE}
    trials = max(int(inputs.trials), 1)
    k = len(candidates) * trials
    compared = f"{len(candidates)} models" + (f" x {trials} experiments" if trials > 1 else "")
    # Many models are compared at once: a model only counts as beating the majority
    # rate when its interval clears it *and* its Bonferroni-adjusted p-value < alpha.
    beating = sorted(
        m
        for m, r in candidates.items()
        if r["accuracy_ci"][0] > r["majority_rate"]
        and min(1.0, r.get("p_value_vs_majority", 0.0) * k) < alpha
    )
    ens_acc = table[ensemble]["accuracy"]
    names = {
        ensemble: "deploy ensemble",
        hybrid: "deploy hybrid",
        xgb_indicators: "deploy xgb_indicators only",
    }
    reasons = []
    if not beating:
        decision = "deploy nothing"
        reasons.append(
            "no model's accuracy interval lies above the majority rate with a "
            f"family-wise p-value below {alpha} ({compared} compared): "
            "nothing shows skill on the test segment" + floor_note(inputs.bootstrap_reps, k, alpha)
        )
    elif ens_acc > 0.70:
        decision = names[ensemble]
        reasons.append(f"ensemble accuracy {ens_acc:.3f} > 0.70")
    elif ens_acc >= 0.60:
        decision = names[hybrid]
        reasons.append(f"ensemble accuracy {ens_acc:.3f} within 0.60-0.70")
    else:
        decision = names[xgb_indicators]
        reasons.append(f"ensemble accuracy {ens_acc:.3f} < 0.60")
    if beating:
        reasons.append(f"models whose interval clears the majority rate: {', '.join(beating)}")
    checklist = {
        "ensemble_above_70pct": bool(ens_acc > 0.70),
        "outperforms_xgb_indicators": bool(ens_acc > table[xgb_indicators]["accuracy"]),
        "tested_out_of_sample": bool(inputs.out_of_sample),
        "no_leakage": bool(inputs.audit_passed),
        "inference_under_100ms": bool(inputs.inference_ok),
        "memory_under_2gb": bool(inputs.memory_ok),
    }
    if not inputs.audit_passed:
        decision = "deploy nothing"
        reasons.insert(0, "the audit failed: results cannot be trusted")
    by_name = {v: m for m, v in names.items()}
    plan = {"decision": decision, "model": by_name.get(decision)}
    deployed = plan["model"]
    gate = None if policy is None else cost_gate(policy, alpha, trials)
    if deployed is not None and gate is not None and not gate[deployed]["passes"]:
        failed = f"{deployed}'s policy {gate[deployed]['why']}"
        if not require_profit:
            reasons.append(f"warning: {failed}")
        else:
            order = [ensemble, hybrid, xgb_indicators]
            simpler = order[order.index(deployed) + 1 :]
            paying = [m for m in simpler if m in beating and gate[m]["passes"]]
            if paying:
                deployed = paying[0]
                decision = names[deployed]
                reasons.append(
                    f"cost gate: {failed}; {deployed} shows skill and its policy "
                    f"{gate[deployed]['why']}, so it is deployed instead"
                )
            else:
                deployed, decision = None, "deploy nothing"
                reasons.append(
                    f"cost gate (evaluate.require_profit): {failed}, and no simpler model "
                    "that shows skill passes: nothing is deployed "
                    f"(the accuracy rule alone would {plan['decision']})"
                )
    elif deployed is not None and gate is not None:
        reasons.append(f"cost gate: {deployed}'s policy {gate[deployed]['why']}")
    profitable = None
    if gate is not None and deployed is not None:
        profitable = bool(policy[deployed]["mean_net_return"] > 0)
    return {
        "decision": decision,
        "reasons": reasons,
        "checklist": checklist,
        "checklist_passed": all(checklist.values()),
        "deployed_model": deployed,
        "profitable_after_costs": profitable,
        "require_profit": bool(require_profit),
        "alpha": float(alpha),
        "trials": trials,
        "theta": None if deployed is None or policy is None else policy[deployed]["theta"],
        "cost_gate": gate,
        "accuracy_rule": plan,
        "ensemble_accuracy": ens_acc,
        "xgb_indicators_accuracy": table[xgb_indicators]["accuracy"],
        "hybrid_accuracy": table[hybrid]["accuracy"],
    }


def cost_gate(policy: dict[str, dict], alpha: float, trials: int = 1) -> dict[str, dict]:
    """Per model, whether its test policy may trade: enough trades to judge, a positive
    mean net return after costs, and a family-wise p-value (x ``trials``) below
    ``alpha``; ``why`` says which in words."""
    out = {}
    for name, r in policy.items():
        if name == ORACLE:
            continue
        p = min(1.0, r["p_value_family"] * max(int(trials), 1))
        net, theta = r["mean_net_return"], r["theta"]
        at = f"at theta {theta:g} ({r['trades']} test trades, {net * 1e4:+.2f} bps net per trade"
        if not r["judged"]:
            why = f"{at}) has too few trades to judge"
        elif not net > 0:
            why = f"{at}) loses money after costs"
        elif p >= alpha:
            why = f"{at}) is not distinguishable from luck (family-wise p {p:.3f} >= {alpha})"
        else:
            why = f"{at}, family-wise p {p:.3f} < {alpha}) pays its costs"
        out[name] = {"theta": theta, "mean_net_return": net, "p_value": p,
                     "passes": bool(r["judged"] and net > 0 and p < alpha), "why": why}  # fmt: skip
    return out
