"""The bench keeps the GPU power timeline of the first denoiser window of each point, and only that one.

The GPU is the energy layer's scripted FakeBackend over a FakeClock: every power value here is SYNTHETIC.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from synthetic_windows import synthetic_window  # tests/ is on sys.path (no tests/__init__.py)

from t2v_energy_lib.analysis.synthetic import SyntheticKnobs, synthetic_theory, write_synthetic_results
from t2v_energy_lib.bench.measure import MeasureConfig, ShapeMeasurer
from t2v_energy_lib.energy import EnergyMeter, FakeBackend, FakeClock, FakeDevice, GpuMeter, Measurement
from t2v_energy_lib.report import write_report

SYNTHETIC_POWER_W = 300.0
FAKE_STEP_S = 0.5  # fake seconds per denoising step
CONFIG = MeasureConfig(target_window_s=1.0, rounds=3, max_steps_per_window=4)


class FakePipe:
    """Just enough of a pipeline for the denoiser windows: each step advances the fake clock."""

    def __init__(self, clock: FakeClock | None) -> None:
        self.clock = clock
        self.vae = SimpleNamespace(decode=lambda *a, **k: None, dtype=None)
        self.scheduler = SimpleNamespace()
        self.calls: list[int] = []

    def encode_prompt(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __call__(self, *, num_inference_steps: int, **kwargs: Any) -> None:
        self.calls.append(num_inference_steps)
        if self.clock is not None:
            self.clock.sleep_s(FAKE_STEP_S * num_inference_steps)


def _measure(meter: Any, clock: FakeClock | None) -> Any:
    m = ShapeMeasurer(FakePipe(clock), meter, "cpu", CONFIG)
    m.settings = SimpleNamespace(height=16, width=16, num_frames=9, guidance_scale=5.0)
    with m:
        return m.measure_denoiser()


@pytest.fixture
def gpu_meter() -> tuple[EnergyMeter, FakeClock]:
    clock = FakeClock()
    device = FakeDevice("GPU-00000000-0000-0000-0000-0000000000aa", lambda t: SYNTHETIC_POWER_W)
    gpu = GpuMeter(backend=FakeBackend(clock, [device]), clock=clock, sync=lambda: None)
    return EnergyMeter(gpu), clock


def test_first_denoiser_window_keeps_its_power_timeline(
    gpu_meter: tuple[EnergyMeter, FakeClock],
) -> None:
    meter, clock = gpu_meter
    series = _measure(meter, clock)
    first, *rest = series.windows
    assert first.gpu.timeline is not None, "the first window keeps its power timeline"
    assert all(r.gpu.timeline is None for r in rest), "only the first window"
    timeline = series.extra["timeline"]
    assert set(timeline) == {"0"} and series.extra["timeline_window"] == "denoiser#0"
    ts, power = timeline["0"]["timestamps_s"], timeline["0"]["power_w"]
    assert len(ts) == len(power) > 10
    assert ts[0] == 0.0 and ts == sorted(ts)
    assert ts[-1] == pytest.approx(first.duration_s)
    assert power == pytest.approx([SYNTHETIC_POWER_W] * len(power))
    assert json.loads(json.dumps(series.extra))["timeline"] == timeline  # JSON-ready for the result file


def test_no_timeline_without_a_gpu() -> None:
    series = _measure(EnergyMeter(None), None)
    assert "timeline" not in series.extra
    assert all(r.gpu is None for r in series.windows)


def test_a_meter_without_a_gpu_is_asked_for_no_timeline() -> None:
    class PlainMeter:  # begin_window(key) only, like the runner tests' fakes
        gpu = None

        def __init__(self) -> None:
            self.open: dict[str, float] = {}

        def begin_window(self, key: str) -> None:
            self.open[key] = time.perf_counter()

        def end_window(self, key: str) -> Measurement:
            d = time.perf_counter() - self.open.pop(key)
            return synthetic_window(key, d, gpu_j=SYNTHETIC_POWER_W * d)

    series = _measure(PlainMeter(), None)
    assert len(series.windows) == CONFIG.rounds and "timeline" not in series.extra


def test_the_report_draws_the_stored_timeline(
    gpu_meter: tuple[EnergyMeter, FakeClock], tmp_path: Path
) -> None:
    meter, clock = gpu_meter
    series = _measure(meter, clock)
    folder = write_synthetic_results(tmp_path / "res", SyntheticKnobs(suites=("resolution",)))
    doc = json.loads((folder / "resolution.json").read_text())
    record = next(r for r in doc["records"] if r["component"] == "denoiser_step")
    record["extra"]["timeline"] = series.extra["timeline"]
    (folder / "resolution.json").write_text(json.dumps(doc))
    text = write_report(folder, tmp_path / "out", theory=synthetic_theory()).read_text()
    assert f"![GPU power timeline of {record['id']}](power_timeline.png)" in text
    assert (tmp_path / "out" / "power_timeline.png").stat().st_size > 10_000
