"""Markdown rendering of a :class:`~t2v_energy_lib.results.compare.Comparison` for CI job summaries.

GitHub Actions shows a job's ``$GITHUB_STEP_SUMMARY`` file as markdown; :func:`write_summary` writes the
summary to a path and appends it there when the variable is set.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from t2v_energy_lib.results.table import summary_line

if TYPE_CHECKING:
    from t2v_energy_lib.results.compare import Comparison, ComparisonRow

_ICON = {"regression": "❌", "undecided": "❔", "improvement": "✅", "unchanged": "✔️", "excluded": "➖"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(row: ComparisonRow) -> str:
    interval = "-" if math.isnan(row.ci_low) else f"[{row.ci_low:.4f}, {row.ci_high:.4f}]"
    cells = (
        f"`{_cell(row.test_id)}`",
        row.metric,
        f"{row.ratio:.4f} ({row.change:+.2%})",
        interval,
        f"{row.threshold:.1%}",
        f"{_ICON.get(row.verdict, '')} {row.verdict}",
        f"{row.n_baseline} / {row.n_current}",
        ", ".join(row.flags),
    )
    return "| " + " | ".join(cells) + " |"


def format_markdown(comparison: Comparison, title: str = "t2v-energy gate") -> str:
    """The comparison as markdown: verdict, table, gate failures, missing and new ids, versions changed."""
    status = "PASSED" if comparison.passed else "FAILED"
    mode = "two-sided" if comparison.two_sided else "one-sided"
    lines = [
        f"## {title}: {status}",
        "",
        f"Baseline `{comparison.baseline_source}` -> current `{comparison.current_source}`. "
        f"Ratio = current / baseline mean per unit of work; Welch {comparison.confidence * 100:.4g}% {mode} "
        "interval; "
        f"{'strict (undecided fails)' if comparison.strict else 'undecided reported, not failing'}.",
        "",
    ]
    if comparison.rows:
        lines += [
            "| benchmark | metric | ratio | interval | threshold | verdict | rounds (base / now) | flags |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *(_row(r) for r in comparison.rows),
        ]
    else:
        lines.append("_No benchmark and metric in common._")
    lines += ["", *(f"**Gate failure:** {_cell(p)}" for p in comparison.problems)]
    if comparison.missing_ids:
        lines += ["", "Missing in current:", ""]
        lines += [f"- `{i}`: {_missing_reason(comparison, i)}" for i in comparison.missing_ids]
    if comparison.new_ids:
        lines += ["", "New in current (no baseline):", "", *(f"- `{i}`" for i in comparison.new_ids)]
    lines += ["", *_version_lines(comparison.version_changes)]
    if comparison.hardware_differences:
        lines += [
            "",
            "**Hardware differs (compared by override):** " + "; ".join(comparison.hardware_differences),
        ]
    if comparison.notes:
        lines += [
            "",
            "<details><summary>notes</summary>",
            "",
            *(f"- {n}" for n in comparison.notes),
            "</details>",
        ]
    lines += ["", f"`{summary_line(comparison)}`", ""]
    return "\n".join(lines)


def _missing_reason(comparison: Comparison, test_id: str) -> str:
    if test_id in comparison.excused:
        return f"not a failure ({comparison.excused[test_id]})"
    return (
        "not a failure (allowed explicitly)"
        if comparison.allow_missing
        else "**fails the gate: not produced**"
    )


def _version_lines(changes: tuple[tuple[str, object, object], ...]) -> list[str]:
    if not changes:
        return ["Versions: unchanged."]
    return ["Versions changed:", "", *(f"- {name}: `{a}` -> `{b}`" for name, a, b in changes)]


def write_summary(text: str, path: str | Path | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Write ``text`` to ``path`` (if given) and append it to ``$GITHUB_STEP_SUMMARY`` (if set).

    Returns:
        The files written.
    """
    env = os.environ if environ is None else environ
    written = []
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    step_summary = env.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
        written.append(Path(step_summary))
    return written
