"""GPU specifications for roofline analysis: datasheet ceilings, or measured ones when given."""

from __future__ import annotations

from dataclasses import dataclass

from t2v_energy_lib.errors import UnknownModelError


@dataclass(frozen=True)
class GpuSpec:
    """Ceilings of one GPU.

    Attributes:
        name: Display name.
        peak_flops: Dense bf16 tensor-core peak (no sparsity). Units: FLOP/s.
        mem_bandwidth_bytes_per_s: Peak HBM/GDDR bandwidth. Units: bytes/s.
        tdp_w: Board power limit. Units: W.
        measured: True when the ceilings come from measurements rather than a datasheet.
    """

    name: str
    peak_flops: float
    mem_bandwidth_bytes_per_s: float
    tdp_w: float
    measured: bool = False

    @property
    def ridge_flops_per_byte(self) -> float:
        """Arithmetic intensity at which compute and memory times are equal. Units: FLOP/byte."""
        return self.peak_flops / self.mem_bandwidth_bytes_per_s

    @classmethod
    def from_measured(cls, base: GpuSpec, matmul_flops_per_s: float, copy_bytes_per_s: float) -> GpuSpec:
        """Ceilings measured on the machine (peak matmul throughput and device-to-device copy bandwidth).

        Args:
            base: The datasheet spec of the same GPU (name and power limit are kept).
            matmul_flops_per_s: Best measured bf16 matmul throughput. Units: FLOP/s.
            copy_bytes_per_s: Measured copy bandwidth (bytes read + written per second). Units: bytes/s.
        """
        if matmul_flops_per_s <= 0 or copy_bytes_per_s <= 0:
            raise ValueError("measured ceilings must be positive (FLOP/s and bytes/s)")
        return cls(f"{base.name} (measured)", matmul_flops_per_s, copy_bytes_per_s, base.tdp_w, measured=True)


#: Datasheet ceilings (dense bf16, no sparsity).
GPUS: dict[str, GpuSpec] = {
    "h100": GpuSpec("NVIDIA H100 SXM 80GB", 989e12, 3.35e12, 700.0),
    "h200": GpuSpec("NVIDIA H200 SXM 141GB", 989e12, 4.8e12, 700.0),
    "a100": GpuSpec("NVIDIA A100 SXM 80GB", 312e12, 2.039e12, 400.0),
    "l40s": GpuSpec("NVIDIA L40S", 362e12, 0.864e12, 350.0),
}


def get_gpu(name: str) -> GpuSpec:
    """The datasheet spec by short name or by the name NVML reports.

    Short names: ``h100``, ``h200``, ``a100``, ``l40s`` (case and dashes ignored); NVML names such as
    ``"NVIDIA H100 80GB HBM3"`` work too. PCIe/NVL variants have other peaks and are refused.
    """
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "").removeprefix("nvidia")
    if "pcie" in key or "nvl" in key:
        raise UnknownModelError(
            f"GPU {name!r} is a PCIe/NVL variant: its peak FLOP/s and bandwidth differ from the SXM specs in "
            f"theory/gpus.py ({', '.join(GPUS)}); add its datasheet figures there or pass measured ceilings"
        )
    for short in GPUS:
        if key == short or key.startswith(short):
            return GPUS[short]
    raise UnknownModelError(f"unknown GPU {name!r}; known: {', '.join(GPUS)} (add it to theory/gpus.py)")
