"""Load components from a local weights directory (Diffusers layout), offline, once it fits the spec.

The directory holds one subfolder per component (``transformer/config.json``,
``scheduler/scheduler_config.json``, ``tokenizer/tokenizer_config.json``...), as ``pipeline.save_pretrained``
or a Hub snapshot lays it out. Nothing touches the network: every call uses
``local_files_only=True`` with ``HF_HUB_OFFLINE=1`` set for its duration.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from t2v_energy_lib.errors import WeightsMismatchError
from t2v_energy_lib.models.spec import ModelSpec

# Config keys that do not change the architecture (statistics, bookkeeping) and are not compared.
IGNORED_KEYS = frozenset(
    {
        "latents_mean",
        "tie_word_embeddings",  # encoder-only models have no LM head to tie
        "latents_std",
        "scaling_factor",
        "shift_factor",
        "force_upcast",
        "sample_size",
        "_name_or_path",
        "_class_name",
        "_diffusers_version",
        "transformers_version",
        "dtype",
        "torch_dtype",
        "architectures",
        "use_cache",
        "pad_token_id",
        "bos_token_id",
        "eos_token_id",
        "decoder_start_token_id",
        "dropout_rate",
        "model_max_length",
    }
)
_CONFIG_FILE = {"scheduler": "scheduler_config.json", "tokenizer": "tokenizer_config.json"}


# AnimateDiff: a saved AnimateDiffPipeline holds the merged UNetMotionModel in unet/ and no motion_adapter/.
@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Set ``HF_HUB_OFFLINE=1`` for the duration (restored after)."""
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


def _norm(value: Any) -> Any:
    return json.loads(json.dumps(value))  # tuples -> lists, so saved and shipped configs compare equal


def _read_config(spec: ModelSpec, root: Path, name: str) -> dict[str, Any]:
    kind = "tokenizer" if name.startswith("tokenizer") else name if name == "scheduler" else "model"
    path = root / name / _CONFIG_FILE.get(kind, "config.json")
    if not (root / name).is_dir():
        raise WeightsMismatchError(
            f"{spec.id}: component {name!r} is missing: no subfolder {root / name}. Expected the Diffusers "
            f"layout with one subfolder per component ({', '.join(spec.component_names)})."
        )
    if not path.is_file():
        raise WeightsMismatchError(f"{spec.id}: component {name!r} has no {path.name} in {root / name}.")
    return json.loads(path.read_text())


def _saved_class(saved: dict[str, Any], name: str) -> str | None:
    if name.startswith("tokenizer"):
        return saved.get("tokenizer_class")
    if "_class_name" in saved:
        return saved["_class_name"]
    return (saved.get("architectures") or [None])[0]


def check_component(spec: ModelSpec, root: Path, name: str) -> str:
    """Check one component subfolder against the spec; returns the class name found.

    Raises:
        WeightsMismatchError: missing subfolder or config, wrong class, or an architecture key that differs.
    """
    entry = spec.components[name]
    saved = _read_config(spec, root, name)
    found = _saved_class(saved, name)
    accepted = {entry["class"], *spec.model_family.alternative_classes.get(name, ())}
    if name.startswith("tokenizer"):
        accepted |= {c.removesuffix("Fast") for c in accepted} | {c + "Fast" for c in accepted}
    if found is not None and found not in accepted:
        raise WeightsMismatchError(
            f"{spec.id}: component {name!r} in {root / name} is a {found}, the spec needs {entry['class']}."
        )
    if name.startswith("tokenizer") or name == "scheduler" or found != entry["class"]:
        return found or entry["class"]
    for key, want in entry["config"].items():
        if key in IGNORED_KEYS or key not in saved:
            continue
        if _norm(saved[key]) != _norm(want):
            raise WeightsMismatchError(
                f"{spec.id}: component {name!r} in {root / name} has {key}={saved[key]!r}, the spec needs "
                f"{want!r}: these weights belong to a different model or variant."
            )
    return found


def load_component(spec: ModelSpec, root: Path, name: str, device: Any, dtype: Any) -> Any:
    """Load component ``name`` from ``root/name`` with ``from_pretrained(local_files_only=True)``."""
    import diffusers
    import transformers

    cls_name = check_component(spec, root, name)
    kwargs: dict[str, Any] = {"subfolder": name, "local_files_only": True}
    with offline():
        if name.startswith("tokenizer"):
            return getattr(transformers, cls_name).from_pretrained(root, **kwargs)
        if name == "scheduler":
            return getattr(diffusers, cls_name).from_pretrained(root, **kwargs)
        if hasattr(diffusers, cls_name):
            model = getattr(diffusers, cls_name).from_pretrained(root, torch_dtype=dtype, **kwargs)
        else:
            model = getattr(transformers, cls_name).from_pretrained(root, dtype=dtype, **kwargs)
    return model.to(device).eval()
