"""What the claims need from the theory layer, in one small frozen object: :class:`TheoryView`.

The compute-bound and predictor claims read FLOPs, arithmetic intensity, the GPU's ridge point, the threshold
token length and the predictors only through a ``TheoryView``. :func:`from_theory` builds one from
``t2v_energy_lib.theory`` (imported lazily); tests build one from synthetic callables. Keeping the adapter in
one place means a change of the theory layer's names touches only this module (and ``predictor_fit``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from t2v_energy_lib.errors import FitError, T2VEnergyError, UnknownModelError

Settings = Mapping[str, Any]
#: Predictor name -> record id -> (predicted GPU energy J, predicted latency s) of the point's work.
Predictions = Mapping[str, Mapping[str, tuple[float, float]]]


@dataclass(frozen=True)
class PredictorFit:
    """What a predictor fitter returns for the measured points of every sweep.

    Attributes:
        held_out: Predictor name -> record id -> (energy J, latency s), each point predicted by a fit that did
            not see it (leave-one-out) where ``cross_validated``; else the in-sample predictions.
        in_sample: The same from one fit on every point.
        study: Names of the study's single-mu predictors (every one must be beaten).
        ours: Name of the better predictor.
        cross_validated: True when ``held_out`` is leave-one-out.
        parameters: Predictor name -> fitted parameter -> value, of the fit on every point (units in names).
        note: What the points are and how they were fitted, for the claim's summary.
    """

    held_out: Predictions
    in_sample: Predictions
    study: tuple[str, ...]
    ours: str
    cross_validated: bool
    parameters: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    note: str = ""


#: A predictor fitter: sweep name -> measured points (``SweepPoint``) -> a :class:`PredictorFit`.
PredictorFitter = Callable[[Mapping[str, Sequence[Any]]], PredictorFit]


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
        threshold_tokens: model -> the token length above which the theory says the step is compute-bound,
            or None where the theory has no single token length for the model (a UNet).
        fit_predictors: The predictor fitter, or None where the theory layer has none.
        attention_share: (model, settings) -> the self-attention score FLOPs (the l^2 term) over all FLOPs of
            one step, or None where the theory layer has none.
    """

    gpu_name: str
    peak_flops_per_s: float
    ridge_flops_per_byte: float
    step_flops: Callable[[str, Settings], float]
    step_intensity: Callable[[str, Settings], float]
    token_length: Callable[[str, Settings], int]
    threshold_tokens: Callable[[str], int | None]
    fit_predictors: PredictorFitter | None = None
    attention_share: Callable[[str, Settings], float] | None = None


def _missing(name: str, exc: Exception) -> FitError:
    return FitError(
        f"the theory layer does not provide {name} ({type(exc).__name__}: {exc}); this claim needs it: "
        f"update t2v_energy_lib/analysis/theory_view.py to the theory layer's API"
    )


def gpu_spec_for(provenance: Mapping[str, Any] | None) -> Any:
    """The theory's datasheet ``GpuSpec`` for the GPU named in ``provenance['gpu']['name']``.

    NVML names read like ``NVIDIA H100 80GB HBM3``; the vendor word is dropped before the theory's lookup
    (``h100``, ``h200``, ``a100``, ``l40s``).

    Raises:
        FitError: No GPU name in the provenance, or a GPU the theory layer does not know.
    """
    from t2v_energy_lib import theory

    name = str(((provenance or {}).get("gpu") or {}).get("name") or "")
    if not name:
        raise FitError(
            "the results' provenance names no GPU (provenance['gpu']['name']); cannot pick ceilings"
        )
    short = name.lower().replace("nvidia", "").strip()
    try:
        return theory.get_gpu(short)
    except T2VEnergyError as exc:
        raise FitError(f"no theory ceilings for the results' GPU {name!r}: {exc}") from exc


