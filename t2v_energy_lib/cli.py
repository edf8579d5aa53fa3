"""The ``t2v-energy`` command line: a thin dispatcher over ``t2v_energy_lib.commands``.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and ``run(args) -> int``; modules
are imported only when the CLI starts, never at library import.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from t2v_energy_lib.errors import T2VEnergyError

SUBCOMMANDS = ("models", "predict", "characterize", "report", "compare", "history", "gpus", "optimize")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="t2v-energy",
        description="Measure, predict and gate the latency and energy of text-to-video diffusion pipelines.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"t2v_energy_lib.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"t2v_energy_lib.commands.{name}":
                continue  # subcommand not shipped in this build
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (errors of this project print one line, exit 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except T2VEnergyError as exc:
        print(f"t2v-energy {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"t2v-energy {args.command}: interrupted; results written so far are kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
