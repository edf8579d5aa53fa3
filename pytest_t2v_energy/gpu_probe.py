"""Find out, once and on demand, whether this machine can run ``gpu`` / ``h100`` tests, and say why not.

A test marked both ``gpu`` and ``h100`` belongs to the suite that runs on any NVIDIA GPU; it needs an H100
only when the ``-m`` expression asks for ``h100`` and not for ``gpu`` (:func:`h100_requested`).

Nothing here runs at import. :func:`probe_gpus` is called by the plugin the first time a ``gpu`` or ``h100``
test is set up, and the plugin's session object caches the result. The skip reasons are built by pure
functions (:meth:`GpuProbe.gpu_reason`, :meth:`GpuProbe.h100_reason`) so they can be tested without a GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

H100_TOKEN = "H100"


@dataclass(frozen=True)
class GpuProbe:
    """What NVML and torch report about the CUDA-visible NVIDIA GPUs.

    Attributes:
        names: Product names of the CUDA-visible GPUs, in CUDA order (empty when none or NVML failed).
        nvml_error: Why NVML gave no visible GPU (None when it listed at least one).
        cuda_error: Why torch cannot use the GPUs (None when ``torch.cuda.is_available()``; also None when
            NVML already failed, since torch was then not asked).
    """

    names: tuple[str, ...]
    nvml_error: str | None = None
    cuda_error: str | None = None

    def gpu_reason(self) -> str | None:
        """Why a ``gpu`` test cannot run here, or None when it can."""
        if self.nvml_error is not None:
            return f"no NVIDIA GPU: {self.nvml_error}"
        if self.cuda_error is not None:
            return f"NVIDIA GPU found ({', '.join(self.names)}) but torch cannot use it: {self.cuda_error}"
        return None

    def h100_reason(self, gpu_suite: bool = False) -> str | None:
        """Why an ``h100`` test cannot run here (every visible GPU must be an H100), or None when it can.

        Args:
            gpu_suite: The test is also marked ``gpu`` (the suite that runs on any NVIDIA GPU): on a usable
                GPU of another model, the reason says to run ``pytest -m gpu`` instead.
        """
        if self.nvml_error is not None:
            return f"needs an H100, found no NVIDIA GPU ({self.nvml_error})"
        others = [name for name in self.names if H100_TOKEN not in name.upper()]
        if others:
            found = ", ".join(self.names)
            if gpu_suite and self.gpu_reason() is None:
                return f"needs an H100, found {found}: run `pytest -m gpu` for the suite on this GPU"
            return f"needs an H100, found {found}"
        return self.gpu_reason()


def h100_requested(markexpr: str, marked_gpu: bool) -> bool:
    """Whether an ``h100``-marked test must run on an H100 under the ``-m`` expression ``markexpr``.

    A test marked only ``h100`` always must. A test also marked ``gpu`` (the any-GPU suite) must only when
    the expression names ``h100`` and not ``gpu`` (``-m h100``, ``-m "h100 and slow"``): ``-m gpu``, no
    ``-m`` at all, or ``-m "h100 or gpu"`` run it on any usable NVIDIA GPU.
    """
    if not marked_gpu:
        return True
    names = set(re.findall(r"[A-Za-z_][\w.]*", markexpr))
    return "h100" in names and "gpu" not in names


def _nvml_names() -> tuple[tuple[str, ...], str | None]:
    """Names of the CUDA-visible GPUs through the energy layer's device backend (NVML), or ``((), why)``."""
    from t2v_energy_lib.energy.inventory import visible_gpu_names
    from t2v_energy_lib.errors import GpuUnavailableError

    try:
        return visible_gpu_names(), None
    except GpuUnavailableError as exc:
        return (), str(exc)


def _cuda_error() -> str | None:
    """Why ``torch.cuda`` is unusable, or None. Imports torch; does not create a CUDA context."""
    try:
        import torch
    except ImportError as exc:
        return f"torch is not importable ({exc})"
    if torch.cuda.is_available():
        return None
    return (
        f"torch.cuda.is_available() is False (torch {torch.__version__}, "
        f"built with CUDA {torch.version.cuda or 'none'})"
    )


def probe_gpus() -> GpuProbe:
    """Ask NVML, then torch, whether an NVIDIA GPU is usable. Touches hardware: call it lazily, once."""
    names, nvml_error = _nvml_names()
    if nvml_error is not None:
        return GpuProbe(names=(), nvml_error=nvml_error)
    return GpuProbe(names=names, cuda_error=_cuda_error())
