"""Number formatting and markdown tables: the only place numbers of a report are turned into text."""

from __future__ import annotations

import math
from collections.abc import Sequence


def num(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; ``-`` for None/NaN, ``inf`` kept readable."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def pct(fraction: float | None, decimals: int = 1) -> str:
    """A fraction as a percentage (0.066 -> ``6.6%``)."""
    if fraction is None or math.isnan(fraction):
        return "-"
    return f"{fraction * 100:.{decimals}f}%"


def p_value(p: float | None) -> str:
    """A p-value: ``<1e-12`` below that, else two significant digits."""
    if p is None or math.isnan(p):
        return "-"
    return "<1e-12" if p < 1e-12 else f"{p:.2g}"


def r2(value: float | None) -> str:
    """R^2 with enough decimals to tell 0.999 from 0.9999."""
    return "-" if value is None or math.isnan(value) else f"{value:.5f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    """``ours / theirs`` with three significant digits (``-`` when either is missing)."""
    if ours is None or theirs is None or theirs == 0:
        return "-"
    return f"{ours / theirs:.3g}"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table (cells already formatted; ``|`` in cells escaped)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = [line(headers), "| " + " | ".join("---" for _ in headers) + " |"]
    out.extend(line(r) for r in rows)
    return "\n".join(out)
