"""What a committed baseline folder must hold: its ``required.toml`` manifest, and what is missing from it.

Each baseline folder (``baselines/<gpu-slug>/<version>/``) of the repository carries a ``required.toml``::

    claims = ["quadratic_in_pixels", "linear_in_steps"]   # claims judged on this folder

    [suites.resolution]
    component = "denoiser_step"      # the records counted (measured ones: not estimated, not composed)
    min_points = 13                  # per model
    models = ["wan2.1-t2v-1.3b"]

    [expected_failures]              # claims that do not hold (or cannot be decided) here, and why
    linear_in_steps = "prefixes of one traced run: not independently measured"

    [model_exceptions]               # per-model claims (cross-model suite): models that do not satisfy them
    matmul_attention_dominate = ["animatediff", "mochi-1-preview"]

A suite deleted or thinned, or a model missing, is then a failure listing what is missing, never a skip. The
manifest is TOML (not JSON) so that loading a folder's ``*.json`` result files never reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from t2v_energy_lib.errors import BaselineFormatError

MANIFEST_NAME = "required.toml"


@dataclass(frozen=True)
class SuiteRequirement:
    """The records one suite must hold in a baseline folder.

    Attributes:
        suite: Suite name (``resolution``, ``frames``, ``steps``, ``validation``, ``cross_model``...).
        component: The component counted (measured records only).
        min_points: Fewest measured records of ``component`` per model.
        models: Models that must each have ``min_points`` records (empty: any model, counted together).
    """

    suite: str
    component: str
    min_points: int
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequiredData:
    """A baseline folder's manifest (see the module docstring).

    Attributes:
        path: The manifest file.
        suites: Suite name -> requirement.
        claims: Claims judged on this folder (each must hold unless listed in ``expected_failures``).
        expected_failures: Claim name -> why it does not hold or cannot be decided on this folder.
        model_exceptions: Per-model claim name -> models whose measured figure does not satisfy it here
            (their per-model tests are strict expected failures; the reason carries the measured figure).
    """

    path: Path
    suites: Mapping[str, SuiteRequirement]
    claims: tuple[str, ...]
    expected_failures: Mapping[str, str] = field(default_factory=dict)
    model_exceptions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _suite(name: str, raw: Mapping[str, Any], path: Path) -> SuiteRequirement:
    try:
        return SuiteRequirement(
            suite=name,
            component=str(raw["component"]),
            min_points=int(raw.get("min_points", 1)),
            models=tuple(str(m) for m in raw.get("models", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BaselineFormatError(
            f"{path}: [suites.{name}] needs 'component' (and an integer 'min_points'): {exc}"
        ) from exc


def load_required(folder: str | Path) -> RequiredData | None:
    """The folder's ``required.toml``, or None when it has none.

    Raises:
        BaselineFormatError: The manifest is not valid TOML, names an unknown claim or lacks a component.
    """
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BaselineFormatError(f"{path}: not valid TOML ({exc}); fix the manifest") from exc
    suites = {name: _suite(name, spec, path) for name, spec in (raw.get("suites") or {}).items()}
    claims = tuple(str(c) for c in raw.get("claims", ()))
    expected = {str(k): str(v) for k, v in (raw.get("expected_failures") or {}).items()}
    exceptions = {str(k): tuple(str(m) for m in v) for k, v in (raw.get("model_exceptions") or {}).items()}
    from t2v_energy_lib.analysis.claims import CLAIMS

    unknown = sorted((set(claims) | set(expected) | set(exceptions)) - set(CLAIMS))
    if unknown:
        raise BaselineFormatError(f"{path}: unknown claim(s) {unknown}; known: {sorted(CLAIMS)}")
    return RequiredData(path, suites, claims, expected, exceptions)


def _measured(record: Any) -> bool:
    extra = record.extra or {}
    return not extra.get("estimated", False) and not extra.get("composed", False)


def missing_data(results: Any, required: RequiredData) -> list[str]:
    """What the results lack against the manifest, one readable line each (empty: nothing missing).

    Args:
        results: The folder's loaded ``ResultFile``.
        required: Its manifest.
    """
    missing = []
    for req in required.suites.values():
        records = [r for r in results.select(suite=req.suite, component=req.component) if _measured(r)]
        if not records:
            missing.append(f"suite '{req.suite}': no measured '{req.component}' records (file deleted?)")
            continue
        groups = {m: [r for r in records if r.model == m] for m in req.models} or {"(all models)": records}
        for model, found in groups.items():
            if len(found) < req.min_points:
                missing.append(
                    f"suite '{req.suite}', {model}: {len(found)} measured '{req.component}' records, "
                    f"the manifest requires {req.min_points}"
                )
    return missing


def baseline_folders(root: str | Path) -> list[Path]:
    """Folders under ``root`` holding result files or a manifest (a manifest whose results were all deleted
    still names a folder to check)."""
    from t2v_energy_lib.results import find_baseline_folders

    root = Path(root)
    with_manifest = {p.parent for p in root.rglob(MANIFEST_NAME)} if root.is_dir() else set()
    return sorted(set(find_baseline_folders(root)) | with_manifest)
