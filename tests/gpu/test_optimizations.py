"""GPU benchmarks of the optimisation suite (Wan2.1-1.3B, 480x832x81, reduced steps), through the plugin's
``energy`` fixture: each variant's complete videos become result records (``--energy-results``) under the
same ids as ``t2v-energy optimize`` writes, so ``--energy-baseline`` gates them; the tests join ``-m gate``
when the plugin has that marker (tests/gpu/conftest.py).

Beyond the gate's comparison with a baseline, each test fails on its own when a lever that engaged in the
probes of issue 16 stops engaging (a cache that skips nothing, a compile that changes nothing), and when a
lever that saved energy there no longer saves against the default measured in this session (every round of
the variant must be below every round of the default). Random weights: deviations are numerical only.

Budget on one H200: ~20 s per complete video at 10 steps; 2 videos + warm-up per variant; ~6-7 min.
Steps: ``T2V_OPT_STEPS`` (default 10).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from t2v_energy_lib.bench.optimizations import DEFAULT, TARGETS, catalogue, variants_from_names
from t2v_energy_lib.bench.optimizations.variants import Variant

pytestmark = [pytest.mark.gpu, pytest.mark.slow]
torch = pytest.importorskip("torch", reason="torch is needed for GPU benchmarks")

MODEL = "wan2.1-t2v-1.3b"
TARGET = dataclasses.replace(TARGETS[MODEL], steps=int(os.environ.get("T2V_OPT_STEPS", "10")))
DEVICE = "cuda"
VARIANTS = (
    "compile",
    "attention:_native_cudnn",
    "cache:pab",
    "cache:fbc@0.2",
    "cache:mag",
    "cfg_batch",
    "steps:half",
    "fp8:layerwise",
    "vae:tiling",
    "steps:half+cache:pab+cfg_batch",
)
#: Levers that engaged on this pipeline in the issue's H100/H200 probes: they must stay engaged.
EXPECTED_ENGAGED = frozenset({"compile", "cache:pab", "cfg_batch", "steps:half", "fp8:layerwise"})
#: Levers that saved energy there (compile ~16% a forward, PAB ~18% a pipeline): the saving must stay.
EXPECTED_SAVERS = frozenset({"compile", "cache:pab", "steps:half", "steps:half+cache:pab+cfg_batch"})
ROUNDS = 2


class Bench:
    """The pipeline (built once), the runner's helpers and the default's reference rounds."""

    def __init__(self, out: Path, meter: Any) -> None:
        from t2v_energy_lib.bench.optimizations import OptimizationRunner, OptimizeOptions
        from t2v_energy_lib.bench.optimizations.api import optimize_provenance
        from t2v_energy_lib.bench.optimizations.generation import Generator
        from t2v_energy_lib.models import GenerationSettings, get_spec

        options = OptimizeOptions(out_dir=out, device=DEVICE, rounds=ROUNDS)
        self.meter = meter
        self.runner = OptimizationRunner(options, self.meter, optimize_provenance(options, [TARGET]))
        self.spec = get_spec(MODEL)
        t = TARGET
        self.settings = GenerationSettings(t.height, t.width, t.num_frames, t.steps, t.guidance_scale)
        self.pipe = self.runner.build(self.spec, None)
        self.gen = Generator(self.pipe, self.settings, options.prompt, options.seed)
        self.gen(options.warmup_steps, keep=False)
        self.default_energy_j: list[float] = []
        run = self.prepare(DEFAULT)
        for i in range(ROUNDS):
            self.meter.begin_window(f"default#{i}")
            run.rounds()
            self.default_energy_j.append(float(self.meter.end_window(f"default#{i}").gpu_energy_j or 0.0))
        run.finish()
        run.close()

    def prepare(self, variant: Variant) -> Any:
        """A set-up :class:`VariantRun` of ``variant`` on a fresh denoiser."""
        if not variant.is_default:
            self.runner.fresh_denoiser(self.pipe, self.spec)
        run = self.runner.variant_run(self.pipe, self.spec, TARGET, self.gen, variant)
        run.setup()
        return run

    def record_id(self, variant: Variant) -> str:
        return f"optimizations/{MODEL}/{self.settings.id}/{variant.name}/end_to_end"

    def settings_of(self, variant: Variant, steps: int) -> dict[str, Any]:
        return {
            **self.settings.call_kwargs(),
            "variant": variant.name,
            "num_inference_steps_run": steps,
            "dtype": "bfloat16",
            "device": DEVICE,
            "weights": "random",
        }


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, energy_meter: Any) -> Iterator[Bench]:
    b = Bench(tmp_path_factory.mktemp("optimizations"), energy_meter)
    yield b
    del b.pipe
    torch.cuda.empty_cache()


def _measure(energy: Any, bench: Bench, variant: Variant) -> tuple[dict[str, Any], list[float]]:
    run = bench.prepare(variant)
    try:
        energy(
            run.rounds,
            rounds=ROUNDS,
            warmup_rounds=0,
            suite="optimizations",
            model=MODEL,
            component="end_to_end",
            settings=bench.settings_of(variant, run.ctx.steps),
            record_id=bench.record_id(variant),
        )
        extra = run.finish()
    finally:
        run.close()
    rounds = list(energy.benchmark.extra_info.get("energy_gpu_j_rounds") or [])
    energy.benchmark.extra_info.update(
        status=extra["status"], status_reason=extra["status_reason"], deviation=extra["deviation"]
    )
    return extra, rounds


def test_default_pipeline(energy: Any, bench: Bench) -> None:
    extra, rounds = _measure(energy, bench, DEFAULT)
    assert extra["status"] == "reference" and len(rounds) == ROUNDS


@pytest.mark.parametrize("name", VARIANTS)
def test_variant(energy: Any, bench: Bench, name: str) -> None:
    (variant,) = variants_from_names([name], catalogue(MODEL), include_default=False)
    extra, rounds = _measure(energy, bench, variant)
    if name in EXPECTED_ENGAGED or name in EXPECTED_SAVERS:
        assert extra["status"] == "engaged", f"{name} did not engage: {extra['status_reason']}"
    if name in EXPECTED_SAVERS:
        assert rounds and max(rounds) < min(bench.default_energy_j), (
            f"{name}: the saving vanished: rounds {rounds} J vs default {bench.default_energy_j} J"
        )
