"""Proof that a lever engaged: counters of what it skipped or replaced, installed around a pipeline run.

* :class:`HookActivity` wraps every Diffusers hook that replaces a module's forward (the cache hooks) so each
  call counts, and counts separately the calls in which the hook let the module compute (the hook's
  ``fn_ref.original_forward``). Skipped = calls - computed, per module path with the block index removed
  (``blocks.attn1``), so the analysis can price each skip with the FLOP model.
* :class:`DispatchCounter` counts calls of each attention backend function of the Diffusers dispatcher.
* :class:`VaeDecodeCounter` counts ``decode`` / ``_decode`` / ``tiled_decode`` calls of the VAE.
* :func:`compiled_regions`, :func:`fp8_parameters`: static evidence (modules with a compiled call,
  parameters stored in fp8); :func:`compiler_disabled_hooks`: hooks whose forward Dynamo never compiles.

Counters are Python-side and cost a function call per hooked module call; they are installed only around
the (unmeasured) probe generation, never around a measured window.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_BLOCK_INDEX = re.compile(r"\.\d+(?=\.|$)")


def module_kind_path(path: str) -> str:
    """``"blocks.3.attn1"`` -> ``"blocks.attn1"``; ``"transformer_blocks.0"`` -> ``"blocks"``."""
    out = _BLOCK_INDEX.sub("", path)
    return re.sub(r"^(transformer_blocks|single_transformer_blocks)", "blocks", out)


@dataclass(frozen=True)
class Verdict:
    """Whether a lever engaged, with the counted activity and the reason.

    Attributes:
        lever: Lever name.
        engaged: True only when the lever's activity count is positive.
        activity: What was counted (JSON-ready).
        reason: Why it is (not) engaged, in words.
    """

    lever: str
    engaged: bool
    activity: dict[str, Any]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"engaged": self.engaged, "activity": self.activity, "reason": self.reason}


class HookActivity:
    """Counts calls and computed calls of every forward-replacing Diffusers hook under ``root``."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.calls: dict[tuple[str, str], int] = {}
        self.computed: dict[tuple[str, str], int] = {}
        self._restore: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> HookActivity:
        for path, module in self.root.named_modules():
            registry = getattr(module, "_diffusers_hook", None)
            if registry is None:
                continue
            for name, fn_ref in zip(registry._hook_order, registry._fn_refs, strict=True):
                if fn_ref.original_forward is None:  # pre/post hooks only (layerwise casting): no skipping
                    continue
                key = (name, module_kind_path(path))
                self.calls.setdefault(key, 0)
                self.computed.setdefault(key, 0)
                self._wrap(fn_ref, "forward", self.calls, key)
                self._wrap(fn_ref, "original_forward", self.computed, key)
        return self

    def _wrap(self, obj: Any, attr: str, table: dict[tuple[str, str], int], key: tuple[str, str]) -> None:
        inner = getattr(obj, attr)

        def counted(*args: Any, **kwargs: Any) -> Any:
            table[key] += 1
            return inner(*args, **kwargs)

        setattr(obj, attr, counted)
        self._restore.append((obj, attr, inner))

    def __exit__(self, *exc: object) -> None:
        for obj, attr, inner in reversed(self._restore):
            setattr(obj, attr, inner)
        self._restore.clear()

    def summary(self) -> dict[str, Any]:
        """Per hook and module kind: calls, computed, skipped; and the totals. JSON-ready."""
        per: dict[str, dict[str, int]] = {}
        for (hook, path), calls in sorted(self.calls.items()):
            computed = self.computed[(hook, path)]
            per[f"{hook}@{path}"] = {
                "calls": calls,
                "computed": computed,
                "skipped": max(0, calls - computed),
            }
        total_calls = sum(v["calls"] for v in per.values())
        total_skipped = sum(v["skipped"] for v in per.values())
        skipped_by_path: dict[str, int] = {}
        for key, v in per.items():
            path = key.split("@", 1)[1]
            skipped_by_path[path] = skipped_by_path.get(path, 0) + v["skipped"]
        return {
            "hooks": per,
            "hooked_calls": total_calls,
            "skipped_calls": total_skipped,
            "skipped_by_module": skipped_by_path,
        }


class DispatchCounter:
    """Counts calls of each attention backend function registered in the Diffusers dispatcher."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._saved: dict[Any, Callable[..., Any]] = {}

    def __enter__(self) -> DispatchCounter:
        from diffusers.models.attention_dispatch import _AttentionBackendRegistry

        self._registry = _AttentionBackendRegistry._backends
        for name, fn in list(self._registry.items()):
            key = getattr(name, "value", str(name))
            self.counts[key] = 0
            self._saved[name] = fn
            self._registry[name] = self._counted(key, fn)
        return self

    def _counted(self, key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[key] += 1
            return fn(*args, **kwargs)

        return counted

    def __exit__(self, *exc: object) -> None:
        for name, fn in self._saved.items():
            self._registry[name] = fn
        self._saved.clear()

    def used(self) -> dict[str, int]:
        """Backends with at least one call."""
        return {k: v for k, v in self.counts.items() if v > 0}


class VaeDecodeCounter:
    """Counts the VAE's ``decode``, ``_decode`` and ``tiled_decode`` calls (tiling and slicing evidence)."""

    METHODS = ("decode", "_decode", "tiled_decode")

    def __init__(self, vae: Any) -> None:
        self.vae = vae
        self.counts = dict.fromkeys(self.METHODS, 0)

    def __enter__(self) -> VaeDecodeCounter:
        for name in self.METHODS:
            if hasattr(self.vae, name):
                inner = getattr(self.vae, name)
                setattr(self.vae, name, self._counted(name, inner))
        return self

    def _counted(self, name: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] += 1
            return inner(*args, **kwargs)

        return counted

    def __exit__(self, *exc: object) -> None:
        for name in self.METHODS:
            self.vae.__dict__.pop(name, None)


