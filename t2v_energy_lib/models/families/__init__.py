"""One module per model family; :func:`get_family` finds a family by its registry name.

Each module declares its shape rules and its :class:`~.base.ModelFamily` (denoiser summary, FLOP model,
build and weights quirks). ``ModelSpec.model_family`` returns the family of a spec.
"""

from __future__ import annotations

from t2v_energy_lib.errors import UnknownModelError
from t2v_energy_lib.models.families import animatediff, cogvideox, hunyuanvideo, ltx, mochi, wan
from t2v_energy_lib.models.families.base import ModelFamily

FAMILIES: dict[str, ModelFamily] = {
    module.FAMILY.name: module.FAMILY for module in (wan, cogvideox, ltx, mochi, hunyuanvideo, animatediff)
}


def get_family(name: str) -> ModelFamily:
    """The family registered as ``name``.

    Raises:
        UnknownModelError: No module declares that family (the message lists the known ones).
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownModelError(
            f"no model family {name!r}; known families: {', '.join(FAMILIES)}. A new family is one module "
            "in t2v_energy_lib/models/families/ listed in its __init__.py"
        ) from None


__all__ = ["FAMILIES", "ModelFamily", "get_family"]
