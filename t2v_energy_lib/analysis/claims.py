"""The study's claims, ONE registry: each claim's statement, the alternative it rejects, its suites and check.

Each check takes a ``ResultFile`` or a path (a result file, or a folder of them) and returns a frozen
:class:`ClaimResult` (holds / does not hold / undecided). A check raises
:class:`~t2v_energy_lib.errors.MissingResultsError` (a ``FitError``) when the results lack the suite it needs,
naming the command that produces it, :class:`~t2v_energy_lib.errors.TooFewPointsError` when there are too few
points to decide, and ``FitError`` when the data cannot be fitted. Thresholds are module constants of the
module that implements each check.
"""

from __future__ import annotations

from typing import Any

from t2v_energy_lib.analysis.breakdown import check_denoiser_dominates, check_matmul_attention_dominate
from t2v_energy_lib.analysis.claim import Claim, ClaimResult, ClaimRow
from t2v_energy_lib.analysis.composition import check_complete_generations, check_composition
from t2v_energy_lib.analysis.optimization_claim import check_optimization_goal
from t2v_energy_lib.analysis.points import open_results
from t2v_energy_lib.analysis.roofline import check_compute_bound
from t2v_energy_lib.analysis.steps_claim import check_linear_in_steps
from t2v_energy_lib.analysis.sweeps import check_quadratic_in_frames, check_quadratic_in_pixels
from t2v_energy_lib.analysis.theory_view import TheoryView
from t2v_energy_lib.analysis.validation import check_predictors
from t2v_energy_lib.errors import FitError

_REGISTRY = (
    Claim(
        "quadratic_in_pixels",
        "the denoiser's GPU energy and latency per video follow the FLOP model's linear + attention (l^2) "
        "terms in pixel count H*W",
        "a power law l^p with one exponent (p = 1.1, 1.3), a straight top, or a curve whose l^2 share is not "
        "the attention's",
        check_quadratic_in_pixels,
        ("resolution",),
        needs_theory=True,
    ),
    Claim(
        "quadratic_in_frames",
        "the denoiser's GPU energy and latency per video follow the linear + attention terms in latent "
        "frames",
        "a power law in frames, a straight top, or an l^2 share far from the attention's",
        check_quadratic_in_frames,
        ("frames",),
        needs_theory=True,
    ),
    Claim(
        "linear_in_steps",
        "GPU energy and latency of separate runs are linear in denoising steps; per-step energy constant",
        "a bend in E(S) larger than the measured run-to-run noise (prefixes of one run cannot show one)",
        check_linear_in_steps,
        ("steps",),
    ),
    Claim(
        "compute_bound",
        "above the threshold token length the denoiser runs at >= half the GPU's measured matmul rate, at a "
        "stable FLOP/s and energy per FLOP",
        "a memory- or overhead-bound step far below the measured matmul ceiling (a 5x slower run)",
        check_compute_bound,
        ("resolution", "frames", "reference", "calibration"),
        needs_theory=True,
    ),
    Claim(
        "composition",
        "every composed record follows from its stored parts, and composition + fixed overhead matches "
        "complete generations within 3%",
        "a composed figure that does not follow from its parts, or a composition missing a real cost",
        check_composition,
        ("validation",),
    ),
    Claim(
        "complete_generations",
        "every cross-model complete generation is within 3% of its composition from parts",
        "a pipeline cost the parts do not measure",
        check_complete_generations,
        ("cross_model",),
    ),
    Claim(
        "denoiser_dominates",
        "the denoiser takes > 60% (and <= 100%) of per-video GPU energy",
        "a pipeline where text encoding or decoding costs as much as the denoiser",
        check_denoiser_dominates,
        ("cross_model",),
    ),
    Claim(
        "matmul_attention_dominate",
        "matmul + attention kernels take > 60% of denoiser GPU time",
        "a step dominated by norms, elementwise or other kernels",
        check_matmul_attention_dominate,
        ("cross_model",),
    ),
    Claim(
        "better_predictor",
        "our predictor beats the study's single-mu model on every sweep (held-out MAPE)",
        "a per-operator model no better than one energy-per-FLOP constant",
        check_predictors,
        ("resolution", "frames", "steps"),
        needs_theory=True,
    ),
    Claim(
        "optimization_goal",
        "for every model and setting of the optimisation suite, an engaged lever set cuts GPU energy per "
        "video by >= 40% against the default pipeline of the same run",
        "savings that are small, not significant, or come from a lever that never engaged",
        check_optimization_goal,
        ("optimizations",),
    ),
)

#: Claim name -> :class:`Claim`, in the order a report lists them. A ``Claim`` is callable:
#: ``CLAIMS[name](results, theory=None) -> ClaimResult``.
CLAIMS: dict[str, Claim] = {c.name: c for c in _REGISTRY}

#: A readable statement of each claim (used as report row titles).
CLAIM_STATEMENTS: dict[str, str] = {c.name: c.statement for c in _REGISTRY}

#: Checks that read the theory layer (they take a ``theory`` keyword).
THEORY_CLAIMS = tuple(c.name for c in _REGISTRY if c.needs_theory)


def check_all(results: Any, theory: TheoryView | None = None) -> dict[str, ClaimResult | FitError]:
    """Run every claim check; a check that cannot run gives its ``FitError`` (with the reason) instead.

    Args:
        results: A ``ResultFile`` or a path to a result file or folder (loaded once).
        theory: Passed to the checks that need the theory layer (default: the theory layer itself).
    """
    rf, _ = open_results(results)
    out: dict[str, ClaimResult | FitError] = {}
    for name, claim in CLAIMS.items():
        try:
            out[name] = claim(rf, theory=theory)
        except FitError as exc:
            out[name] = exc
    return out


__all__ = [
    "CLAIMS",
    "CLAIM_STATEMENTS",
    "Claim",
    "ClaimResult",
    "ClaimRow",
    "check_all",
    "check_complete_generations",
    "check_composition",
    "check_compute_bound",
    "check_denoiser_dominates",
    "check_linear_in_steps",
    "check_matmul_attention_dominate",
    "check_predictors",
    "check_quadratic_in_frames",
    "check_quadratic_in_pixels",
]
