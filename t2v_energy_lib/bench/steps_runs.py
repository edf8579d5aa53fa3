"""Independent step-count runs: whole denoising loops of S steps, each run its own ``pipe(...)`` call.

The steps suite's traced run gives E(S) as prefix sums of ONE run, linear by construction. This measures
the claim instead: for each step count S, ``rounds`` separate complete denoising loops (``output_type=
"latent"``, prompt embeddings replayed as in every suite), one meter window per run; the step counts are
visited round by round, in alternating order, so a slow drift of clocks or temperature does not line up with
S. Each S gives one ``denoise_run`` record (suite ``steps``, one round per run, ``extra['independent']``),
which :func:`~t2v_energy_lib.analysis.steps_claim.check_linear_in_steps` judges with a band set from the runs'
own spread. Run it on a GPU machine::

    python -m t2v_energy_lib.bench.steps_runs OUT_DIR [--model wan2.1-t2v-1.3b] [--size 480x832x81]
        [--steps 2,5,10,20] [--rounds 3] [--device cuda]

It writes (adds to) ``OUT_DIR/steps_independent.json`` (suite ``steps``; copied beside a baseline folder's
``steps.json`` of the traced run, it never replaces it). ``--device cpu --model wan2.1-t2v-1.3b-tiny``
runs the same code on the tiny model (latency only; no GPU energy).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from t2v_energy_lib.bench import records as rec
from t2v_energy_lib.bench.measure import MeasureConfig, Series, ShapeMeasurer
from t2v_energy_lib.bench.runner import default_build, token_length
from t2v_energy_lib.bench.scenarios import Scenario
from t2v_energy_lib.energy import EnergyMeter, Measurement, ShortWindowWarning
from t2v_energy_lib.errors import T2VEnergyError
from t2v_energy_lib.results import ResultRecord
from t2v_energy_lib.results.storage import ResultWriter

SUITE = "steps"
#: The component of one whole denoising loop of S steps (an independent run; the steps claim reads these).
RUN_COMPONENT = "denoise_run"
#: The file the runs go to (suite "steps"): beside a folder's steps.json (the traced run), never over it.
FILE_NAME = "steps_independent.json"


def visiting_order(step_counts: Sequence[int], rounds: int) -> list[tuple[int, int]]:
    """(round, S) in the order measured: every S once per round, alternating direction between rounds."""
    order = []
    for r in range(rounds):
        counts = list(step_counts) if r % 2 == 0 else list(reversed(step_counts))
        order += [(r, s) for s in counts]
    return order


def measure_runs(
    measurer: ShapeMeasurer, meter: EnergyMeter, base: Scenario, step_counts: Sequence[int], rounds: int
) -> dict[int, list[Measurement]]:
    """One window per complete denoising loop; S -> the readings of its ``rounds`` runs.

    The shape is warmed up twice first (one-time start-up costs, cuDNN/cuBLAS heuristics).
    """
    measurer.warmup(base.settings)
    measurer.warmup(base.settings)
    windows: dict[int, list[Measurement]] = {s: [] for s in step_counts}
    for r, s in visiting_order(step_counts, rounds):
        key = f"run-s{s}#{r}"
        meter.begin_window(key)
        measurer.call(s, "latent")
        with warnings.catch_warnings():  # short windows (a CPU smoke run) are counted in the record
            warnings.simplefilter("ignore", ShortWindowWarning)
            windows[s].append(meter.end_window(key))
    return windows


def run_records(
    base: Scenario, windows: dict[int, list[Measurement]], run_settings: dict[str, Any]
) -> list[ResultRecord]:
    """One ``denoise_run`` record per step count (one round per run, per whole loop)."""
    out = []
    for s, runs in windows.items():
        sc = base.with_steps(s)
        extra = {
            "independent": True,
            "runs": len(runs),
            "output_type": "latent",
            "token_length": token_length(sc),
            "order": "round by round, alternating direction (see bench/steps_runs.py)",
        }
        series = Series(RUN_COMPONENT, tuple(runs), 1, {})
        out.append(rec.series_record(sc, series, run_settings, extra=extra))
    return out


def run_independent_steps(
    out_dir: Path,
    model_id: str,
    size: tuple[int, int, int],
    step_counts: Sequence[int],
    rounds: int,
    device: str = "cuda",
    dtype: str = "bfloat16",
    meter: EnergyMeter | None = None,
    build: Callable[[str, str, str], Any] = default_build,
    provenance: dict[str, Any] | None = None,
) -> list[ResultRecord]:
    """Build the pipeline, measure the runs, add the records to ``out_dir/steps_independent.json``."""
    from t2v_energy_lib.models import GenerationSettings, get_spec
    from t2v_energy_lib.results.provenance import collect_provenance

    h, w, f = size
    guidance = get_spec(model_id).defaults.guidance_scale
    settings = GenerationSettings(
        height=h, width=w, num_frames=f, num_inference_steps=1, guidance_scale=guidance
    )
    base = Scenario(SUITE, model_id, settings, label="independent runs")
    run_settings = {"command": "steps_runs", "step_counts": list(step_counts), "rounds": rounds}
    if provenance is None:
        cuda = device.startswith("cuda")
        index = int(device.partition(":")[2] or 0) if cuda else None
        provenance = (
            collect_provenance(settings=run_settings, cuda_index=index)
            if cuda
            else collect_provenance(None, run_settings)
        )
    meter = meter or EnergyMeter.for_device(device, idle_s=5.0 if device.startswith("cuda") else 0.0)
    pipe = build(model_id, device, dtype)
    with ShapeMeasurer(pipe, meter, device, MeasureConfig()) as measurer:
        windows = measure_runs(measurer, meter, base, step_counts, rounds)
    records = run_records(base, windows, {"dtype": dtype, "device": device})
    writer = ResultWriter(out_dir / FILE_NAME, provenance, resume=True)
    for r in records:
        writer.add(r)
    return records


def _size(text: str) -> tuple[int, int, int]:
    h, w, f = (int(v) for v in text.lower().split("x"))
    return h, w, f


def main(argv: Sequence[str] | None = None) -> int:
    """CLI (see the module docstring); prints one line per step count."""
    parser = argparse.ArgumentParser(prog="python -m t2v_energy_lib.bench.steps_runs", description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--model", default="wan2.1-t2v-1.3b")
    parser.add_argument("--size", type=_size, default=(480, 832, 81), help="HxWxF")
    parser.add_argument("--steps", default="2,5,10,20", help="comma-separated step counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args(argv)
    counts = [int(s) for s in args.steps.split(",")]
    try:
        records = run_independent_steps(
            args.out_dir, args.model, args.size, counts, args.rounds, args.device, args.dtype
        )
    except T2VEnergyError as exc:
        print(f"independent step runs failed: {exc}", file=sys.stderr)
        return 2
    for r in records:
        energy = r.rounds.get("gpu_energy_j")
        e_text = f", GPU energy {[round(v, 1) for v in energy]} J" if energy else ""
        print(f"{r.id}: latency {[round(v, 3) for v in r.rounds['latency_s']]} s{e_text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
