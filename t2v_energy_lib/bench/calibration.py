"""Calibration of one GPU, measured in the same run as the suites: matmul ceiling, copy bandwidth, power.

Run it on a GPU machine, beside the characterisation, so that the claims compare the steps with ceilings of
the SAME GPU (uuid) measured on the SAME day::

    python -m t2v_energy_lib.bench.calibration OUT/calibration.json [--device 0] [--round-seconds 3]

What it measures, on one CUDA device, each in windows of the energy meter:

* idle power (one window of ``idle_s``, nothing running);
* the bf16 matmul ceiling: ``C = A @ B`` on ``n x n`` matrices (n = 8192) in a loop, ``rounds`` windows of at
  least ``round_s`` each; the achieved FLOP/s (2 n^3 per matmul) and the mean power of each window (loaded
  power). The claims take the best round as the GPU's dense bf16 rate;
* device-to-device copy bandwidth: ``dst.copy_(src)`` of a ``copy_mib`` MiB buffer in a loop, ``rounds``
  windows; bytes moved count the read and the write (2 x size per copy).

The result file (suite ``calibration``) has three records: ``calibration/idle/idle``
(``extra.mean_power_w``), ``calibration/matmul-bf16-<n>/matmul_ceiling`` (rounds ``latency_s``,
``gpu_energy_j``, ``achieved_flops_per_s``, ``gpu_power_w``; ``extra.mean_power_w`` = loaded power) and
``calibration/copy/copy`` (rounds ``latency_s``, ``gpu_energy_j``, ``copy_bytes_per_s``, ``gpu_power_w``): the
record ids and keys of the any-GPU calibration (issue 14), so either file is read by the ceiling readers
(``analysis.roofline.measured_ceilings`` and the cross-GPU calibration reader). Rates are timed by the loop
itself between two device synchronisations; energies come from the meter's windows, one per round. All floats
are raw.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from t2v_energy_lib.bench.reference import matmul_flops, write_json_atomic
from t2v_energy_lib.errors import GpuUnavailableError, T2VEnergyError

SUITE = "calibration"
#: Matmuls or copies queued between two host-side time checks.
CHUNK = 10


@dataclass(frozen=True)
class CalibrationConfig:
    """How long and how large the calibration runs.

    Attributes:
        matmul_n: Matrix size of the matmul loop.
        copy_mib: Size of the copied buffer. Units: MiB.
        rounds: Windows of each workload.
        round_s: Minimum length of one window. Units: s.
        idle_s: Length of the idle window. Units: s.
    """

    matmul_n: int = 8192
    copy_mib: int = 2048
    rounds: int = 3
    round_s: float = 3.0
    idle_s: float = 5.0


def timed_loop(step: Callable[[], None], seconds: float, sync: Callable[[], None]) -> tuple[int, float]:
    """Run ``step`` for at least ``seconds`` (checked every :data:`CHUNK` calls, after a sync).

    Returns:
        Calls completed and the seconds they took between the two synchronisations. Units: s.
    """
    sync()
    start = time.perf_counter()
    calls = 0
    while True:
        for _ in range(CHUNK):
            step()
        calls += CHUNK
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls, elapsed


def _window_rounds(
    meter: Any, key: str, device: int, rounds: int, run: Callable[[], tuple[float, float]], rate_key: str
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """``rounds`` meter windows of ``run() -> (work units, seconds)``; the rate is work / seconds."""
    out: dict[str, list[float]] = {"latency_s": [], "gpu_energy_j": [], rate_key: [], "gpu_power_w": []}
    state: dict[str, Any] = {}
    for i in range(rounds):
        with meter.window(f"{key}#{i}") as handle:
            work, seconds = run()
        w = handle.result
        out["latency_s"].append(seconds)
        out["gpu_energy_j"].append(float(w.gpu_energy_j[device]))
        out[rate_key].append(work / seconds)
        out["gpu_power_w"].append(float(w.mean_power_w[device]))
        states = getattr(w, "states", None) or {}
        state = states[device].to_dict() if device in states else state
    return out, state


def _record(model: str, component: str, settings: dict[str, Any], rounds: dict[str, list[float]],
            extra: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "id": f"{SUITE}/{model}/{component}",
        "suite": SUITE,
        "model": model,
        "component": component,
        "settings": settings,
        "rounds": rounds,
        "units_per_round": 1,
        "extra": extra,
        "machine_state": state,
    }


def _matmul_ceiling(
    meter: Any, device: int, torch_device: str, config: CalibrationConfig, sync: Callable[[], None]
) -> dict[str, Any]:
    import torch

    n = config.matmul_n
    a, b = (torch.randn(n, n, device=torch_device, dtype=torch.bfloat16) for _ in range(2))
    c = torch.empty(n, n, device=torch_device, dtype=torch.bfloat16)

    def step() -> None:
        torch.matmul(a, b, out=c)

    timed_loop(step, min(1.0, config.round_s), sync)  # warm-up: clocks up, cuBLAS heuristics

    def run() -> tuple[float, float]:
        calls, seconds = timed_loop(step, config.round_s, sync)
        return calls * matmul_flops(n), seconds

    rounds, state = _window_rounds(meter, "matmul", device, config.rounds, run, "achieved_flops_per_s")
    settings = {"n": n, "dtype": "bfloat16", "round_seconds": config.round_s, "device": device}
    loaded_w = sum(rounds["gpu_power_w"]) / config.rounds
    extra = {"flops_per_iteration": matmul_flops(n), "mean_power_w": loaded_w}
    return _record(f"matmul-bf16-{n}", "matmul_ceiling", settings, rounds, extra, state)


def _copy_bandwidth(
    meter: Any, device: int, torch_device: str, config: CalibrationConfig, sync: Callable[[], None]
) -> dict[str, Any]:
    import torch

    src = torch.ones(config.copy_mib * 2**20 // 2, device=torch_device, dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    size = src.numel() * src.element_size()

    def step() -> None:
        dst.copy_(src)

    def run() -> tuple[float, float]:
        calls, seconds = timed_loop(step, config.round_s, sync)
        return calls * 2.0 * size, seconds

    rounds, state = _window_rounds(meter, "copy", device, config.rounds, run, "copy_bytes_per_s")
    settings = {"bytes": size, "round_seconds": config.round_s, "device": device}
    extra = {"bytes_per_iteration": 2 * size}
    return _record("copy", "copy", settings, rounds, extra, state)


def calibrate(
    meter: Any, device: int, torch_device: str, config: CalibrationConfig, sync: Callable[[], None]
) -> list[dict[str, Any]]:
    """Measure idle power, the matmul ceiling and the copy bandwidth; the three records.

    Args:
        meter: An energy meter with ``measure_idle(seconds) -> {device: W}`` and ``window(key)``.
        device: The meter's device index.
        torch_device: Where the tensors live (``"cuda:0"``; ``"cpu"`` in tests).
        config: Sizes and lengths.
        sync: Waits for the device (``torch.cuda.synchronize``).
    """
    idle_w = float(meter.measure_idle(config.idle_s)[device])
    idle = _record(
        "idle",
        "idle",
        {"idle_seconds": config.idle_s, "device": device},
        {"latency_s": [config.idle_s], "gpu_energy_j": [idle_w * config.idle_s], "gpu_power_w": [idle_w]},
        {"idle_power_w": idle_w, "mean_power_w": idle_w},
        {},
    )
    records = [idle]
    for measure in (_matmul_ceiling, _copy_bandwidth):
        record = measure(meter, device, torch_device, config, sync)
        record["extra"]["idle_power_w"] = idle_w
        records.append(record)
    return records


def document(records: list[dict[str, Any]], provenance: dict[str, Any]) -> dict[str, Any]:
    """The result document of one calibration."""
    return {"schema": "t2v-energy.results", "schema_version": 1, "provenance": provenance, "records": records}


def run_calibration(
    out_path: str | Path, device: int = 0, config: CalibrationConfig | None = None
) -> dict[str, Any]:
    """Calibrate CUDA device ``device`` with the NVML meter; write and return the document.

    Raises:
        GpuUnavailableError: No CUDA device, or NVML unavailable.
    """
    import torch

    from t2v_energy_lib.energy.gpu_meter import GpuMeter
    from t2v_energy_lib.results import collect_provenance

    if not torch.cuda.is_available():
        raise GpuUnavailableError("torch.cuda is not available; the calibration needs a CUDA GPU")
    config = config or CalibrationConfig()
    meter = GpuMeter(devices=[device])
    try:
        records = calibrate(meter, device, f"cuda:{device}", config, lambda: torch.cuda.synchronize(device))
    finally:
        meter.close()
    provenance = collect_provenance(cuda_index=device, settings=asdict(config))
    provenance["tool"] = "t2v_energy_lib.bench.calibration"
    doc = document(records, provenance)
    write_json_atomic(out_path, doc)
    return doc


def summary(doc: dict[str, Any]) -> str:
    """One readable line of a calibration document."""
    idle, mm, cp = doc["records"]
    return (
        f"idle {idle['extra']['idle_power_w']:.1f} W; matmul ceiling "
        f"{max(mm['rounds']['achieved_flops_per_s']) / 1e12:.1f} TFLOP/s at "
        f"{max(mm['rounds']['gpu_power_w']):.0f} W; copy "
        f"{max(cp['rounds']['copy_bytes_per_s']) / 1e9:.0f} GB/s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m t2v_energy_lib.bench.calibration OUT.json``; prints a one-line summary."""
    parser = argparse.ArgumentParser(prog="python -m t2v_energy_lib.bench.calibration", description=__doc__)
    parser.add_argument("out", help="result JSON path")
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--round-seconds", type=float, default=CalibrationConfig.round_s)
    parser.add_argument("--rounds", type=int, default=CalibrationConfig.rounds)
    args = parser.parse_args(argv)
    config = CalibrationConfig(round_s=args.round_seconds, rounds=args.rounds)
    try:
        doc = run_calibration(args.out, args.device, config)
    except T2VEnergyError as exc:
        print(f"calibration failed: {exc}", file=sys.stderr)
        return 2
    print(f"{summary(doc)} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
