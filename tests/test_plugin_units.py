"""Unit tests of the plugin's pure parts: skip reasons, extra_info, rounds, records, machine info, xdist.

All energies and GPU names here are SYNTHETIC inputs, not measurements.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_t2v_energy.fixture import (
    RoundWindows,
    check_rounds_match,
    energy_extra_info,
    settings_id,
    timed_target,
)
from pytest_t2v_energy.gpu_probe import GpuProbe, probe_gpus
from pytest_t2v_energy.machine_info import machine_info_fields
from pytest_t2v_energy.session import build_record
from pytest_t2v_energy.xdist import enable_worker_benchmarks, refuse_under_xdist, xdist_role
from t2v_energy_lib.energy import GpuState, GpuWindow, HostWindow, Measurement
from t2v_energy_lib.results.record_builder import window_rounds


def _state() -> GpuState:
    return GpuState(
        name="Fake GPU (synthetic)",
        uuid="GPU-0000",
        driver_version="0.0-fake",
        power_limit_w=700.0,
        sm_clock_mhz=1000.0,
        mem_clock_mhz=2000.0,
        max_sm_clock_mhz=2000.0,
        temperature_c=40.0,
        temperature_start_c=39.0,
        clock_event_reasons=(),
        clock_event_reasons_mask=0,
        other_process_pids=(),
        persistence_mode=True,
    )


def _measurement(gpu_j: float | None, above_j: float | None = None, short: bool = False) -> Measurement:
    host = HostWindow(
        duration_s=0.5,
        cpu_energy_j=3.0,
        ram_energy_j=1.0,
        estimated=True,
        method="synthetic",
        cpu_estimated=True,
        ram_estimated=False,
    )
    if gpu_j is None:
        return Measurement(key="k", duration_s=0.5, gpu=None, host=host)
    gpu = GpuWindow(
        key="k",
        start_unix_s=0.0,
        duration_s=0.5,
        gpu_energy_j={0: gpu_j},
        gpu_energy_above_idle_j=None if above_j is None else {0: above_j},
        mean_power_w={0: gpu_j / 0.5},
        source="counter",
        short_window=short,
        states={0: _state()},
    )
    return Measurement(key="k", duration_s=0.5, gpu=gpu, host=host)


@pytest.mark.parametrize(
    ("probe", "gpu_reason", "h100_reason"),
    [
        (
            GpuProbe(names=(), nvml_error="NVML unavailable (synthetic: library not found)"),
            "no NVIDIA GPU: NVML unavailable (synthetic: library not found)",
            "needs an H100, found no NVIDIA GPU (NVML unavailable (synthetic: library not found))",
        ),
        (GpuProbe(names=("NVIDIA A10G",)), None, "needs an H100, found NVIDIA A10G"),
        (GpuProbe(names=("NVIDIA H100 80GB HBM3",)), None, None),
        (
            GpuProbe(names=("NVIDIA H100 80GB HBM3", "NVIDIA A10G")),
            None,
            "needs an H100, found NVIDIA H100 80GB HBM3, NVIDIA A10G",
        ),
        (
            GpuProbe(names=("NVIDIA H100 80GB HBM3",), cuda_error="torch.cuda.is_available() is False"),
            "NVIDIA GPU found (NVIDIA H100 80GB HBM3) but torch cannot use it: "
            "torch.cuda.is_available() is False",
            "NVIDIA GPU found (NVIDIA H100 80GB HBM3) but torch cannot use it: "
            "torch.cuda.is_available() is False",
        ),
    ],
)
def test_skip_reasons(probe: GpuProbe, gpu_reason: str | None, h100_reason: str | None) -> None:
    assert probe.gpu_reason() == gpu_reason
    assert probe.h100_reason() == h100_reason


def test_probe_on_this_machine_is_consistent() -> None:
    probe = probe_gpus()
    if probe.nvml_error is not None:
        assert probe.names == ()
        assert probe.gpu_reason().startswith("no NVIDIA GPU: ")
    else:
        assert probe.names, "NVML worked, so at least one visible GPU must be named"


def _extra_info(ms: list[Measurement], units_per_round: int, description: str) -> dict[str, Any]:
    """What the fixture stores: the record through the one builder, then extra_info from it."""
    metadata = {"units_per_round": units_per_round, "energy_meter": description}
    latency_s = [0.5] * len(ms)
    record = build_record("tests/x.py::t", "t", ms, latency_s, metadata)
    return energy_extra_info(record, window_rounds(ms, latency_s))


def test_extra_info_gpu_rounds() -> None:
    ms = [_measurement(2.0, 1.0), _measurement(4.0, 3.0, short=True), _measurement(3.0, 2.0)]
    info = _extra_info(ms, units_per_round=5, description="synthetic")
    assert info["energy_gpu_j_rounds"] == [2.0, 4.0, 3.0]
    assert info["energy_gpu_j_mean"] == pytest.approx(3.0)
    assert info["energy_gpu_j_median"] == 3.0
    assert info["energy_gpu_j_stddev"] == pytest.approx(1.0)
    assert info["energy_gpu_above_idle_j_rounds"] == [1.0, 3.0, 2.0]
    assert info["energy_source"] == "counter"
    assert info["short_windows"] == 1
    assert info["host_energy_j_rounds"] == [4.0, 4.0, 4.0]
    assert info["host_energy_estimated"] is True
    assert info["units_per_round"] == 5
    assert info["energy_meter"] == "synthetic"
    assert info["machine_state"]["0"]["power_limit_w"] == 700.0
    assert (info["result_id"], info["suite"], info["component"]) == ("tests/x.py::t", "pytest", "t")


def test_extra_info_cpu_only_has_no_gpu_keys() -> None:
    info = _extra_info([_measurement(None)], units_per_round=1, description="cpu")
    assert "energy_gpu_j_rounds" not in info
    assert info["energy_source"] == "host"
    assert info["host_energy_j_rounds"] == [4.0]
    assert info["host_energy_estimated"] is True


class _RecordingMeter:
    def __init__(self) -> None:
        self.events: list[str] = []

    def begin_window(self, key: str) -> None:
        self.events.append(f"begin {key}")

    def end_window(self, key: str) -> Measurement:
        self.events.append(f"end {key}")
        return _measurement(1.0)


def test_round_windows_skip_warmup_and_extra_setups() -> None:
    meter = _RecordingMeter()
    windows = RoundWindows(meter, "t", warmup_rounds=2, rounds=2, args=(1,), kwargs={"a": 2})
    for _ in range(5):  # 2 warmup, 2 measured, 1 extra (as --benchmark-cprofile does)
        assert windows.setup() == ((1,), {"a": 2})
        windows.teardown(1, a=2)
    assert meter.events == ["begin t/round0", "end t/round0", "begin t/round1", "end t/round1"]
    assert len(windows.measurements) == 2


def test_round_windows_abandon_closes_open_window() -> None:
    meter = _RecordingMeter()
    windows = RoundWindows(meter, "t", warmup_rounds=0, rounds=1, args=(), kwargs={})
    windows.setup()
    windows.abandon()
    assert meter.events == ["begin t/round0", "end t/round0"]
    assert windows.measurements == []


def test_check_rounds_match() -> None:
    check_rounds_match([0.1, 0.2], [object(), object()], 2)
    with pytest.raises(RuntimeError, match="exactly one window"):
        check_rounds_match([0.1, 0.2], [object()], 2)


def test_timed_target_syncs_after_fn() -> None:
    calls: list[str] = []
    target = timed_target(lambda x: calls.append(f"fn {x}") or x, lambda: calls.append("sync"))
    assert target(3) == 3
    assert calls == ["fn 3", "sync"]


def test_settings_id_matches_generation_settings_form() -> None:
    from t2v_energy_lib.models import GenerationSettings

    gs = GenerationSettings(height=480, width=832, num_frames=81, num_inference_steps=50, guidance_scale=5.0)
    as_dict = {
        "height": 480,
        "width": 832,
        "num_frames": 81,
        "num_inference_steps": 50,
        "guidance_scale": 5.0,
    }
    assert settings_id(gs) == settings_id(as_dict) == "480x832x81-s50"
    assert settings_id({"b": 2, "a": 1}) == "a=1,b=2"
    assert settings_id(None) == "default"


def test_build_record_divides_by_units() -> None:
    ms = [_measurement(10.0, 6.0), _measurement(20.0, 16.0)]
    metadata: dict[str, Any] = {
        "suite": "s",
        "model": "m",
        "component": "c",
        "settings": {"n": 1},
        "units_per_round": 10,
    }
    record = build_record("tests/x.py::t", "t", ms, [1.0, 2.0], metadata)
    assert record.id == "s/m/n=1/c"
    assert record.rounds["latency_s"] == (0.1, 0.2)
    assert record.rounds["gpu_energy_j"] == (1.0, 2.0)
    assert record.rounds["gpu_energy_above_idle_j"] == (0.6, 1.6)
    assert record.rounds["host_energy_j"] == (0.4, 0.4)
    assert record.units_per_round == 10
    assert record.extra["host_energy_estimated"] is True
    unnamed = build_record("tests/x.py::t", "t", ms, [1.0, 2.0], {})
    assert (unnamed.id, unnamed.suite, unnamed.component) == ("tests/x.py::t", "pytest", "t")


def test_machine_info_fields() -> None:
    provenance = {
        "gpu": {"name": "Fake GPU (synthetic)", "driver_version": "0.0", "power_limit_w": 700.0, "uuid": "x"},
        "versions": {"torch": "9.9", "torch_cuda": "13.0", "diffusers": "0.42.1", "transformers": "5.0"},
    }
    info = machine_info_fields(provenance)
    assert info["gpu"]["name"] == "Fake GPU (synthetic)"
    assert info["gpu"]["power_limit_w"] == 700.0
    assert "uuid" not in info["gpu"]
    assert (info["cuda_version"], info["torch_version"]) == ("13.0", "9.9")
    assert info["diffusers_version"] == "0.42.1"
    assert info["t2v_energy"] == provenance
    assert machine_info_fields({"gpu": None, "versions": {}})["gpu"] is None


class _FakeConfig:
    """A stand-in for ``pytest.Config``: options by dest, plus the attributes xdist/pytest-benchmark set."""

    def __init__(self, bench_disabled: bool | None = None, **options: Any) -> None:
        self.options = options
        if bench_disabled is not None:
            self._benchmarksession = type("BenchSession", (), {"disabled": bench_disabled})()

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def _config(bench_disabled: bool | None = None, **options: Any) -> Any:
    return _FakeConfig(bench_disabled, **options)


def test_xdist_role_of_each_process() -> None:
    worker = _config()
    worker.workerinput = {"workerid": "gw0"}
    assert xdist_role(worker) == "worker"
    assert xdist_role(_config(numprocesses=2)) == "controller"
    assert xdist_role(_config(dist="load")) == "controller"
    assert xdist_role(_config(dist="no")) is None


@pytest.mark.parametrize("dest", ["benchmark_json", "benchmark_save", "benchmark_only"])
def test_refused_benchmark_options_under_xdist(dest: str) -> None:
    flag = "--" + dest.replace("_", "-")
    with pytest.raises(pytest.UsageError, match=f"{flag} under pytest-xdist"):
        refuse_under_xdist(_config(**{dest: "x"}))
    refuse_under_xdist(_config())


def test_worker_benchmarks_come_back_only_on_a_pinned_gpu() -> None:
    pinned = _config(bench_disabled=True)
    assert enable_worker_benchmarks(pinned, "GPU-fake-0") == "enabled"
    assert pinned._benchmarksession.disabled is False
    cpu_host = _config(bench_disabled=True)
    assert enable_worker_benchmarks(cpu_host, None) == "no-gpu"
    assert cpu_host._benchmarksession.disabled is True
    asked_off = _config(bench_disabled=True, benchmark_disable=True)
    assert enable_worker_benchmarks(asked_off, "GPU-fake-0") is None
    assert asked_off._benchmarksession.disabled is True
    assert enable_worker_benchmarks(_config(), "GPU-fake-0") is None
