"""GpuMeter on the scripted FakeBackend over a FakeClock: no GPU, no real sleep. All numbers are synthetic."""

from __future__ import annotations

import json
import math
import os
import warnings

import pytest

from t2v_energy_lib.energy import (
    FakeBackend,
    FakeClock,
    FakeDevice,
    GpuMeter,
    GpuWindow,
    ShortWindowWarning,
    trapezoid_j,
)
from t2v_energy_lib.errors import MeasurementWindowError, NvmlError

UUID_A = "GPU-aaaaaaaa-0000-0000-0000-000000000001"
UUID_B = "GPU-bbbbbbbb-0000-0000-0000-000000000002"


def constant(watts: float):
    return lambda t: watts


def make_meter(*devices: FakeDevice, env: str | None = None, **kwargs) -> tuple[GpuMeter, FakeClock]:
    clock = FakeClock()
    backend = FakeBackend(clock, list(devices))
    kwargs.setdefault("sync", lambda: None)
    meter = GpuMeter(backend=backend, clock=clock, cuda_visible_devices=env, **kwargs)
    return meter, clock


def measure(
    meter: GpuMeter, clock: FakeClock, start_s: float, end_s: float, key: str = "w", **kw
) -> GpuWindow:
    clock.advance_s(start_s - clock.monotonic_s())
    meter.begin_window(key, **kw)
    clock.sleep_s(end_s - start_s)
    return meter.end_window(key)


# ---- window arithmetic on the counter --------------------------------------------------------------------


def test_counter_window_energy_duration_and_mean_power() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(200.0), counter_period_s=0.1))
    w = measure(meter, clock, 0.05, 5.05)
    assert w.source == "counter" and w.sources == {0: "counter"}
    assert w.duration_s == pytest.approx(5.0)
    # counter ticks at 0.0 s and 5.0 s inside the window: 200 W x 5 s
    assert w.gpu_energy_j == {0: pytest.approx(1000.0)}
    assert w.mean_power_w[0] == pytest.approx(200.0)
    assert w.total_gpu_energy_j == pytest.approx(1000.0)
    assert w.gpu_energy_above_idle_j is None and w.total_gpu_energy_above_idle_j is None
    assert w.sampled_energy_j is None  # the background sampler did not run
    assert w.sample_counts == {0: 2}  # only the boundary samples
    assert w.short_window is False
    assert w.start_unix_s == pytest.approx(clock.unix_offset_s + 0.05)


def test_counter_granularity_shows_in_short_window() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(100.0), counter_period_s=0.1), min_window_s=0.0)
    w = measure(meter, clock, 0.01, 0.09)  # no counter tick inside: the counter reads no energy at all
    assert w.gpu_energy_j[0] == 0.0


def test_two_devices_are_summed_and_keyed_by_cuda_index() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(100.0)), FakeDevice(UUID_B, constant(300.0)))
    w = measure(meter, clock, 1.0, 3.0)
    assert w.gpu_energy_j == {0: pytest.approx(200.0), 1: pytest.approx(600.0)}
    assert w.total_gpu_energy_j == pytest.approx(800.0)


def test_cuda_visible_devices_selects_the_right_nvml_device() -> None:
    meter, clock = make_meter(
        FakeDevice(UUID_A, constant(100.0)), FakeDevice(UUID_B, constant(300.0)), env="GPU-bbbb"
    )
    assert meter.devices == [0] and meter.nvml_indices == {0: 1}
    w = measure(meter, clock, 1.0, 3.0)
    assert w.gpu_energy_j == {0: pytest.approx(600.0)}
    assert w.states[0].uuid == UUID_B


# ---- counter reset / wrap --------------------------------------------------------------------------------


def test_counter_going_backwards_falls_back_to_samples_and_is_flagged() -> None:
    dev = FakeDevice(UUID_A, lambda t: 100.0 + 50.0 * t, counter_offset_mj=10**9, counter_reset_at_s=2.0)
    meter, clock = make_meter(dev, compare_sources=True)
    w = measure(meter, clock, 1.0, 5.0)
    assert w.counter_reset_devices == (0,)
    assert w.source == "power_samples" and w.sources == {0: "power_samples"}
    # integral of 100 + 50 t from 1 to 5 s = 400 + 25 * (25 - 1) = 1000 J; trapezoid is exact on a ramp
    assert w.gpu_energy_j[0] == pytest.approx(1000.0, rel=1e-9)
    assert w.sampled_energy_j == {0: pytest.approx(1000.0, rel=1e-9)}


def test_counter_reset_without_background_sampler_uses_boundary_samples() -> None:
    dev = FakeDevice(UUID_A, constant(250.0), counter_offset_mj=10**9, counter_reset_at_s=2.0)
    meter, clock = make_meter(dev)
    w = measure(meter, clock, 1.0, 5.0)
    assert w.counter_reset_devices == (0,) and w.source == "power_samples"
    assert w.sample_counts == {0: 2}
    assert w.gpu_energy_j[0] == pytest.approx(1000.0)


