"""Carry a measured latency and energy from one GPU to another through the roofline: what theory expects.

A measured part (a denoiser step, a text encoding, a VAE decode) is split by the roofline of its operators on
the GPU it was measured on: the share of its roofline time spent in compute-bound operators scales with the
matmul ceiling, the share in memory-bound operators with the copy bandwidth::

    t_to = t_from * ((1 - m) * F_from / F_to + m * B_from / B_to)     m: memory-bound share of roofline time

Board power moves with the dynamic range of the two boards: the part's power above idle, as a fraction of what
a full matmul load adds above idle on the source GPU, is drawn at the same fraction of the target's range::

    P_to = idle_to + (P_from - idle_from) / (loaded_from - idle_from) * (loaded_to - idle_to)
    E_to = P_to * t_to

The analytic operators are the fused-kernel model (GEMMs, attention, convolutions): it has no separate
normalisation or elementwise kernels, which an operator profile measured at 24-60% of a denoiser step's kernel
time on an H100. Those kernels are memory-bound; a measured share of them (``measured_memory_share``) is
added in front of the roofline split: ``m = s + (1 - s) * m_roofline``.

With datasheet ceilings of an H100 and an H200 (same bf16 peak and power limit, 1.43x the bandwidth), a
compute-bound step keeps its latency and energy and a memory-bound part runs up to 1.43x faster. With
measured ceilings (a calibration on each GPU), the same formulas carry the measured differences. Pure: no
hardware, no file access.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from t2v_energy_lib.theory.gpus import GpuSpec
from t2v_energy_lib.theory.ops import Op
from t2v_energy_lib.theory.roofline import classify


@dataclass(frozen=True)
class BoardPower:
    """A board's idle and fully loaded (matmul) power.

    Attributes:
        idle_w: Mean power at idle. Units: W.
        loaded_w: Mean power under a bf16 matmul loop. Units: W.
    """

    idle_w: float
    loaded_w: float

    def __post_init__(self) -> None:
        if not 0 < self.idle_w < self.loaded_w:
            raise ValueError(f"need 0 < idle_w < loaded_w, got {self.idle_w} and {self.loaded_w}")


@dataclass(frozen=True)
class Transfer:
    """Where a part's latency and energy go from one GPU to another.

    Attributes:
        memory_share: Share of the part's roofline time in memory-bound operators on the source GPU (0..1).
        latency_ratio: Predicted target latency / source latency.
    """

    memory_share: float
    latency_ratio: float


def memory_share(ops: Iterable[Op], gpu: GpuSpec) -> float:
    """Share (0..1) of the roofline time of ``ops`` on ``gpu`` spent in memory-bound operators.

    Operators without bytes (counted on the meta device) are compute-bound by construction. Empty: 0.
    """
    compute = memory = 0.0
    for op in ops:
        regime = classify(op, gpu)
        if regime.bound == "memory":
            memory += regime.min_time_s
        else:
            compute += regime.min_time_s
    total = compute + memory
    return memory / total if total > 0 else 0.0


def transfer(
    ops: Iterable[Op], source: GpuSpec, target: GpuSpec, measured_memory_share: float = 0.0
) -> Transfer:
    """The latency ratio target/source of a part made of ``ops`` (roofline split on the source GPU).

    Args:
        ops: The part's analytic operators.
        source: Ceilings of the source GPU.
        target: Ceilings of the target GPU.
        measured_memory_share: Share (0..1) of the part's time in memory-bound kernels the operators do not
            model (normalisation, elementwise), measured on the source; 0 when unknown.
    """
    if not 0.0 <= measured_memory_share <= 1.0:
        raise ValueError(f"measured_memory_share must be in [0, 1], got {measured_memory_share}")
    m = measured_memory_share + (1.0 - measured_memory_share) * memory_share(ops, source)
    ratio = (1.0 - m) * source.peak_flops / target.peak_flops
    ratio += m * source.mem_bandwidth_bytes_per_s / target.mem_bandwidth_bytes_per_s
    return Transfer(memory_share=m, latency_ratio=ratio)


def power_on_target(power_w: float, source: BoardPower, target: BoardPower) -> float:
    """Mean power of a part on the target board from its mean power on the source board. Units: W."""
    load = (power_w - source.idle_w) / (source.loaded_w - source.idle_w)
    return target.idle_w + load * (target.loaded_w - target.idle_w)


def predict_part(
    latency_s: float,
    energy_j: float,
    ops: Iterable[Op],
    source: GpuSpec,
    target: GpuSpec,
    source_power: BoardPower,
    target_power: BoardPower,
    measured_memory_share: float = 0.0,
) -> tuple[float, float, Transfer]:
    """``(latency_s, energy_j, transfer)`` of a part on the target from its measurement on the source.

    Args:
        latency_s: Measured latency on the source. Units: s.
        energy_j: Measured GPU energy on the source over the same work. Units: J.
        ops: The part's operators (one execution of the measured work, or any multiple: only shares count).
        source: Ceilings of the source GPU.
        target: Ceilings of the target GPU.
        source_power: The source board's idle and loaded power.
        target_power: The target board's idle and loaded power.
        measured_memory_share: See :func:`transfer`.
    """
    if latency_s <= 0:
        raise ValueError(f"latency_s must be > 0, got {latency_s}")
    move = transfer(ops, source, target, measured_memory_share)
    t = latency_s * move.latency_ratio
    power = power_on_target(energy_j / latency_s, source_power, target_power)
    return t, power * t, move
