"""A summary of a model's denoiser architecture (width, heads, depth, FFN, patch, text width).

The analytic FLOP model reads this instead of poking at raw configs. Each family's module
(:mod:`t2v_energy_lib.models.families`) documents the raw keys of ``spec.component_configs[spec.denoiser]`` it
is computed from.
"""

from __future__ import annotations

from t2v_energy_lib.models.spec import DenoiserShape, ModelSpec


def denoiser_config(spec: ModelSpec) -> DenoiserShape:
    """Summarise the denoiser of ``spec`` (its family's ``summarize_denoiser``)."""
    return spec.model_family.denoiser_shape(spec)
