"""Multi-GPU denoising with Diffusers' own context parallelism, every GPU's energy measured in one window.

Run (one process per GPU, on one host)::

    torchrun --nproc-per-node 4 -m t2v_energy_lib.scaleout.context_parallel \\
        --model wan2.1-t2v-14b --mode ulysses --steps 5 --out scaleout.json
    torchrun --nproc-per-node 1 -m t2v_energy_lib.scaleout.context_parallel \\
        --model wan2.1-t2v-14b --mode reference --steps 5 --out scaleout.json

Each rank builds the pipeline from its config with random weights seeded alike (so every rank holds the same
model), enables ``transformer.enable_parallelism(config=ContextParallelConfig(ring_degree=n))`` (ring) or
``ulysses_degree=n`` (Ulysses; diffusers >= 0.36), and runs ``rounds`` windows of ``steps`` denoising steps
(``output_type="latent"``: no VAE decode) with identical random prompt embeddings and latents on every rank.
Rank 0 gathers the per-rank energies and appends one :class:`~t2v_energy_lib.results.ResultRecord` (suite
``scaleout``) to ``--out``: rounds per denoising step (``latency_s``; ``gpu_energy_j`` summed over GPUs), the
per-device energies in ``extra``. :func:`~t2v_energy_lib.scaleout.efficiency.efficiency_from_records` compares
it with the ``reference`` record of the same file.

NVLink SHARP multicast stays off (``NCCL_NVLS_ENABLE=0``, ``TORCH_SYMM_MEM_DISABLE_MULTICAST=1``): set here
when unset, before torch starts NCCL.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from t2v_energy_lib.errors import InvalidSettingsError, T2VEnergyError
from t2v_energy_lib.scaleout.window import RankMeasurement, WindowTotals

SUITE = "scaleout"
COMPONENT = "denoise_step"
MODES = ("reference", "ring", "ulysses")
SAFE_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1"}
MIN_DIFFUSERS = (0, 36)


@dataclass(frozen=True)
class RunConfig:
    """The command line of one run. Sizes in pixels and frames; ``None`` takes the model's default."""

    model: str
    mode: str
    steps: int
    out: str
    rounds: int = 3
    warmup_steps: int = 2
    height: int | None = None
    width: int | None = None
    num_frames: int | None = None
    guidance_scale: float | None = None
    seed: int = 0
    attention_backend: str = "_native_cudnn"
    anything: bool = False
    idle_s: float = 0.0


