"""How much do random weights change the measurement? The same Wan forward with weights drawn several ways.

Every figure of this project comes from randomly initialised weights (no checkpoint is downloaded). The
kernels and shapes are those of the checkpoints, so latency should not depend on the values; GPU power can:
a multiplier toggles fewer bits on zeros and small magnitudes. This study bounds that effect by measurement:
the Wan2.1 transformer at one shape (480x832x81 by default, batch 1, bf16), one forward per call, with

* ``builder``: the weights the builder draws (PyTorch / Diffusers init, all-zero tensors re-drawn);
* ``trained_like``: every matrix N(0, 0.02^2), the magnitude of trained transformer weights;
* ``scaled_x4`` / ``scaled_x0.25``: the builder's matrices times 4 and times 1/4;
* ``sparse_90``: 90% of every matrix zeroed (a degenerate regime the builder re-draws);
* ``zero_blocks``: every matrix of the blocks zero (degenerate: the blocks pass the input through);
* ``inputs_zero`` / ``inputs_x10``: builder weights, latents all zero / ten times larger.

Each variant: two untimed forwards, then ``rounds`` meter windows of ``forwards`` forwards; energy and latency
per forward, the output's spread and finiteness, and whether the builder would re-draw the weights
(:func:`~t2v_energy_lib.models.builder.needs_redraw`). What it cannot tell: the effect of a trained model's
activation statistics over a whole generation (the study uses one shape and one timestep).

Run it on a GPU machine (adds the records to ``OUT_DIR/weights_study.json``)::

    python -m t2v_energy_lib.bench.weights_study OUT_DIR [--size 480x832x81] [--rounds 3] [--forwards 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2v_energy_lib.energy import EnergyMeter, Measurement, ShortWindowWarning
from t2v_energy_lib.errors import T2VEnergyError
from t2v_energy_lib.results import ResultRecord
from t2v_energy_lib.results.record_builder import record_from_windows
from t2v_energy_lib.results.storage import ResultWriter

SUITE = "weights_study"
COMPONENT = "denoiser_forward"
TRAINED_STD = 0.02
TEXT_TOKENS = 512


@dataclass(frozen=True)
class Variant:
    """One way of drawing the weights and inputs.

    Attributes:
        name: Id used in the record id and settings.
        weights: ``weights(model, generator)`` edits the built model in place (None: as built).
        latent_scale: Multiplier of the N(0, 1) latents (0: all-zero inputs).
        note: What it stands for.
    """

    name: str
    weights: Callable[[Any, Any], None] | None
    latent_scale: float
    note: str


def _matrices(model: Any, blocks_only: bool = False) -> list[Any]:
    return [
        p
        for n, p in model.named_parameters()
        if p.dim() >= 2 and p.is_floating_point() and (not blocks_only or n.startswith("blocks."))
    ]


def _normal(model: Any, generator: Any) -> None:
    for p in _matrices(model):
        p.normal_(0.0, TRAINED_STD, generator=generator)


def _scaled(factor: float) -> Callable[[Any, Any], None]:
    def edit(model: Any, _generator: Any) -> None:
        for p in _matrices(model):
            p.mul_(factor)

    return edit


def _sparse(model: Any, generator: Any) -> None:
    import torch

    for p in _matrices(model):
        keep = torch.rand(p.shape, generator=generator, device=p.device) >= 0.9
        p.mul_(keep.to(p.dtype))


def _zero_blocks(model: Any, _generator: Any) -> None:
    for p in _matrices(model, blocks_only=True):
        p.zero_()


VARIANTS = (
    Variant("builder", None, 1.0, "the builder's random weights (what every baseline uses)"),
    Variant("trained_like", _normal, 1.0, f"matrices N(0, {TRAINED_STD}^2), like trained transformers"),
    Variant("scaled_x4", _scaled(4.0), 1.0, "builder matrices x 4"),
    Variant("scaled_x0.25", _scaled(0.25), 1.0, "builder matrices x 1/4"),
    Variant("sparse_90", _sparse, 1.0, "90% of every matrix zeroed (degenerate)"),
    Variant("zero_blocks", _zero_blocks, 1.0, "every block matrix zero (degenerate)"),
    Variant("inputs_zero", None, 0.0, "builder weights, all-zero latents"),
    Variant("inputs_x10", None, 10.0, "builder weights, latents x 10"),
)


def forward_inputs(
    model: Any, size: tuple[int, int, int], latent_scale: float, generator: Any
) -> dict[str, Any]:
    """Latents, timestep and text embeddings of one forward at ``size`` = (H, W, F), batch 1."""
    import torch

    cfg = model.config
    h, w, f = size
    param = next(model.parameters())
    shape = (1, int(cfg.in_channels), (f - 1) // 4 + 1, h // 8, w // 8)
    latents = torch.randn(shape, generator=generator, device=param.device, dtype=torch.float32) * latent_scale
    text = torch.randn((1, TEXT_TOKENS, int(cfg.text_dim)), generator=generator, device=param.device)
    # the dtype most of the weights have: the first parameter of a block can be one the model keeps in float32
    # (Wan's scale_shift_table), which gave float32 inputs to a bfloat16 patch embedding on the H200
    by_dtype: dict[Any, int] = {}
    for p in model.parameters():
        by_dtype[p.dtype] = by_dtype.get(p.dtype, 0) + p.numel()
    dtype = max(by_dtype, key=by_dtype.__getitem__)
    return {
        "hidden_states": latents.to(dtype),
        "timestep": torch.tensor([500], device=param.device),
        "encoder_hidden_states": text.to(dtype),
        "return_dict": False,
    }


def degenerate_reason(model: Any, output: Any) -> str | None:
    """Why the weights or the output are a degenerate regime (None: not degenerate)."""
    import torch

    from t2v_energy_lib.models.builder import needs_redraw

    redraw = sum(1 for p in model.parameters() if p.is_floating_point() and needs_redraw(p))
    if redraw:
        return (
            f"{redraw} parameter tensor(s) the builder would re-draw (all zero, non-finite or > half zeros)"
        )
    if not torch.isfinite(output).all():
        return "non-finite output"
    if float(output.float().std()) == 0.0:
        return "constant output"
    return None


def measure_variant(
    model: Any, variant: Variant, size: tuple[int, int, int], meter: EnergyMeter, rounds: int, forwards: int
) -> tuple[list[Measurement], dict[str, Any]]:
    """Edit the weights (restored afterwards by the caller's copy), run the forwards; readings and facts."""
    import torch

    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(0)
    with torch.no_grad():
        if variant.weights is not None:
            variant.weights(model, generator)
        inputs = forward_inputs(model, size, variant.latent_scale, generator)
        output = model(**inputs)[0]
        model(**inputs)
        windows = []
        for r in range(rounds):
            key = f"{variant.name}#{r}"
            meter.begin_window(key)
            for _ in range(forwards):
                model(**inputs)
            with warnings.catch_warnings():  # short windows (a CPU smoke run) are counted in the record
                warnings.simplefilter("ignore", ShortWindowWarning)
                windows.append(meter.end_window(key))
        facts = {
            "output_std": float(output.float().std()),
            "output_finite": bool(torch.isfinite(output).all()),
            "degenerate": degenerate_reason(model, output),
            "note": variant.note,
        }
    return windows, facts


def variant_record(
    model_id: str, variant: Variant, size: tuple[int, int, int], windows: list[Measurement], forwards: int,
    facts: dict[str, Any], run_settings: dict[str, Any],
) -> ResultRecord:  # fmt: skip
    """The record of one variant: per-forward rounds (raw), the variant's facts in ``extra``."""
    h, w, f = size
    settings = {"height": h, "width": w, "num_frames": f, "batch": 1, "weights": variant.name, **run_settings}
    return record_from_windows(
        record_id=f"{SUITE}/{model_id}/{h}x{w}x{f}/{variant.name}/{COMPONENT}",
        suite=SUITE,
        model=model_id,
        component=COMPONENT,
        settings=settings,
        measurements=windows,
        units_per_round=forwards,
        extra={"measured": True, "latent_scale": variant.latent_scale, **facts},
    )


def run_weights_study(
    out_dir: Path,
    model_id: str = "wan2.1-t2v-1.3b",
    size: tuple[int, int, int] = (480, 832, 81),
    rounds: int = 3,
    forwards: int = 16,
    device: str = "cuda",
    dtype: str = "bfloat16",
    variants: Sequence[Variant] = VARIANTS,
    meter: EnergyMeter | None = None,
    provenance: dict[str, Any] | None = None,
) -> list[ResultRecord]:
    """Measure every variant on a fresh build of the transformer; add the records to weights_study.json."""
    from t2v_energy_lib.models import build_component, get_spec
    from t2v_energy_lib.results.provenance import collect_provenance

    run_settings = {"dtype": dtype, "device": device}
    if provenance is None:
        cuda = device.startswith("cuda")
        index = int(device.partition(":")[2] or 0) if cuda else None
        settings = {"command": "weights_study", "rounds": rounds, "forwards": forwards}
        provenance = (
            collect_provenance(settings=settings, cuda_index=index)
            if cuda
            else collect_provenance(None, settings)
        )
    meter = meter or EnergyMeter.for_device(device, idle_s=5.0 if device.startswith("cuda") else 0.0)
    writer = ResultWriter(out_dir / f"{SUITE}.json", provenance, resume=True)
    records = []
    for variant in variants:
        model = build_component(get_spec(model_id), "transformer", device=device, dtype=dtype, seed=0)
        windows, facts = measure_variant(model, variant, size, meter, rounds, forwards)
        del model
        record = variant_record(model_id, variant, size, windows, forwards, facts, run_settings)
        writer.add(record)
        records.append(record)
    return records


def spread_summary(records: Sequence[ResultRecord]) -> str:
    """Energy and latency per forward of each variant relative to ``builder`` (degenerate ones marked)."""
    base = next(r for r in records if r.settings["weights"] == "builder")
    key = "gpu_energy_j" if "gpu_energy_j" in base.rounds else "latency_s"
    ref_e, ref_t = statistics.fmean(base.rounds[key]), statistics.fmean(base.rounds["latency_s"])
    parts = []
    for r in records:
        e = statistics.fmean(r.rounds[key]) / ref_e - 1
        t = statistics.fmean(r.rounds["latency_s"]) / ref_t - 1
        mark = " (degenerate)" if r.extra.get("degenerate") else ""
        parts.append(f"{r.settings['weights']}{mark}: {key} {e:+.1%}, latency {t:+.1%}")
    return "; ".join(parts)


def _size(text: str) -> tuple[int, int, int]:
    h, w, f = (int(v) for v in text.lower().split("x"))
    return h, w, f


def main(argv: Sequence[str] | None = None) -> int:
    """CLI (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m t2v_energy_lib.bench.weights_study", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--model", default="wan2.1-t2v-1.3b")
    parser.add_argument("--size", type=_size, default=(480, 832, 81), help="HxWxF")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--forwards",
        type=int,
        default=16,
        help="forwards per window (16: ~10 s at the default shape on an H200, 1%% of counter granularity; "
        "the first H200 run used 4, 2.5 s windows, whose energy rounds differ by up to 5%%)",
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args(argv)
    try:
        records = run_weights_study(
            args.out_dir, args.model, args.size, args.rounds, args.forwards, args.device, args.dtype
        )
    except T2VEnergyError as exc:
        print(f"weights study failed: {exc}", file=sys.stderr)
        return 2
    print(spread_summary(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
