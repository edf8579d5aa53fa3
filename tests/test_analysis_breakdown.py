"""A cross-model point's denoiser share and stored breakdown take figures of one GPU (synthetic records)."""

from __future__ import annotations

from typing import Any

import pytest

from t2v_energy_lib.analysis.breakdown import check_denoiser_dominates, denoiser_share_of, share_holds
from t2v_energy_lib.bench.breakdown import rebuilt_breakdown, video_breakdown
from t2v_energy_lib.results import ResultFile, ResultRecord
from t2v_energy_lib.results.machine import gpu_uuids

SETTINGS = {"height": 480, "width": 832, "num_frames": 81, "num_inference_steps": 50, "guidance_scale": 5.0}


def record(
    component: str, energy_j: float, latency_s: float, uuid: str | None, units: int = 1
) -> ResultRecord:
    """A SYNTHETIC cross-model record measured on GPU ``uuid`` (as merged files store it; None: CPU)."""
    state: dict[str, Any] = {"gpu_uuid": "GPU-of-the-file"}
    if uuid is not None:
        state["0"] = {"name": "Synthetic GPU", "uuid": uuid}
    return ResultRecord(
        id=f"cross_model/m/480x832x81-s50/{component}",
        suite="cross_model",
        model="m",
        component=component,
        settings=dict(SETTINGS),
        rounds={"latency_s": (latency_s,) * 3, "gpu_energy_j": (energy_j,) * 3},
        units_per_round=units,
        machine_state=state,
    )


def point(e2e_uuid: str | None, parts_uuid: str | None = "GPU-a") -> list[ResultRecord]:
    step = record("denoiser_step", 100.0, 1.0, parts_uuid)  # 50 steps: 5000 J
    composed = record("composed", 5500.0, 55.0, parts_uuid)
    return [step, composed, record("end_to_end", 4900.0, 55.0, e2e_uuid)]


def parts_and_video(e2e_uuid: str | None) -> dict[str, ResultRecord]:
    """A point whose parts (GPU-a) compose to 5300 J / 54 s; its complete generation took 5600 J / 56 s."""
    by_component = {
        "text_encoder": record("text_encoder", 100.0, 1.0, "GPU-a"),
        "denoiser_step": record("denoiser_step", 100.0, 1.0, "GPU-a"),
        "vae_decode": record("vae_decode", 200.0, 3.0, "GPU-a"),
        "composed": record("composed", 5300.0, 54.0, None),
        "end_to_end": record("end_to_end", 5600.0, 56.0, e2e_uuid),
    }
    parts = {c: r.id for c, r in by_component.items() if c in ("text_encoder", "denoiser_step", "vae_decode")}
    stored = record("breakdown", 5300.0, 54.0, None)
    by_component["breakdown"] = ResultRecord.from_dict({**stored.to_dict(), "extra": {"parts": parts}})
    return by_component


def test_machine_state_uuids_are_the_devices_not_the_file_annotation() -> None:
    assert gpu_uuids(record("end_to_end", 1.0, 1.0, "GPU-b")) == {"GPU-b"}


def test_complete_generation_on_the_parts_gpu_is_the_total() -> None:
    share = denoiser_share_of(point("GPU-a"), "synthetic")
    assert share["total_from"] == "end_to_end"
    assert share["share"] == pytest.approx(5000.0 / 4900.0)


def test_a_denoiser_share_above_100_percent_fails_the_claim() -> None:
    """The denoiser cannot take 102% of the video it is part of: the total and the parts disagree."""
    assert not share_holds(5000.0 / 4900.0)
    assert share_holds(0.99) and not share_holds(0.60)
    records = (*point("GPU-a"), record("text_encoder", 10.0, 0.1, "GPU-a"))
    result = check_denoiser_dominates(ResultFile(provenance={}, records=records))
    assert not result.holds
    assert "above 100%" in result.summary


def test_complete_generation_on_another_gpu_leaves_the_composed_total() -> None:
    share = denoiser_share_of(point("GPU-b"), "synthetic")
    assert share["total_from"] == "composed"
    assert share["share"] == pytest.approx(5000.0 / 5500.0)


def test_records_without_a_gpu_state_keep_the_complete_generation_as_total() -> None:
    """A CPU run records no GPU: its complete generation ran on the same machine as its parts."""
    assert denoiser_share_of(point(None, parts_uuid=None), "synthetic")["total_from"] == "end_to_end"


def test_breakdown_takes_the_rest_from_a_complete_generation_on_the_parts_gpu() -> None:
    p = parts_and_video("GPU-a")
    pieces, breakdown = video_breakdown(
        p["text_encoder"], p["denoiser_step"], p["vae_decode"], 50, p["composed"], p["end_to_end"]
    )
    assert breakdown["rest_measured"]
    assert pieces["rest"]["gpu_energy_j"] == pytest.approx(300.0)
    assert pieces["rest"]["latency_s"] == pytest.approx(2.0)


def test_breakdown_sets_aside_a_complete_generation_of_another_gpu_and_says_why() -> None:
    p = parts_and_video("GPU-b")
    pieces, breakdown = video_breakdown(
        p["text_encoder"], p["denoiser_step"], p["vae_decode"], 50, p["composed"], p["end_to_end"]
    )
    assert "rest" not in pieces and not breakdown["rest_measured"]
    assert "GPU-b" in breakdown["rest_set_aside"] and "GPU-a" in breakdown["rest_set_aside"]
    assert breakdown["share_of_gpu_energy"]["denoiser"] == pytest.approx(5000.0 / 5300.0)


def test_a_stored_breakdown_is_rebuilt_from_its_records_under_the_rule() -> None:
    p = parts_and_video("GPU-b")
    by_id = {r.id: r for r in p.values()}
    rebuilt = rebuilt_breakdown(p["breakdown"], by_id)
    assert rebuilt.id == p["breakdown"].id
    assert rebuilt.rounds["gpu_energy_j"] == pytest.approx((5300.0,))
    assert "rest_set_aside" in rebuilt.extra["breakdown"] and rebuilt.extra["rebuilt"]


def test_a_model_with_a_short_video_and_no_complete_generation_is_reported_unchecked() -> None:
    from t2v_energy_lib.analysis.complete_generations import complete_generation_coverage
    from t2v_energy_lib.results import ResultFile

    p = parts_and_video("GPU-a")
    without = ResultFile(provenance={}, records=tuple(r for c, r in p.items() if c != "end_to_end"))
    (coverage,) = complete_generation_coverage(without).values()
    assert coverage.required and not coverage.validated
    (coverage,) = complete_generation_coverage(ResultFile(provenance={}, records=tuple(p.values()))).values()
    assert coverage.validated and coverage.shortest_latency_s == pytest.approx(54.0)


def test_one_text_encoder_record_serves_every_setting_of_a_model() -> None:
    """The text encoder runs on the prompt: a model's second setting counts it too (it was left out)."""
    from t2v_energy_lib.analysis.breakdown import denoiser_shares
    from t2v_energy_lib.results import ResultFile

    first = parts_and_video("GPU-a")
    other = {**SETTINGS, "num_frames": 121}
    second = [
        ResultRecord.from_dict({**r.to_dict(), "id": r.id.replace("x81-", "x121-"), "settings": other})
        for c, r in first.items()
        if c in ("denoiser_step", "vae_decode", "composed")
    ]
    shares = denoiser_shares(ResultFile(provenance={}, records=(*first.values(), *second)))
    assert len(shares) == 2
    assert all("text_encoder" in s["parts_j"] for s in shares.values())
