"""Packages other than Diffusers that differ between two versions' jobs: a step across them is confounded.

A history varies Diffusers, but a version's environment may bring other packages too (0.33.1's Wan pipeline
needs transformers 4.x, so its jobs import transformers 4.57.6 while the others import 5.17.0). A step between
two versions whose jobs imported different versions of any other package recorded in the provenance
(transformers, torch, CUDA, cuDNN, the measuring harness, ...) cannot be attributed to Diffusers alone.

Sources, from a version's merged file (:func:`t2v_energy_lib.versions.records.merge_version`): the merged
provenance's ``versions`` (every package of one of its runs) and ``history_runs`` (each run's transformers).
"""

from __future__ import annotations

from t2v_energy_lib.results.schema import ResultFile

#: Provenance keys that are not a package a step could be confounded with (the varied one).
VARIED = ("diffusers",)
#: Per-run keys of ``history_runs`` that name a package version.
RUN_PACKAGES = ("transformers",)


def package_versions(rf: ResultFile) -> dict[str, tuple[str, ...]]:
    """Per package (not Diffusers), the versions the jobs of one merged history file imported (sorted)."""
    seen: dict[str, set[str]] = {}
    for name, value in (rf.provenance.get("versions") or {}).items():
        if name not in VARIED and value is not None:
            seen.setdefault(name, set()).add(str(value))
    for run in rf.provenance.get("history_runs") or ():
        for name in RUN_PACKAGES:
            if run.get(name) is not None:
                seen.setdefault(name, set()).add(str(run[name]))
    return {name: tuple(sorted(values)) for name, values in sorted(seen.items())}


def also_changed(before: ResultFile, after: ResultFile) -> tuple[str, ...]:
    """``"transformers 4.57.6 -> 5.17.0"`` for every package whose versions differ between the two files.

    A package recorded on one side only is listed as ``"<name> 1.2 -> not recorded"`` (not ruled out).
    """
    a, b = package_versions(before), package_versions(after)
    out = []
    for name in sorted(set(a) | set(b)):
        va, vb = a.get(name), b.get(name)
        if va != vb:
            left = ", ".join(va) if va else "not recorded"
            right = ", ".join(vb) if vb else "not recorded"
            out.append(f"{name} {left} -> {right}")
    return tuple(out)


def confounder_note(changes: tuple[str, ...]) -> str | None:
    """The sentence a step's explanation carries when other packages changed too (None when none did)."""
    if not changes:
        return None
    return f"also changed: {'; '.join(changes)}: the step cannot be attributed to Diffusers alone"
