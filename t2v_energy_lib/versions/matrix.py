"""The Diffusers version matrix, declared once: each version, what it needs besides the runner, and why.

Torch (and, from Diffusers 0.35 on, transformers 5 and huggingface_hub 1) come from the runner. A version
that does not run with the runner's libraries names the wheels it needs instead; those go into its own
environment (a folder first on ``PYTHONPATH``, see :mod:`.env`), never into the runner's site-packages.

Verified on the CPU (torch 2.13, 2026-12-01): the Wan, CogVideoX and LTX-Video pipelines of every version
below import and the tiny Wan variant runs (0.36.0-0.40.0 need ``httpx``, which huggingface_hub 1 brings on
the runner). PyPI also has 0.34.0, 0.38.0 and 0.41.0; they are left out only to keep the wheelhouse that is
carried to the GPU small (adding one is one line here plus its wheel).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from t2v_energy_lib.errors import VersionEnvError

#: Wheels every version's environment gets (diffusers imports ``importlib_metadata``; the runner lacks it).
COMMON_WHEELS: tuple[str, ...] = ("importlib_metadata",)

#: Up to 0.36.x the Wan pipeline calls ``ftfy.fix_text`` unconditionally (0.37 guards it); the runner has no
#: ftfy, so these versions bring it (wcwidth 0.2.13 is ftfy's dependency, pure Python).
FTFY_WHEELS: tuple[str, ...] = ("ftfy==6.3.1", "wcwidth==0.2.13")
#: What Diffusers 0.33.x needs on a transformers-5 runner: transformers 4 with its hub and tokenizers
#: ranges (``huggingface-hub>=0.34,<1.0``, ``tokenizers>=0.22,<=0.23.0`` are checked when transformers is
#: imported) and requests for that hub.
TRANSFORMERS4_WHEELS: tuple[str, ...] = (
    "transformers==4.57.6",
    "huggingface_hub==0.36.2",
    "tokenizers==0.22.1",
    "requests==2.34.2",
    "urllib3==2.8.0",
    "idna==3.20",
    "charset_normalizer==3.5.3",
    "certifi==2026.10.19.post1",
)
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class VersionSpec:
    """One Diffusers release of the matrix.

    Attributes:
        diffusers: The release (``"0.33.1"``).
        transformers: Which transformers it runs with: ``"runner"`` (the runner's, 5.x) or a pin.
        wheels: Extra wheels (``name==version``) its environment needs besides diffusers and
            :data:`COMMON_WHEELS`; empty when the runner's libraries do.
        note: Why it needs them (what fails without).
    """

    diffusers: str
    transformers: str = "runner"
    wheels: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if not _VERSION.match(self.diffusers):
            raise VersionEnvError(f"diffusers version {self.diffusers!r} is not of the form X.Y.Z")

    @property
    def tox_env(self) -> str:
        """The tox environment of this version: ``gpu-diffusers0331`` for 0.33.1 (digits of the pin)."""
        return f"gpu-{self.factor}"

    @property
    def factor(self) -> str:
        """The tox factor: ``diffusers0331``."""
        return "diffusers" + self.diffusers.replace(".", "")

    @property
    def requirements(self) -> tuple[str, ...]:
        """Every pin of its environment: ``diffusers==X`` first, then the extra wheels."""
        return (f"diffusers=={self.diffusers}", *self.wheels)

    @property
    def key(self) -> tuple[int, int, int]:
        """Sort key (release order)."""
        major, minor, patch = (int(p) for p in self.diffusers.split("."))
        return (major, minor, patch)


MATRIX: tuple[VersionSpec, ...] = (
    VersionSpec(
        "0.33.1",
        transformers="4.57.6",
        wheels=TRANSFORMERS4_WHEELS + FTFY_WHEELS,
        note="its Wan pipeline imports FLAX_WEIGHTS_NAME from transformers.utils (gone in transformers 5)",
    ),
    VersionSpec("0.35.2", wheels=FTFY_WHEELS, note="its Wan pipeline calls ftfy.fix_text unconditionally"),
    VersionSpec("0.36.0", wheels=FTFY_WHEELS, note="its Wan pipeline calls ftfy.fix_text unconditionally"),
    VersionSpec("0.37.1"),
    VersionSpec("0.39.0"),
    VersionSpec("0.40.0"),
    VersionSpec("0.42.1"),
)


def get_version(version: str) -> VersionSpec:
    """The matrix entry of ``version``.

    Raises:
        VersionEnvError: Not in the matrix (the message lists the declared versions).
    """
    for spec in MATRIX:
        if spec.diffusers == version:
            return spec
    raise VersionEnvError(
        f"diffusers {version} is not in the version matrix ({', '.join(s.diffusers for s in MATRIX)}); "
        "declare it in t2v_energy_lib/versions/matrix.py and regenerate tox.ini "
        "(python -m t2v_energy_lib.versions.toxgen --write tox.ini)"
    )


def resolve(selection: str | Sequence[str] | None, *, keep_order: bool = False) -> tuple[VersionSpec, ...]:
    """Versions from ``"all"``/None, a list, or text like ``"0.33.1,0.37.1"`` or ``"0.35.2..0.40.0"``.

    A range ``A..B`` takes every matrix version from A to B inclusive (both must be declared). The result is
    in release order (``keep_order``: in the order written, ranges in release order), without duplicates.

    Raises:
        VersionEnvError: An unknown version, or a range whose end comes before its start.
    """
    if selection is None or (isinstance(selection, str) and selection.strip() in ("", "all")):
        return tuple(sorted(MATRIX, key=lambda s: s.key))
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    picked: dict[str, VersionSpec] = {}
    for item in (i.strip() for i in items if i.strip()):
        if ".." in item.replace("...", ".."):
            lo_text, hi_text = item.split("..", 1)
            lo, hi = get_version(lo_text.strip(" .")), get_version(hi_text.strip(" ."))
            if hi.key < lo.key:
                raise VersionEnvError(f"version range {item!r} ends before it starts; write OLD..NEW")
            for spec in MATRIX:
                if lo.key <= spec.key <= hi.key:
                    picked.setdefault(spec.diffusers, spec)
        else:
            spec = get_version(item)
            picked.setdefault(spec.diffusers, spec)
    if keep_order:
        return tuple(picked.values())
    return tuple(sorted(picked.values(), key=lambda s: s.key))
