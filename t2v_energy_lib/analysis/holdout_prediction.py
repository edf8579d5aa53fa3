"""The blind holdout's per-video figures on a target GPU, predicted from another GPU's FITS before measuring.

:func:`~t2v_energy_lib.analysis.cross_gpu.predict_folder` carries MEASURED source parts to the target, so it
can only predict shapes the source measured, which the target has mostly measured too. The holdout
(:data:`~t2v_energy_lib.bench.scenarios.HOLDOUT_POINTS`) lists shapes no GPU measured; each of their parts is
first predicted ON THE SOURCE from the source's own measurements at other shapes:

* denoiser step: the per-operator predictor (:func:`~t2v_energy_lib.theory.fit_predictors`, the one
  ``t2v-energy predict --fit`` prints) fitted on the model's ``denoiser_step`` records over token length;
* VAE decode: latency and energy linear in ``height x width x frames``
  (:func:`~t2v_energy_lib.theory.part_fits.fit_linear_part`) over the model's untiled decodes (the resolution
  and frames sweeps);
* text encoder: the mean of the model's measured text encodings (it does not depend on the video shape);
* a model measured at too few shapes for a fit (CogVideoX-2b: its default only) is ANCHORED: its measured
  value at the nearest shape times the ratio the reference model's fit (:data:`REFERENCE_MODEL`) gives
  between the two shapes (:func:`~t2v_energy_lib.theory.part_fits.anchored_value`).

Each fitted part is then carried to the target exactly as a measured one
(:func:`~t2v_energy_lib.analysis.cross_gpu.transfer_part`: roofline split plus the source's measured
elementwise share; ceilings and board power from the two calibrations) and the per-video figure is composed
(``text_encoder + S x denoiser_step + vae_decode``). Nothing of the target is read but its calibration: no
target measurement enters. The document has the cross-GPU schema, so ``t2v-energy gpus score`` scores it
unchanged, written-before-measuring check included. Random weights: the source parts were measured with
random weights, which leaves the dense-kernel work, hence these fits and transfers, unchanged; they say
nothing about output quality.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2v_energy_lib.analysis.cross_gpu import (
    PartOps,
    composed_point,
    elementwise_seconds_per_token,
    mean,
    prediction_document,
    transfer_part,
    transfer_setup,
)
from t2v_energy_lib.bench.records import text_encoder_id
from t2v_energy_lib.bench.scenarios import WAN_13B, Scenario, holdout_points
from t2v_energy_lib.errors import BaselineFormatError, FitError
from t2v_energy_lib.theory.calibration import GpuCalibration

#: The model whose fits carry to a model measured at too few shapes (the study's model, swept on the H100).
REFERENCE_MODEL = WAN_13B
#: Fewest measured shapes for a model's own fit: 4 per-operator parameters plus leave-one-out; 2 for a line.
MIN_STEP_RECORDS = 6
MIN_VAE_RECORDS = 3
METHOD = (
    "holdout: parts at shapes no GPU measured, predicted on the source from its fits (denoiser step: "
    "per-operator predictor over token length; VAE decode: linear in height x width x frames; text encoder: "
    "mean measured; a model with too few shapes anchored to its measured shape by the reference model's "
    "fit), then carried to the target by the roofline transfer of each part "
    "(t2v_energy_lib/theory/transfer.py) with the normalisation/elementwise share of the source's operator "
    "profiles; only the target's calibration is read"
)


@dataclass(frozen=True)
class FittedPart:
    """A part predicted on the source GPU at a shape it did not measure; read like a record by the transfer.

    Attributes:
        id: The record id the target's measurement will have (``holdout/<model>/<HxWxF-sS>/<component>``).
        model: Model id.
        component: ``text_encoder``, ``denoiser_step`` or ``vae_decode``.
        settings: Generation settings of the point.
        latency_s: Predicted latency on the source. Units: s.
        energy_j: Predicted GPU energy on the source. Units: J.
        how: How the value was obtained (fit, anchor, mean).
        source_records: Ids of the source records it was obtained from.
    """

    id: str
    model: str
    component: str
    settings: Mapping[str, Any]
    latency_s: float
    energy_j: float
    how: str
    source_records: tuple[str, ...]

    @property
    def rounds(self) -> dict[str, list[float]]:
        """The one predicted value, in a record's ``rounds`` layout."""
        return {"latency_s": [self.latency_s], "gpu_energy_j": [self.energy_j]}


