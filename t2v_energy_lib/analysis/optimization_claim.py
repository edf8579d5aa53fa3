"""The optimisation suite's goal as a claim: some engaged lever set cuts GPU energy per video by >= 40%.

Judged per model and setting on the stored ``optimizations`` records
(:mod:`t2v_energy_lib.analysis.optimizations`): the best variant must be ``engaged`` (a lever that counted no
activity, or left the output bit-identical, is never a saving), its saving significant against every round
of the default of its run, and at least
:data:`~t2v_energy_lib.analysis.optimizations.GOAL_SAVING_FRACTION` of the default's GPU energy per video.
With random weights the activation-dependent caches skip differently than with trained weights: the claim
holds for the weights measured, which the records name.
"""

from __future__ import annotations

from typing import Any

from t2v_energy_lib.analysis.claim import ClaimResult, ClaimRow
from t2v_energy_lib.analysis.optimizations import (
    GOAL_SAVING_FRACTION,
    SUITE,
    goal_verdict,
    optimization_rows,
)
from t2v_energy_lib.analysis.points import open_results, require_records


def check_optimization_goal(results: Any) -> ClaimResult:
    """Every model and setting of the optimisation suite has an engaged variant saving >= 40% GPU energy.

    Raises:
        MissingResultsError: No optimisation records (run ``t2v-energy optimize``).
    """
    rf, label = open_results(results)
    records = require_records(rf, label, SUITE, component="end_to_end")
    rows = []
    for group, group_rows in optimization_rows(records).items():
        verdict = goal_verdict(group, group_rows)
        rows.append(ClaimRow(group, "gpu_energy_j per video", verdict.met, verdict.message))
    failed = [f"{r.subject}: {r.figure}" for r in rows if not r.holds]
    summary = f"{len(rows) - len(failed)} of {len(rows)} settings meet the goal" + (
        f"; does NOT hold: {'; '.join(failed)}" if failed else ""
    )
    criteria = (
        f"an engaged variant saving >= {GOAL_SAVING_FRACTION:.0%} of the default's GPU energy per video"
    )
    return ClaimResult(
        "optimization_goal",
        bool(rows) and not failed,
        f"{summary}; criteria: {criteria}",
        {"rows": rows, "failed": failed},
        rows=tuple(rows),
    )
