"""``t2v-energy predict``: token length, FLOP breakdown, roofline regime and predicted latency/energy."""

from __future__ import annotations

import argparse
from typing import Any

from t2v_energy_lib.results.quantities import GPU_ENERGY, GPU_ENERGY_ABOVE_IDLE

#: Nominal average board power used with the study's constants when no fit is given: the middle of the
#: 590-693 W average the study reported on H100 (its published figure, not our measurement). Units: W.
STUDY_NOMINAL_POWER_W = 640.0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``predict`` subcommand."""
    p = subparsers.add_parser("predict", help="analytic FLOPs, roofline regime and predicted latency/energy")
    p.add_argument("--model", required=True, help="model id (t2v-energy models lists them)")
    p.add_argument("--height", type=int, help="frame height in px (default: the model's)")
    p.add_argument("--width", type=int, help="frame width in px")
    p.add_argument("--frames", type=int, help="number of frames")
    p.add_argument("--steps", type=int, help="denoising steps")
    p.add_argument("--guidance", type=float, help="guidance scale (<= 1 turns CFG off)")
    p.add_argument(
        "--gpu",
        default="h100",
        help="h100 | h200 | a100 | l40s (default h100), or a calibration file measured on the GPU "
        "(python -m t2v_energy_lib.bench.calibrate OUT.json): its matmul and copy ceilings, and its loaded "
        "power for the study's constants",
    )
    p.add_argument(
        "--measured-tflops", type=float, help="measured peak bf16 matmul TFLOP/s (roofline ceiling)"
    )
    p.add_argument("--measured-bw-gbs", type=float, help="measured copy bandwidth in GB/s (roofline ceiling)")
    p.add_argument(
        "--power-w", type=float, help="power for the study's constants (default: 640 W on H100, else TDP)"
    )
    p.add_argument("--fit", help="result file or folder: fit predictors on its denoiser_step records")
    p.add_argument(
        "--energy-key",
        default=GPU_ENERGY.key,
        help=f"energy rounds to fit (or {GPU_ENERGY_ABOVE_IDLE.key})",
    )
    p.add_argument(
        "--valid-text-tokens", type=int, help="Mochi: prompt tokens kept in attention (default: 256)"
    )
    p.add_argument("--no-vae", action="store_true", help="skip counting the VAE decoder (meta-device run)")
    p.set_defaults(func=run)
    return p


#: Options that must be positive when given (0 is a value, not "not given": it is refused, never defaulted).
POSITIVE_OPTIONS = (
    "height",
    "width",
    "frames",
    "steps",
    "power_w",
    "measured_tflops",
    "measured_bw_gbs",
    "valid_text_tokens",
)
#: A request whose token length exceeds the model's default by more than this factor gets a warning: the FLOP
#: model is arithmetic and extrapolates anywhere, but no such shape was trained, measured or fits in memory.
EXTRAPOLATION_WARN_FACTOR = 16


def check_args(args: argparse.Namespace) -> None:
    """Refuse non-positive sizes, steps, power and ceilings before any computation.

    Raises:
        InvalidSettingsError: An option in :data:`POSITIVE_OPTIONS` was given as 0 or less (or not finite).
    """
    import math

    from t2v_energy_lib.errors import InvalidSettingsError

    for name in POSITIVE_OPTIONS:
        value = getattr(args, name, None)
        if value is not None and not (value > 0 and math.isfinite(value)):
            flag = "--" + name.replace("_", "-")
            raise InvalidSettingsError(
                f"{flag} must be a positive number, got {value}; leave it out to use the default"
            )


def _settings(spec: Any, args: argparse.Namespace) -> Any:
    from t2v_energy_lib.models import GenerationSettings

    d = spec.defaults

    def given(value: Any, default: Any) -> Any:
        return default if value is None else value

    settings = GenerationSettings(
        given(args.height, d.height),
        given(args.width, d.width),
        given(args.frames, d.num_frames),
        given(args.steps, d.num_inference_steps),
        given(args.guidance, d.guidance_scale),
    )
    spec.validate(settings)
    return settings


def extrapolation_warning(spec: Any, settings: Any) -> str | None:
    """A warning line when ``settings`` lie far outside the model's default shape (None otherwise)."""
    d = spec.defaults
    default_tokens = spec.token_length(d.height, d.width, d.num_frames)
    tokens = spec.token_length(settings.height, settings.width, settings.num_frames)
    if tokens <= EXTRAPOLATION_WARN_FACTOR * default_tokens:
        return None
    return (
        f"WARNING: {settings.id} is {tokens / default_tokens:,.0f}x the token length of {spec.id}'s default "
        f"{d.id} ({tokens:,} vs {default_tokens:,} tokens): far outside any trained or measured shape, and "
        "no memory check is made; the figures below extrapolate the FLOP model, they are not a forecast"
    )


