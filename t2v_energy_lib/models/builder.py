"""Build model components and whole Diffusers pipelines from a spec: random weights, offline, on any device.

Random builds construct every module directly on the target device (``with torch.device(device)``) and in the
target dtype: a parameter-registration hook casts each parameter to the dtype as the module registers it, so a
full model never exists in float32 (peak memory ~ the final model). Buffers are built in float32, then
cast, as ``from_pretrained(torch_dtype=...)`` leaves them.

Conventions (documented choices):

- Seeds: each component gets its own seed derived from ``seed`` and its name, so building one component alone
  gives the same weights as building it inside a pipeline. Same device + seed -> same weights.
- Never zeros: after construction, every floating parameter that is all zero (Diffusers zero-initialises
  output projections, adaLN/gate tables and motion-module outputs), mostly zero (a matrix more than
  ``MAX_ZERO_FRACTION`` exact zeros: a sparse regime whose kernels toggle fewer bits, so draw less power) or
  non-finite is re-drawn from N(0, 0.02^2) with a seeded generator, so activations stay realistic
  (:func:`needs_redraw`; baselines/scripts/h200_claims.sh measures what such regimes change).
  Norm weights of ones and PyTorch's default init are kept.
- ``_keep_in_fp32_modules`` is mimicked: Diffusers' ``from_pretrained`` keeps parameters of those modules
  (Wan: rope, time_embedder, scale_shift_table, norm1/2/3) in float32 whenever the dtype is not float32, and
  transformers keeps T5's ``wo`` in float32 for float16 only; random builds do the same.
- ``spec.dtype_policy`` pins components (Wan VAE: float32) whatever dtype is asked for.
- Models are returned in ``eval()`` mode with ``requires_grad=False``.
- ``device="meta"`` builds shapes only (parameter and FLOP counting); no re-initialisation happens there.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

from t2v_energy_lib.models.registry import get_spec
from t2v_energy_lib.models.spec import ModelSpec
from t2v_energy_lib.models.tokenizers import offline_tokenizer

ZERO_REINIT_STD = 0.02
#: A matrix (>= 2-D parameter) with more exact zeros than this is a degenerate (sparse) regime: re-drawn.
MAX_ZERO_FRACTION = 0.5


def resolve_dtype(dtype: Any) -> Any:
    """A ``torch.dtype`` from a dtype or its name (``"bfloat16"``, ``"float32"``...)."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    return getattr(torch, str(dtype).removeprefix("torch."))


def resolve_spec(spec_or_id: ModelSpec | str) -> ModelSpec:
    """The spec itself, or the registry's spec for an id."""
    return spec_or_id if isinstance(spec_or_id, ModelSpec) else get_spec(spec_or_id)


def component_seed(seed: int, name: str) -> int:
    """The seed of component ``name`` in a build with ``seed`` (stable across processes)."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63)


def component_dtype(spec: ModelSpec, name: str, dtype: Any) -> Any:
    """The dtype component ``name`` is built in: the spec's pinned dtype if any, else ``dtype``."""
    pinned = spec.dtype_policy.get(name)
    return resolve_dtype(pinned if pinned is not None else dtype)


@contextlib.contextmanager
def construction(device: Any, dtype: Any, seed: int) -> Iterator[None]:
    """Construct modules on ``device``, parameters in ``dtype``, seeded; global RNG state is restored."""
    import torch

    dev = torch.device(device)
    fork = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []

    def cast(module: Any, name: str, param: Any) -> Any:
        if param is None or not param.is_floating_point() or param.dtype == dtype:
            return None
        return torch.nn.Parameter(param.detach().to(dtype), requires_grad=param.requires_grad)

    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(seed)
        handle = torch.nn.modules.module.register_module_parameter_registration_hook(cast)
        try:
            with torch.device(dev):
                yield
        finally:
            handle.remove()


