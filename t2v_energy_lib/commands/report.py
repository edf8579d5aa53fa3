"""``t2v-energy report``: plots and a markdown summary of a result file or a baseline folder.

Examples::

    t2v-energy report baselines/nvidia-h100-80gb-hbm3/0.42.1
    t2v-energy report results/resolution.json --out /tmp/report
    t2v-energy report out/cpu-tiny           # the CPU main job's results (writes out/cpu-tiny/report/)
    t2v-energy report baselines/nvidia-h200/0.42.1 --compare-gpu baselines/nvidia-h100-80gb-hbm3/0.42.1

``t2v-energy characterize`` writes its report to the same default place: ``<results folder>/report/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report",
        help="write PNG plots and REPORT.md (claims, fits, predictor MAPE, cross-model) for stored results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", type=Path, help="a result file, or a folder of result files (e.g. a baseline)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <results folder>/report/)")
    p.add_argument(
        "--compare-gpu",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="append a section comparing FOLDER (another GPU model's results) with these, point by point",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Write the report; prints where REPORT.md is and each claim's verdict. Returns 0."""
    from t2v_energy_lib.report import write_report
    from t2v_energy_lib.results.paths import check_output_dir

    if args.out is not None:
        check_output_dir(args.out, "--out")
    elif args.results.exists():
        check_output_dir((args.results if args.results.is_dir() else args.results.parent) / "report", "--out")
    path = write_report(args.results, args.out, log=lambda line: print(line, flush=True))
    if args.compare_gpu is not None:
        from t2v_energy_lib.analysis.gpu_compare import compare_gpus
        from t2v_energy_lib.report.gpu_compare import gpu_comparison_section

        section = gpu_comparison_section(compare_gpus(args.compare_gpu, args.results))
        with path.open("a") as report:
            report.write("\n" + section)
    print(f"wrote {path}")
    return 0
