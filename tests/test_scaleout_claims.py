"""Scale-out claims on every stored baseline folder's 'scaleout' records, and the view on synthetic data.

Stored data (parametrized per baseline folder and record at collection time; figures computed from the data,
never typed in): (a) each round's summed GPU energy is the sum of its per-device energies; (b) context
parallelism speeds the denoiser step up with parallel efficiency >= 75% on every parallel record; (c) its GPU
energy, summed over GPUs, stays within +25% of one GPU's.

Synthetic data (round, clearly made-up numbers on devices named ``GPU-synthetic-*``): the view's arithmetic,
its refusals, and a case that must fail the efficiency claim (efficiency 0.5).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.analysis.required import load_required
from t2v_energy_lib.analysis.scaleout_view import (
    EFFICIENCY_MIN,
    ENERGY_OVERHEAD_MAX,
    claim_failures,
    energy_sum_failures,
    round_energy_sums,
    scaleout_rows,
)
from t2v_energy_lib.errors import FitError, MissingResultsError
from t2v_energy_lib.results import ResultFile, ResultRecord, find_baseline_folders, load_results

SUITE = "scaleout"
_TESTS = {
    "test_summed_energy_is_the_sum_of_the_device_energies": "records",
    "test_context_parallelism_keeps_parallel_efficiency_at_least_75_percent": "rows",
    "test_context_parallel_gpu_energy_overhead_is_at_most_25_percent": "rows",
}


def _folders(config: pytest.Config) -> tuple[Path, list[Path]]:
    option = config.getoption("--baseline-dir", default=None)
    root = Path(option).resolve() if option else (config.rootpath / "baselines").resolve()
    return root, find_baseline_folders(root)


@functools.cache
def _load(folder: Path) -> ResultFile:
    return load_results(folder)


def _skip(reason: str, label: str) -> Any:
    return pytest.param(None, None, marks=pytest.mark.skip(reason=reason), id=label)


def _record_cases(folder: Path, label: str) -> list[Any]:
    records = _load(folder).select(suite=SUITE, component="denoise_step")
    return [pytest.param(folder, r, id=f"{label}-{r.id}") for r in records]


def _row_cases(folder: Path, label: str) -> list[Any]:
    try:
        rows = scaleout_rows(_load(folder))
    except FitError as exc:  # the test fails with this reason (a missing reference is a broken baseline)
        return [pytest.param(folder, str(exc), id=f"{label}-unreadable")]
    if not rows:
        reason = f"{folder} has scale-out references but no parallel record: run the runner with --mode ring"
        return [_skip(reason, label)]
    return [pytest.param(folder, row, id=f"{label}-{row.record_id}") for row in rows]


def _cases(root: Path, folders: list[Path], kind: str) -> list[Any]:
    cases = []
    for folder in folders:
        label = str(folder.relative_to(root))
        if not _load(folder).select(suite=SUITE):
            required = load_required(folder)
            if required is not None and SUITE not in required.suites:
                continue  # its manifest declares no scale-out runs (a declared one missing fails elsewhere)
            reason = (
                f"no 'scaleout' records in {folder}: run `torchrun ... -m t2v_energy_lib.scaleout."
                "context_parallel` (baselines/scripts/h100x4_scaleout.sh)"
            )
            cases.append(_skip(reason, label))
            continue
        cases += _record_cases(folder, label) if kind == "records" else _row_cases(folder, label)
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    kind = _TESTS.get(metafunc.function.__name__)
    if kind is None:
        return
    root, folders = _folders(metafunc.config)
    cases = _cases(root, folders, kind)
    if not cases:
        reason = f"no scale-out records under {root}: run the GPU scale-out runner and commit its baselines"
        cases = [_skip(reason, "no-baselines")]
    metafunc.parametrize(("baseline_folder", "case"), cases)


def test_summed_energy_is_the_sum_of_the_device_energies(baseline_folder: Path, case: Any) -> None:
    sums = round_energy_sums(case)
    assert len(sums) == len(case.rounds["gpu_energy_j"]) >= 1
    assert len(case.extra["per_device_gpu_energy_j"]) == case.settings["world_size"], case.id
    assert not energy_sum_failures(case), energy_sum_failures(case)


def _judged(case: Any, claim: str) -> None:
    assert not isinstance(case, str), f"scale-out records could not be read: {case}"
    failures = claim_failures(case)
    assert claim not in failures, failures[claim]


def test_context_parallelism_keeps_parallel_efficiency_at_least_75_percent(
    baseline_folder: Path, case: Any
) -> None:
    _judged(case, "efficiency")
    assert case.speedup > 1.0 and case.efficiency >= EFFICIENCY_MIN


def test_context_parallel_gpu_energy_overhead_is_at_most_25_percent(baseline_folder: Path, case: Any) -> None:
    _judged(case, "energy_overhead")
    assert case.energy_overhead <= ENERGY_OVERHEAD_MAX


# --- synthetic data: the view itself ------------------------------------------------------------------------

MODEL = "wan2.1-t2v-14b"  # a registry model (its default 50 steps compose the per-video figure)
SIZE = {"height": 480, "width": 832, "num_frames": 81, "guidance_scale": 5.0}


def synthetic_step(
    mode: str, n: int, latency_s: float, device_j: list[float], **settings: Any
) -> ResultRecord:
    """A synthetic scale-out record: two identical rounds, ``device_j`` J per step on each device."""
    devices = [f"GPU-synthetic-{i}" for i in range(n)]
    merged = {**SIZE, "mode": mode, "world_size": n, "attention_backend": "_native_cudnn", **settings}
    size = f"{merged['height']}x{merged['width']}x{merged['num_frames']}-g{merged['guidance_scale']:g}"
    return ResultRecord(
        id=f"scaleout/{MODEL}/{size}/{mode}-n{n}-{merged.get('tag', '')}/denoise_step",
        suite=SUITE,
        model=MODEL,
        component="denoise_step",
        settings=merged,
        rounds={"latency_s": [latency_s, latency_s], "gpu_energy_j": [sum(device_j)] * 2},
        units_per_round=2,
        extra={
            "devices": devices,
            "per_device_gpu_energy_j": {d: [e, e] for d, e in zip(devices, device_j, strict=True)},
            "random_weights": True,
        },
    )


def synthetic_part(component: str, latency_s: float, energy_j: float, **size: Any) -> ResultRecord:
    where = "prompt" if component == "text_encoder" else "480x832x81-s50"
    return ResultRecord(
        id=f"cross_model/{MODEL}/{where}/{component}",
        suite="cross_model",
        model=MODEL,
        component=component,
        settings={**SIZE, "num_inference_steps": 50, **size},
        rounds={"latency_s": [latency_s], "gpu_energy_j": [energy_j]},
    )


def results(*records: ResultRecord) -> ResultFile:
    return ResultFile(provenance={"synthetic": True}, records=records)


def test_rows_compute_speedup_efficiency_overhead_and_device_spread() -> None:
    ref = synthetic_step("reference", 1, 10.0, [1000.0])
    ring = synthetic_step("ring", 2, 5.5, [520.0, 540.0])
    (row,) = scaleout_rows(results(ref, ring))
    assert (row.mode, row.n_gpus, row.reference_id) == ("ring", 2, ref.id)
    assert row.step_latency_s == 5.5 and row.step_energy_j == 1060.0
    assert row.speedup == pytest.approx(10.0 / 5.5)
    assert row.efficiency == pytest.approx(10.0 / 5.5 / 2)
    assert row.energy_overhead == pytest.approx(0.06)
    assert row.device_energy_j == {"GPU-synthetic-0": 520.0, "GPU-synthetic-1": 540.0}
    assert row.device_energy_spread == pytest.approx(540.0 / 520.0)
    assert claim_failures(row) == {}
    assert row.video is None and "text_encoder and vae_decode" in row.video_note
    with_ref = scaleout_rows(results(ref, ring), include_reference=True)
    assert [(r.mode, r.speedup, r.energy_overhead) for r in with_ref] == [
        ("reference", 1.0, 0.0),
        ("ring", row.speedup, row.energy_overhead),
    ]


def test_efficiency_of_one_half_fails_the_claim_with_its_figures() -> None:
    ref = synthetic_step("reference", 1, 10.0, [1000.0])
    slow = synthetic_step("ulysses", 4, 5.0, [250.0, 250.0, 250.0, 250.0])  # speed-up 2 on 4 GPUs
    (row,) = scaleout_rows(results(ref, slow))
    assert row.efficiency == pytest.approx(0.5)
    failures = claim_failures(row)
    assert set(failures) == {"efficiency"}
    assert "50.0%" in failures["efficiency"] and "speed-up 2.000" in failures["efficiency"]
    with pytest.raises(AssertionError, match=r"50\.0%"):
        _judged(row, "efficiency")


def test_energy_overhead_above_25_percent_fails_the_claim() -> None:
    ref = synthetic_step("reference", 1, 10.0, [1000.0])
    hungry = synthetic_step("ring", 2, 5.0, [700.0, 700.0])
    (row,) = scaleout_rows(results(ref, hungry))
    failures = claim_failures(row)
    assert set(failures) == {"energy_overhead"} and "+40.0%" in failures["energy_overhead"]
    with pytest.raises(AssertionError, match="1400 J"):
        _judged(row, "energy_overhead")


def test_a_round_whose_total_is_not_the_device_sum_is_reported() -> None:
    good = synthetic_step("ring", 2, 5.0, [500.0, 510.0])
    assert energy_sum_failures(good) == []
    data = good.to_dict()
    data["rounds"]["gpu_energy_j"] = [1010.0, 900.0]
    bad = ResultRecord.from_dict(data)
    (message,) = energy_sum_failures(bad)
    assert "round 1" in message and "900.0" in message and "1010.0" in message
    data["extra"]["per_device_gpu_energy_j"] = {}
    with pytest.raises(FitError, match="per_device_gpu_energy_j"):
        energy_sum_failures(ResultRecord.from_dict(data))


def test_per_video_figure_is_composed_from_single_gpu_parts() -> None:
    ref = synthetic_step("reference", 1, 10.0, [1000.0])
    ring = synthetic_step("ring", 2, 5.0, [550.0, 550.0])
    text = synthetic_part("text_encoder", 0.5, 100.0)
    vae = synthetic_part("vae_decode", 4.0, 3000.0, vae_tiling=False)
    (row,) = scaleout_rows(results(ref, ring, text, vae))
    video = row.video
    assert video is not None and video.composed and video.steps == 50
    assert video.latency_s == pytest.approx(0.5 + 50 * 5.0 + 4.0)
    assert video.energy_j == pytest.approx(100.0 + 50 * 1100.0 + 3000.0)
    assert video.reference_latency_s == pytest.approx(0.5 + 50 * 10.0 + 4.0)
    assert video.reference_energy_j == pytest.approx(100.0 + 50 * 1000.0 + 3000.0)
    assert video.speedup < row.speedup  # the single-GPU parts do not scale
    assert (video.text_encoder_id, video.vae_decode_id) == (text.id, vae.id)
    assert "only the denoiser is parallel" in row.video_note
    other_size = synthetic_part("vae_decode", 4.0, 3000.0, height=720, width=1280)
    (row,) = scaleout_rows(results(ref, ring, text, other_size))
    assert row.video is None and "vae_decode" in row.video_note


def test_no_reference_and_no_records_are_clear_errors() -> None:
    ring = synthetic_step("ring", 2, 5.0, [500.0, 500.0])
    with pytest.raises(FitError, match=r"no 1-GPU reference .*--mode reference"):
        scaleout_rows(results(ring))
    other = synthetic_step("reference", 1, 10.0, [1000.0], height=720, width=1280)
    with pytest.raises(FitError, match="no 1-GPU reference"):
        scaleout_rows(results(other, ring))
    with pytest.raises(MissingResultsError) as exc:
        scaleout_rows(results(synthetic_part("vae_decode", 4.0, 3000.0)))
    assert exc.value.suite == SUITE


def test_two_indistinguishable_references_are_refused_and_the_backend_decides() -> None:
    ring = synthetic_step("ring", 2, 5.0, [500.0, 500.0])
    a = synthetic_step("reference", 1, 10.0, [1000.0], tag="a")
    b = synthetic_step("reference", 1, 12.0, [1000.0], tag="b")
    with pytest.raises(FitError, match="2 1-GPU references"):
        scaleout_rows(results(a, b, ring))
    flash = synthetic_step("reference", 1, 12.0, [1000.0], tag="b", attention_backend="flash")
    (row,) = scaleout_rows(results(a, flash, ring))
    assert row.reference_id == a.id and row.speedup == pytest.approx(2.0)