def _calibration(args: argparse.Namespace) -> Any:
    """The calibration file ``--gpu`` names, or None when it names a datasheet GPU."""
    from pathlib import Path

    from t2v_energy_lib.errors import InvalidSettingsError
    from t2v_energy_lib.theory.calibration import GpuCalibration

    path = Path(args.gpu)
    if path.is_file():
        return GpuCalibration.from_json(path)
    if path.suffix == ".json" or len(path.parts) > 1:
        raise InvalidSettingsError(
            f"--gpu {args.gpu}: no such calibration file; measure one on the GPU with "
            "`python -m t2v_energy_lib.bench.calibrate OUT.json`, or name a datasheet GPU (h100, h200, ...)"
        )
    return None


def _gpu(args: argparse.Namespace) -> Any:
    from t2v_energy_lib.theory import GpuSpec, get_gpu

    calibration = _calibration(args)
    gpu = calibration.spec() if calibration is not None else get_gpu(args.gpu)
    if args.measured_tflops or args.measured_bw_gbs:
        gpu = GpuSpec.from_measured(
            gpu,
            (args.measured_tflops or gpu.peak_flops / 1e12) * 1e12,
            (args.measured_bw_gbs or gpu.mem_bandwidth_bytes_per_s / 1e9) * 1e9,
        )
    return gpu


def _flops_lines(g: Any) -> list[str]:
    lines = [
        "FLOPs (1 multiply-add = 2 FLOPs)",
        f"  per forward (batch {g.forward_batch})  {g.forward.total_flops:.4e}",
        f"  per step ({g.forwards_per_step} forward(s))   {g.step.total_flops:.4e}",
        f"  per video ({g.steps} steps + encoders + VAE)  {g.total_flops:.4e}",
        "  by component (per video):",
    ]
    total = g.total_flops
    for name, b in g.components.items():
        lines.append(f"    {name:<16} {b.total_flops:.4e}  {100 * b.total_flops / total:6.2f}%")
    if g.vae_decoder is None:
        lines.append("    vae_decoder      not counted (--no-vae)")
    lines.append("  denoiser forward by term:")
    for term, share in sorted(g.forward.shares().items(), key=lambda kv: -kv[1]):
        lines.append(f"    {term:<20} {g.forward.terms[term]:.4e}  {100 * share:6.2f}%")
    return lines


def _regime_lines(spec: Any, g: Any, gpu: Any) -> list[str]:
    from t2v_energy_lib.theory import compute_bound_token_length, ops_at_token_length, roofline

    rep = roofline(g.forward.ops, gpu)
    lines = [
        f"Regime on {gpu.name}: peak {gpu.peak_flops / 1e12:.0f} TFLOP/s, "
        f"{gpu.mem_bandwidth_bytes_per_s / 1e12:.3f} "
        f"TB/s, ridge {gpu.ridge_flops_per_byte:.0f} FLOP/byte",
        f"  forward intensity {rep.intensity_flops_per_byte:.0f} FLOP/byte -> {rep.bound}-bound; "
        f"{100 * rep.flops_share_compute_bound():.1f}% of FLOPs in compute-bound operators",
        f"  roofline lower bound per forward {rep.min_time_s * 1e3:.1f} ms",
    ]
    if spec.model_family.has_token_length:
        batch = g.forward_batch
        for kind, label in (("attention", "attention"), (None, "whole forward")):
            l = compute_bound_token_length(lambda n: ops_at_token_length(spec, n, batch), gpu, kind=kind)  # noqa: E741 (l: token length, the paper's notation)
            lines.append(
                f"  {label} compute-bound from {l:,} video tokens (batch {batch})"
                if l
                else f"  {label}: memory-bound"
            )
    return lines


def _study_lines(g: Any, gpu: Any, power_w: float) -> list[str]:
    from t2v_energy_lib.theory import STUDY_MU, PredictorPoint, study_generic_flops, study_predictor

    point = PredictorPoint(g.total_flops, 0.0, 1, g.token_length, 0.0, 0.0)
    t, e = study_predictor(point, power_w, gpu.peak_flops)
    td, ed = study_predictor(PredictorPoint(g.denoise.total_flops, 0.0, 1, 1, 0, 0), power_w, gpu.peak_flops)
    generic = study_generic_flops(g.token_length, g.steps * g.forwards_per_step * g.forward_batch)
    tg, eg = study_predictor(PredictorPoint(generic, 0.0, 1, 1, 0, 0), power_w, gpu.peak_flops)
    return [
        f"Prediction with the STUDY'S constants (not our fit): mu = {STUDY_MU}, "
        f"peak {gpu.peak_flops / 1e12:.0f} "
        f"TFLOP/s, nominal power {power_w:.0f} W",
        f"  denoising   {td:10.2f} s  {ed / 3600:8.3f} Wh",
        f"  whole video {t:10.2f} s  {e / 3600:8.3f} Wh  ({e:.0f} J)  (mu on this model's real FLOPs)",
        f"  as published: generic shapes d=2048, N=32, f=4d, m=512 -> {generic:.4e} FLOPs of denoising, "
        f"{tg:.2f} s, {eg / 3600:.3f} Wh",
        "  (the study fitted mu on generic-shape FLOPs of Wan2.1-1.3B; it is not calibrated on real FLOPs)",
    ]


