"""HostMeter on a fake powercap tree and fake /proc files; EnergyMeter combining it with a fake GPU meter.

All counter values and CPU times here are synthetic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2v_energy_lib.energy import (
    EnergyMeter,
    FakeBackend,
    FakeClock,
    FakeDevice,
    GpuMeter,
    HostMeter,
    HostWindow,
    Measurement,
)
from t2v_energy_lib.energy.host_meter import DEFAULT_CPU_TDP_W, DEFAULT_RAM_W_PER_GB, rapl_delta_uj
from t2v_energy_lib.errors import MeasurementWindowError

MEMINFO_16_GIB = "MemTotal:       16777216 kB\nMemFree:         1000 kB\n"


def write_domain(root: Path, name: str, label: str, energy_uj: int, max_uj: int = 2_000_000) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "name").write_text(label + "\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


def set_energy(path: Path, energy_uj: int) -> None:
    (path / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO_16_GIB)
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\n")
    return {"powercap": tmp_path / "powercap", "meminfo": meminfo, "stat": stat}


def host_meter(files: dict[str, Path], clock: FakeClock, **kwargs) -> HostMeter:
    return HostMeter(
        powercap_root=files["powercap"],
        proc_stat_path=files["stat"],
        meminfo_path=files["meminfo"],
        clock=clock,
        **kwargs,
    )


def test_rapl_delta_handles_one_wrap() -> None:
    assert rapl_delta_uj(100, 400, 1000) == 300
    assert rapl_delta_uj(900, 100, 1000) == 200


def test_rapl_package_and_dram_measured(files: dict[str, Path]) -> None:
    root = files["powercap"]
    pkg0 = write_domain(root, "intel-rapl:0", "package-0", 1_000_000)
    pkg1 = write_domain(root, "intel-rapl:1", "package-1", 1_900_000)
    core = write_domain(root, "intel-rapl:0:0", "core", 5)
    dram = write_domain(root, "intel-rapl:0:2", "dram", 10_000)
    write_domain(root, "intel-rapl:2", "psys", 0)
    clock = FakeClock()
    meter = host_meter(files, clock)
    assert meter.cpu_measured and meter.ram_measured
    meter.begin_window("w")
    clock.sleep_s(2.0)
    set_energy(pkg0, 1_500_000)  # +0.5 J
    set_energy(pkg1, 100_000)  # wrapped: 2_000_000 - 1_900_000 + 100_000 = 0.2 J
    set_energy(core, 999_999_999)  # inside the package: must be ignored
    set_energy(dram, 260_000)  # +0.25 J
    w = meter.end_window("w")
    assert w.duration_s == pytest.approx(2.0)
    assert w.cpu_energy_j == pytest.approx(0.7)
    assert w.ram_energy_j == pytest.approx(0.25)
    assert w.estimated is False and w.cpu_estimated is False and w.ram_estimated is False
    assert w.method == "cpu=rapl(package-0,package-1);ram=rapl(dram)"


def test_rapl_without_dram_estimates_ram_and_says_so(files: dict[str, Path]) -> None:
    pkg = write_domain(files["powercap"], "intel-rapl:0", "package-0", 0)
    clock = FakeClock()
    meter = host_meter(files, clock)
    assert meter.ram_gib == pytest.approx(16.0)
    with meter.window("w") as handle:
        clock.sleep_s(10.0)
        set_energy(pkg, 1_000_000)
    w = handle.result
    assert w is not None
    assert w.cpu_energy_j == pytest.approx(1.0) and w.cpu_estimated is False
    assert w.ram_estimated is True and w.estimated is True
    assert w.ram_energy_j == pytest.approx(DEFAULT_RAM_W_PER_GB * 16.0 * 10.0)  # 0.375 W/GB x 16 GB x 10 s
    assert "ram=estimate(0.375 W/GB" in w.method


def test_unreadable_rapl_falls_back_to_estimate(files: dict[str, Path]) -> None:
    pkg = write_domain(files["powercap"], "intel-rapl:0", "package-0", 0)
    (pkg / "energy_uj").unlink()
    (pkg / "energy_uj").mkdir()  # reading it raises IsADirectoryError, like a root-only file raises EACCES
    meter = host_meter(files, FakeClock())
    assert meter.domains == [] and "ESTIMATE" in meter.description


def test_cpu_estimate_from_proc_stat(files: dict[str, Path]) -> None:
    clock = FakeClock()
    meter = host_meter(files, clock, cpu_tdp_w=100.0)
    meter.begin_window("w")
    clock.sleep_s(10.0)
    # busy +200 jiffies (user +100, system +100) of total +400: utilisation 0.5
    files["stat"].write_text("cpu  200 0 200 1000 0 0 0 0 0 0\n")
    w = meter.end_window("w")
    assert w.cpu_energy_j == pytest.approx(100.0 * 0.5 * 10.0)
    assert w.estimated and w.cpu_estimated and w.ram_estimated
    assert "utilisation 0.5000 from /proc/stat" in w.method


def test_cpu_estimate_without_proc_stat_uses_process_times(files: dict[str, Path]) -> None:
    clock = FakeClock()
    meter = HostMeter(
        powercap_root=files["powercap"],
        proc_stat_path=files["stat"].parent / "missing",
        meminfo_path=files["meminfo"],
        clock=clock,
    )
    meter.begin_window("w")
    clock.sleep_s(10.0)
    w = meter.end_window("w")
    assert "os.times(this process)" in w.method
    assert 0.0 <= w.cpu_energy_j <= DEFAULT_CPU_TDP_W * 10.0


def test_prefer_rapl_false_forces_estimate(files: dict[str, Path]) -> None:
    write_domain(files["powercap"], "intel-rapl:0", "package-0", 0)
    meter = host_meter(files, FakeClock(), prefer_rapl=False)
    assert not meter.cpu_measured


def test_host_window_misuse_and_consistency(files: dict[str, Path]) -> None:
    meter = host_meter(files, FakeClock())
    with pytest.raises(MeasurementWindowError, match="never begun"):
        meter.end_window("x")
    meter.begin_window("x")
    with pytest.raises(MeasurementWindowError, match="already open"):
        meter.begin_window("x")
    with pytest.raises(ValueError, match="estimated"):
        HostWindow(1.0, 1.0, 1.0, estimated=False, method="m", cpu_estimated=True)


def test_energy_meter_keeps_estimates_apart(files: dict[str, Path]) -> None:
    clock = FakeClock()
    gpu = GpuMeter(
        backend=FakeBackend(clock, [FakeDevice("GPU-1234", lambda t: 250.0)]),
        clock=clock,
        sync=lambda: None,
        cuda_visible_devices=None,
    )
    meter = EnergyMeter(gpu, host_meter(files, clock, cpu_tdp_w=100.0))
    with meter.window("step") as handle:
        clock.sleep_s(4.0)
        files["stat"].write_text("cpu  200 0 200 1000 0 0 0 0 0 0\n")
    m = handle.result
    assert isinstance(m, Measurement) and m.gpu is not None
    assert m.duration_s == pytest.approx(4.0)
    assert m.gpu_energy_j == pytest.approx(1000.0)  # measured GPU energy only
    host_j = 100.0 * 0.5 * 4.0 + DEFAULT_RAM_W_PER_GB * 16.0 * 4.0
    assert m.host.host_energy_j == pytest.approx(host_j)
    assert m.total_with_estimates_j == pytest.approx(1000.0 + host_j) and m.has_estimates
    assert "GPU energy on NVML" in meter.description and "ESTIMATE" in meter.description
    data = json.loads(json.dumps(m.to_dict()))
    assert data["has_estimates"] is True and data["gpu"]["gpu_energy_j"]["0"] == pytest.approx(1000.0)


def test_energy_meter_auto_is_cpu_only_without_nvml(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from t2v_energy_lib.energy import nvml_backend

    monkeypatch.setattr(nvml_backend, "nvml_is_available", lambda: False)
    clock = FakeClock()
    meter = EnergyMeter.auto(host=host_meter(files, clock))
    assert meter.gpu is None
    assert meter.description.startswith("CPU-only") and "NVML is not available" in meter.description
    meter.begin_window("w")
    clock.sleep_s(1.0)
    m = meter.end_window("w")
    assert m.gpu is None and m.gpu_energy_j is None and m.duration_s == pytest.approx(1.0)
