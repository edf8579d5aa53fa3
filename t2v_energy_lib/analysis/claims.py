"""The study's claims as checks over stored results, and a registry of them.

Each check takes a ``ResultFile`` or a path (a result file, or a folder of them) and returns a frozen
:class:`ClaimResult`. A check raises :class:`~t2v_energy_lib.errors.MissingResultsError` (a ``FitError``)
when the results lack the suite it needs, naming the command that produces it, and ``FitError`` when the
data cannot be fitted. Thresholds are module constants of the module that implements each check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from t2v_energy_lib.analysis.breakdown import check_denoiser_dominates, check_matmul_attention_dominate
from t2v_energy_lib.analysis.claim import ClaimResult
from t2v_energy_lib.analysis.points import open_results
from t2v_energy_lib.analysis.roofline import check_compute_bound
from t2v_energy_lib.analysis.sweeps import (
    check_linear_in_steps,
    check_quadratic_in_frames,
    check_quadratic_in_pixels,
)
from t2v_energy_lib.analysis.theory_view import TheoryView
from t2v_energy_lib.analysis.validation import check_predictors
from t2v_energy_lib.errors import FitError

#: Claim name -> check, in the order a report lists them.
CLAIMS: dict[str, Callable[[Any], ClaimResult]] = {
    "quadratic_in_pixels": check_quadratic_in_pixels,
    "quadratic_in_frames": check_quadratic_in_frames,
    "linear_in_steps": check_linear_in_steps,
    "compute_bound": check_compute_bound,
    "denoiser_dominates": check_denoiser_dominates,
    "matmul_attention_dominate": check_matmul_attention_dominate,
    "better_predictor": check_predictors,
}

#: A readable statement of each claim (used as report row titles).
CLAIM_STATEMENTS: dict[str, str] = {
    "quadratic_in_pixels": "GPU energy and latency per video are quadratic in pixel count H*W",
    "quadratic_in_frames": "GPU energy and latency per video are quadratic in latent frames",
    "linear_in_steps": "GPU energy and latency are linear in denoising steps; per-step energy constant",
    "compute_bound": "above the threshold token length the denoiser is compute-bound at a stable FLOP/s",
    "denoiser_dominates": "the denoiser takes > 60% of per-video GPU energy",
    "matmul_attention_dominate": "matmul + attention kernels take > 60% of denoiser GPU time",
    "better_predictor": "our predictor beats the study's single-mu model on every sweep (MAPE)",
}


#: Checks that read the theory layer (they take a ``theory`` keyword).
THEORY_CLAIMS = ("compute_bound", "better_predictor")


def check_all(results: Any, theory: TheoryView | None = None) -> dict[str, ClaimResult | FitError]:
    """Run every claim check; a check that cannot run gives its ``FitError`` (with the reason) instead.

    Args:
        results: A ``ResultFile`` or a path to a result file or folder (loaded once).
        theory: Passed to the checks that need the theory layer (default: the theory layer itself).
    """
    rf, _ = open_results(results)
    out: dict[str, ClaimResult | FitError] = {}
    for name, check in CLAIMS.items():
        try:
            out[name] = check(rf, theory=theory) if name in THEORY_CLAIMS else check(rf)
        except FitError as exc:
            out[name] = exc
    return out


__all__ = [
    "CLAIMS",
    "CLAIM_STATEMENTS",
    "ClaimResult",
    "check_all",
    "check_compute_bound",
    "check_denoiser_dominates",
    "check_linear_in_steps",
    "check_matmul_attention_dominate",
    "check_predictors",
    "check_quadratic_in_frames",
    "check_quadratic_in_pixels",
]