class _TheoryModels:
    """Per-model helpers over ``t2v_energy_lib.theory`` and ``models.get_spec``, cached by settings."""

    def __init__(self, gpu: Any) -> None:
        self.gpu = gpu

    @staticmethod
    def spec(model: str) -> Any:
        from t2v_energy_lib.models import get_spec

        return get_spec(model)

    def _step(self, model: str, settings: Settings) -> tuple[Any, Any, int, int]:
        from t2v_energy_lib import theory

        spec = self.spec(model)
        gen = theory.settings_from_mapping(spec, settings)
        forwards, batch = theory.cfg_execution(spec, gen.guidance_scale)
        return spec, gen, forwards, batch

    def step_flops(self, model: str, settings: Settings) -> float:
        from t2v_energy_lib import theory

        spec, gen, forwards, batch = self._step(model, settings)
        return forwards * theory.denoiser_flops(spec, gen, batch).total_flops

    def step_intensity(self, model: str, settings: Settings) -> float:
        from t2v_energy_lib import theory

        spec, gen, _, batch = self._step(model, settings)
        ops = theory.denoiser_ops(spec, theory.denoiser_input(spec, gen, batch))
        return float(theory.roofline(ops, self.gpu).intensity_flops_per_byte)

    def attention_share(self, model: str, settings: Settings) -> float:
        """Self-attention score FLOPs (the ``attn_scores`` term, l^2) over all FLOPs of one forward."""
        from t2v_energy_lib import theory

        spec, gen, _, batch = self._step(model, settings)
        flops = theory.denoiser_flops(spec, gen, batch)
        return float(flops.terms.get("attn_scores", 0.0) / flops.total_flops)

    def token_length(self, model: str, settings: Settings) -> int:
        spec, gen, _, _ = self._step(model, settings)
        return int(spec.token_length(gen.height, gen.width, gen.num_frames))

    @lru_cache(maxsize=64)  # noqa: B019 (one instance per TheoryView; the cache dies with it)
    def threshold_tokens(self, model: str) -> int | None:
        """Smallest token length at which one forward (default CFG batch) is compute-bound; None: UNet."""
        from t2v_energy_lib import theory

        spec = self.spec(model)
        _, batch = theory.cfg_execution(spec, spec.defaults.guidance_scale)
        try:
            return theory.compute_bound_token_length(
                lambda tokens: theory.ops_at_token_length(spec, tokens, batch), self.gpu
            )
        except UnknownModelError:  # a UNet (AnimateDiff) has no single token length
            return None


def from_theory(provenance: Mapping[str, Any] | None) -> TheoryView:
    """A :class:`TheoryView` backed by ``t2v_energy_lib.theory`` for the GPU named in ``provenance``.

    Step FLOPs count every CFG forward of a step (``cfg_execution``); intensity is the whole step's FLOPs over
    its bytes on the GPU's roofline; the threshold is ``compute_bound_token_length`` over one forward; the
    fitter is :func:`t2v_energy_lib.analysis.predictor_fit.fit_sweep_predictors` at the GPU's peak.

    Raises:
        FitError: The provenance names no GPU the theory knows, or the theory layer lacks a function.
    """
    try:
        from t2v_energy_lib.analysis.predictor_fit import fit_sweep_predictors
    except ImportError as exc:  # pragma: no cover - shipped together
        raise _missing("the predictor fitter", exc) from exc
    gpu = gpu_spec_for(provenance)
    models = _TheoryModels(gpu)
    return TheoryView(
        gpu_name=gpu.name,
        peak_flops_per_s=float(gpu.peak_flops),
        ridge_flops_per_byte=float(gpu.ridge_flops_per_byte),
        step_flops=models.step_flops,
        step_intensity=models.step_intensity,
        token_length=models.token_length,
        threshold_tokens=models.threshold_tokens,
        fit_predictors=lambda sweeps: fit_sweep_predictors(sweeps, peak_flops=float(gpu.peak_flops)),
        attention_share=models.attention_share,
    )
