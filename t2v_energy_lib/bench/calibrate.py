"""A GPU's ceilings in ~30 s: bf16 matmul FLOP/s, device copy bandwidth, idle and loaded board power.

Run it on a GPU machine (CUDA device 0 of ``CUDA_VISIBLE_DEVICES`` unless ``--device``)::

    python -m t2v_energy_lib.bench.calibrate OUT.json [--idle-seconds 8] [--matmul-seconds 10]
        [--copy-seconds 5] [--rounds 5] [--device 0]

In order: the energy counter's update period; idle power over one window (before any load, so the board is
not still warm); a 1 s matmul warm-up; ``rounds`` rounds of ``C = A @ B`` on bf16 ``8192 x 8192`` matrices
(the meter reference check's workload) inside ONE energy window of ``matmul_seconds`` (its mean power is the
loaded power; each round's throughput is kept); ``rounds`` rounds of a 1 GiB device-to-device copy
(``dst.copy_(src)``; 2 bytes moved per byte copied). Writes a t2v-energy result file (suite ``calibration``,
see :func:`build_document`) that :class:`~t2v_energy_lib.theory.calibration.GpuCalibration` reads and that
may sit in a baseline folder beside the sweeps, atomically, with raw per-round values and the provenance.
NVML is touched only through the energy layer's :class:`GpuMeter`.

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
from t2v_energy_lib.theory.calibration import GpuCalibration

SUITE = "calibration"
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
    idle: tuple[float, float],
    loaded: tuple[float, float],
    provenance: dict[str, Any],
    settings: dict[str, Any],
    machine_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The calibration as a t2v-energy result file (pure; validated by reading it back).

    Records (suite ``calibration``): ``calibration/matmul-bf16-<n>/matmul_ceiling`` (rounds ``latency_s`` and
    ``achieved_flops_per_s`` per round; ``extra.mean_power_w`` = loaded power over the matmul window),
    ``calibration/copy/copy`` (rounds ``latency_s``, ``copy_bytes_per_s``) and ``calibration/idle/idle``
    (rounds ``latency_s``, ``gpu_energy_j``; ``extra.mean_power_w``). A result file can sit in a baseline
    folder beside the sweeps (``load_results`` reads it) and carries the measured matmul ceiling there.

    Args:
        matmul: ``(iterations, seconds)`` per matmul round.
        copy: ``(iterations, seconds)`` per copy round.
        idle: ``(seconds, joules)`` of the idle window.
        loaded: ``(seconds, joules)`` of the matmul window (all matmul rounds).
        provenance: Machine and software facts (``provenance["gpu"]`` names the GPU).
        settings: What was asked for (``matmul_n``, ``copy_bytes``, seconds, rounds, device).
        machine_state: GPU state over the matmul window (uuid, clocks, throttle reasons).
    """
    from t2v_energy_lib.results.schema import ResultFile, ResultRecord

    n, nbytes = int(settings["matmul_n"]), int(settings["copy_bytes"])
    state = dict(machine_state or {})

    def record(model: str, component: str, rounds: dict[str, Any], extra: dict[str, Any]) -> ResultRecord:
        rid, kept = f"{SUITE}/{model}/{component}", state if component != "idle" else {}
        return ResultRecord(rid, SUITE, model, component, dict(settings), rounds, 1, extra, kept)

    mm_rounds = {
        "latency_s": [s for _, s in matmul],
        "achieved_flops_per_s": [i * 2.0 * n**3 / s for i, s in matmul],
    }
    mm_extra = {
        "iterations": [i for i, _ in matmul],
        "flops_per_iteration": 2.0 * n**3,
        "mean_power_w": loaded[1] / loaded[0],
        "window_s": loaded[0],
        "window_gpu_energy_j": loaded[1],
    }
    copy_rounds = {
        "latency_s": [s for _, s in copy],
        "copy_bytes_per_s": [i * 2.0 * nbytes / s for i, s in copy],
    }
    copy_extra = {"iterations": [i for i, _ in copy], "bytes_per_iteration": 2.0 * nbytes}
    records = (
        record(f"matmul-bf16-{n}", "matmul_ceiling", mm_rounds, mm_extra),
        record("copy", "copy", copy_rounds, copy_extra),
        record(
            "idle",
            "idle",
            {"latency_s": [idle[0]], "gpu_energy_j": [idle[1]]},
            {"mean_power_w": idle[1] / idle[0]},
        ),
    )
    doc = ResultFile(provenance=provenance, records=records).to_dict()
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
        meter.measure_idle(idle_seconds)
        idle_window = meter.idle_window
        timed_rounds(lambda: torch.matmul(a, b, out=c), sync, 1.0, 1)  # warm-up: cuBLAS choice, clocks up
        with meter.window("matmul") as handle:
            matmul = timed_rounds(lambda: torch.matmul(a, b, out=c), sync, matmul_seconds, rounds)
        if idle_window is None or handle.result is None:
            raise RuntimeError("the meter returned no idle or matmul window; this is a bug in GpuMeter")
        window = handle.result
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
        doc = build_document(
            matmul,
            copy,
            (idle_window.duration_s, idle_window.gpu_energy_j[device]),
            (window.duration_s, window.gpu_energy_j[device]),
            provenance,
            settings,
            window.states[device].to_dict(),
        )
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
