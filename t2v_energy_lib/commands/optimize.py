"""``t2v-energy optimize``: what saves energy per video. Default pipeline and each lever alone, then the best
combinations; saving, deviation from the default's output and proof of engagement per variant.

Examples::

    t2v-energy optimize                                   # GPU: Wan2.1-1.3B 480x832x81, 10 steps, every lever
    t2v-energy optimize --variants compile,cache:pab,cfg_batch,steps:half --rounds 2
    t2v-energy optimize --target wan2.1-t2v-14b --compose # 720p at 4 steps; non-cache levers composed to 50
    t2v-energy optimize --weights /models/Wan2.1-T2V-1.3B-Diffusers   # trained weights, same suite
    t2v-energy optimize --device cpu                      # tiny Wan variant: code paths, not measurements
    t2v-energy optimize --summary baselines/nvidia-h200   # every stored run side by side (no measurement)
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import InvalidSettingsError

CPU_BANNER = (
    "*** CPU RUN: no GPU in use. The optimisation suite runs on the TINY variant of each target at a tiny "
    "shape: latency and ESTIMATED host energy only. NOT a measurement of any saving on a GPU. ***"
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``optimize`` subcommand."""
    from t2v_energy_lib.bench.optimizations.variants import TARGETS

    p = subparsers.add_parser(
        "optimize",
        help="measure what saves energy per video: each optimisation lever, its deviation and engagement",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--target", default="wan2.1-t2v-1.3b", help=f"comma-separated, from {', '.join(TARGETS)}")
    p.add_argument(
        "--steps", type=int, default=None, help="denoising steps of every video (default: target's)"
    )
    p.add_argument("--variants", default=None, help="comma-separated variant names (default: every lever)")
    p.add_argument("--rounds", type=int, default=2, help="metered complete videos per variant (default 2)")
    p.add_argument("--weights", default=None, help="local Diffusers-layout checkpoint (default: random)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--out", type=Path, default=None, help="result folder (default as characterize)")
    p.add_argument("--no-best", action="store_true", help="skip the best combinations")
    p.add_argument("--compose", action="store_true", help="compose non-cache levers at the study's steps")
    p.add_argument("--time-budget-s", type=float, default=None, help="stop before a variant past this")
    p.add_argument(
        "--combo-reserve-s", type=float, default=0.0, help="of the budget, seconds kept for combinations"
    )
    p.add_argument("--no-profile", action="store_true", help="no attention-kernel profile")
    p.add_argument(
        "--warmup-steps", type=int, default=2, help="steps of each warm-up generation (default 2; >= 1)"
    )
    p.add_argument("--idle-s", type=float, default=5.0, help="idle-power measurement first (GPU)")
    p.add_argument("--compile-backend", default=None, help="torch.compile backend (default inductor)")
    p.add_argument(
        "--baseline", type=Path, default=None, help="fail (exit 1) when a saving of this result file vanished"
    )
    p.add_argument("--list", action="store_true", help="list the levers of each target and exit")
    p.add_argument(
        "--summary",
        type=Path,
        default=None,
        metavar="GPU_DIR",
        help="measure nothing: write GPU_DIR/OPTIMIZATIONS-SUMMARY.md, every stored run side by side",
    )
    p.add_argument("--no-report", action="store_true", help="do not write OPTIMIZATIONS.md")
    p.set_defaults(func=run)
    return p


def _targets(args: argparse.Namespace, tiny: bool) -> list[Any]:
    from t2v_energy_lib.bench.optimizations import TARGETS, tiny_target

    out = []
    for name in (t.strip() for t in args.target.split(",") if t.strip()):
        if name not in TARGETS:
            raise InvalidSettingsError(f"unknown --target {name!r}; choose from {', '.join(TARGETS)}")
        target = tiny_target(name) if tiny else TARGETS[name]
        if args.steps is not None:
            if args.steps < 2:
                raise InvalidSettingsError(
                    f"--steps must be >= 2 (half of it is a variant), got {args.steps}"
                )
            target = dataclasses.replace(target, steps=args.steps)
        out.append(target)
    return out


def run(args: argparse.Namespace) -> int:
    """Run the suite; 0 when the default and every variant were measured or explained, 1 otherwise."""
    from t2v_energy_lib.bench.optimizations import OptimizeOptions, catalogue, run_optimizations
    from t2v_energy_lib.bench.optimizations.api import optimize_provenance
    from t2v_energy_lib.commands.characterize import _device, default_out_dir
    from t2v_energy_lib.results.paths import check_output_dir

    if args.summary is not None:
        from t2v_energy_lib.report.optimizations_summary import write_optimizations_summary

        if not args.summary.is_dir():
            raise InvalidSettingsError(
                f"--summary {args.summary}: not a folder (give a GPU folder of baselines/)"
            )
        print(write_optimizations_summary(args.summary))
        return 0
    device = _device(args.device)
    tiny = device == "cpu"
    targets = _targets(args, tiny)
    compile_kwargs = {"backend": args.compile_backend} if args.compile_backend else {}
    if args.list:
        for t in targets:
            print(f"{t.id}: " + ", ".join(lv.name for lv in catalogue(t.model_id, compile_kwargs)))
        return 0
    if args.rounds < 1:
        raise InvalidSettingsError(f"--rounds must be >= 1, got {args.rounds}")
    if args.warmup_steps < 1:
        raise InvalidSettingsError(
            f"--warmup-steps must be >= 1 (compilation happens there), got {args.warmup_steps}"
        )
    if tiny:
        print(CPU_BANNER, flush=True)
        import torch

        torch.set_num_threads(1)
    options = OptimizeOptions(
        out_dir=Path("."),
        device=device,
        dtype=args.dtype,
        rounds=args.rounds,
        weights=args.weights,
        profile_attention=not args.no_profile,
        compose=args.compose,
        best_combination=not args.no_best,
        time_budget_s=args.time_budget_s,
        combo_reserve_s=args.combo_reserve_s,
        warmup_steps=args.warmup_steps,
    )
    provenance = optimize_provenance(options, targets)
    out_dir = args.out or default_out_dir(device, provenance)
    check_output_dir(out_dir, "--out")  # before any measurement
    if args.baseline is not None and not args.baseline.is_file():
        raise InvalidSettingsError(f"--baseline {args.baseline}: no such result file")
    options = dataclasses.replace(options, out_dir=out_dir)
    names = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    t0 = time.monotonic()
    outcomes = run_optimizations(
        targets,
        options,
        names,
        provenance=provenance,
        compile_kwargs=compile_kwargs,
        log=lambda line: print(line, flush=True),
        idle_s=args.idle_s,
    )
    bad = 0
    for o in outcomes:
        counts: dict[str, int] = {}
        for r in o.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        default_ok = any(r.status == "reference" for r in o.results)
        bad += (not default_ok) + o.stopped_for_budget
        budget = ", stopped by the time budget" if o.stopped_for_budget else ""
        print(f"{o.target.id}: {counts}{budget} -> {o.path}")
    if tiny:
        print(CPU_BANNER)
    print(f"results in {out_dir} ({time.monotonic() - t0:.0f} s)")
    if args.baseline is not None:
        bad += _gate_savings(args.baseline, out_dir / "optimizations.json")
    if not args.no_report:
        from t2v_energy_lib.report.optimizations_section import write_optimizations_report

        report_dir = Path("report") / "-".join(out_dir.parts[-2:])
        print(f"report: {write_optimizations_report(out_dir / 'optimizations.json', report_dir)}")
    return 1 if bad else 0


def _gate_savings(baseline: Path, current: Path) -> int:
    """1 (and the list) when a saving of ``baseline`` vanished in ``current``, else 0."""
    from t2v_energy_lib.analysis.optimizations import optimization_rows, vanished_savings
    from t2v_energy_lib.results.storage import load_results

    lost = vanished_savings(
        optimization_rows(load_results(baseline).records), optimization_rows(load_results(current).records)
    )
    for line in lost:
        print(f"SAVING VANISHED: {line}")
    print(f"savings gate against {baseline}: {'FAILED' if lost else 'passed'}")
    return 1 if lost else 0
