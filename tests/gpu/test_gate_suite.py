"""The CI gate suite (marker ``gate``): Wan2.1-T2V-1.3B's text encoder, denoiser step, VAE decode and one
short complete generation at 480x832, 33 frames, 10 steps, through the plugin's ``energy`` fixture.

Every round is a window of about ``GATE_WINDOW_S`` (work repeated until then: NVML's energy counter advances
every ~100 ms, so a 1 s window carries several percent of counter granularity, a 3 s one about a third of
that), three rounds by default; with ``--energy-adaptive`` rounds are added until the gate decides or a cap
is hit. With adaptive caps of 20 s per benchmark its measured rounds are bounded at about 80 s plus build and
warm-ups; see docs/notes/issue-13.md for the CI recipe. Random weights: latency and the energy of
compute-bound work carry over to the checkpoints; data-dependent power does not (README, "Random weights").

Flow test only: ``T2V_ENERGY_GATE_FLOW=cpu`` runs the same four benchmarks on the tiny Wan variant on the CPU
(no ``gpu`` marker, no GPU energy: latency and host energy only). It checks the suite's and the CI script's
mechanics; it is NOT a measurement of anything the gate is for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from t2v_energy_lib.models.settings import GenerationSettings

CPU_FLOW = os.environ.get("T2V_ENERGY_GATE_FLOW") == "cpu"
MODEL = "wan2.1-t2v-1.3b-tiny" if CPU_FLOW else "wan2.1-t2v-1.3b"
DEVICE, DTYPE = ("cpu", "float32") if CPU_FLOW else ("cuda", "bfloat16")
SETTINGS = GenerationSettings(32, 32, 9, 2) if CPU_FLOW else GenerationSettings(480, 832, 33, 10)
GATE_WINDOW_S = 0.3 if CPU_FLOW else 3.0
SUITE = "gate"

pytestmark = [pytest.mark.gate, pytest.mark.slow, *([] if CPU_FLOW else [pytest.mark.gpu])]
torch = pytest.importorskip("torch", reason="torch is needed for the gate suite")


class _PlainTextFtfy:
    """Stand-in for ``ftfy`` where Diffusers calls it unconditionally and it is not installed.

    Diffusers 0.35's Wan pipeline calls ``ftfy.fix_text`` on every prompt without checking that ftfy is there
    (0.42 checks); ftfy is no dependency of this project. The gate's prompt is plain ASCII, on which
    ``ftfy.fix_text`` returns its input unchanged, so this changes no token and no measured work.
    """

    @staticmethod
    def fix_text(text: str) -> str:
        return text


def _ftfy_stand_in() -> None:
    import importlib.util
    import sys

    from t2v_energy_lib.bench.measure import DEFAULT_PROMPT

    if importlib.util.find_spec("ftfy") is not None or not DEFAULT_PROMPT.isascii():
        return
    module = sys.modules.get("diffusers.pipelines.wan.pipeline_wan")
    if module is not None and not hasattr(module, "ftfy"):
        module.ftfy = _PlainTextFtfy()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def gate_measurer(energy_meter: Any) -> Iterator[Any]:
    """The pipeline built once (random weights; bf16 with the VAE in fp32 on the GPU), warmed up twice.

    Its instrumentation shares the plugin's meter; the windows of the benchmarks are the ``energy`` fixture's.
    """
    from t2v_energy_lib.bench.measure import MeasureConfig, ShapeMeasurer
    from t2v_energy_lib.bench.runner import default_build

    pipe = default_build(MODEL, DEVICE, DTYPE)
    _ftfy_stand_in()
    with ShapeMeasurer(pipe, energy_meter, DEVICE, MeasureConfig()) as measurer:
        measurer.warmup(SETTINGS)
        measurer.warmup(SETTINGS)  # second call: steady kernels
        yield measurer
    del pipe
    if DEVICE == "cuda":
        torch.cuda.empty_cache()


def _units(measurer: Any, one: Callable[[], Any], cap: int) -> int:
    """Units of ``one`` that fill a window of about ``GATE_WINDOW_S`` (timed once after an untimed call)."""
    from t2v_energy_lib.bench.instrument import calibrate_units

    one()
    return calibrate_units(measurer._timed(one), GATE_WINDOW_S, cap)


def _gate(energy: Any, fn: Callable[[], Any], units: int, component: str) -> None:
    energy(
        fn,
        rounds=3,
        warmup_rounds=1,
        units_per_round=units,
        suite=SUITE,
        model=MODEL,
        component=component,
        settings=SETTINGS,
    )


def test_gate_text_encoder(energy: Any, gate_measurer: Any) -> None:
    """The pipeline's own ``encode_prompt`` call (prompt and negative prompt), repeated to fill a window."""
    m = gate_measurer
    reps = _units(m, m.prompts.run_recorded, cap=400)
    _gate(energy, lambda: [m.prompts.run_recorded() for _ in range(reps)], reps, "text_encoder")


def test_gate_denoiser_step(energy: Any, gate_measurer: Any) -> None:
    """Denoising steps of the pipeline's own loop (cached prompt embeddings), per step."""
    m = gate_measurer
    probe = max(m.min_steps, 2)
    per_step = m._timed(lambda: m.call(probe, "latent")) / probe
    from t2v_energy_lib.bench.instrument import calibrate_units

    steps = max(m.min_steps, calibrate_units(per_step, GATE_WINDOW_S, 50))
    _gate(energy, lambda: m.call(steps, "latent"), steps, "denoiser_step")


def test_gate_vae_decode(energy: Any, gate_measurer: Any) -> None:
    """The video's recorded VAE decode calls (as the warm-up generation made them), replayed."""
    m = gate_measurer
    decodes = _units(m, m.decodes.replay, cap=50)
    _gate(energy, lambda: m.decodes.replay(decodes), decodes, "vae_decode")


def test_gate_end_to_end(energy: Any, gate_measurer: Any) -> None:
    """One complete generation per round: real text encoding, every step, decode, post-processing."""
    m = gate_measurer
    m.prompts.replay = False
    try:
        _gate(energy, lambda: m.call(SETTINGS.num_inference_steps, "np"), 1, "end_to_end")
    finally:
        m.prompts.replay = True