def _keep_fp32_names(model: Any, dtype: Any) -> tuple[str, ...]:
    import torch

    names = tuple(getattr(model, "_keep_in_fp32_modules", None) or ())
    if type(model).__module__.startswith("transformers"):
        return names if dtype == torch.float16 else ()
    return names if dtype != torch.float32 else ()


def needs_redraw(param: Any) -> bool:
    """True for a parameter that would put a measurement in a degenerate regime: all zero, non-finite, or a
    matrix with more than :data:`MAX_ZERO_FRACTION` exact zeros."""
    import torch

    if not param.any() or not torch.isfinite(param).all():
        return True
    return param.dim() >= 2 and float((param == 0).float().mean()) > MAX_ZERO_FRACTION


def finalize(model: Any, dtype: Any, seed: int) -> Any:
    """Cast buffers, mimic ``_keep_in_fp32_modules``, re-draw all-zero parameters; eval, no grad."""
    import torch

    keep = _keep_fp32_names(model, dtype)
    meta = any(p.is_meta for p in model.parameters())
    generator = None
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if not tensor.is_floating_point():
                continue
            want = torch.float32 if any(k in name.split(".") for k in keep) else dtype
            if tensor.dtype != want:
                tensor.data = tensor.data.to(want)
        if not meta:
            for _, param in model.named_parameters():
                if param.is_floating_point() and needs_redraw(param):
                    if generator is None:
                        generator = torch.Generator(device=param.device).manual_seed(seed + 1)
                    param.normal_(0.0, ZERO_REINIT_STD, generator=generator)
    model.eval()
    model.requires_grad_(False)
    return model


def _construct(entry: Mapping[str, Any]) -> Any:
    if entry["library"] == "diffusers":
        import diffusers

        return getattr(diffusers, entry["class"]).from_config(dict(entry["config"]))
    import transformers

    config = getattr(transformers, entry["config_class"])(**entry["config"])
    return getattr(transformers, entry["class"])(config)


def build_component(
    spec: ModelSpec | str, name: str, device: Any = "cpu", dtype: Any = "bfloat16", seed: int = 0
) -> Any:
    """Build one component with random (seeded, never all-zero) weights, or a tokenizer / scheduler.

    Args:
        spec: Spec or id.
        name: Component name (``transformer``, ``vae``, ``text_encoder``, ``tokenizer``, ``scheduler``...;
            AnimateDiff also ``unet_motion``, the merged UNetMotionModel the pipeline runs).
        device: Target device; ``"meta"`` for shape-only builds.
        dtype: Target dtype (``torch.dtype`` or name); ``spec.dtype_policy`` overrides it per component.
        seed: Build seed.
    """
    spec = resolve_spec(spec)
    virtual = spec.model_family.virtual_builders.get(name)
    if virtual is not None:  # a component the family builds from others (AnimateDiff's merged UNet)
        return virtual(spec, device, dtype, seed)
    components = spec.components
    if name not in components:
        raise KeyError(f"{spec.id} has no component {name!r}; it has {', '.join(components)}")
    entry = components[name]
    if name.startswith("tokenizer"):
        return offline_tokenizer(entry["class"], int(entry["config"]["model_max_length"]))
    if name == "scheduler":
        import diffusers

        return getattr(diffusers, entry["class"]).from_config(dict(entry["config"]))
    target = component_dtype(spec, name, dtype)
    own_seed = component_seed(seed, name)
    with construction(device, target, own_seed):
        model = _construct(entry)
    return finalize(model, target, own_seed)


def count_parameters(spec: ModelSpec | str) -> dict[str, int]:
    """Parameters per model component, from meta-device builds (AnimateDiff also lists ``unet_motion``)."""
    spec = resolve_spec(spec)
    names = [n for n in spec.component_names if not n.startswith("tokenizer") and n != "scheduler"]
    names.extend(spec.model_family.merged_components.values())
    counts = {}
    for name in names:
        model = build_component(spec, name, device="meta", dtype="bfloat16")
        counts[name] = sum(p.numel() for p in model.parameters())
    return counts
