"""Analysis layer: fits, the F-test, and the study's claims (one registry) checked over stored results."""

from t2v_energy_lib.analysis.claim import Claim, ClaimResult, ClaimRow
from t2v_energy_lib.analysis.claims import CLAIM_STATEMENTS, CLAIMS, check_all
from t2v_energy_lib.analysis.fits import (
    FTest,
    PolyFit,
    constant_within,
    f_test_nested,
    fit_linear,
    fit_polynomial,
    fit_quadratic,
    log_log_slope,
    mape,
    max_relative_deviation,
)
from t2v_energy_lib.analysis.theory_view import PredictorFit, TheoryView, from_theory

__all__ = [
    "CLAIMS",
    "CLAIM_STATEMENTS",
    "Claim",
    "ClaimResult",
    "ClaimRow",
    "FTest",
    "PolyFit",
    "PredictorFit",
    "TheoryView",
    "check_all",
    "constant_within",
    "f_test_nested",
    "fit_linear",
    "fit_polynomial",
    "fit_quadratic",
    "from_theory",
    "log_log_slope",
    "mape",
    "max_relative_deviation",
]
