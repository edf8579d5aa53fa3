"""Scenario ids, sweep sizes and point selection of the bench (no hardware)."""

from __future__ import annotations

import pytest

from t2v_energy_lib.bench.scenarios import (
    SUITES,
    WAN_13B,
    cross_model_points,
    frames_sweep,
    parse_points,
    resolution_sweep,
    steps_sweep,
    suite_scenarios,
    validation_points,
)
from t2v_energy_lib.errors import InvalidSettingsError
from t2v_energy_lib.models import get_spec


def test_resolution_sweep_covers_the_study_range() -> None:
    points = resolution_sweep()
    assert len(points) >= 12
    sizes = [(p.settings.height, p.settings.width) for p in points]
    assert sizes[0] == (256, 256) and sizes[-1] == (1008, 1792)
    assert all(p.settings.num_frames == 81 and p.settings.guidance_scale == 5.0 for p in points)
    assert points[5].id == "resolution/wan2.1-t2v-1.3b/480x832x81-s50"
    assert points[5].record_id("denoiser_step") == "resolution/wan2.1-t2v-1.3b/480x832x81-s50/denoiser_step"
    spec = get_spec(WAN_13B)
    for p in points:
        spec.validate(p.settings)


def test_frames_and_steps_sweeps() -> None:
    frames = frames_sweep()
    at_720 = [p.settings.num_frames for p in frames if p.settings.height == 720]
    assert len(at_720) >= 12 and min(at_720) == 5 and max(at_720) == 121
    assert all((f - 1) % 4 == 0 for f in at_720)
    assert any(p.settings.height == 480 for p in frames)
    steps = steps_sweep()
    counts = [p.settings.num_inference_steps for p in steps]
    assert len(counts) >= 10 and counts[0] == 1 and counts[-1] == 200
    assert {(p.settings.height, p.settings.width, p.settings.num_frames) for p in steps} == {(720, 1280, 81)}
    assert steps_sweep(measured_steps=10)[0].measured_steps == 10
    with pytest.raises(InvalidSettingsError):
        steps_sweep(measured_steps=0)


def test_validation_and_ids_are_unique_per_suite() -> None:
    assert len(validation_points()) >= 3
    for suite in ("resolution", "frames", "steps", "validation"):
        for tiny in (False, True):
            points = suite_scenarios(suite, tiny=tiny)
            ids = [p.id for p in points]
            assert len(ids) == len(set(ids)), suite
            spec = get_spec(points[0].model_id)
            for p in points:
                spec.validate(p.settings)
    assert resolution_sweep(tiny=True)[0].model_id == "wan2.1-t2v-1.3b-tiny"
    assert len(resolution_sweep(tiny=True)) >= 12 and len(frames_sweep(tiny=True)) >= 12


def test_cross_model_has_every_model_and_the_study_settings() -> None:
    points = cross_model_points()
    from t2v_energy_lib.models import list_specs

    assert {p.model_id for p in points} == {s.id for s in list_specs()}
    wan_study = [p for p in points if p.model_id == WAN_13B and p.label == "study settings"]
    assert [p.settings.id for p in wan_study] == ["720x1280x81-s50"]
    assert SUITES[-2:] == ("cross_model", "holdout")


def test_parse_points() -> None:
    assert parse_points(None, 4) == (0, 1, 2, 3)
    assert parse_points("0-2", 10) == (0, 1, 2)
    assert parse_points("7-", 10) == (7, 8, 9)
    assert parse_points("0,3,5-6", 10) == (0, 3, 5, 6)
    with pytest.raises(InvalidSettingsError, match="outside"):
        parse_points("3-12", 10)
    with pytest.raises(InvalidSettingsError, match="cannot parse"):
        parse_points("a-b", 10)
