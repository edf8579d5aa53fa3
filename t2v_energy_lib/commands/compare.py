"""``t2v-energy compare A B``: compare two result sets, print the table, chart, markdown summary; exit code.

A and B are result files, folders of them, or pytest-benchmark JSON files. Exit codes:

- 0: the gate passed: every baseline record was compared (or excused by ``--allow-missing``), none regressed;
- 1: the gate failed: a regression beyond threshold and noise; a baseline record missing from B (without
  ``--allow-missing``); an undecided row under ``--strict``; with ``--two-sided``, an improvement;
- 2: unusable inputs: a file unreadable or of another schema, different hardware (without
  ``--allow-hardware-mismatch``), a bad option, or nothing the two sets have in common to compare
  (the dispatcher prints this project's errors on one line).

``--summary PATH`` writes the markdown summary there; when ``GITHUB_STEP_SUMMARY`` is set it is appended
there too.
"""

from __future__ import annotations

import argparse

from t2v_energy_lib.errors import T2VEnergyError

EXIT_PASS, EXIT_FAIL, EXIT_UNUSABLE = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``compare`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "compare",
        help="compare two result sets (baseline, current) and gate energy/latency regressions",
        description=__doc__,
    )
    p.add_argument("baseline", help="baseline: result file, folder of result files, or pytest-benchmark JSON")
    p.add_argument("current", help="current results: same kinds as the baseline")
    p.add_argument(
        "--fail",
        default="energy:5%,latency:5%",
        metavar="METRIC:LIMIT,...",
        help="gated metrics and allowed increase, e.g. 'energy:5%%,latency:5%%' or 'energy:0.05' "
        "(metrics: energy, latency, energy_above_idle; default: %(default)s)",
    )
    p.add_argument("--chart", metavar="PNG", help="write a ratio chart (bars with interval whiskers) here")
    p.add_argument(
        "--allow-hardware-mismatch",
        action="store_true",
        help="compare even if GPU model, driver or power limit differ (differences are printed)",
    )
    p.add_argument(
        "--two-sided", action="store_true", help="two-sided test; improvements beyond threshold fail too"
    )
    p.add_argument("--confidence", type=float, default=0.99, help="confidence of the bounds (default 0.99)")
    p.add_argument(
        "--noise-k",
        type=float,
        default=None,
        metavar="K",
        help="per-test threshold = max(limit, K x baseline relative stddev)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list every new test id (default: the first 5 and a count)",
    )
    p.add_argument(
        "--strict", action="store_true", help="an 'undecided' row (too few/noisy rounds to decide) fails"
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="baseline records absent from the current set do not fail (they are still listed)",
    )
    p.add_argument(
        "--summary", metavar="MD", help="write a markdown summary here (and to $GITHUB_STEP_SUMMARY)"
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Load both sets, compare, print the table, write the chart; returns the exit code."""
    from t2v_energy_lib.results import Thresholds, compare, load_results
    from t2v_energy_lib.results.paths import check_output_file
    from t2v_energy_lib.results.table import LISTED_IDS, format_comparison

    if args.chart:  # before comparing: a verdict must not be followed by a crash on an unwritable chart
        check_output_file(args.chart, "--chart")

    try:
        thresholds = Thresholds.parse(args.fail, noise_k=args.noise_k)
    except ValueError as exc:
        raise T2VEnergyError(f"--fail: {exc}") from None
    if not 0.0 < args.confidence < 1.0:
        raise T2VEnergyError(f"--confidence must be in (0, 1), got {args.confidence}")
    comparison = compare(
        load_results(args.baseline),
        load_results(args.current),
        thresholds,
        allow_hardware_mismatch=args.allow_hardware_mismatch,
        confidence=args.confidence,
        two_sided=args.two_sided,
        strict=args.strict,
        allow_missing=args.allow_missing,
    )
    print(format_comparison(comparison, max_ids=None if args.verbose else LISTED_IDS))
    if args.chart:
        from t2v_energy_lib.results.chart import write_ratio_chart

        print(f"chart: {write_ratio_chart(comparison, args.chart)}")
    from t2v_energy_lib.results.markdown import write_summary

    for path in write_summary(comparison.format_markdown(), args.summary):
        print(f"summary: {path}")
    if not comparison.decided:
        raise T2VEnergyError(
            f"nothing to compare: {args.baseline} and {args.current} have no record id and gated metric in "
            "common with rounds on both sides (exit 2: unusable inputs)"
        )
    return EXIT_PASS if comparison.passed else EXIT_FAIL
