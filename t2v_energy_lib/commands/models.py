"""``t2v-energy models [ID]``: list the model registry, or show one spec in detail."""

from __future__ import annotations

import argparse
import json
from typing import Any

from t2v_energy_lib.models import count_parameters, denoiser_config, get_spec, list_specs


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``models`` subcommand."""
    p = subparsers.add_parser("models", help="list model specs, or show one (t2v-energy models ID)")
    p.add_argument("id", nargs="?", help="model id (append -tiny for the CPU variant)")
    p.add_argument(
        "--params", action="store_true", help="count parameters (meta-device builds, a few seconds)"
    )
    p.set_defaults(func=run)
    return p


def _row(spec: Any, params: bool) -> str:
    d = spec.defaults
    tokens = spec.token_length(d.height, d.width, d.num_frames)
    line = (
        f"{spec.id:<18} {spec.family:<13} {d.id:<17} g={d.guidance_scale:<4} {spec.cfg_mode:<9} {tokens:>8,}"
    )
    if params:
        counts = count_parameters(spec)
        if "unet_motion" in counts:  # the pipeline runs the merged UNet, not its two parts
            counts.pop("unet"), counts.pop("motion_adapter")
        line += f" {sum(counts.values()) / 1e9:>8.3f}B"
    return line


def _detail(spec: Any, params: bool) -> str:
    d = spec.defaults
    r = spec.rules
    lines = [
        f"{spec.id}: {spec.description}",
        f"  pipeline        {spec.pipeline_class} (diffusers >= {spec.min_diffusers})"
        + (f" kwargs {dict(spec.pipeline_kwargs)}" if spec.pipeline_kwargs else ""),
        f"  defaults        {d.id}, guidance {d.guidance_scale}, cfg {spec.cfg_mode}",
        f"  text tokens     {spec.text_tokens}"
        + (f" (encoder sees {spec.encoder_tokens})" if spec.encoder_tokens else ""),
        f"  shape rules     H, W % {r.spatial_multiple} == 0; num_frames = {r.frame_stride}k+1"
        + (f", <= {r.max_frames}" if r.max_frames else ""),
        f"  token length    {spec.token_length(d.height, d.width, d.num_frames):,} at defaults; latents "
        f"{spec.latent_shape(d.height, d.width, d.num_frames)}",
        f"  dtype policy    {spec.dtype_policy or 'all components in the requested dtype'}",
        f"  denoiser        {denoiser_config(spec)}",
        "  components",
    ]
    counts = count_parameters(spec) if params else {}
    for name, cls in spec.component_classes.items():
        extra = f"  {counts[name] / 1e9:.3f}B params" if name in counts else ""
        lines.append(f"    {name:<15} {cls}{extra}")
    lines.append(f"  scheduler config {json.dumps(spec.scheduler_config)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the registry (or one spec); returns the exit code."""
    if args.id:
        print(_detail(get_spec(args.id), args.params))
        return 0
    header = f"{'id':<18} {'family':<13} {'defaults':<17} {'guid':<6} {'cfg':<9} {'tokens':>8}"
    print(header + (f" {'params':>9}" if args.params else ""))
    for spec in list_specs():
        print(_row(spec, args.params))
    return 0
