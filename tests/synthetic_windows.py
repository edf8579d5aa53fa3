"""SYNTHETIC energy-layer windows for the runners' tests: what a meter's ``end_window`` returns, made up.

Nothing here is a measurement: energies are whatever the test passes (usually a made-up power x duration).
"""

from __future__ import annotations

from t2v_energy_lib.energy import GpuWindow, HostWindow, Measurement


def synthetic_window(
    key: str, duration_s: float, gpu_j: float | None = None, above_idle_j: float | None = None
) -> Measurement:
    """A window of ``duration_s`` with GPU energy ``gpu_j`` on device 0 (none when None) and no host energy
    measured (0 J, flagged estimated). Units: s, J."""
    host = HostWindow(
        duration_s=duration_s,
        cpu_energy_j=0.0,
        ram_energy_j=0.0,
        estimated=True,
        method="synthetic (test)",
        cpu_estimated=True,
    )
    if gpu_j is None:
        return Measurement(key=key, duration_s=duration_s, gpu=None, host=host)
    gpu = GpuWindow(
        key=key,
        start_unix_s=0.0,
        duration_s=duration_s,
        gpu_energy_j={0: gpu_j},
        gpu_energy_above_idle_j=None if above_idle_j is None else {0: above_idle_j},
        mean_power_w={0: gpu_j / duration_s if duration_s > 0 else 0.0},
        source="counter",
        short_window=False,
        states={},
    )
    return Measurement(key=key, duration_s=duration_s, gpu=gpu, host=host)
