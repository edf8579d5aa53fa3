"""Plain-text rendering of a :class:`~t2v_energy_lib.results.compare.Comparison` (formatting only here)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from t2v_energy_lib.results.quantities import unit_of

if TYPE_CHECKING:
    from t2v_energy_lib.results.compare import Comparison, ComparisonRow

HEADERS = ("test id", "metric", "baseline", "current", "ratio", "ci", "p", "thr", "verdict", "flags")


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4g}"


def _cells(row: ComparisonRow) -> tuple[str, ...]:
    unit = unit_of(row.rounds_key)
    ci = "-" if math.isnan(row.ci_low) else f"[{row.ci_low:.4f}, {row.ci_high:.4f}]"
    p = "-" if math.isnan(row.p_value) else f"{row.p_value:.2g}"
    return (
        row.test_id,
        row.metric,
        f"{_num(row.baseline_mean)} {unit} (n={row.n_baseline})",
        f"{_num(row.current_mean)} {unit} (n={row.n_current})",
        f"{row.ratio:.4f}",
        ci,
        p,
        f"{row.threshold:.1%}",
        row.verdict.upper() if row.verdict in ("regression", "undecided") else row.verdict,
        ",".join(row.flags),
    )


def _grid(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


#: New ids listed before the rest is summarised as a count (a newer suite can add hundreds).
LISTED_IDS = 5


def _id_lines(title: str, ids: tuple[str, ...] | list[str], max_ids: int | None) -> list[str]:
    if not ids:
        return []
    shown = list(ids) if max_ids is None else list(ids)[:max_ids]
    lines = ["", f"{title} ({len(ids)}):", *(f"  {i}" for i in shown)]
    if len(shown) < len(ids):
        lines.append(f"  ... and {len(ids) - len(shown)} more (the full list with -v)")
    return lines


def format_comparison(comparison: Comparison, max_ids: int | None = LISTED_IDS) -> str:
    """The comparison as a terminal-readable table with its context and a one-line summary.

    Args:
        comparison: The comparison.
        max_ids: New ids shown, the rest counted (None: all). Missing ids are always listed in full.
    """
    mode = "two-sided" if comparison.two_sided else "one-sided"
    lines = [
        f"t2v-energy compare: baseline {comparison.baseline_source} -> current {comparison.current_source}",
        f"ratio = current/baseline mean per unit of work; Welch {comparison.confidence * 100:.4g}% {mode} "
        "interval",
    ]
    if comparison.hardware_differences:
        lines.append(
            "WARNING: hardware differs (compared by override): " + "; ".join(comparison.hardware_differences)
        )
    lines.append("")
    if comparison.rows:
        lines += _grid([_cells(r) for r in comparison.rows])
    else:
        lines.append("(no test id and metric in common)")
    lines += _missing_lines(comparison)
    lines += _id_lines("new in current", comparison.new_ids, max_ids)
    if comparison.version_changes:
        lines += ["", "versions changed:", *(f"  {n}: {a} -> {b}" for n, a, b in comparison.version_changes)]
    if comparison.notes:
        lines += ["", "notes:", *(f"  {n}" for n in comparison.notes)]
    lines += ["", *(f"GATE FAILURE: {p}" for p in comparison.problems), summary_line(comparison)]
    return "\n".join(lines)


def _missing_lines(comparison: Comparison) -> list[str]:
    if not comparison.missing_ids:
        return []
    lines = ["", f"missing in current ({len(comparison.missing_ids)}):"]
    for test_id in comparison.missing_ids:
        if test_id in comparison.excused:
            why = f"not a failure: {comparison.excused[test_id]}"
        elif comparison.allow_missing:
            why = "not a failure: missing allowed explicitly"
        else:
            why = "FAILS the gate: not produced"
        lines.append(f"  {test_id}  ({why})")
    return lines


def summary_line(comparison: Comparison) -> str:
    """``PASSED|FAILED: n regression(s), ...`` (the last line of the table)."""
    counts = {v: sum(r.verdict == v for r in comparison.rows) for v in ("regression", "improvement")}
    undecided = len(comparison.undecided)
    status = "PASSED" if comparison.passed else "FAILED"
    strict = " (strict: fails)" if comparison.strict and undecided else ""
    return (
        f"{status}: {counts['regression']} regression(s), {counts['improvement']} improvement(s), "
        f"{undecided} undecided{strict}, {len(comparison.decided)} comparison(s), "
        f"{len(comparison.rows) - len(comparison.decided)} excluded, {len(comparison.missing_ids)} missing "
        f"({len(comparison.unexcused_missing)} failing), {len(comparison.new_ids)} new"
    )
