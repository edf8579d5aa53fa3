"""The clocks: FakeClock scheduling, RealClock's sampling thread (about 0.5 s of real time in all)."""

from __future__ import annotations

import pytest

from t2v_energy_lib.energy import FakeBackend, FakeClock, FakeDevice, GpuMeter, RealClock


def test_fake_clock_runs_periodic_tasks_at_their_times() -> None:
    clock = FakeClock(start_s=1.0)
    seen: list[float] = []
    stop = clock.run_periodic(0.25, lambda: seen.append(clock.monotonic_s()))
    clock.sleep_s(1.0)
    assert seen == pytest.approx([1.25, 1.5, 1.75, 2.0])
    stop()
    clock.sleep_s(1.0)
    assert len(seen) == 4 and clock.monotonic_s() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="backwards"):
        clock.sleep_s(-1.0)


def test_real_clock_periodic_thread_and_error_propagation() -> None:
    clock = RealClock()
    calls: list[int] = []
    stop = clock.run_periodic(0.005, lambda: calls.append(1))
    clock.sleep_s(0.1)
    stop()
    assert len(calls) >= 3

    def boom() -> None:
        raise RuntimeError("sampler failed")

    stop = clock.run_periodic(0.005, boom)
    clock.sleep_s(0.05)
    with pytest.raises(RuntimeError, match="sampler failed"):
        stop()


def test_sampler_thread_on_real_clock() -> None:
    clock = RealClock()
    backend = FakeBackend(clock, [FakeDevice("GPU-1", lambda t: 100.0, counter_supported=False)])
    meter = GpuMeter(
        backend=backend, clock=clock, sync=lambda: None, cuda_visible_devices=None, min_window_s=0.0
    )
    with meter.window("w") as handle:
        clock.sleep_s(0.3)
    w = handle.result
    assert w is not None and w.source == "power_samples"
    assert w.sample_counts[0] > 5  # the background thread sampled
    assert w.gpu_energy_j[0] == pytest.approx(100.0 * w.duration_s, rel=1e-9)
    assert not meter.sampler.running


class FakeCuda:
    def __init__(self, initialised: bool) -> None:
        self.initialised = initialised
        self.synced: list[int] = []

    def is_initialized(self) -> bool:
        return self.initialised

    def synchronize(self, device: int) -> None:
        self.synced.append(device)


class FakeTorch:
    def __init__(self, initialised: bool) -> None:
        self.cuda = FakeCuda(initialised)


def test_cuda_synchronize_only_when_cuda_is_initialised(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from t2v_energy_lib.energy import cuda_synchronize

    cold, warm = FakeTorch(False), FakeTorch(True)
    monkeypatch.setitem(sys.modules, "torch", cold)
    cuda_synchronize([0, 1])
    assert cold.cuda.synced == []
    monkeypatch.setitem(sys.modules, "torch", warm)
    cuda_synchronize([0, 1])
    assert warm.cuda.synced == [0, 1]


def test_default_sync_covers_the_measured_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    torch = FakeTorch(True)
    monkeypatch.setitem(sys.modules, "torch", torch)
    clock = FakeClock()
    devices = [FakeDevice("GPU-1", lambda t: 1.0), FakeDevice("GPU-2", lambda t: 1.0)]
    meter = GpuMeter(backend=FakeBackend(clock, devices), clock=clock, devices=[1], cuda_visible_devices=None)
    meter.begin_window("w")
    clock.sleep_s(1.0)
    meter.end_window("w")
    assert torch.cuda.synced == [1, 1]
