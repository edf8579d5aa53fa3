"""Analytic operators of text encoders (T5/UMT5, CLIP text, Llama) from transformers config dicts.

Token embeddings are table lookups (no FLOPs); relative position bias and rotary embeddings are elementwise.
Terms: ``attn_proj``, ``attn_scores``, ``mlp``, and ``output`` (a text projection head, where present).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from t2v_energy_lib.theory.ops import Op, attention, linear

Config = Mapping[str, Any]


def t5_encoder_ops(config: Config, tokens: int, batch: int = 1) -> list[Op]:
    """T5 / UMT5 encoder stack (gated-GELU FFN has two input projections)."""
    d, d_kv, heads = int(config["d_model"]), int(config["d_kv"]), int(config["num_heads"])
    d_ff, n = int(config["d_ff"]), int(config["num_layers"])
    inner, rows = heads * d_kv, batch * tokens
    gated = str(config.get("feed_forward_proj", "relu")).startswith("gated")
    return [
        linear("block.attn.qkv", "attn_proj", rows, d, 3 * inner, count=n),
        attention("block.attn.scores", "attn_scores", batch * heads, tokens, tokens, d_kv, count=n),
        linear("block.attn.o", "attn_proj", rows, inner, d, count=n),
        linear("block.ff.wi", "mlp", rows, d, (2 if gated else 1) * d_ff, count=n),
        linear("block.ff.wo", "mlp", rows, d_ff, d, count=n),
    ]


def clip_text_ops(config: Config, tokens: int, batch: int = 1, *, with_projection: bool = False) -> list[Op]:
    """CLIPTextModel (``with_projection``: CLIPTextModelWithProjection's pooled text projection)."""
    h, f = int(config["hidden_size"]), int(config["intermediate_size"])
    heads, n = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
    rows = batch * tokens
    ops = [
        linear("layers.self_attn.qkv", "attn_proj", rows, h, 3 * h, count=n),
        attention("layers.self_attn.sdpa", "attn_scores", batch * heads, tokens, tokens, h // heads, count=n),
        linear("layers.self_attn.out_proj", "attn_proj", rows, h, h, count=n),
        linear("layers.mlp.fc1", "mlp", rows, h, f, count=n),
        linear("layers.mlp.fc2", "mlp", rows, f, h, count=n),
    ]
    if with_projection:
        ops.append(linear("text_projection", "output", batch, h, int(config.get("projection_dim", h))))
    return ops


def llama_ops(config: Config, tokens: int, batch: int = 1) -> list[Op]:
    """LlamaModel (no LM head): grouped-query attention and a SwiGLU MLP."""
    h, f = int(config["hidden_size"]), int(config["intermediate_size"])
    heads, n = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    hd = int(config.get("head_dim") or h // heads)
    rows = batch * tokens
    return [
        linear("layers.self_attn.q_proj", "attn_proj", rows, h, heads * hd, count=n),
        linear("layers.self_attn.kv_proj", "attn_proj", rows, h, 2 * kv_heads * hd, count=n),
        attention("layers.self_attn.sdpa", "attn_scores", batch * heads, tokens, tokens, hd, count=n),
        linear("layers.self_attn.o_proj", "attn_proj", rows, heads * hd, h, count=n),
        linear("layers.mlp.gate_up_proj", "mlp", rows, h, 2 * f, count=n),
        linear("layers.mlp.down_proj", "mlp", rows, f, h, count=n),
    ]


def text_encoder_ops(class_name: str, config: Config, tokens: int, batch: int = 1) -> list[Op]:
    """Dispatch on the transformers class name (T5EncoderModel, UMT5EncoderModel, CLIPTextModel,
    CLIPTextModelWithProjection, LlamaModel)."""
    if class_name in ("T5EncoderModel", "UMT5EncoderModel"):
        return t5_encoder_ops(config, tokens, batch)
    if class_name in ("CLIPTextModel", "CLIPTextModelWithProjection"):
        return clip_text_ops(config, tokens, batch, with_projection=class_name.endswith("Projection"))
    if class_name == "LlamaModel":
        return llama_ops(config, tokens, batch)
    from t2v_energy_lib.errors import UnknownModelError

    raise UnknownModelError(
        f"no FLOP model for text encoder class {class_name!r}; known: T5EncoderModel, UMT5EncoderModel, "
        "CLIPTextModel, CLIPTextModelWithProjection, LlamaModel "
        "(add one to t2v_energy_lib/theory/encoders.py)"
    )
