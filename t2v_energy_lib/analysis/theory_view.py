"""What the claims need from the theory layer, in one small frozen object: :class:`TheoryView`.

The compute-bound and predictor claims read FLOPs, arithmetic intensity, the GPU's ridge point, the threshold
token length and the predictors only through a ``TheoryView``. :func:`from_theory` builds one from
``t2v_energy_lib.theory`` (imported lazily); tests build one from synthetic callables. Keeping the adapter in
one place means a change of the theory layer's names touches only this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.errors import FitError

Settings = Mapping[str, Any]
#: Predictor name -> record id -> (predicted GPU energy per video J, predicted latency per video s).
Predictions = Mapping[str, Mapping[str, tuple[float, float]]]
#: A predictor fitter: sweep name -> measured points (``SweepPoint``) -> predictions of every predictor,
#: ideally cross-validated (each point predicted by a fit that did not see it). The first key is the study's.
PredictorFitter = Callable[[Mapping[str, Sequence[Any]]], tuple[Predictions, bool]]


@dataclass(frozen=True)
class TheoryView:
    """The theory quantities the claims use.

    Attributes:
        gpu_name: The GPU the figures are for.
        peak_flops_per_s: Dense bf16 peak. Units: FLOP/s.
        ridge_flops_per_byte: Peak FLOP/s over peak memory bandwidth. Units: FLOP/byte.
        step_flops: (model, settings) -> analytic FLOPs of one denoising step as the pipeline runs it (CFG
            included). Units: FLOP.
        step_intensity: (model, settings) -> analytic arithmetic intensity of one step. Units: FLOP/byte.
        token_length: (model, settings) -> denoiser token length.
        threshold_tokens: model -> the token length above which the theory says the step is compute-bound.
        fit_predictors: The predictor fitter, or None where the theory layer has none.
    """

    gpu_name: str
    peak_flops_per_s: float
    ridge_flops_per_byte: float
    step_flops: Callable[[str, Settings], float]
    step_intensity: Callable[[str, Settings], float]
    token_length: Callable[[str, Settings], int]
    threshold_tokens: Callable[[str], int]
    fit_predictors: PredictorFitter | None = None


def _missing(name: str, exc: Exception) -> FitError:
    return FitError(
        f"the theory layer does not provide {name} ({type(exc).__name__}: {exc}); this claim needs it: "
        f"update t2v_energy_lib/analysis/theory_view.py to the theory layer's API"
    )


def from_theory(provenance: Mapping[str, Any] | None) -> TheoryView:
    """A :class:`TheoryView` backed by ``t2v_energy_lib.theory`` for the GPU named in ``provenance``.

    Raises:
        FitError: The theory layer lacks a function this needs (the message names it).
    """
    try:
        from t2v_energy_lib import theory
    except ImportError as exc:  # pragma: no cover - the package always exists
        raise _missing("its package", exc) from exc
    try:
        return theory.analysis_view(provenance)  # type: ignore[attr-defined]
    except AttributeError as exc:
        raise _missing("analysis_view(provenance) -> TheoryView", exc) from exc