def measured_records(records: Sequence[Any], model: str, component: str) -> list[Any]:
    """The source's own measurements of ``component`` of ``model``: not reused, not errors, with GPU energy,
    and for decodes untiled (tiling is a memory fallback that changes the work)."""
    out = []
    for r in records:
        if r.model != model or r.component != component or "error" in r.extra or "reused_from" in r.extra:
            continue
        if not r.rounds.get("latency_s") or not r.rounds.get("gpu_energy_j"):
            continue
        if component == "vae_decode" and r.settings.get("vae_tiling"):
            continue
        out.append(r)
    return out


def _spec_and_settings(model: str, settings: Mapping[str, Any]) -> tuple[Any, Any]:
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.theory import settings_from_mapping

    spec = get_spec(model)
    return spec, settings_from_mapping(spec, settings)


def _tokens(model: str, settings: Mapping[str, Any]) -> int:
    spec, s = _spec_and_settings(model, settings)
    return int(spec.token_length(s.height, s.width, s.num_frames))


def _pixels_frames(settings: Mapping[str, Any]) -> float:
    return float(settings["height"]) * float(settings["width"]) * float(settings["num_frames"])


class SourceFits:
    """The source folder's fits, per model and part, fitted once and read per holdout point.

    Args:
        records: The source folder's records.
        peak_flops: The source's matmul ceiling (the single-mu predictors' peak; unused by the
            per-operator one). Units: FLOP/s.
    """

    def __init__(self, records: Sequence[Any], peak_flops: float) -> None:
        self.records = list(records)
        self.peak_flops = peak_flops
        self.step_fits: dict[str, tuple[Any, tuple[str, ...]]] = {}  # model -> (fit, record ids)
        self.vae_fits: dict[str, tuple[Any, tuple[str, ...]]] = {}

    def _fit(
        self,
        cache: dict[str, tuple[Any, tuple[str, ...]]],
        model: str,
        component: str,
        minimum: int,
        make: Callable[[list[Any]], Any],
    ) -> tuple[Any, tuple[str, ...]]:
        """``(make(records), record ids)`` of ``model``'s measured ``component``, fitted once."""
        if model not in cache:
            mine = measured_records(self.records, model, component)
            if len(mine) < minimum:
                raise FitError(
                    f"{model}: {len(mine)} measured {component} record(s) (decodes: untiled), a fit needs "
                    f"{minimum}"
                )
            cache[model] = (make(mine), tuple(r.id for r in mine))
        return cache[model]

    def step_fit(self, model: str) -> tuple[Any, tuple[str, ...]]:
        """``(per-operator FittedPredictor, record ids)`` of ``model``'s denoiser steps.

        Raises:
            FitError: Fewer than :data:`MIN_STEP_RECORDS` measured steps.
        """
        from t2v_energy_lib.models import get_spec
        from t2v_energy_lib.theory import fit_predictors, points_from_records

        def make(mine: list[Any]) -> Any:
            points = points_from_records(mine, get_spec(model), "denoiser_step")
            return fit_predictors(points, self.peak_flops).per_operator

        return self._fit(self.step_fits, model, "denoiser_step", MIN_STEP_RECORDS, make)

    def vae_fit(self, model: str) -> tuple[Any, tuple[str, ...]]:
        """``(LinearPartFit over pixels x frames, record ids)`` of ``model``'s untiled decodes.

        Raises:
            FitError: Fewer than :data:`MIN_VAE_RECORDS` measured decodes.
        """
        from t2v_energy_lib.theory.part_fits import fit_linear_part

        def make(mine: list[Any]) -> Any:
            return fit_linear_part(
                [_pixels_frames(r.settings) for r in mine],
                [mean(r.rounds["latency_s"]) for r in mine],
                [mean(r.rounds["gpu_energy_j"]) for r in mine],
            )

        return self._fit(self.vae_fits, model, "vae_decode", MIN_VAE_RECORDS, make)

    def step(self, sc: Scenario) -> FittedPart:
        """The denoiser step of ``sc`` on the source: the model's fit, or anchored to the reference fit."""
        from t2v_energy_lib.theory import predictor_point

        def predict(model_fit: Any, settings: Mapping[str, Any]) -> tuple[float, float]:
            spec, s = _spec_and_settings(sc.model_id, settings)
            t, e = model_fit.predict(predictor_point(spec, s))
            return float(t), float(e)

        return self._part(sc, "denoiser_step", self.step_fit, predict, _tokens)

    def vae(self, sc: Scenario) -> FittedPart:
        """The VAE decode of ``sc`` on the source: the model's fit, or anchored to the reference fit."""
        return self._part(
            sc,
            "vae_decode",
            self.vae_fit,
            lambda fit, settings: fit.predict(_pixels_frames(settings)),
            lambda _model, settings: _pixels_frames(settings),
        )

    def _part(
        self,
        sc: Scenario,
        component: str,
        fit_of: Callable[[str], tuple[Any, tuple[str, ...]]],
        predict: Callable[[Any, Mapping[str, Any]], tuple[float, float]],
        size: Callable[[str, Mapping[str, Any]], float],
    ) -> FittedPart:
        from t2v_energy_lib.theory.part_fits import anchored_value

        settings = sc.settings_dict()
        try:
            fit, ids = fit_of(sc.model_id)
        except FitError:
            if sc.model_id == REFERENCE_MODEL:
                raise
        else:
            t, e = predict(fit, settings)
            how = f"{sc.model_id}'s own fit over {len(ids)} source records"
            return FittedPart(sc.record_id(component), sc.model_id, component, settings, t, e, how, ids)
        mine = measured_records(self.records, sc.model_id, component)
        if not mine:
            raise FitError(f"{sc.model_id}: no measured {component} on the source to anchor a fit to")
        wanted = size(sc.model_id, settings)
        anchor = min(mine, key=lambda r: abs(size(r.model, r.settings) / wanted - 1.0))
        fit, ids = fit_of(REFERENCE_MODEL)
        t_new, e_new = predict(fit, settings)
        t_old, e_old = predict(fit, anchor.settings)
        t = anchored_value(mean(anchor.rounds["latency_s"]), t_new, t_old)
        e = anchored_value(mean(anchor.rounds["gpu_energy_j"]), e_new, e_old)
        how = f"anchored: {anchor.id} x {REFERENCE_MODEL}'s fit ratio ({len(ids)} source records)"
        return FittedPart(
            sc.record_id(component), sc.model_id, component, settings, t, e, how, (anchor.id, *ids)
        )

    def text_encoder(self, sc: Scenario) -> FittedPart:
        """The text encoding of ``sc``'s model on the source: the mean of its measured encodings.

        Raises:
            FitError: The source never measured this model's text encoder.
        """
        mine = measured_records(self.records, sc.model_id, "text_encoder")
        if not mine:
            raise FitError(f"{sc.model_id}: no measured text_encoder on the source")
        t = mean(mean(r.rounds["latency_s"]) for r in mine)
        e = mean(mean(r.rounds["gpu_energy_j"]) for r in mine)
        ids = tuple(r.id for r in mine)
        rid = text_encoder_id(sc.suite, sc.model_id)
        how = f"mean of {len(ids)} measured text encodings"
        return FittedPart(rid, sc.model_id, "text_encoder", sc.settings_dict(), t, e, how, ids)


