"""Every quantity a result record stores, declared once: :class:`Quantity` and the :data:`QUANTITIES` table.

A record's ``rounds`` map a quantity's :attr:`Quantity.key` (its unit in the name: ``latency_s``,
``gpu_energy_j``) to raw per-round values per unit of work. What the rest of the library knows about a
quantity is derived from this table:

- the gate's metrics (``results.compare.METRICS``): the quantities with a :attr:`Quantity.gate` name;
- the units of the comparison table (``results.table``): :func:`unit_of`;
- the schema's sign rules (``results.schema``): :func:`sign_problem`;
- the pytest-benchmark ``extra_info`` keys of the plugin and of the reader (``results.pytest_benchmark``):
  :attr:`Quantity.extra_info_key`;
- the analysis keys (``analysis.points``, ``analysis.latency_view``): :data:`GPU_ENERGY`, :data:`LATENCY`,
  :data:`HOST_ENERGY`.

Adding a gate metric is one row here plus its reading in :mod:`t2v_energy_lib.results.record_builder`.

Host energy has one representation, ``host_energy_j`` (CPU + RAM). Files written before this table stored the
CLI's host energy as two quantities ``cpu_energy_j`` and ``ram_energy_j``; :func:`migrate_rounds` sums them
into ``host_energy_j`` on read, so records of every runner reach the analysis alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    """One quantity of a record's rounds.

    Attributes:
        key: The rounds key, unit in the name (``"gpu_energy_j"``).
        unit: The unit as printed (``"J"``, ``"s"``).
        label: What the values are, for people (``"GPU energy"``).
        nonnegative: True when a negative value is a broken measurement (energy above idle may dip below
            zero by meter noise, so it is False there).
        gate: The name of the gate metric on this quantity (``--energy-compare-fail energy:5%``), or None.
        extra_info_key: The key of its raw per-round values in pytest-benchmark's ``extra_info`` (written by
            the ``energy`` fixture), or None.
        may_be_estimated: True when the values may be estimates rather than measurements (host energy without
            RAPL); the record says which in ``extra`` (``host_energy_estimated``).
    """

    key: str
    unit: str
    label: str
    nonnegative: bool = True
    gate: str | None = None
    extra_info_key: str | None = None
    may_be_estimated: bool = False


LATENCY = Quantity("latency_s", "s", "latency", gate="latency")
GPU_ENERGY = Quantity("gpu_energy_j", "J", "GPU energy", gate="energy", extra_info_key="energy_gpu_j_rounds")
GPU_ENERGY_ABOVE_IDLE = Quantity(
    "gpu_energy_above_idle_j",
    "J",
    "GPU energy above idle",
    nonnegative=False,
    gate="energy_above_idle",
    extra_info_key="energy_gpu_above_idle_j_rounds",
)
HOST_ENERGY = Quantity(
    "host_energy_j",
    "J",
    "host CPU+RAM energy",
    extra_info_key="host_energy_j_rounds",
    may_be_estimated=True,
)
SAMPLED_GPU_ENERGY = Quantity("sampled_gpu_energy_j", "J", "GPU energy from power samples")
ELAPSED_BEFORE_ERROR = Quantity("elapsed_before_error_s", "s", "time before the error (not a latency)")

#: Every declared quantity, in the order reports list them.
QUANTITIES: tuple[Quantity, ...] = (
    GPU_ENERGY,
    LATENCY,
    GPU_ENERGY_ABOVE_IDLE,
    HOST_ENERGY,
    SAMPLED_GPU_ENERGY,
    ELAPSED_BEFORE_ERROR,
)
BY_KEY: Mapping[str, Quantity] = {q.key: q for q in QUANTITIES}

#: The host-energy parts of files written before ``host_energy_j`` was the one representation.
LEGACY_HOST_PARTS = ("cpu_energy_j", "ram_energy_j")

_UNIT_SUFFIXES = {"_j": "J", "_s": "s", "_w": "W"}


def gate_metrics() -> dict[str, str]:
    """Gate metric name -> rounds key, for every quantity the gate can judge."""
    return {q.gate: q.key for q in QUANTITIES if q.gate is not None}


def extra_info_keys() -> dict[str, str]:
    """pytest-benchmark ``extra_info`` key -> rounds key, for every quantity the ``energy`` fixture writes."""
    return {q.extra_info_key: q.key for q in QUANTITIES if q.extra_info_key is not None}


def unit_of(key: str) -> str:
    """The unit of a rounds key: the declared one, else read from the key's suffix, else ``""``."""
    quantity = BY_KEY.get(key)
    if quantity is not None:
        return quantity.unit
    return next((unit for suffix, unit in _UNIT_SUFFIXES.items() if key.endswith(suffix)), "")


def must_be_nonnegative(key: str) -> bool:
    """Whether a negative value of ``key`` is broken: the declared rule, else any energy or duration key.

    An undeclared key is judged by its unit suffix (``_j``, ``_s``), except energies above idle.
    """
    quantity = BY_KEY.get(key)
    if quantity is not None:
        return quantity.nonnegative
    return unit_of(key) in ("J", "s") and "above_idle" not in key


def sign_problem(key: str, value: float) -> str | None:
    """Why ``value`` cannot be a value of ``key`` (a negative energy or duration), or None when it can."""
    if not (must_be_nonnegative(key) and value < 0):
        return None
    what = "energies must be >= 0 J" if unit_of(key) == "J" else "durations must be >= 0 s"
    return f"is negative ({value!r}); {what}"


def migrate_rounds(rounds: Mapping[str, Sequence[float]]) -> dict[str, Sequence[float]]:
    """Rounds in the current representation: ``host_energy_j`` = legacy ``cpu_energy_j`` + ``ram_energy_j``.

    The legacy parts stay beside the sum, as written: a file read and written again (a merge) keeps every raw
    value it had. Rounds without both legacy parts (or that already hold ``host_energy_j``) are returned
    unchanged.
    """
    out = dict(rounds)
    if HOST_ENERGY.key in out or not all(part in out for part in LEGACY_HOST_PARTS):
        return out
    cpu, ram = (out[part] for part in LEGACY_HOST_PARTS)
    if not (_numbers(cpu) and _numbers(ram) and len(cpu) == len(ram)):
        return out  # malformed: left for the schema to name the problem
    out[HOST_ENERGY.key] = [math.fsum((c, r)) for c, r in zip(cpu, ram, strict=True)]
    return out


def _numbers(values: object) -> bool:
    return isinstance(values, (list, tuple)) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    )
