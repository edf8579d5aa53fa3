"""A GPU's ceilings in ~30 s: bf16 matmul FLOP/s, device copy bandwidth, idle and loaded board power.

Run it on a GPU machine (CUDA device 0 of ``CUDA_VISIBLE_DEVICES`` unless ``--device``)::

    python -m t2v_energy_lib.bench.calibrate OUT.json [--idle-seconds 8] [--matmul-seconds 10]
        [--copy-seconds 5] [--rounds 5] [--device 0]

In order: the energy counter's update period; idle power over one window (before any load, so the board is
not still warm); a 1 s matmul warm-up; ``rounds`` rounds of ``C = A @ B`` on bf16 ``8192 x 8192`` matrices
(the meter reference check's workload) inside ONE energy window of ``matmul_seconds`` (its mean power is the
loaded power; each round's throughput is kept); ``rounds`` rounds of a 1 GiB device-to-device copy
(``dst.copy_(src)``; 2 bytes moved per byte copied). Writes the ``t2v-energy.calibration`` file that
:class:`~t2v_energy_lib.theory.calibration.GpuCalibration` reads, atomically, with raw per-round values and
the provenance. NVML is touched only through the energy layer's :class:`GpuMeter`.

The matmul runs on random data: throughput on trained weights is the same for dense kernels; board power may
differ by a few percent with the data's bit patterns, which is one reason the loaded power is measured here
rather than taken from the datasheet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import GpuUnavailableError, T2VEnergyError
from t2v_energy_lib.theory.calibration import SCHEMA, SCHEMA_VERSION, GpuCalibration

MATMUL_N = 8192
COPY_BYTES = 1 << 30


def timed_rounds(
    step: Callable[[], None], sync: Callable[[], None], seconds: float, rounds: int
) -> list[tuple[int, float]]:
    """``rounds`` rounds of repeated ``step()``, each lasting about ``seconds / rounds``.

    Returns:
        ``(iterations, duration_s)`` per round, synchronised at both ends of each round. Units: s.
    """
    out = []
    per_round = seconds / rounds
    for _ in range(rounds):
        sync()
        start = time.perf_counter()
        iterations = 0
        while time.perf_counter() - start < per_round:
            for _ in range(10):
                step()
            iterations += 10
            sync()
        out.append((iterations, time.perf_counter() - start))
    return out


def build_document(
    matmul: Sequence[tuple[int, float]],
    copy: Sequence[tuple[int, float]],
    idle_power_w: float,
    loaded_power_w: float,
    provenance: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The calibration file's content from raw rounds (pure; validated by reading it back).

    Args:
        matmul: ``(iterations, seconds)`` per matmul round.
        copy: ``(iterations, seconds)`` per copy round.
        idle_power_w: Mean idle power. Units: W.
        loaded_power_w: Mean power over the matmul window. Units: W.
        provenance: Machine and software facts (``provenance["gpu"]`` names the GPU).
        settings: What was asked for (n, bytes, seconds, rounds, device).
    """
    n, nbytes = int(settings["matmul_n"]), int(settings["copy_bytes"])
    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "gpu": provenance.get("gpu"),
        "date_utc": provenance.get("date_utc"),
        "matmul_flops_per_s": [i * 2.0 * n**3 / s for i, s in matmul],
        "copy_bytes_per_s": [i * 2.0 * nbytes / s for i, s in copy],
        "idle_power_w": idle_power_w,
        "loaded_power_w": loaded_power_w,
        "matmul_n": n,
        "copy_bytes": nbytes,
        "rounds": {"matmul": [list(r) for r in matmul], "copy": [list(r) for r in copy]},
        "settings": settings,
        "provenance": provenance,
    }
    GpuCalibration.from_mapping(doc, source="calibration run")  # refuses an incoherent file before writing
    return doc


def run_calibration(
    out_path: str | Path,
    idle_seconds: float = 8.0,
    matmul_seconds: float = 10.0,
    copy_seconds: float = 5.0,
    rounds: int = 5,
    device: int = 0,
) -> dict[str, Any]:
    """Measure the ceilings on CUDA device ``device`` and write the calibration file; returns its content.

    Raises:
        GpuUnavailableError: torch has no CUDA device, or NVML is unavailable.
    """
    import torch

    from t2v_energy_lib.energy.gpu_meter import GpuMeter
    from t2v_energy_lib.results import collect_provenance
    from t2v_energy_lib.results.storage import atomic_write_text

    if not torch.cuda.is_available():
        raise GpuUnavailableError("torch.cuda is not available; the calibration needs a CUDA GPU")
    dev = torch.device("cuda", device)
    a = torch.randn(MATMUL_N, MATMUL_N, device=dev, dtype=torch.bfloat16)
    b = torch.randn(MATMUL_N, MATMUL_N, device=dev, dtype=torch.bfloat16)
    c = torch.empty(MATMUL_N, MATMUL_N, device=dev, dtype=torch.bfloat16)
    src = torch.empty(COPY_BYTES, device=dev, dtype=torch.uint8).random_(0, 255)
    dst = torch.empty_like(src)

    def sync() -> None:
        torch.cuda.synchronize(dev)

    sync()
    meter = GpuMeter(devices=[device])
    try:
        meter.measure_counter_period()
        idle = meter.measure_idle(idle_seconds)[device]
        timed_rounds(lambda: torch.matmul(a, b, out=c), sync, 1.0, 1)  # warm-up: cuBLAS choice, clocks up
        with meter.window("matmul") as handle:
            matmul = timed_rounds(lambda: torch.matmul(a, b, out=c), sync, matmul_seconds, rounds)
        assert handle.result is not None
        loaded = handle.result.mean_power_w[device]
        copy = timed_rounds(lambda: dst.copy_(src), sync, copy_seconds, rounds)
        settings = {
            "matmul_n": MATMUL_N,
            "copy_bytes": COPY_BYTES,
            "idle_seconds": idle_seconds,
            "matmul_seconds": matmul_seconds,
            "copy_seconds": copy_seconds,
            "rounds": rounds,
            "device": device,
        }
        provenance = collect_provenance(device_index=meter.nvml_indices[device], settings=settings)
        provenance["tool"] = "t2v_energy_lib.bench.calibrate"
        provenance["matmul_window_gpu_state"] = handle.result.states[device].to_dict()
        doc = build_document(matmul, copy, idle, loaded, provenance, settings)
    finally:
        meter.close()
    atomic_write_text(Path(out_path), json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m t2v_energy_lib.bench.calibrate OUT.json``; prints a one-line summary."""
    parser = argparse.ArgumentParser(prog="python -m t2v_energy_lib.bench.calibrate", description=__doc__)
    parser.add_argument("out", help="calibration JSON path")
    parser.add_argument("--idle-seconds", type=float, default=8.0)
    parser.add_argument("--matmul-seconds", type=float, default=10.0)
    parser.add_argument("--copy-seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        doc = run_calibration(
            args.out, args.idle_seconds, args.matmul_seconds, args.copy_seconds, args.rounds, args.device
        )
    except T2VEnergyError as exc:
        print(f"calibration failed: {exc}", file=sys.stderr)
        return 2
    cal = GpuCalibration.from_mapping(doc, source=args.out)
    print(
        f"{cal.gpu_name}: matmul {cal.peak_matmul_flops_per_s / 1e12:.1f} TFLOP/s (best of "
        f"{len(cal.matmul_flops_per_s)}), copy {(cal.peak_copy_bytes_per_s or 0) / 1e12:.3f} TB/s, idle "
        f"{cal.idle_power_w:.1f} W, loaded {cal.loaded_power_w:.1f} W -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