def predict_holdout(
    source_folder: str | Path,
    target: GpuCalibration,
    source: GpuCalibration | None = None,
    *,
    scenarios: Sequence[Scenario] | None = None,
    created_utc: str | None = None,
    git_commit: str | None = None,
) -> dict[str, Any]:
    """The prediction document of the holdout's per-video points on the calibrated target GPU.

    Args:
        source_folder: The source GPU's measured folder (``baselines/<gpu>/<version>``).
        target: The target GPU's calibration (its only input from the target).
        source: The source GPU's calibration (default: the folder's, see
            :func:`~t2v_energy_lib.analysis.cross_gpu.transfer_setup`).
        scenarios: The points (default: :func:`~t2v_energy_lib.bench.scenarios.holdout_points`).
        created_utc: Creation time to record (default: now).
        git_commit: The code's commit to record.

    Raises:
        BaselineFormatError: The source folder was measured on the target's GPU model (a prediction from the
            target's own measurements is not blind), no source calibration, or no point could be predicted.
    """
    from t2v_energy_lib.results import load_results

    folder = Path(source_folder)
    results = load_results(folder)
    source_gpu = (results.provenance.get("gpu") or {}).get("name")
    if source_gpu == target.gpu_name:
        raise BaselineFormatError(
            f"{folder} was measured on {source_gpu}, the GPU the holdout is predicted for: a blind "
            "prediction comes from another GPU's folder (e.g. --from baselines/nvidia-h100-80gb-hbm3/0.42.1)"
        )
    setup = transfer_setup(folder, target, source)
    fits = SourceFits(results.records, setup.move["source"].peak_flops)
    per_token_s = elementwise_seconds_per_token(results.records)
    ops, parts, points, skipped = PartOps(), {}, {}, {}
    how: dict[str, Any] = {}
    for sc in holdout_points() if scenarios is None else scenarios:
        try:
            fitted = (fits.text_encoder(sc), fits.step(sc), fits.vae(sc))
            for part in fitted:
                if part.id not in parts:
                    parts[part.id] = transfer_part(part, ops, setup.move, per_token_s)
                    parts[part.id] |= {"source_from": part.how, "source_records": list(part.source_records)}
        except Exception as exc:  # one point without a fit must not hide the others: say why
            skipped[sc.record_id("composed")] = f"{type(exc).__name__}: {exc}"
            continue
        ids = {part.component: part.id for part in fitted}
        points[sc.record_id("composed")] = composed_point(
            sc.suite, sc.model_id, sc.settings_dict(), ids, parts
        )
        how[sc.model_id] = {part.component: part.how for part in fitted}
    if not points:
        raise BaselineFormatError(
            f"{folder}: no holdout point could be predicted ({dict(list(skipped.items())[:3])}); point at a "
            "measured folder with the resolution and frames sweeps"
        )
    doc = prediction_document(
        setup,
        folder,
        results.provenance.get("date_utc"),
        method=METHOD,
        per_token_s=per_token_s,
        parts=parts,
        points=points,
        skipped=skipped,
        created_utc=created_utc,
        git_commit=git_commit,
    )
    doc["holdout"] = {
        "source_values": "predicted on the source from its fits (no source measurement at these shapes)",
        "target_inputs": "the target's calibration only (matmul and copy ceilings, idle and loaded power)",
        "fits": _fit_summary(fits, how),
    }
    return doc


def _fit_summary(fits: SourceFits, how: Mapping[str, Any]) -> dict[str, Any]:
    """Per model: how each part was obtained; the fits' parameters and quality."""
    out: dict[str, Any] = {"parts": dict(how)}
    for model, (fit, ids) in fits.step_fits.items():
        out[f"{model}/denoiser_step"] = {
            "predictor": fit.name,
            "records": len(ids),
            "parameters": {**dict(fit.latency_params), **dict(fit.energy_params)},
            "latency_mape_pct": fit.latency.mape,
            "latency_loo_mape_pct": fit.latency.loo_mape,
            "energy_mape_pct": fit.energy.mape,
            "energy_loo_mape_pct": fit.energy.loo_mape,
        }
    for model, (fit, ids) in fits.vae_fits.items():
        out[f"{model}/vae_decode"] = {"model": "linear in height x width x frames", "records": len(ids)} | {
            k: getattr(fit, k) for k in fit.__dataclass_fields__
        }
    return out
