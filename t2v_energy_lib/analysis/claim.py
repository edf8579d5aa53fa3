"""The outcome of one claim check: :class:`ClaimResult`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClaimResult:
    """Whether one of the study's claims holds on a set of results, and the evidence.

    Attributes:
        name: The claim's short name (``"quadratic_in_pixels"``).
        holds: True when every criterion of the claim is met on every model checked.
        summary: One readable line per model with the fit (coefficients, R^2, p) and the verdict, joined by
            ``"; "``. Meant for assertion messages and logs.
        details: Machine-readable evidence, keyed by model id (fits, F-tests, shares, thresholds).
    """

    name: str
    holds: bool
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
