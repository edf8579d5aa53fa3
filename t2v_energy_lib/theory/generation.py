"""FLOPs of a whole generation: denoiser forwards per step (as CFG runs them), text encoders, VAE decoder.

Works on a models-layer ``ModelSpec`` (``family``, ``cfg_mode``, ``text_tokens``, ``encoder_tokens``,
``rules``, ``component_configs``, ``component_classes``, ``denoiser``) and ``GenerationSettings``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from t2v_energy_lib.errors import UnknownModelError
from t2v_energy_lib.theory.denoisers import (
    DenoiserInput,
    cogvideox_ops,
    hunyuan_video_ops,
    ltx_ops,
    mochi_ops,
    wan_ops,
)
from t2v_energy_lib.theory.encoders import text_encoder_ops
from t2v_energy_lib.theory.ops import FlopBreakdown, Op
from t2v_energy_lib.theory.unet import unet_motion_ops

#: Tokens CLIP text encoders run over (padded to max length).
CLIP_TOKENS = 77


def cfg_execution(spec: Any, guidance_scale: float) -> tuple[int, int]:
    """``(forwards per step, batch per forward)`` as the pipeline runs CFG.

    two_pass: 2 forwards at batch 1; batch2: 1 forward at batch 2; none: 1 at batch 1. Pipelines skip CFG
    when ``guidance_scale <= 1``.
    """
    if spec.cfg_mode == "none" or guidance_scale <= 1.0:
        return 1, 1
    if spec.cfg_mode == "two_pass":
        return 2, 1
    if spec.cfg_mode == "batch2":
        return 1, 2
    raise UnknownModelError(
        f"unknown cfg_mode {spec.cfg_mode!r} of {spec.id}; expected two_pass, batch2 or none"
    )


def denoiser_input(
    spec: Any, settings: Any, batch: int = 1, valid_text_tokens: int | None = None
) -> DenoiserInput:
    """The latent input of one denoiser forward at ``settings``."""
    r = spec.rules
    frames = (settings.num_frames - 1) // r.vae_temporal + 1 if r.vae_temporal > 1 else settings.num_frames
    tokens = spec.text_tokens if valid_text_tokens is None else valid_text_tokens
    return DenoiserInput(
        batch,
        frames,
        settings.height // r.vae_spatial,
        settings.width // r.vae_spatial,
        tokens,
        text_tokens_padded=spec.text_tokens if tokens != spec.text_tokens else 0,
    )


#: FLOP models by name (a family module's ``flop_model``): ``(*component configs, shape, **options) -> ops``.
FLOP_MODELS: dict[str, Callable[..., list[Op]]] = {
    "wan": wan_ops,
    "cogvideox": cogvideox_ops,
    "ltx": ltx_ops,
    "mochi": mochi_ops,
    "hunyuanvideo": hunyuan_video_ops,
    "unet_motion": unet_motion_ops,
}


def denoiser_ops(spec: Any, shape: DenoiserInput) -> list[Op]:
    """Operators of one denoiser forward of ``spec`` at ``shape``, by the FLOP model its family names."""
    family = spec.model_family
    model = FLOP_MODELS.get(family.flop_model)
    if model is None:
        raise UnknownModelError(
            f"no FLOP model {family.flop_model!r} (family {family.name!r} of {spec.id}); add one to "
            "theory/denoisers.py and FLOP_MODELS in theory/generation.py"
        )
    cfgs = spec.component_configs
    return model(*(cfgs[name] for name in family.flop_components), shape, **family.flop_options(spec))


def denoiser_flops(
    spec: Any, settings: Any, batch: int = 1, valid_text_tokens: int | None = None
) -> FlopBreakdown:
    """FLOPs of one denoiser forward at ``batch``, by term. Units: FLOP."""
    return FlopBreakdown.from_ops(
        denoiser_ops(spec, denoiser_input(spec, settings, batch, valid_text_tokens))
    )


def text_encoder_flops(spec: Any, guidance_scale: float) -> dict[str, FlopBreakdown]:
    """FLOPs of every text-encoder call of one generation (prompt, and the negative prompt under CFG)."""
    classes, cfgs = spec.component_classes, spec.component_configs
    calls = 1 if cfg_execution(spec, guidance_scale) == (1, 1) else 2
    out: dict[str, FlopBreakdown] = {}
    for name in ("text_encoder", "text_encoder_2"):
        if name not in classes:
            continue
        cls = classes[name]
        if cls.startswith("CLIP"):
            tokens = CLIP_TOKENS
        elif name == "text_encoder":
            tokens = spec.encoder_tokens or spec.text_tokens
        else:
            tokens = spec.text_tokens
        out[name] = FlopBreakdown.from_ops(text_encoder_ops(cls, cfgs[name], tokens, batch=1)).scaled(calls)
    return out


def vae_latent_shape(spec: Any, settings: Any) -> tuple[int, ...]:
    """Latent shape given to ``vae.decode``: ``(1, C, F, H, W)``, or ``(F, C, H, W)`` for image VAEs."""
    b, c, f, h, w = spec.latent_shape(settings.height, settings.width, settings.num_frames)
    if spec.model_family.image_vae:
        return (f, c, h, w)
    return (
        b,
        int(
            spec.component_configs["vae"].get("latent_channels")
            or spec.component_configs["vae"].get("z_dim")
            or c
        ),
        f,
        h,
        w,
    )


@dataclass(frozen=True)
class GenerationFlops:
    """FLOPs of one video generation, per component. Units: FLOP.

    Attributes:
        model_id: The spec's id.
        settings: The generation settings.
        token_length: Self-attention sequence length of the denoiser (the models layer's rule).
        forward: One denoiser forward at ``forward_batch``.
        forwards_per_step: Denoiser calls per step (2 for two-pass CFG).
        forward_batch: Batch of each call (2 for batch-2 CFG).
        text_encoders: Text-encoder FLOPs of the whole generation, per component name.
        vae_decoder: VAE decode FLOPs (counted on meta), or None when not requested.
    """

    model_id: str
    settings: Any
    token_length: int
    forward: FlopBreakdown
    forwards_per_step: int
    forward_batch: int
    text_encoders: Mapping[str, FlopBreakdown] = field(default_factory=dict)
    vae_decoder: FlopBreakdown | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "text_encoders", MappingProxyType(dict(self.text_encoders)))

    @property
    def steps(self) -> int:
        """Denoising steps."""
        return int(self.settings.num_inference_steps)

    @property
    def step(self) -> FlopBreakdown:
        """FLOPs of one denoising step (all CFG forwards)."""
        return self.forward.scaled(self.forwards_per_step)

    @property
    def denoise(self) -> FlopBreakdown:
        """FLOPs of all denoising steps."""
        return self.forward.scaled(self.forwards_per_step * self.steps)

    @property
    def components(self) -> dict[str, FlopBreakdown]:
        """``denoiser`` (all steps), each text encoder, and ``vae_decoder`` when counted."""
        out = {"denoiser": self.denoise, **self.text_encoders}
        if self.vae_decoder is not None:
            out["vae_decoder"] = self.vae_decoder
        return out

    @property
    def total_flops(self) -> float:
        """FLOPs of the whole generation. Units: FLOP."""
        return float(sum(b.total_flops for b in self.components.values()))


def generation_flops(
    spec: Any, settings: Any, *, include_vae: bool = True, valid_text_tokens: int | None = None
) -> GenerationFlops:
    """Per-generation FLOPs of ``spec`` at ``settings``.

    Args:
        spec: A models-layer ``ModelSpec``.
        settings: ``GenerationSettings`` (height, width, num_frames, num_inference_steps, guidance_scale).
        include_vae: Count the VAE decoder on the meta device (imports torch and diffusers; ~0.1-3 s).
        valid_text_tokens: Mochi only: prompt tokens kept in attention (default: the padded maximum).
    """
    forwards, batch = cfg_execution(spec, settings.guidance_scale)
    forward = denoiser_flops(spec, settings, batch, valid_text_tokens)
    vae = None
    if include_vae:
        from t2v_energy_lib.theory.vae import vae_decoder_flops

        vae = vae_decoder_flops(
            spec.component_classes["vae"], spec.component_configs["vae"], vae_latent_shape(spec, settings)
        )
    return GenerationFlops(
        model_id=spec.id,
        settings=settings,
        token_length=int(spec.token_length(settings.height, settings.width, settings.num_frames)),
        forward=forward,
        forwards_per_step=forwards,
        forward_batch=batch,
        text_encoders=text_encoder_flops(spec, settings.guidance_scale),
        vae_decoder=vae,
    )


def ops_at_token_length(spec: Any, tokens: int, batch: int = 1) -> list[Op]:
    """Operators of one forward with ``tokens`` video tokens (one latent row of patches; DiT families only).

    For roofline crossovers: the latent is 1 frame by 1 patch row by ``tokens`` patches.
    """
    if not spec.model_family.has_token_length:
        raise UnknownModelError(
            f"token-length sweeps need a DiT; {spec.model_family.label}'s UNet has no single token length"
        )
    r = spec.rules
    shape = DenoiserInput(batch, r.patch_t, r.patch_hw, r.patch_hw * tokens, spec.text_tokens)
    return denoiser_ops(spec, shape)