# ---- fallback: power sampling ----------------------------------------------------------------------------


def test_fallback_integrates_instant_power_ramp() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, lambda t: 100.0 + 50.0 * t, counter_supported=False))
    assert meter.has_counter == {0: False}
    w = measure(meter, clock, 1.0, 5.0)
    assert w.source == "power_samples"
    assert w.power_metric == {0: "power_instant"}
    assert w.gpu_energy_j[0] == pytest.approx(1000.0, rel=1e-9)
    assert w.sample_counts[0] >= 4.0 / 0.015  # background samples every 15 ms plus the two boundaries
    assert w.sampled_energy_j == w.gpu_energy_j


def test_fallback_on_a_curved_trace_converges_to_the_integral() -> None:
    # p(t) = 300 + 100 sin(2 pi t / 3): integral over [0, 6] s = 1800 J (two whole periods)
    power = lambda t: 300.0 + 100.0 * math.sin(2 * math.pi * t / 3.0)  # noqa: E731
    meter, clock = make_meter(FakeDevice(UUID_A, power, counter_supported=False), sample_interval_s=0.01)
    w = measure(meter, clock, 0.0, 6.0)
    assert w.gpu_energy_j[0] == pytest.approx(1800.0, rel=1e-4)


def test_fallback_uses_power_usage_when_instant_field_unsupported() -> None:
    dev = FakeDevice(UUID_A, constant(123.4567), counter_supported=False, instant_field_supported=False)
    meter, clock = make_meter(dev)
    w = measure(meter, clock, 0.0, 2.0)
    assert w.power_metric == {0: "power_usage"}
    assert w.gpu_energy_j[0] == pytest.approx(123.457 * 2.0)  # power_mw rounds to whole mW


def test_compare_sources_gives_both_sources_for_one_window() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(400.0)))
    w = measure(meter, clock, 0.0, 3.0, compare_sources=True)
    assert w.source == "counter"
    assert w.gpu_energy_j[0] == pytest.approx(1200.0)
    assert w.sampled_energy_j == {0: pytest.approx(1200.0)}
    assert not meter.sampler.running  # released after the window


def test_sampler_stops_and_prunes_after_last_window() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(50.0), counter_supported=False))
    measure(meter, clock, 0.0, 1.0)
    assert not meter.sampler.running
    assert meter.sampler.window(0, 0.0, 100.0) == ([], [])


def test_timeline_is_relative_to_window_start() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, lambda t: 10.0 * t), record_timeline=True)
    w = measure(meter, clock, 2.0, 4.0)
    assert w.timeline is not None
    tl = w.timeline[0]
    assert tl.timestamps_s[0] == 0.0 and tl.timestamps_s[-1] == pytest.approx(2.0)
    assert list(tl.timestamps_s) == sorted(tl.timestamps_s)
    assert tl.power_w[0] == pytest.approx(20.0) and tl.power_w[-1] == pytest.approx(40.0)
    assert trapezoid_j(tl.timestamps_s, tl.power_w) == pytest.approx(60.0)


# ---- short windows, idle, counter period -----------------------------------------------------------------


def test_short_window_is_flagged_and_warns() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(100.0)), min_window_s=1.0)
    with pytest.warns(ShortWindowWarning, match="min_window_s=1.0"):
        w = measure(meter, clock, 0.0, 0.5)
    assert w.short_window is True


def test_long_window_does_not_warn() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(100.0)), min_window_s=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = measure(meter, clock, 0.0, 1.5)
    assert w.short_window is False


def test_idle_baseline_is_subtracted() -> None:
    power = lambda t: 80.0 if t < 10.0 else 300.0  # noqa: E731
    energy = lambda t: 80.0 * t if t < 10.0 else 800.0 + 300.0 * (t - 10.0)  # noqa: E731
    meter, clock = make_meter(FakeDevice(UUID_A, power, energy_j=energy))
    idle = meter.measure_idle(duration_s=5.0)
    assert idle == {0: pytest.approx(80.0)}
    assert meter.idle_window is not None and meter.idle_window.duration_s == pytest.approx(5.0)
    w = measure(meter, clock, 10.0, 20.0)
    assert w.gpu_energy_j[0] == pytest.approx(3000.0)
    assert w.gpu_energy_above_idle_j == {0: pytest.approx(3000.0 - 80.0 * 10.0)}
    assert w.total_gpu_energy_above_idle_j == pytest.approx(2200.0)


def test_measure_counter_period() -> None:
    meter, _clock = make_meter(FakeDevice(UUID_A, constant(200.0), counter_period_s=0.1))
    period = meter.measure_counter_period()
    assert period == pytest.approx(0.1, abs=0.002)
    assert meter.counter_update_period_s == period


