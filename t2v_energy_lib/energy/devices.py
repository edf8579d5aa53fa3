"""Map CUDA_VISIBLE_DEVICES to NVML device indices (a pure function, unit-tested without a GPU).

CUDA accepts, comma-separated: integer indices, full UUIDs (``GPU-8f3c...``) and unique UUID prefixes (with
or without the ``GPU-`` part). NVML enumerates every GPU by PCI bus id and ignores the variable, so the meter
needs this mapping to read the right devices.

Integer entries are taken as NVML (PCI bus) order, which matches CUDA's only when
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` or all GPUs are of one model (CUDA's default "fastest first" order then
coincides with bus order in practice). Use UUIDs where that matters.
"""

from __future__ import annotations

from collections.abc import Sequence

from t2v_energy_lib.errors import GpuUnavailableError


def _match_uuid(entry: str, uuids: Sequence[str]) -> int:
    if entry.upper().startswith("MIG-"):
        raise GpuUnavailableError(
            f"CUDA_VISIBLE_DEVICES entry {entry!r} names a MIG instance; NVML has no energy counter per MIG "
            "instance, so this meter measures whole GPUs only. Fix: list the parent GPU's index or UUID."
        )
    needle = entry.lower()
    if not needle.startswith("gpu-"):
        needle = "gpu-" + needle
    matches = [i for i, uuid in enumerate(uuids) if uuid.lower().startswith(needle)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(uuids) or "none"
    if not matches:
        raise GpuUnavailableError(
            f"CUDA_VISIBLE_DEVICES entry {entry!r} matches no GPU UUID (NVML sees: {known}). "
            "Fix: use an index or a UUID from `nvidia-smi -L`."
        )
    raise GpuUnavailableError(
        f"CUDA_VISIBLE_DEVICES entry {entry!r} is an ambiguous UUID prefix (matches {len(matches)} GPUs: "
        f"{known}). Fix: give a longer prefix."
    )


def _parse_entry(entry: str, uuids: Sequence[str]) -> int:
    if entry.lstrip("-").isdigit():
        index = int(entry)
        if 0 <= index < len(uuids):
            return index
        raise GpuUnavailableError(
            f"CUDA_VISIBLE_DEVICES entry {entry!r} is out of range: NVML sees {len(uuids)} GPU(s), "
            f"indices 0..{len(uuids) - 1}. Fix: list existing indices."
        )
    return _match_uuid(entry, uuids)


def resolve_visible_devices(cuda_visible_devices: str | None, nvml_uuids: Sequence[str]) -> list[int]:
    """NVML indices of the CUDA-visible devices, in CUDA order (CUDA index i -> result[i]).

    Args:
        cuda_visible_devices: The variable's value, or None when unset (all GPUs visible).
        nvml_uuids: UUIDs of all GPUs in NVML index order.

    Returns:
        NVML device indices; position = CUDA-visible index.

    Raises:
        GpuUnavailableError: No GPU visible (no GPUs, empty value, ``-1``), an entry out of range or
            matching no or several UUIDs, a MIG instance, or a device listed twice.
    """
    if cuda_visible_devices is None:
        if not nvml_uuids:
            raise GpuUnavailableError("NVML sees no GPU. Fix: run on a machine with an NVIDIA GPU.")
        return list(range(len(nvml_uuids)))
    entries = [e.strip() for e in cuda_visible_devices.split(",")]
    if entries in ([""], ["-1"]):
        raise GpuUnavailableError(
            f"CUDA_VISIBLE_DEVICES={cuda_visible_devices!r} hides every GPU. Fix: unset it or list a GPU."
        )
    if any(e == "" for e in entries):
        raise GpuUnavailableError(
            f"CUDA_VISIBLE_DEVICES={cuda_visible_devices!r} has an empty entry. Fix: remove stray commas."
        )
    indices = [_parse_entry(e, nvml_uuids) for e in entries]
    if len(set(indices)) != len(indices):
        raise GpuUnavailableError(
            f"CUDA_VISIBLE_DEVICES={cuda_visible_devices!r} lists a GPU twice (NVML indices {indices}); CUDA "
            "refuses that too. Fix: list each GPU once."
        )
    return indices