def innermost_forward(module: Any) -> tuple[Any, str] | None:
    """``(fn_ref, attribute)`` holding the forward that ``module``'s first Diffusers hook wraps (the module's
    own forward), or None when ``module`` has no hook."""
    registry = getattr(module, "_diffusers_hook", None)
    if registry is None or not registry._fn_refs:
        return None
    fn_ref = registry._fn_refs[0]
    return fn_ref, "original_forward" if fn_ref.original_forward is not None else "forward"


def compiled_regions(module: Any) -> int:
    """Submodules of ``module`` with a compiled call: ``nn.Module.compile`` (sets ``_compiled_call_impl``),
    or a compiled forward inside their Diffusers hooks (``torch.compile`` marks it)."""
    n = 0
    for m in module.modules():
        inner = innermost_forward(m)
        hooked = inner is not None and hasattr(getattr(*inner), "_torchdynamo_orig_callable")
        n += int(getattr(m, "_compiled_call_impl", None) is not None or hooked)
    return n


def compiler_disabled_hooks(module: Any, recurse: bool = True, compiled_only: bool = False) -> dict[str, int]:
    """Per hook name, modules whose Diffusers hook replaces the forward with a ``new_forward`` decorated
    ``@torch.compiler.disable`` (Diffusers 0.42.1: the MagCache and SeaCache block hooks; TaylorSeer and
    FirstBlockCache disable only helpers): a compiled call of such a module runs its forward eagerly.

    Args:
        module: The root module.
        recurse: Look at every submodule (else ``module`` alone).
        compiled_only: Count only modules with a compiled call (``nn.Module.compile``).
    """
    out: dict[str, int] = {}
    for m in module.modules() if recurse else [module]:
        registry = getattr(m, "_diffusers_hook", None)
        if registry is None or (compiled_only and getattr(m, "_compiled_call_impl", None) is None):
            continue
        for name, fn_ref in zip(registry._hook_order, registry._fn_refs, strict=True):
            new_forward = getattr(registry.hooks[name], "new_forward", None)
            if fn_ref.original_forward is not None and getattr(new_forward, "_torchdynamo_disable", False):
                out[name] = out.get(name, 0) + 1
    return out


def dynamo_graphs() -> int:
    """Graphs Dynamo has compiled in this process so far (``torch._dynamo.utils.counters``)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"].get("unique_graphs", 0))


def inductor_cache_lookups() -> dict[str, int]:
    """Inductor FX-graph cache hits and misses in this process so far (``torch._dynamo.utils.counters``;
    ``torch._dynamo.reset()`` leaves them, so a variant's are the difference over its setup)."""
    from torch._dynamo.utils import counters

    inductor = counters["inductor"]
    return {
        "hits": int(inductor.get("fxgraph_cache_hit", 0)),
        "misses": int(inductor.get("fxgraph_cache_miss", 0)),
    }


def reset_dynamo() -> None:
    """Drop every graph Dynamo cached in this process (``torch._dynamo.reset()``): a fresh denoiser of the
    same class would otherwise run the graphs an earlier variant compiled, adding none and paying nothing."""
    import torch

    torch._dynamo.reset()


@contextlib.contextmanager
def flex_compiled(settings: dict[str, Any]) -> Iterator[None]:
    """Inside the block, ``torch.nn.attention.flex_attention.flex_attention`` is ``torch.compile``-d alone
    (``settings``' backend and mode), as PyTorch documents for flex attention; the original after.

    The Diffusers dispatcher looks the function up on that module at each call (it expects users to compile
    it), so the counting generation of a compiled flex variant runs fused flex kernels. Eager, flex
    materialises the l x l scores in float32: on the H200 a Wan2.1-1.3B 480x832x81 counting generation
    asked for 47.98 GiB in its first call and failed out of memory (2026-12-01).
    """
    import torch
    import torch.nn.attention.flex_attention as flex_module

    original = flex_module.flex_attention
    kept = {k: v for k, v in settings.items() if k in ("backend", "mode", "dynamic", "options")}
    flex_module.flex_attention = torch.compile(original, **kept)
    try:
        yield
    finally:
        flex_module.flex_attention = original


def fp8_parameters(module: Any) -> int:
    """Parameters of ``module`` stored in an 8-bit float dtype (or torchao float8 tensor subclasses)."""
    n = 0
    for p in module.parameters():
        name = str(p.dtype) + type(p.data).__name__
        if "float8" in name or "Float8" in name:
            n += 1
    return n


def attention_kernels(run: Callable[[], Any], device: str) -> list[str]:
    """Names of every kernel (CUDA) or aten op (CPU) that ``bench/profile_ops.py`` classifies as attention,
    in a profile of ``run()``. Sorted, unique."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from t2v_energy_lib.bench.profile_ops import classify

    on_cuda = device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    with profile(activities=activities) as prof:
        run()
        if on_cuda:
            torch.cuda.synchronize()
    names = set()
    for evt in prof.key_averages():
        is_device = getattr(evt, "device_type", None) == torch.autograd.DeviceType.CUDA
        if (on_cuda and not is_device) or (not on_cuda and not evt.key.startswith("aten::")):
            continue
        if classify(evt.key) == "attention":
            names.add(evt.key[:160])
    return sorted(names)
