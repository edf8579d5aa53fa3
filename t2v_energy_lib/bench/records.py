"""Result records of the bench: measured series, composed figures, failures, reused measurements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from t2v_energy_lib.bench.compose import Quantities
from t2v_energy_lib.bench.measure import Series
from t2v_energy_lib.bench.scenarios import Scenario
from t2v_energy_lib.results.quantities import sign_problem, unit_of
from t2v_energy_lib.results.record_builder import record_from_windows
from t2v_energy_lib.results.schema import ResultRecord

# Components of one shape that do not depend on the step count (reusable across suites and step counts).
SHAPE_COMPONENTS = ("denoiser_step", "vae_decode")


def text_encoder_id(suite: str, model_id: str) -> str:
    """Record id of a model's text-encoder measurement in a suite (it does not depend on the video shape)."""
    return f"{suite}/{model_id}/prompt/text_encoder"


def series_record(
    scenario: Scenario,
    series: Series,
    run_settings: Mapping[str, Any],
    record_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ResultRecord:
    """A measured record of ``series`` for ``scenario`` (values per unit of work, raw floats).

    Built by the runners' one builder (:func:`~t2v_energy_lib.results.record_builder.record_from_windows`).
    """
    return record_from_windows(
        record_id=record_id or scenario.record_id(series.component),
        suite=scenario.suite,
        model=scenario.model_id,
        component=series.component,
        settings={**scenario.settings_dict(), **run_settings},
        measurements=series.windows,
        units_per_round=series.units,
        extra={**series.extra, "measured": True, **(extra or {})},
    )


def composed_record(
    scenario: Scenario,
    component: str,
    values: Quantities,
    parts: Mapping[str, str],
    run_settings: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> ResultRecord:
    """A composed (not measured) record: one round of figures computed from measured parts' means.

    Args:
        parts: Part name -> record id it came from.
    """
    rounds = {q: [v] for q, v in values.items() if not (unit_of(q) == "J" and sign_problem(q, v))}
    return ResultRecord(
        id=scenario.record_id(component),
        suite=scenario.suite,
        model=scenario.model_id,
        component=component,
        settings={**scenario.settings_dict(), **run_settings},
        rounds=rounds,
        units_per_round=1,
        extra={"composed": True, "measured": False, "parts": dict(parts), **(extra or {})},
    )


def error_record(
    scenario: Scenario,
    failed_component: str,
    exc: BaseException,
    elapsed_s: float,
    run_settings: Mapping[str, Any],
) -> ResultRecord:
    """A record of a failed point: the error, and no figure for the point.

    The schema needs at least one round, so the only number stored is ``elapsed_before_error_s`` (how long
    the point ran before failing); it is not a latency of the work.
    """
    return ResultRecord(
        id=scenario.record_id("error"),
        suite=scenario.suite,
        model=scenario.model_id,
        component="error",
        settings={**scenario.settings_dict(), **run_settings},
        rounds={"elapsed_before_error_s": [max(0.0, elapsed_s)]},
        extra={
            "error": f"{type(exc).__name__}: {exc}"[:2000],
            "error_type": type(exc).__name__,
            "failed_component": failed_component,
            "out_of_memory": is_out_of_memory(exc),
        },
    )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the device (or host) running out of memory."""
    return "OutOfMemory" in type(exc).__name__ or "out of memory" in str(exc).lower()


def reused_record(original: ResultRecord, scenario: Scenario, record_id: str | None = None) -> ResultRecord:
    """The same measurement filed under another scenario (``extra["reused_from"]`` names the original)."""
    settings = {**original.settings, **scenario.settings_dict()}
    extra = {**original.extra, "reused_from": original.id}
    return replace(
        original,
        id=record_id or scenario.record_id(original.component),
        suite=scenario.suite,
        settings=settings,
        extra=extra,
    )


def shape_key_of(record: ResultRecord) -> tuple[Any, ...] | None:
    """(model, component, H, W, F, guidance, dtype, device) of a reusable shape measurement, else None."""
    s = record.settings
    if record.component not in SHAPE_COMPONENTS or record.composed or "reused_from" in record.extra:
        return None
    try:
        return (
            record.model,
            record.component,
            int(s["height"]),
            int(s["width"]),
            int(s["num_frames"]),
            float(s["guidance_scale"]),
            s.get("dtype"),
            s.get("device"),
        )
    except (KeyError, TypeError, ValueError):
        return None
