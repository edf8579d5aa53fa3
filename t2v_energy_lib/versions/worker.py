"""One history job, run inside a version's environment: ``python -m t2v_energy_lib.versions.worker``.

The host (:mod:`.history`) starts it with the version's folder first on ``PYTHONPATH``, so everything
imported here (diffusers, and transformers where the matrix says so) is that version's. It measures the
built-in selection (:mod:`.selection`) for the given models into ``<out>/history.json``: parts and complete
generation through the validation point of the characterisation runner, then one profiled step. A model the
version cannot build or run becomes an error record naming why (the run goes on with the next model).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from t2v_energy_lib.bench.measure import MeasureConfig

#: GPU windows of a history job: short but valid (>= 2 s denoiser windows, 3 rounds; 2 decodes, 2 videos).
GPU_CONFIG = MeasureConfig(
    target_window_s=2.0, text_window_s=0.5, rounds=3, vae_rounds=2, vae_rounds_long=2, e2e_rounds=2
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The worker's arguments (set by the host; not a user-facing command)."""
    p = argparse.ArgumentParser(prog="python -m t2v_energy_lib.versions.worker", description=__doc__)
    p.add_argument("--out", type=Path, required=True, help="job folder; history.json is written there")
    p.add_argument("--models", required=True, help="comma-separated model ids")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--e2e-steps", type=int, default=4)
    p.add_argument("--window-s", type=float, default=None)
    p.add_argument("--idle-s", type=float, default=2.0)
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--round", type=int, default=0, help="history round of this job (stored in provenance)")
    p.add_argument("--expect-diffusers", default=None, help="fail unless this diffusers version is imported")
    p.add_argument("--cpu-threads", type=int, default=1)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job; exit 0 when every model was measured, 1 when one failed (its error record is stored)."""
    args = parse_args(argv)
    from t2v_energy_lib.bench.api import run_provenance
    from t2v_energy_lib.bench.measure import CPU_CONFIG
    from t2v_energy_lib.bench.runner import Characterizer, RunOptions
    from t2v_energy_lib.bench.suites import profile_point, validation_point
    from t2v_energy_lib.versions.selection import SUITE, history_scenarios

    tiny = args.device == "cpu"
    if tiny:
        import torch

        torch.set_num_threads(max(1, args.cpu_threads))
    config = CPU_CONFIG if tiny else GPU_CONFIG
    if args.window_s is not None:
        config = replace(config, target_window_s=args.window_s)
    options = RunOptions(
        out_dir=args.out, device=args.device, dtype=args.dtype, config=config, overwrite=True,
        profile_ops=not args.no_profile,
    )  # fmt: skip
    provenance = run_provenance(options, tiny, [SUITE])
    provenance["settings"].update(
        {"command": "history", "round": args.round, "e2e_steps": args.e2e_steps, "models": args.models}
    )
    imported = provenance["versions"].get("diffusers")
    if args.expect_diffusers and imported != args.expect_diffusers:
        print(f"worker: expected diffusers {args.expect_diffusers}, imported {imported}", file=sys.stderr)
        return 3
    scenarios = history_scenarios(args.models.split(","), tiny=tiny, e2e_steps=args.e2e_steps)
    from t2v_energy_lib.energy import EnergyMeter

    meter = EnergyMeter.for_device(args.device, idle_s=args.idle_s)
    ch = Characterizer(options, meter, provenance, log=lambda line: print(line, flush=True))

    def point(sc: Any, writer: Any) -> str:
        text = validation_point(ch, sc, writer)
        if options.profile_ops:
            text += "; " + profile_point(ch, sc, writer)
        return text

    needed = ("composed", "operator_profile") if options.profile_ops else ("composed",)
    try:
        outcome = ch.run_points(SUITE, scenarios, range(len(scenarios)), point, lambda sc: needed)
    finally:
        ch.release()
    print(f"history job: {len(outcome.done)} measured, {len(outcome.failed)} failed -> {outcome.path}")
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    sys.exit(main())