def test_measure_counter_period_none_without_counter() -> None:
    meter, _ = make_meter(FakeDevice(UUID_A, constant(200.0), counter_supported=False))
    assert meter.measure_counter_period() is None


def test_measure_counter_period_raises_when_counter_is_stuck() -> None:
    meter, _ = make_meter(FakeDevice(UUID_A, constant(0.0)))
    with pytest.raises(NvmlError, match="changed 0 times"):
        meter.measure_counter_period(max_wait_s=0.2)


# ---- synchronisation, machine state, API misuse ----------------------------------------------------------


def test_sync_runs_before_reading_at_both_ends() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def slow_sync() -> None:  # pretend the GPU still has 0.5 s of queued work
        calls.append(clock.monotonic_s())
        clock.sleep_s(0.5)

    meter = GpuMeter(
        backend=FakeBackend(clock, [FakeDevice(UUID_A, constant(100.0))]),
        clock=clock,
        sync=slow_sync,
        cuda_visible_devices=None,
    )
    with meter.window("w") as handle:
        clock.sleep_s(2.0)
    assert calls == [0.0, 2.5]
    assert handle.result is not None and handle.result.duration_s == pytest.approx(2.5)


def test_state_records_reasons_processes_and_limits() -> None:
    dev = FakeDevice(
        UUID_A, constant(100.0), reasons=lambda t: 0x4 if 2.0 < t < 3.0 else 0x1, pids=[os.getpid(), 4242]
    )
    meter, clock = make_meter(dev, compare_sources=True)
    w = measure(meter, clock, 0.0, 5.0)
    state = w.states[0]
    assert state.clock_event_reasons == ("gpu_idle", "sw_power_cap")
    assert state.clock_event_reasons_mask == 0x5
    assert state.other_process_pids == (4242,) and state.other_processes is True
    assert state.power_limit_w == pytest.approx(700.0)
    assert state.uuid == UUID_A and state.driver_version == "0.0-fake"
    assert (state.sm_clock_mhz, state.mem_clock_mhz, state.max_sm_clock_mhz) == (1000.0, 2000.0, 2000.0)
    assert state.persistence_mode is True


def test_reasons_between_boundaries_need_the_sampler() -> None:
    dev = FakeDevice(UUID_A, constant(100.0), reasons=lambda t: 0x4 if 2.0 < t < 3.0 else 0)
    meter, clock = make_meter(dev)
    w = measure(meter, clock, 0.0, 5.0)
    assert w.states[0].clock_event_reasons == ()


def test_window_misuse_raises() -> None:
    meter, _clock = make_meter(FakeDevice(UUID_A, constant(1.0)), min_window_s=0.0)
    meter.begin_window("a")
    with pytest.raises(MeasurementWindowError, match="already open"):
        meter.begin_window("a")
    with pytest.raises(MeasurementWindowError, match="never begun"):
        meter.end_window("b")
    meter.end_window("a")


def test_context_manager_ends_window_on_error() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(100.0), counter_supported=False), min_window_s=0.0)
    with pytest.raises(RuntimeError, match="boom"), meter.window("w") as handle:
        clock.sleep_s(1.0)
        raise RuntimeError("boom")
    assert handle.result is not None and handle.result.gpu_energy_j[0] == pytest.approx(100.0)
    assert not meter.sampler.running


def test_overlapping_windows() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(100.0), counter_supported=False))
    meter.begin_window("outer")
    clock.sleep_s(1.0)
    meter.begin_window("inner")
    clock.sleep_s(2.0)
    inner = meter.end_window("inner")
    clock.sleep_s(1.0)
    outer = meter.end_window("outer")
    assert inner.gpu_energy_j[0] == pytest.approx(200.0)
    assert outer.gpu_energy_j[0] == pytest.approx(400.0)


def test_to_dict_is_json_ready() -> None:
    meter, clock = make_meter(FakeDevice(UUID_A, constant(100.0)), record_timeline=True)
    meter.measure_idle(1.0)
    w = measure(meter, clock, 2.0, 4.0)
    data = json.loads(json.dumps(w.to_dict()))
    assert data["gpu_energy_j"] == {"0": pytest.approx(200.0)}
    assert data["total_gpu_energy_above_idle_j"] == pytest.approx(0.0, abs=1e-9)
    assert data["states"]["0"]["other_processes"] is False
    assert data["timeline"]["0"]["power_w"][0] == pytest.approx(100.0)
    assert data["source"] == "counter" and data["short_window"] is False


def test_invalid_devices_argument() -> None:
    from t2v_energy_lib.errors import GpuUnavailableError

    with pytest.raises(GpuUnavailableError, match="not CUDA-visible"):
        make_meter(FakeDevice(UUID_A, constant(1.0)), devices=[1])