def apply_safe_env(env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set ``NCCL_NVLS_ENABLE=0``, ``TORCH_SYMM_MEM_DISABLE_MULTICAST=1`` where unset; return what holds."""
    env = os.environ if env is None else env
    for key, value in SAFE_ENV.items():
        env.setdefault(key, value)
    return {key: env[key] for key in SAFE_ENV}


def build_parser() -> argparse.ArgumentParser:
    """The runner's argument parser."""
    p = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node N -m t2v_energy_lib.scaleout.context_parallel",
        description="Denoising steps with diffusers context parallelism; energy of every GPU in one window.",
    )
    p.add_argument("--model", required=True, help="model spec id, e.g. wan2.1-t2v-14b")
    p.add_argument("--mode", required=True, choices=MODES, help="reference = 1 GPU, no parallelism")
    p.add_argument("--steps", type=int, required=True, help="denoising steps per measured window")
    p.add_argument("--out", required=True, help="result file (records are added; existing ones kept)")
    p.add_argument("--rounds", type=int, default=3, help="measured windows (default 3)")
    p.add_argument("--warmup-steps", type=int, default=2, help="unmeasured steps first (default 2)")
    p.add_argument("--height", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--num-frames", type=int)
    p.add_argument("--guidance-scale", type=float)
    p.add_argument("--seed", type=int, default=0, help="seed of weights, embeddings and latents (all ranks)")
    p.add_argument(
        "--attention-backend",
        default="_native_cudnn",
        help="diffusers attention backend, all modes; ring needs one returning LSE (_native_cudnn, flash)",
    )
    p.add_argument("--anything", action="store_true", help="ulysses_anything / ring_anything (uneven splits)")
    p.add_argument("--idle-s", type=float, default=0.0, help="idle measurement before the run (0: none)")
    return p


def parse_args(argv: Sequence[str] | None = None) -> RunConfig:
    """Parse and check the command line.

    Raises:
        SystemExit: argparse's usage error (bad or missing option).
        InvalidSettingsError: steps, rounds or warm-up out of range.
    """
    ns = build_parser().parse_args(argv)
    if ns.steps < 1 or ns.rounds < 1 or ns.warmup_steps < 0 or ns.idle_s < 0:
        raise InvalidSettingsError(
            f"--steps ({ns.steps}) and --rounds ({ns.rounds}) must be >= 1, --warmup-steps "
            f"({ns.warmup_steps}) and --idle-s ({ns.idle_s}) >= 0"
        )
    return RunConfig(**{k: v for k, v in vars(ns).items()})


def cp_degrees(mode: str, world_size: int) -> dict[str, int]:
    """``ContextParallelConfig`` degrees of ``mode`` on ``world_size`` GPUs ({} for the reference).

    Raises:
        InvalidSettingsError: the reference on more than 1 GPU, or a parallel mode on 1 GPU.
    """
    if mode not in MODES:
        raise InvalidSettingsError(f"mode {mode!r} is not one of {MODES}")
    if mode == "reference":
        if world_size != 1:
            raise InvalidSettingsError(
                f"--mode reference runs on 1 GPU, got world size {world_size}; use --nproc-per-node 1"
            )
        return {}
    if world_size < 2:
        raise InvalidSettingsError(
            f"--mode {mode} needs >= 2 GPUs (world size {world_size}); use --mode reference"
        )
    return {"ring_degree": world_size} if mode == "ring" else {"ulysses_degree": world_size}


def check_split(mode: str, world_size: int, num_heads: int, tokens: int, anything: bool) -> None:
    """Refuse splits diffusers cannot make evenly (without ``--anything``).

    Ulysses splits attention heads and the sequence over the GPUs; ring splits the sequence.

    Raises:
        InvalidSettingsError: names the count that does not divide and the fix.
    """
    if mode == "reference" or anything:
        return
    if tokens % world_size:
        raise InvalidSettingsError(
            f"{tokens} tokens do not split evenly over {world_size} GPUs; change the size or pass --anything"
        )
    if mode == "ulysses" and num_heads % world_size:
        raise InvalidSettingsError(
            f"{num_heads} attention heads do not split over {world_size} GPUs (Ulysses); use --mode ring, "
            "another GPU count, or --anything"
        )


def size_label(settings: Mapping[str, Any]) -> str:
    """The work of one step as record ids name it: ``<H>x<W>x<F>-g<guidance>`` (e.g. ``480x832x81-g5``)."""
    h, w, f = settings["height"], settings["width"], settings["num_frames"]
    return f"{h}x{w}x{f}-g{settings['guidance_scale']:g}"


def record_id(model: str, settings: dict[str, Any]) -> str:
    """Stable id: ``scaleout/<model>/<H>x<W>x<F>-g<guidance>/<mode>-n<world size>/denoise_step``."""
    return f"{SUITE}/{model}/{size_label(settings)}/{settings['mode']}-n{settings['world_size']}/{COMPONENT}"


def build_record(
    config: RunConfig,
    settings: dict[str, Any],
    rounds: Sequence[Sequence[RankMeasurement]],
    extra: dict[str, Any] | None = None,
) -> Any:
    """The :class:`~t2v_energy_lib.results.ResultRecord` of a run from the gathered per-rank measurements.

    Rounds are per denoising step: ``latency_s`` (window / steps), ``gpu_energy_j`` (summed over GPUs / steps)
    and, when every rank measured idle, ``gpu_energy_above_idle_j``. ``extra`` gets the per-device energies
    per round (J per step), the per-step latencies of each round and the devices. Built by the runners' one
    builder (:func:`~t2v_energy_lib.results.record_builder.build_record`) from the windows summed over ranks.
    """
    from t2v_energy_lib.results.quantities import GPU_ENERGY, GPU_ENERGY_ABOVE_IDLE, LATENCY
    from t2v_energy_lib.results.record_builder import build_record as build_result_record
    from t2v_energy_lib.scaleout.window import aggregate

    totals: list[WindowTotals] = [aggregate(ranks) for ranks in rounds]
    steps = config.steps
    if any(len(t.step_latencies_s) != steps for t in totals):
        raise T2VEnergyError(
            f"a window ran {[len(t.step_latencies_s) for t in totals]} steps, expected {steps}"
        )
    per_window: dict[str, list[float]] = {
        LATENCY.key: [t.duration_s for t in totals],
        GPU_ENERGY.key: [t.gpu_energy_j for t in totals],
    }
    if all(t.gpu_energy_above_idle_j is not None for t in totals):
        per_window[GPU_ENERGY_ABOVE_IDLE.key] = [t.gpu_energy_above_idle_j for t in totals]  # type: ignore[misc]
    devices = [m.device for m in rounds[0]]
    extra_out = {
        "world_size": settings["world_size"],
        "devices": devices,
        "per_device_gpu_energy_j": {d: [t.per_device_j[d] / steps for t in totals] for d in devices},
        "step_latencies_s": [list(t.step_latencies_s) for t in totals],
        "window_duration_s": [t.duration_s for t in totals],
        "random_weights": True,
        **(extra or {}),
    }
    machine_state = {"devices": {m.device: dict(m.machine_state) for m in rounds[-1]}}
    return build_result_record(
        record_id=record_id(config.model, settings),
        suite=SUITE,
        model=config.model,
        component=COMPONENT,
        settings=settings,
        rounds=per_window,
        units_per_round=steps,
        extra=extra_out,
        machine_state=machine_state,
    )


def check_diffusers_supports_cp() -> None:
    """Raise a clear error where the installed diffusers predates context parallelism (0.36)."""
    import diffusers

    version = tuple(int(x) for x in diffusers.__version__.split(".")[:2] if x.isdigit())
    if version < MIN_DIFFUSERS or not hasattr(diffusers, "ContextParallelConfig"):
        raise T2VEnergyError(
            f"diffusers {diffusers.__version__} has no context parallelism (ContextParallelConfig needs "
            ">= 0.36); install a newer diffusers or run --mode reference"
        )


#: Models whose denoiser has a diffusers context-parallel plan, named in refusals as the alternative.
MODELS_WITH_CP_PLAN_HINT = "Wan, LTX-Video"


def denoiser_class_name(spec: Any) -> str:
    """The diffusers class name of a spec's denoiser (``spec.component_classes[spec.denoiser]``)."""
    return spec.component_classes[spec.denoiser]


def check_cp_plan(spec: Any, mode: str, transformer_class: Any = None) -> None:
    """Refuse a parallel mode for a model whose diffusers denoiser class has no context-parallel plan.

    Diffusers splits a model over GPUs only where its class defines ``_cp_plan`` (diffusers 0.42.1: Wan and
    LTX-Video among the video models; not HunyuanVideo, CogVideoX or Mochi). Pure and CPU-only: it reads the
    class attribute, it builds nothing, so every rank can refuse before the pipeline is built.

    Args:
        spec: The model spec (``t2v_energy_lib.models.get_spec``).
        mode: One of :data:`MODES`; ``reference`` always passes.
        transformer_class: The denoiser class to check (default: looked up in the installed diffusers by
            :func:`denoiser_class_name`).

    Raises:
        InvalidSettingsError: the class has no ``_cp_plan`` (names the class, the diffusers version, the fix).
        T2VEnergyError: the installed diffusers predates context parallelism, or lacks the class.
    """
    if mode not in MODES:
        raise InvalidSettingsError(f"mode {mode!r} is not one of {MODES}")
    if mode == "reference":
        return
    check_diffusers_supports_cp()
    import diffusers

    name = denoiser_class_name(spec)
    cls = transformer_class if transformer_class is not None else getattr(diffusers, name, None)
    if cls is None:
        raise T2VEnergyError(
            f"diffusers {diffusers.__version__} has no class {name} (the denoiser of {spec.id}); install the "
            "diffusers version the spec was written for"
        )
    if getattr(cls, "_cp_plan", None) is None:
        raise InvalidSettingsError(
            f"--mode {mode}: {getattr(cls, '__name__', name)} (the denoiser of {spec.id}) has no "
            f"context-parallel plan (_cp_plan) in diffusers {diffusers.__version__}, so Diffusers' context "
            "parallelism cannot split it; run --mode reference on 1 GPU, or a model whose transformer has a "
            f"plan ({MODELS_WITH_CP_PLAN_HINT})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (under torchrun). Returns the exit status."""
    apply_safe_env()
    config = parse_args(argv)
    from t2v_energy_lib.scaleout._cp_run import run

    try:
        return run(config)
    except T2VEnergyError as exc:
        print(f"t2v-energy scaleout: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