def _fit_lines(spec: Any, settings: Any, args: argparse.Namespace, gpu: Any) -> list[str]:
    from t2v_energy_lib.results import load_results
    from t2v_energy_lib.theory import fit_predictors, points_from_records, predictor_point

    path = args.fit
    records = load_results(path).records
    mine = [r for r in records if r.model == spec.id and r.component == "denoiser_step"]
    # A CPU run (or any run without GPU energy) has latency rounds but no GPU energy rounds: fit latency
    # only. The predictors fit latency independently of energy, so the energy half is fitted on the latency
    # itself as a stand-in and never printed.
    latency_only = bool(mine) and not any(r.rounds.get(args.energy_key) for r in mine)
    energy_key = "latency_s" if latency_only else args.energy_key
    points = points_from_records(records, spec, "denoiser_step", energy_key=energy_key)
    cmp = fit_predictors(points, gpu.peak_flops)
    target = predictor_point(spec, settings)
    lines = [f"Predictors fitted on {len(points)} denoiser_step records of {spec.id} from {path}"]
    if latency_only:
        lines.append(
            f"  LATENCY ONLY: these records have no {args.energy_key!r} rounds (a CPU run measures latency "
            "and estimated host energy, never GPU energy); energy is not fitted or predicted; mu is relative "
            f"to the peak of --gpu ({gpu.name}), not of the machine that ran them"
        )
    for name, p in cmp.predictors().items():
        lines += _predictor_lines(name, p, p.predict(target), settings.num_inference_steps, latency_only)
    lines.append(
        f"  best by cross-validated latency MAPE: {cmp.best().name} (text encoders and VAE not fitted)"
    )
    return lines


def _predictor_lines(
    name: str, p: Any, predicted: tuple[float, float], steps: int, latency_only: bool
) -> list[str]:
    q_t, q_e = p.latency, p.energy
    t, e = predicted
    if latency_only:
        loo = f"LOO MAPE {q_t.loo_mape:.2f}%" if q_t.loo_mape is not None else "LOO n/a (too few points)"
        return [
            f"  {name:<18} latency R^2 {q_t.r2:.4f} MAPE {q_t.mape:.2f}%; {loo}",
            "    params " + ", ".join(f"{k}={v:.4g}" for k, v in p.latency_params.items()),
            f"    per step {t:.4g} s; denoising ({steps} steps) {t * steps:.4g} s",
        ]
    loo = (
        f"LOO MAPE {q_t.loo_mape:.2f}% / {q_e.loo_mape:.2f}%"
        if q_t.loo_mape is not None
        else "LOO n/a (too few points)"
    )
    params = {**p.latency_params, **p.energy_params}
    return [
        f"  {name:<18} latency R^2 {q_t.r2:.4f} MAPE {q_t.mape:.2f}%; energy R^2 {q_e.r2:.4f} "
        f"MAPE {q_e.mape:.2f}%; {loo}",
        "    params " + ", ".join(f"{k}={v:.4g}" for k, v in params.items()),
        f"    per step {t:.4f} s {e:.1f} J; denoising ({steps} steps) "
        f"{t * steps:.2f} s {e * steps / 3600:.3f} Wh",
    ]


def run(args: argparse.Namespace) -> int:
    """Print the analysis; returns 0."""
    from t2v_energy_lib.models import get_spec
    from t2v_energy_lib.theory import generation_flops

    check_args(args)
    spec = get_spec(args.model)
    settings = _settings(spec, args)
    warning = extrapolation_warning(spec, settings)
    gpu = _gpu(args)
    g = generation_flops(
        spec, settings, include_vae=not args.no_vae, valid_text_tokens=args.valid_text_tokens
    )
    mode = {"two_pass": "2 forwards at batch 1", "batch2": "1 forward at batch 2", "none": "1 forward"}
    cfg = mode[spec.cfg_mode] if (g.forwards_per_step, g.forward_batch) != (1, 1) else "off (1 forward)"
    lines = [
        *([warning, ""] if warning else []),
        f"{spec.id} at {settings.id} (guidance {settings.guidance_scale}); "
        f"CFG {spec.cfg_mode}: {cfg} per step",
        f"token length l = {g.token_length:,}",
        "",
        *_flops_lines(g),
        "",
        *_regime_lines(spec, g, gpu),
        "",
    ]
    if args.fit:
        lines += _fit_lines(spec, settings, args, gpu)
    else:
        calibration = _calibration(args)
        power = args.power_w  # None: not given (0 and negatives were refused by check_args)
        if power is None and calibration is not None:
            power = calibration.loaded_power_w
        if power is None:
            power = STUDY_NOMINAL_POWER_W if gpu.name.startswith("NVIDIA H100") else gpu.tdp_w
        lines += _study_lines(g, gpu, power)
    print("\n".join(lines))
    return 0
