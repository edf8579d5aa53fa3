"""Which GPUs a record was measured on, from its ``machine_state``.

A figure composed from, or divided by, records of two different GPUs mixes chips that differ by a few percent
in power at the same work; callers use :func:`on_other_gpus` to refuse that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def gpu_uuids(record: Any) -> set[str]:
    """UUIDs of the GPUs whose state a record's machine state holds (``uuid`` of each device entry; a merge's
    ``gpu_uuid`` annotation, which describes the worker file, is not one). Empty when none is recorded or
    ``record`` is None."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            uuid = node.get("uuid")
            if isinstance(uuid, str):
                found.add(uuid)
            for value in node.values():
                walk(value)

    if record is not None:
        walk(record.machine_state or {})
    return found


def on_other_gpus(a: Any, b: Any) -> bool:
    """True when both records name the GPUs they ran on and share none of them.

    Records that name no GPU (CPU runs, composed records) are taken to come from the same machine; a missing
    record (None) names none.
    """
    gpus_a, gpus_b = gpu_uuids(a), gpu_uuids(b)
    return bool(gpus_a and gpus_b and not gpus_a & gpus_b)
