"""Operator breakdown of one denoising step (``torch.profiler``): matmul, attention, norm+elementwise...

Classification rules (first match wins, case-insensitive substring of the kernel or op name):

1. ``attention``: flash, fmha, attention, sdpa, scaled_dot_product (FlashAttention, cuDNN SDPA
   ``cudnn_generated_fort_native_sdpa...``, ``fmha_cutlass...``, ``aten::_scaled_dot_product...``).
2. ``matmul``: gemm, cutlass, cublas, xmma, nvjet, ``aten::mm``, ``aten::addmm``, ``aten::bmm``,
   ``aten::baddbmm``, ``aten::matmul``, ``aten::linear`` (cuBLAS/CUTLASS GEMMs, e.g. ``sm90_xmma_gemm_...``).
3. ``convolution``: conv (the patch embedding; cuDNN ``implicit_convolve``).
4. ``norm_elementwise``: norm, elementwise, vectorized, reduce, softmax, add, mul, div, sub, silu, gelu, tanh,
   exp, copy, cat, fill, index, where, pow, rsqrt, mean, sum, to_copy, unrolled (PyTorch's pointwise and
   reduction kernels, e.g. ``vectorized_elementwise_kernel``, ``layer_norm``).
5. ``other``: everything else.

On CUDA the shares are of device (kernel) self time; on the CPU (tiny model) of CPU self time of aten ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CATEGORIES = ("attention", "matmul", "convolution", "norm_elementwise", "other")
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("attention", ("flash", "fmha", "attention", "sdpa", "scaled_dot_product")),
    (
        "matmul",
        (
            "gemm",
            "cutlass",
            "cublas",
            "xmma",
            "nvjet",
            "aten::mm",
            "aten::addmm",
            "aten::bmm",
            "aten::baddbmm",
            "aten::matmul",
            "aten::linear",
        ),
    ),
    ("convolution", ("conv",)),
    (
        "norm_elementwise",
        (
            "norm",
            "elementwise",
            "vectorized",
            "reduce",
            "softmax",
            "add",
            "mul",
            "div",
            "sub",
            "silu",
            "gelu",
            "tanh",
            "exp",
            "copy",
            "cat",
            "fill",
            "index",
            "where",
            "pow",
            "rsqrt",
            "mean",
            "sum",
            "unrolled",
        ),
    ),
)


def classify(name: str) -> str:
    """The category of a kernel or op name (see the module docstring for the rules)."""
    lowered = name.lower()
    for category, needles in _RULES:
        if any(n in lowered for n in needles):
            return category
    return "other"


def breakdown(times_us: dict[str, float]) -> dict[str, Any]:
    """Shares (0..1) and totals per category from name -> self time. Units: us in, us and fractions out."""
    totals = dict.fromkeys(CATEGORIES, 0.0)
    for name, t in times_us.items():
        totals[classify(name)] += t
    total = sum(totals.values())
    shares = {c: (v / total if total > 0 else 0.0) for c, v in totals.items()}
    top = sorted(times_us.items(), key=lambda kv: kv[1], reverse=True)[:15]
    return {
        "shares": shares,
        "time_us": totals,
        "total_time_us": total,
        "top": [{"name": n[:160], "time_us": t, "category": classify(n)} for n, t in top],
    }


def profile_step(run_one_step: Callable[[], Any], device: str) -> dict[str, Any]:
    """Profile ``run_one_step`` (one denoising step, already warmed up) and break its time down by category.

    Returns:
        ``breakdown(...)`` plus ``"activity"``: ``"cuda kernels (device self time)"`` or
        ``"cpu ops (self time)"``.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    on_cuda = device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    with profile(activities=activities) as prof:
        run_one_step()
        if on_cuda:
            torch.cuda.synchronize()
    times: dict[str, float] = {}
    for evt in prof.key_averages():
        if on_cuda:
            if getattr(evt, "device_type", None) != torch.autograd.DeviceType.CUDA:
                continue
            t = getattr(evt, "self_device_time_total", None)
            if t is None:
                t = getattr(evt, "self_cuda_time_total", 0.0)
        else:
            if not evt.key.startswith("aten::"):
                continue
            t = evt.self_cpu_time_total
        if t > 0:
            times[evt.key] = times.get(evt.key, 0.0) + float(t)
    out = breakdown(times)
    out["activity"] = "cuda kernels (device self time)" if on_cuda else "cpu ops (self time)"
    out["rules"] = "t2v_energy_lib.bench.profile_ops module docstring"
    return out
