"""Analytic operators of one denoiser forward, per family, from plain config dicts and latent shapes.

Every function takes the diffusers config dict of the denoiser (keys not given take the class default used
here) and a :class:`DenoiserInput`, and returns the list of :class:`~t2v_energy_lib.theory.ops.Op` of one
forward. The batch of the forward is folded into each operator's rows. Terms:

- ``attn_proj``: Q, K, V, O projections of self- or joint attention (video, and text tokens where joint
  attention shares the weights);
- ``attn_scores``: QK^T and AV of self- or joint attention;
- ``cross_attn_proj`` / ``cross_attn_scores``: cross-attention to text;
- ``context_stream``: projections and MLPs of a separate text stream (dual-stream blocks, token refiners);
- ``mlp``: the feed-forward network of the video tokens;
- ``modulation``: per-block adaLN / modulation linears;
- ``embed``: patchify, timestep, text and pooled embeddings;
- ``output``: final modulation and output projection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.theory.ops import Op, attention, conv, linear

Config = Mapping[str, Any]


@dataclass(frozen=True)
class DenoiserInput:
    """The input of one denoiser forward, in latent units.

    Attributes:
        batch: Batch size of the forward (2 when CFG runs as one batch-2 call).
        latent_frames: Latent frames (after the VAE's temporal compression).
        latent_height: Latent height (after the VAE's spatial compression). Units: latent pixels.
        latent_width: Latent width. Units: latent pixels.
        text_tokens: Text tokens seen by the denoiser (padded length, or valid tokens where the model drops
            padding from attention).
        text_tokens_padded: Padded text length where it differs from ``text_tokens`` (0: the same).
    """

    batch: int
    latent_frames: int
    latent_height: int
    latent_width: int
    text_tokens: int
    text_tokens_padded: int = 0

    @property
    def padded_text(self) -> int:
        """Padded text length (what text-side projections run on)."""
        return self.text_tokens_padded or self.text_tokens


def _patch(value: Any, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if value is None:
        return default
    if isinstance(value, int):
        return (1, value, value)
    return tuple(int(v) for v in value)  # type: ignore[return-value]


def _video_tokens(shape: DenoiserInput, pt: int, ph: int, pw: int) -> int:
    return (shape.latent_frames // pt) * (shape.latent_height // ph) * (shape.latent_width // pw)


def _timestep_mlp(prefix: str, rows: int, freq_dim: int, d: int) -> list[Op]:
    return [
        linear(f"{prefix}.linear_1", "embed", rows, freq_dim, d),
        linear(f"{prefix}.linear_2", "embed", rows, d, d),
    ]


def wan_ops(config: Config, shape: DenoiserInput, *, per_token_timestep: bool = False) -> list[Op]:
    """WanTransformer3DModel (Wan2.1, Wan2.2). ``per_token_timestep``: Wan2.2 TI2V's expanded timesteps."""
    heads, hd = int(config.get("num_attention_heads", 40)), int(config.get("attention_head_dim", 128))
    d, f, n = heads * hd, int(config.get("ffn_dim", 13824)), int(config.get("num_layers", 40))
    pt, ph, pw = _patch(config.get("patch_size"), (1, 2, 2))
    b, m = shape.batch, shape.text_tokens
    l = _video_tokens(shape, pt, ph, pw)  # noqa: E741 (l: token length, the paper's notation)
    rows_t = b * l if per_token_timestep else b
    ops = [
        conv("patch_embedding", "embed", b * l, int(config.get("in_channels", 16)), d, pt * ph * pw),
        *_timestep_mlp("condition_embedder.time_embedder", rows_t, int(config.get("freq_dim", 256)), d),
        linear("condition_embedder.time_proj", "embed", rows_t, d, 6 * d),
        linear(
            "condition_embedder.text_embedder.linear_1", "embed", b * m, int(config.get("text_dim", 4096)), d
        ),
        linear("condition_embedder.text_embedder.linear_2", "embed", b * m, d, d),
        linear("blocks.attn1.to_qkv", "attn_proj", b * l, d, 3 * d, count=n),
        attention("blocks.attn1.sdpa", "attn_scores", b * heads, l, l, hd, count=n),
        linear("blocks.attn1.to_out", "attn_proj", b * l, d, d, count=n),
        linear("blocks.attn2.to_q", "cross_attn_proj", b * l, d, d, count=n),
        linear("blocks.attn2.to_kv", "cross_attn_proj", b * m, d, 2 * d, count=n),
        attention("blocks.attn2.sdpa", "cross_attn_scores", b * heads, l, m, hd, count=n),
        linear("blocks.attn2.to_out", "cross_attn_proj", b * l, d, d, count=n),
        linear("blocks.ffn.proj_in", "mlp", b * l, d, f, count=n),
        linear("blocks.ffn.proj_out", "mlp", b * l, f, d, count=n),
        linear("proj_out", "output", b * l, d, int(config.get("out_channels", 16)) * pt * ph * pw),
    ]
    return ops


def cogvideox_ops(config: Config, shape: DenoiserInput) -> list[Op]:
    """CogVideoXTransformer3DModel: joint attention over video + text tokens with shared weights."""
    heads, hd = int(config.get("num_attention_heads", 30)), int(config.get("attention_head_dim", 64))
    d, n = heads * hd, int(config.get("num_layers", 30))
    tdim = int(config.get("time_embed_dim", 512))
    p, p_t = int(config.get("patch_size", 2)), config.get("patch_size_t")
    in_ch = int(config.get("in_channels", 16))
    out_ch = int(config.get("out_channels", 16))
    b, m = shape.batch, shape.text_tokens
    l = _video_tokens(shape, int(p_t or 1), p, p)  # noqa: E741 (l: token length, the paper's notation)
    lj = l + m
    f = int(config.get("ff_inner_dim") or 4 * d)
    if p_t is None:
        patch = conv("patch_embed.proj", "embed", b * l, in_ch, d, p * p)
        out_dim = p * p * out_ch
    else:
        patch = linear("patch_embed.proj", "embed", b * l, in_ch * p * p * int(p_t), d)
        out_dim = p * p * int(p_t) * out_ch
    ops = [
        linear("time_embedding.linear_1", "embed", b, d, tdim),
        linear("time_embedding.linear_2", "embed", b, tdim, tdim),
        linear("patch_embed.text_proj", "embed", b * m, int(config.get("text_embed_dim", 4096)), d),
        patch,
        linear("blocks.norm12.linear", "modulation", b, tdim, 6 * d, count=2 * n),
        linear("blocks.attn1.to_qkv", "attn_proj", b * lj, d, 3 * d, count=n),
        attention("blocks.attn1.sdpa", "attn_scores", b * heads, lj, lj, hd, count=n),
        linear("blocks.attn1.to_out", "attn_proj", b * lj, d, d, count=n),
        linear("blocks.ff.proj_in", "mlp", b * lj, d, f, count=n),
        linear("blocks.ff.proj_out", "mlp", b * lj, f, d, count=n),
        linear("norm_out.linear", "output", b, tdim, 2 * d),
        linear("proj_out", "output", b * l, d, out_dim),
    ]
    if config.get("ofs_embed_dim"):
        ops += [
            linear("ofs_embedding.linear_1", "embed", b, int(config["ofs_embed_dim"]), tdim),
            linear("ofs_embedding.linear_2", "embed", b, tdim, tdim),
        ]
    return ops


def ltx_ops(config: Config, shape: DenoiserInput) -> list[Op]:
    """LTXVideoTransformer3DModel (0.9.x): self-attention, cross-attention to text, GELU MLP of 4d."""
    heads, hd = int(config.get("num_attention_heads", 32)), int(config.get("attention_head_dim", 64))
    d, n = heads * hd, int(config.get("num_layers", 28))
    cross = int(config.get("cross_attention_dim", 2048))
    p, pt = int(config.get("patch_size", 1)), int(config.get("patch_size_t", 1))
    b, m = shape.batch, shape.text_tokens
    l = _video_tokens(shape, pt, p, p)  # noqa: E741 (l: token length, the paper's notation)
    in_ch, out_ch = int(config.get("in_channels", 128)), int(config.get("out_channels", 128))
    return [
        linear("proj_in", "embed", b * l, in_ch * p * p * pt, d),
        *_timestep_mlp("time_embed.emb.timestep_embedder", b, 256, d),
        linear("time_embed.linear", "embed", b, d, 6 * d),
        linear("caption_projection.linear_1", "embed", b * m, int(config.get("caption_channels", 4096)), d),
        linear("caption_projection.linear_2", "embed", b * m, d, d),
        linear("blocks.attn1.to_qkv", "attn_proj", b * l, d, 3 * d, count=n),
        attention("blocks.attn1.sdpa", "attn_scores", b * heads, l, l, hd, count=n),
        linear("blocks.attn1.to_out", "attn_proj", b * l, d, d, count=n),
        linear("blocks.attn2.to_q", "cross_attn_proj", b * l, d, d, count=n),
        linear("blocks.attn2.to_kv", "cross_attn_proj", b * m, cross, 2 * d, count=n),
        attention("blocks.attn2.sdpa", "cross_attn_scores", b * heads, l, m, hd, count=n),
        linear("blocks.attn2.to_out", "cross_attn_proj", b * l, d, d, count=n),
        linear("blocks.ff.proj_in", "mlp", b * l, d, 4 * d, count=n),
        linear("blocks.ff.proj_out", "mlp", b * l, 4 * d, d, count=n),
        linear("proj_out", "output", b * l, d, out_ch * p * p * pt),
    ]


def mochi_ops(config: Config, shape: DenoiserInput) -> list[Op]:
    """MochiTransformer3DModel: dual-stream (asymmetric) joint attention over video + valid text tokens.

    Text-side projections run on all padded tokens; attention sees only ``shape.text_tokens`` valid ones.
    """
    heads, hd = int(config.get("num_attention_heads", 24)), int(config.get("attention_head_dim", 128))
    d, n = heads * hd, int(config.get("num_layers", 48))
    dc = int(config.get("pooled_projection_dim", 1536))
    text_dim = int(config.get("text_embed_dim", 4096))
    p = int(config.get("patch_size", 2))
    b, mv, mp = shape.batch, shape.text_tokens, shape.padded_text
    l = _video_tokens(shape, 1, p, p)  # noqa: E741 (l: token length, the paper's notation)
    f, fc = (4 * d * 2) // 3, (4 * dc * 2) // 3
    nc = n - 1  # the last block is context_pre_only: no text output projection, no text MLP
    return [
        *_timestep_mlp("time_embed.timestep_embedder", b, int(config.get("time_embed_dim", 256)), d),
        linear("time_embed.pooler.to_kv", "embed", b * (mp + 1), text_dim, 2 * text_dim),
        linear("time_embed.pooler.to_q", "embed", b, text_dim, text_dim),
        attention("time_embed.pooler.sdpa", "embed", b, 1, mp + 1, text_dim),
        linear("time_embed.pooler.to_out", "embed", b, text_dim, d),
        linear("time_embed.caption_proj", "embed", b * mp, text_dim, dc),
        conv("patch_embed.proj", "embed", b * l, int(config.get("in_channels", 12)), d, p * p),
        Op("rope.pos_frequencies", "embed", "gemm", 2.0 * l * 3 * (d // 2), 0.0, 0.0, 1, l),
        linear("blocks.norm1.linear", "modulation", b, d, 4 * d, count=n),
        linear("blocks.norm1_context.linear", "modulation", b, d, 4 * dc, count=nc),
        linear("blocks[-1].norm1_context.linear", "modulation", b, d, 2 * dc),
        linear("blocks.attn1.to_qkv", "attn_proj", b * l, d, 3 * d, count=n),
        linear("blocks.attn1.add_qkv_proj", "context_stream", b * mp, dc, 3 * d, count=n),
        attention("blocks.attn1.sdpa", "attn_scores", b * heads, l + mv, l + mv, hd, count=n),
        linear("blocks.attn1.to_out", "attn_proj", b * l, d, d, count=n),
        linear("blocks.attn1.to_add_out", "context_stream", b * mp, d, dc, count=nc),
        linear("blocks.ff.proj_in", "mlp", b * l, d, 2 * f, count=n),
        linear("blocks.ff.proj_out", "mlp", b * l, f, d, count=n),
        linear("blocks.ff_context.proj_in", "context_stream", b * mp, dc, 2 * fc, count=nc),
        linear("blocks.ff_context.proj_out", "context_stream", b * mp, fc, dc, count=nc),
        linear("norm_out.linear", "output", b, d, 2 * d),
        linear(
            "proj_out",
            "output",
            b * l,
            d,
            p * p * int(config.get("out_channels") or config.get("in_channels", 12)),
        ),
    ]


def hunyuan_video_ops(config: Config, shape: DenoiserInput) -> list[Op]:
    """HunyuanVideoTransformer3DModel: token refiner, dual-stream then single-stream joint attention."""
    heads, hd = int(config.get("num_attention_heads", 24)), int(config.get("attention_head_dim", 128))
    d = heads * hd
    n2, n1 = int(config.get("num_layers", 20)), int(config.get("num_single_layers", 40))
    nr = int(config.get("num_refiner_layers", 2))
    r = int(float(config.get("mlp_ratio", 4.0)) * d)
    p, pt = int(config.get("patch_size", 2)), int(config.get("patch_size_t", 1))
    b, m = shape.batch, shape.text_tokens
    l = _video_tokens(shape, pt, p, p)  # noqa: E741 (l: token length, the paper's notation)
    lj = l + m
    text_dim, pooled = int(config.get("text_embed_dim", 4096)), int(config.get("pooled_projection_dim", 768))
    ops = [
        conv("x_embedder.proj", "embed", b * l, int(config.get("in_channels", 16)), d, pt * p * p),
        *_timestep_mlp("time_text_embed.timestep_embedder", b, 256, d),
        linear("time_text_embed.text_embedder.linear_1", "embed", b, pooled, d),
        linear("time_text_embed.text_embedder.linear_2", "embed", b, d, d),
        *_timestep_mlp("context_embedder.time_text_embed.timestep_embedder", b, 256, d),
        linear("context_embedder.time_text_embed.text_embedder.linear_1", "embed", b, text_dim, d),
        linear("context_embedder.time_text_embed.text_embedder.linear_2", "embed", b, d, d),
        linear("context_embedder.proj_in", "embed", b * m, text_dim, d),
        linear("refiner.attn.to_qkvo", "context_stream", b * m, d, 4 * d, count=nr),
        attention("refiner.attn.sdpa", "context_stream", b * heads, m, m, hd, count=nr),
        linear("refiner.ff.proj_in", "context_stream", b * m, d, r, count=nr),
        linear("refiner.ff.proj_out", "context_stream", b * m, r, d, count=nr),
        linear("refiner.norm_out.linear", "modulation", b, d, 2 * d, count=nr),
        linear("dual.norm1(+context).linear", "modulation", b, d, 6 * d, count=2 * n2),
        linear("dual.attn.to_qkv", "attn_proj", b * l, d, 3 * d, count=n2),
        linear("dual.attn.to_out", "attn_proj", b * l, d, d, count=n2),
        linear("dual.attn.add_qkv_proj+to_add_out", "context_stream", b * m, d, 4 * d, count=n2),
        attention("dual.attn.sdpa", "attn_scores", b * heads, lj, lj, hd, count=n2),
        linear("dual.ff.proj_in", "mlp", b * l, d, r, count=n2),
        linear("dual.ff.proj_out", "mlp", b * l, r, d, count=n2),
        linear("dual.ff_context.proj_in", "context_stream", b * m, d, r, count=n2),
        linear("dual.ff_context.proj_out", "context_stream", b * m, r, d, count=n2),
        linear("single.norm.linear", "modulation", b, d, 3 * d, count=n1),
        linear("single.attn.to_qkv", "attn_proj", b * lj, d, 3 * d, count=n1),
        attention("single.attn.sdpa", "attn_scores", b * heads, lj, lj, hd, count=n1),
        linear("single.proj_mlp", "mlp", b * lj, d, r, count=n1),
        linear("single.proj_out", "mlp", b * lj, d + r, d, count=n1),
        linear("norm_out.linear", "output", b, d, 2 * d),
        linear("proj_out", "output", b * l, d, pt * p * p * int(config.get("out_channels", 16))),
    ]
    if config.get("guidance_embeds", True):
        ops += _timestep_mlp("time_text_embed.guidance_embedder", b, 256, d)
    return ops


DenoiserOpsFn = Callable[[Config, DenoiserInput], list[Op]]
