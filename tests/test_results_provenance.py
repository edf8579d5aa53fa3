"""Provenance: never fails on a missing field, describes a (fake) NVML GPU, baseline folder names."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import diffusers
import pytest

from t2v_energy_lib.energy import FakeBackend, FakeClock, FakeDevice
from t2v_energy_lib.errors import BaselineFormatError
from t2v_energy_lib.results import baseline_dir, collect_provenance, gpu_slug
from t2v_energy_lib.results.provenance import (
    OPTIONAL_PACKAGES,
    hardware_differences,
    version_changes,
)


def fake_gpus(*devices: FakeDevice) -> FakeBackend:
    """The energy layer's scripted backend with SYNTHETIC devices (default: one)."""
    devices = devices or (
        FakeDevice(
            "GPU-synthetic",
            lambda t: 100.0,
            name="Synthetic GPU 80GB HBM3",
            power_limit_w=123.0,
            reasons=lambda t: 0x4 | 0x8,
        ),
    )
    return FakeBackend(FakeClock(), devices, driver="0.0.synthetic", cuda_driver=13000)


def test_no_gpu_requested_records_why_and_still_collects_the_rest() -> None:
    prov = collect_provenance(device_index=None, settings={"steps": 2})
    assert prov["gpu"] is None
    assert "device_index=None" in prov["unavailable"]["gpu"]
    assert prov["settings"] == {"steps": 2}
    assert prov["versions"]["diffusers"] == diffusers.__version__
    assert prov["versions"]["t2v-energy"] == "0.1.0"
    assert prov["host"]["python"] == ".".join(map(str, sys.version_info[:3]))
    parsed = dt.datetime.fromisoformat(prov["date_utc"].replace("Z", "+00:00"))
    assert parsed.utcoffset() == dt.timedelta(0)
    commit = prov["git"]["commit"]
    has_commit = commit is not None and re.fullmatch(r"[0-9a-f]{40}", commit)
    assert has_commit or "git.commit" in prov["unavailable"]
    for key in ("torch_cuda", "cudnn"):  # CPU torch here: None with a reason; on the runner: a value
        assert prov["versions"][key] is not None or f"versions.{key}" in prov["unavailable"]


def test_fake_gpu_fields() -> None:
    gpu = collect_provenance(device_index=0, gpu_backend=fake_gpus())["gpu"]
    assert gpu == {
        "index": 0,
        "name": "Synthetic GPU 80GB HBM3",
        "uuid": "GPU-synthetic",
        "driver_version": "0.0.synthetic",
        "cuda_driver_version": 13000,
        "power_limit_w": 123.0,
        "max_sm_clock_mhz": 2000,
        "sm_clock_mhz": 1000,
        "memory_clock_mhz": 2000,
        "temperature_c": 40,
        "throttle_reasons": ["hw_slowdown", "sw_power_cap"],
        "persistence_mode": True,
    }


def test_one_unreadable_gpu_field_is_none_with_a_reason() -> None:
    device = FakeDevice("GPU-synthetic", lambda t: 100.0, name="Synthetic GPU 80GB HBM3", persistence=None)
    prov = collect_provenance(device_index=0, gpu_backend=fake_gpus(device))
    assert prov["gpu"]["persistence_mode"] is None
    assert "not readable" in prov["unavailable"]["gpu.persistence_mode"]
    assert prov["gpu"]["name"] == "Synthetic GPU 80GB HBM3"


def test_nvml_init_failure_gives_a_cpu_provenance(monkeypatch: pytest.MonkeyPatch) -> None:
    from t2v_energy_lib.energy import nvml_backend

    monkeypatch.setattr(nvml_backend, "nvml_is_available", lambda: False)
    prov = collect_provenance(device_index=0)
    assert prov["gpu"] is None
    assert "NVML is not available" in prov["unavailable"]["gpu"]


def test_baseline_dir_uses_gpu_slug_and_diffusers_version() -> None:
    prov = {"gpu": {"name": "NVIDIA H100 80GB HBM3"}, "versions": {"diffusers": "0.42.1"}}
    assert baseline_dir("baselines", prov) == Path("baselines/nvidia-h100-80gb-hbm3/0.42.1")
    assert gpu_slug({"gpu": None}) == "cpu"
    with pytest.raises(BaselineFormatError, match=r"no versions\.diffusers"):
        baseline_dir("baselines", {"gpu": None, "versions": {}})


def test_hardware_and_version_differences() -> None:
    a = {"gpu": {"name": "G", "driver_version": "1", "power_limit_w": 100.0}, "versions": {"torch": "1"}}
    b = {"gpu": {"name": "G", "driver_version": "2", "power_limit_w": 100.0}, "versions": {"torch": "2"}}
    assert hardware_differences(a, a) == []
    assert hardware_differences(a, b) == ["driver: '1' vs '2'"]
    assert hardware_differences(a, {"gpu": None}) == ["GPU: 'G' vs None (one run had no GPU)"]
    assert version_changes(a, b) == (("torch", "1", "2"), ("driver", "1", "2"))


def test_cuda_index_is_described_through_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process pinned to GPU 2 of a 4-GPU host (its CUDA device 0) describes NVML device 2, not 0."""
    gpus = fake_gpus(*(FakeDevice(f"GPU-synthetic-{i}", lambda t: 100.0) for i in range(4)))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    gpu = collect_provenance(cuda_index=0, gpu_backend=gpus)["gpu"]
    assert (gpu["index"], gpu["uuid"]) == (2, "GPU-synthetic-2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-synthetic-3,GPU-synthetic-1")
    assert collect_provenance(cuda_index=1, gpu_backend=gpus)["gpu"]["uuid"] == "GPU-synthetic-1"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert collect_provenance(cuda_index=3, gpu_backend=gpus)["gpu"]["index"] == 3


def test_optional_lever_packages_are_recorded_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """An fp8 measurement names the torchao it ran with; a package that is absent is simply not listed."""
    import importlib.metadata

    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "torchao":
            return "0.18.0"
        if name in OPTIONAL_PACKAGES:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    prov = collect_provenance(device_index=None)
    assert prov["versions"]["torchao"] == "0.18.0"
    assert not set(OPTIONAL_PACKAGES) - {"torchao"} & set(prov["versions"])
    assert not any(key.startswith("versions.torchao") for key in prov["unavailable"])
