"""What every model of one family shares: :class:`ModelFamily`.

A family module (``wan.py``, ``cogvideox.py``...) declares its shape rules and one :class:`ModelFamily`: how
to summarise its denoiser for the FLOP model, which FLOP model of the theory layer runs it, and its build and
weights quirks. The registry (:mod:`t2v_energy_lib.models.registry`) gives each model a family by name;
the rest of the library asks ``spec.model_family`` instead of branching on ``spec.family``.

Adding a model of a known family: its configs (``models/configs/<id>.json`` and ``configs/tiny/<id>.json``)
and one registry line. Adding a family: one module here (listed in :mod:`.__init__`), plus its FLOP model in
``theory/denoisers.py`` if no existing one fits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from t2v_energy_lib.models.spec import DenoiserShape

#: A summary of one model's denoiser from its component configs (``spec.component_configs``).
Summarize = Callable[[Mapping[str, Mapping[str, Any]], str], DenoiserShape]


def no_flop_options(_spec: Any) -> dict[str, Any]:
    """A FLOP model without per-model options."""
    return {}


@dataclass(frozen=True)
class ModelFamily:
    """One family of text-to-video pipelines (Wan, CogVideoX...), declared once in its module.

    Attributes:
        name: The family's registry name (``ModelSpec.family``), e.g. ``"wan"``.
        label: Human name, e.g. ``"Wan"``.
        summarize_denoiser: ``(component_configs, denoiser component name) -> DenoiserShape``.
        flop_model: Name of the FLOP model in the theory layer (``theory.generation.FLOP_MODELS``).
        flop_components: Components whose configs the FLOP model takes, in its argument order.
        flop_options: ``spec -> keyword options`` of the FLOP model (Wan 2.2: per-token timesteps).
        merged_components: Pipeline component -> virtual component built in its place (AnimateDiff: the UNet
            is a ``UNetMotionModel`` merged from the SD1.5 UNet and the motion adapter).
        virtual_builders: Virtual component -> ``(spec, device, dtype, seed) -> module`` that builds it.
        absorbed_components: Components merged into another and passed as None to the pipeline.
        alternative_classes: Weights layout: component -> other class names a saved folder may hold.
        image_vae: True when the VAE decodes frames as a batch of images (latent ``(F, C, H, W)``).
        prompt_embeds_dim_key: The denoiser config key of the prompt-embedding width, where the scale-out
            runner can feed random prompt embeddings directly; None where it cannot (yet).
    """

    name: str
    label: str
    summarize_denoiser: Summarize
    flop_model: str
    flop_components: tuple[str, ...] = ("transformer",)
    flop_options: Callable[[Any], dict[str, Any]] = no_flop_options
    merged_components: Mapping[str, str] = field(default_factory=dict)
    virtual_builders: Mapping[str, Callable[[Any, Any, Any, int], Any]] = field(default_factory=dict)
    absorbed_components: tuple[str, ...] = ()
    alternative_classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    image_vae: bool = False
    prompt_embeds_dim_key: str | None = None

    def denoiser_shape(self, spec: Any) -> DenoiserShape:
        """The summary of ``spec``'s denoiser."""
        return self.summarize_denoiser(spec.component_configs, spec.denoiser)

    @property
    def has_token_length(self) -> bool:
        """True for transformers over one token sequence (token-length sweeps, roofline crossovers)."""
        return not self.image_vae


def patch_of(
    cfg: Mapping[str, Any], spatial_key: str = "patch_size", temporal_key: str = "patch_size_t"
) -> tuple[int, int, int]:
    """``(t, h, w)`` patch from a spatial patch size and an optional temporal one."""
    p = cfg[spatial_key]
    pt = cfg.get(temporal_key) or 1
    return (int(pt), int(p), int(p))


def dit_shape(
    cfg: Mapping[str, Any],
    *,
    ffn_dim: int,
    patch: tuple[int, ...],
    text_dim: int,
    num_layers: int,
    extra: dict[str, Any],
) -> DenoiserShape:
    """A transformer denoiser's summary; width = ``num_attention_heads`` x ``attention_head_dim``."""
    heads, head_dim = int(cfg["num_attention_heads"]), int(cfg["attention_head_dim"])
    return DenoiserShape(
        kind="dit",
        d_model=heads * head_dim,
        num_heads=heads,
        head_dim=head_dim,
        num_layers=int(num_layers),
        ffn_dim=int(ffn_dim),
        patch_size=tuple(int(x) for x in patch),  # type: ignore[arg-type]
        in_channels=int(cfg["in_channels"]),
        text_dim=int(text_dim),
        extra=extra,
    )


def width(cfg: Mapping[str, Any]) -> int:
    """Hidden width of a transformer denoiser: heads x head width."""
    return int(cfg["num_attention_heads"]) * int(cfg["attention_head_dim"])
