"""The outcome of one claim check (:class:`ClaimResult`) and the registry entry of a claim (:class:`Claim`).

A claim is stated as a falsifiable test: the statement, the alternative its check must reject, and the check.
A check has three outcomes: it holds, it does not hold, or the data cannot decide (too few points, no
independent runs, no ceiling measured on the GPU). "Undecided" is never a pass: ``holds`` is False then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClaimRow:
    """One judged line of a claim: one model (and group of fixed settings) and one quantity.

    Attributes:
        subject: What was judged, e.g. ``"wan2.1-t2v-1.3b [num_frames=81, ...]"``.
        quantity: ``"energy_j"``, ``"latency_s"``, ``"per-step energy"``, ``"achieved FLOP/s"``...
        holds: True / False, or None when the data could not decide.
        figure: The measured figures and the criterion, readable (for the report's claim table).
    """

    subject: str
    quantity: str
    holds: bool | None
    figure: str


@dataclass(frozen=True)
class ClaimResult:
    """Whether one of the study's claims holds on a set of results, and the evidence.

    Attributes:
        name: The claim's short name (``"quadratic_in_pixels"``).
        holds: True when every criterion of the claim is met on every model checked; False when one is not
            met OR when the data cannot decide (then ``undecided`` is True as well).
        summary: One readable line per model with the fit and the verdict, joined by ``"; "``. Meant for
            assertion messages and logs. An undecided result's summary starts with ``"undecided: "``.
        details: Machine-readable evidence, keyed by model id (fits, F-tests, shares, thresholds).
        undecided: True when the data cannot decide the claim (too few points, not independent runs, no
            measured ceiling): a failure to judge, never a pass.
        rows: The judged lines, typed, for reports (empty for a result built by older code).
    """

    name: str
    holds: bool
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    undecided: bool = False
    rows: tuple[ClaimRow, ...] = ()

    @property
    def verdict(self) -> str:
        """``"holds"``, ``"does not hold"`` or ``"undecided"``."""
        if self.undecided:
            return "undecided"
        return "holds" if self.holds else "does not hold"


def undecided(name: str, reason: str, details: Mapping[str, Any] | None = None) -> ClaimResult:
    """A result saying the data cannot decide ``name``, and why (``holds`` is False)."""
    return ClaimResult(
        name=name, holds=False, summary=f"undecided: {reason}", details=details or {}, undecided=True
    )


@dataclass(frozen=True)
class Claim:
    """One claim of the study, stated so that the data could reject it.

    Attributes:
        name: Short name (``"quadratic_in_pixels"``), the key of the registry and of ``required.toml``.
        statement: What the claim says, readable (report row titles).
        alternative: The alternative its check must reject on the stored data (e.g. a power law l^1.3).
        check: ``check(results, **kwargs) -> ClaimResult``.
        suites: The suites whose records it reads (the required-data manifest names them).
        needs_theory: True when the check takes a ``theory`` keyword (a ``TheoryView``).
    """

    name: str
    statement: str
    alternative: str
    check: Callable[..., ClaimResult]
    suites: tuple[str, ...]
    needs_theory: bool = False

    def __call__(self, results: Any, theory: Any = None) -> ClaimResult:
        """Run the check (passing ``theory`` where the check reads the theory layer)."""
        return self.check(results, theory=theory) if self.needs_theory else self.check(results)
