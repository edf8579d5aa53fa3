"""The project's own exceptions: one type per kind of failure, all under :class:`T2VEnergyError`.

Callers never need to import pynvml, diffusers or json to catch a failure of this library: vendor and parser
errors are mapped to these types at the boundary where they occur. Messages name the rule that was broken and
the fix.
"""

from __future__ import annotations


class T2VEnergyError(Exception):
    """Base class of every error this project raises on purpose."""


class GpuUnavailableError(T2VEnergyError):
    """A GPU meter or GPU run was requested, but NVML or an NVIDIA GPU is not available."""


class NvmlError(T2VEnergyError):
    """An NVML call failed (wraps ``pynvml.NVMLError``)."""


class UnknownModelError(T2VEnergyError, KeyError):
    """A model id is not in the registry; the message lists the known ids."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidSettingsError(T2VEnergyError, ValueError):
    """A generation setting (height, width, frames, steps) breaks the model's shape rules."""


class WeightsMismatchError(T2VEnergyError):
    """A local weights directory does not match the model spec (names the component)."""


class BaselineFormatError(T2VEnergyError):
    """A result or baseline file is unreadable, corrupt, or of a schema this version cannot read."""


class HardwareMismatchError(T2VEnergyError):
    """Two results come from different GPUs, drivers or power limits and may not be compared."""


class RegressionError(T2VEnergyError):
    """A comparison found an energy or latency regression beyond threshold and noise."""


class FitError(T2VEnergyError):
    """A fit or claim check could not be computed (too few points, degenerate data)."""


class MissingResultsError(FitError):
    """A claim check found no records of the suite/component it needs.

    Attributes ``suite`` and ``component`` name what is missing.
    """

    def __init__(self, message: str, suite: str, component: str | None = None) -> None:
        super().__init__(message)
        self.suite = suite
        self.component = component


class ScaleOutError(T2VEnergyError):
    """A scale-out plan is impossible: more workers than GPUs, a GPU already held, or CUDA pinned too late."""


class ResultConflictError(BaselineFormatError):
    """Two result files hold the same record id with different content (the message names both files)."""


class NvmlNotSupportedError(NvmlError):
    """An NVML query is not supported on this GPU or driver (``NVML_ERROR_NOT_SUPPORTED``)."""


class MeasurementWindowError(T2VEnergyError):
    """A measurement window was misused: a key begun twice, or ended without being begun."""


class DependencyError(T2VEnergyError):
    """An installed dependency is missing or too old for the requested feature (names package and version)."""


class TooFewPointsError(FitError):
    """A claim check found records of the suite it needs, but fewer measured points than its judgement needs.

    Attributes ``suite``, ``needed`` and ``found``: the suite, the points it needs, the points found.
    """

    def __init__(self, message: str, suite: str, needed: int, found: int) -> None:
        super().__init__(message)
        self.suite = suite
        self.needed = needed
        self.found = found


class VersionEnvError(T2VEnergyError):
    """A Diffusers version's environment cannot be built or used (undeclared, a wheel missing, no import)."""


class OutputPathError(T2VEnergyError):
    """An output path cannot be written (an existing file where a folder is needed, a read-only folder...).

    Raised before any measurement starts, so that no run is lost to a path that was never writable.
    """


class OptimizationError(T2VEnergyError):
    """A lever or variant is malformed or cannot be applied to the model (names the lever and the fix)."""
