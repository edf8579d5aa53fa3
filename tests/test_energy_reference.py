"""The reference workload's pure parts (document layout, agreement, atomic write) on fake windows.

The windows come from the FakeBackend: every number here is synthetic. The real run is in
tests/test_energy_gpu.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2v_energy_lib.bench.reference import agreement_pct, build_document, matmul_flops, write_json_atomic
from t2v_energy_lib.energy import FakeBackend, FakeClock, FakeDevice, GpuMeter


def fake_run() -> dict:
    clock = FakeClock()
    # synthetic: 90 W until t = 10 s, then a 600 W plateau
    power = lambda t: 90.0 if t < 10.0 else 600.0  # noqa: E731
    energy = lambda t: 90.0 * t if t < 10.0 else 900.0 + 600.0 * (t - 10.0)  # noqa: E731
    backend = FakeBackend(clock, [FakeDevice("GPU-0000", power, energy_j=energy)])
    meter = GpuMeter(backend=backend, clock=clock, sync=lambda: None, cuda_visible_devices=None)
    period = meter.measure_counter_period()
    meter.measure_idle(5.0, compare_sources=True)
    clock.advance_s(10.0 - clock.monotonic_s())
    with meter.window("matmul", compare_sources=True) as handle:
        clock.sleep_s(12.0)
    assert meter.idle_window is not None and handle.result is not None
    return build_document(
        meter.idle_window,
        handle.result,
        device=0,
        n=8192,
        iterations=1000,
        counter_period_s=period,
        provenance={"gpu_name": "Fake GPU (synthetic)"},
        settings={"n": 8192, "dtype": "bfloat16", "matmul_seconds": 12.0, "idle_seconds": 5.0, "device": 0},
    )


def test_agreement_pct() -> None:
    assert agreement_pct(100.0, 97.0) == pytest.approx(3.0)
    assert agreement_pct(100.0, 103.0) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="> 0 J"):
        agreement_pct(0.0, 1.0)


def test_matmul_flops() -> None:
    assert matmul_flops(8192) == 2 * 8192**3


def test_document_layout() -> None:
    doc = fake_run()
    assert doc["schema"] == "t2v-energy.results" and doc["schema_version"] == 1
    idle, mm = doc["records"]
    assert idle["id"] == "reference/idle/idle" and mm["id"] == "reference/matmul-bf16-8192/matmul"
    assert idle["extra"]["idle_power_w"] == pytest.approx(90.0)
    assert mm["rounds"]["latency_s"] == [pytest.approx(12.0)]
    assert mm["rounds"]["gpu_energy_j"] == [pytest.approx(7200.0)]
    assert mm["rounds"]["sampled_gpu_energy_j"] == [pytest.approx(7200.0)]
    assert mm["rounds"]["gpu_energy_above_idle_j"] == [pytest.approx(7200.0 - 90.0 * 12.0)]
    assert mm["extra"]["achieved_tflops"] == pytest.approx(1000 * 2 * 8192**3 / 12.0 / 1e12)
    assert mm["extra"]["agreement_pct"] == pytest.approx(0.0, abs=1e-6)
    assert mm["extra"]["counter_update_period_s"] == pytest.approx(0.1, abs=0.002)
    assert mm["extra"]["source"] == "counter" and mm["extra"]["power_metric"] == "power_instant"
    assert mm["machine_state"]["name"] == "Fake GPU (synthetic)"


def test_document_passes_the_results_schema() -> None:
    from t2v_energy_lib.results import schema  # the project's own layer: an import error is a failure

    doc = json.loads(json.dumps(fake_run(), allow_nan=False))
    parsed = schema.parse_document(doc, "reference")
    assert [r.component for r in parsed.records] == ["idle", "matmul"]


def test_write_json_atomic(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "ref.json"
    write_json_atomic(target, {"a": 1.5})
    assert json.loads(target.read_text()) == {"a": 1.5}
    with pytest.raises(ValueError, match="Out of range float"):
        write_json_atomic(target, {"a": float("nan")})
    assert json.loads(target.read_text()) == {"a": 1.5}  # the old file survives a failed write
    assert [p.name for p in target.parent.iterdir()] == ["ref.json"]  # no temp file left behind


def test_run_reference_without_cuda_raises(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is a dependency")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here; the no-GPU error path cannot be exercised")
    from t2v_energy_lib.bench.reference import run_reference
    from t2v_energy_lib.errors import GpuUnavailableError

    with pytest.raises(GpuUnavailableError, match=r"torch\.cuda is not available"):
        run_reference(tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()
