"""The GPU side of :mod:`.context_parallel`: process group, pipeline, measured windows, record on rank 0.

Needs CUDA, NCCL and the energy layer's NVML meter; imported only by ``context_parallel.main``.
"""

from __future__ import annotations

import os
from typing import Any

from t2v_energy_lib.errors import T2VEnergyError
from t2v_energy_lib.scaleout.context_parallel import (
    RunConfig,
    apply_safe_env,
    build_record,
    check_cp_plan,
    check_split,
    cp_degrees,
)
from t2v_energy_lib.scaleout.window import RankMeasurement, gather_to_rank0, measure_window, synchronise_ranks


def _ranks() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (1 process without torchrun)."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


def _settings(config: RunConfig, spec: Any, world_size: int) -> dict[str, Any]:
    d = spec.defaults
    return {
        "height": config.height or d.height,
        "width": config.width or d.width,
        "num_frames": config.num_frames or d.num_frames,
        "guidance_scale": d.guidance_scale if config.guidance_scale is None else config.guidance_scale,
        "num_inference_steps": config.steps,
        "warmup_steps": config.warmup_steps,
        "rounds": config.rounds,
        "mode": config.mode,
        "world_size": world_size,
        **cp_degrees(config.mode, world_size),
        "attention_backend": config.attention_backend,
        "anything": config.anything,
        "dtype": "bfloat16",
        "seed": config.seed,
    }


def _check_embeddable(spec: Any) -> str:
    """The denoiser config key of the prompt-embedding width; refuses, before any build, a model whose prompt
    embeddings this runner cannot make (its family declares no ``prompt_embeds_dim_key``: Wan only now)."""
    key = spec.model_family.prompt_embeds_dim_key
    if key is None or spec.component_configs.get(spec.denoiser, {}).get(key) is None:
        raise T2VEnergyError(
            f"the scale-out runner feeds Wan-style prompt embeddings; {spec.id} ({spec.family}) is not "
            "supported yet: declare prompt_embeds_dim_key in its family module (models/families/) if its "
            "pipeline takes prompt_embeds of text_tokens x that width"
        )
    return key


def _prompt_embeds(pipe: Any, spec: Any, seed: int, device: Any, dtype: Any) -> dict[str, Any]:
    """Random prompt embeddings, identical on every rank (``text_tokens`` x the family's embedding width)."""
    import torch

    text_dim = getattr(getattr(pipe, spec.denoiser).config, _check_embeddable(spec))
    gen = torch.Generator("cpu").manual_seed(seed + 1)
    shape = (1, spec.text_tokens, text_dim)
    pos = torch.randn(shape, generator=gen).to(device=device, dtype=dtype)
    neg = torch.randn(shape, generator=gen).to(device=device, dtype=dtype)
    return {"prompt_embeds": pos, "negative_prompt_embeds": neg}


def _enable_parallelism(pipe: Any, config: RunConfig, world_size: int) -> None:
    transformer = pipe.transformer
    if hasattr(transformer, "set_attention_backend"):
        transformer.set_attention_backend(config.attention_backend)
    elif config.attention_backend != "native":
        raise T2VEnergyError(
            "this diffusers has no set_attention_backend(); run with --attention-backend native or upgrade"
        )
    if config.mode == "reference":
        return
    # diffusers version and the denoiser's _cp_plan were checked by check_cp_plan before the build
    from diffusers import ContextParallelConfig

    degrees = cp_degrees(config.mode, world_size)
    anything = {f"{config.mode}_anything": True} if config.anything else {}
    transformer.enable_parallelism(config=ContextParallelConfig(**degrees, **anything))


def _measure(meter: Any, pipe: Any, call: dict[str, Any], steps: int, key: str, rank: int, local: int) -> Any:
    import torch

    def work(mark_step: Any) -> None:
        def on_step_end(_pipe: Any, _i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            mark_step()
            return kwargs

        generator = torch.Generator(f"cuda:{local}").manual_seed(call["seed"])
        args = {k: v for k, v in call.items() if k != "seed"}
        pipe(**args, num_inference_steps=steps, generator=generator, callback_on_step_end=on_step_end)

    return measure_window(meter, key, work, rank=rank, device_index=local, device_sync=torch.cuda.synchronize)


def run(config: RunConfig) -> int:
    """Run the configured windows on this rank; rank 0 appends the record to ``config.out``."""
    import torch
    import torch.distributed as dist

    from t2v_energy_lib.energy import GpuMeter
    from t2v_energy_lib.models import build_pipeline, get_spec

    rank, world_size, local = _ranks()
    spec = get_spec(config.model)
    settings = _settings(config, spec, world_size)
    tokens = spec.token_length(settings["height"], settings["width"], settings["num_frames"])
    heads = spec.component_configs["transformer"].get("num_attention_heads", 1)
    check_split(config.mode, world_size, heads, tokens, config.anything)
    check_cp_plan(spec, config.mode)  # on CPU, before CUDA, the process group and the pipeline
    _check_embeddable(spec)
    torch.cuda.set_device(local)
    if world_size > 1 or "MASTER_ADDR" in os.environ:  # a plain 1-process reference run needs no group
        # object collectives and barriers on gloo (CPU), the attention collectives on NCCL
        dist.init_process_group(backend="cpu:gloo,cuda:nccl")
    try:
        device, dtype = torch.device("cuda", local), torch.bfloat16
        pipe = build_pipeline(spec, device=str(device), dtype=dtype, seed=config.seed)
        pipe.set_progress_bar_config(disable=True)
        _enable_parallelism(pipe, config, world_size)
        call = {
            **_prompt_embeds(pipe, spec, config.seed, device, dtype),
            "height": settings["height"],
            "width": settings["width"],
            "num_frames": settings["num_frames"],
            "guidance_scale": settings["guidance_scale"],
            "output_type": "latent",
            "seed": config.seed,
        }
        meter = GpuMeter(devices=[local])
        if config.idle_s > 0:
            synchronise_ranks(torch.cuda.synchronize)
            meter.measure_idle(duration_s=config.idle_s)
        if config.warmup_steps:
            _measure(meter, pipe, call, config.warmup_steps, "warmup", rank, local)
        gathered: list[list[RankMeasurement]] = []
        for i in range(config.rounds):
            mine = _measure(meter, pipe, call, config.steps, f"round{i}", rank, local)
            ranks = gather_to_rank0(mine)
            if ranks is not None:
                gathered.append(ranks)
        if rank == 0:
            _write(config, settings, gathered, tokens, local)
        synchronise_ranks(torch.cuda.synchronize)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _write(config: RunConfig, settings: dict[str, Any], gathered: list[Any], tokens: int, local: int) -> None:
    import torch

    from t2v_energy_lib.results.provenance import collect_provenance
    from t2v_energy_lib.results.storage import ResultWriter

    extra = {
        "token_length": tokens,
        "env": apply_safe_env(),
        "peak_memory_bytes_rank0": int(torch.cuda.max_memory_allocated(local)),
    }
    record = build_record(config, settings, gathered, extra)
    provenance = collect_provenance(settings={"suite": "scaleout"}, cuda_index=local)
    provenance["devices"] = list(record.extra["devices"])
    ResultWriter(config.out, provenance, resume=True).add(record)
    print(f"wrote {record.id} to {config.out}")
