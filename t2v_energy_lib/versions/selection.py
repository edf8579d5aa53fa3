"""The built-in benchmark selection of ``t2v-energy history`` (until the gate suite exists on main).

Per model, at the model's default shape (Wan2.1-1.3B: 480x832x81, CFG 5.0 as two passes): the text encoder,
one denoiser step, the VAE decode, a complete generation at a reduced step count (``e2e_steps``, default 4:
all of the pipeline runs, only the loop is shorter), and one profiled denoiser step (operator classes, to
explain a step). Record ids read ``history/<model>/<HxWxF-sS>/<component>``.

With random weights the figures are the cost of the computation each version runs at these shapes; they say
nothing about the quality of a video, and a version that changed only numerics of trained weights would not
show here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from t2v_energy_lib.bench.scenarios import Scenario

SUITE = "history"
DEFAULT_MODELS: tuple[str, ...] = ("wan2.1-t2v-1.3b",)
DEFAULT_E2E_STEPS = 4


def history_scenarios(
    model_ids: Sequence[str] = DEFAULT_MODELS, *, tiny: bool = False, e2e_steps: int = DEFAULT_E2E_STEPS
) -> tuple[Scenario, ...]:
    """One scenario per model: its defaults with ``e2e_steps`` denoising steps (tiny: its tiny variant)."""
    from t2v_energy_lib.models import get_spec

    out = []
    for mid in model_ids:
        spec = get_spec(mid)
        if tiny:
            spec = spec.tiny()
        settings = replace(spec.defaults, num_inference_steps=e2e_steps)
        spec.validate(settings)
        out.append(Scenario(SUITE, spec.id, settings, label="history"))
    return tuple(out)
