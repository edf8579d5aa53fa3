"""Compiled flex attention runs without ever calling flex eagerly, and an interrupted variant is recorded.

Flex attention has fused kernels only under ``torch.compile``; eager, it materialises the l x l scores. On
the H200 the counting generation before compiling ran it eagerly and failed out of memory (47.98 GiB asked,
Wan2.1-1.3B at 480p): here an eager call of flex fails on purpose, so a variant that calls it eagerly fails.
Tiny Wan on the CPU, compiled with the eager backend: code paths, not measurements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tiny_optimize import tiny_optimize  # noqa: E402  (tests/ is on sys.path)

from t2v_energy_lib.bench.optimizations.engagement import flex_compiled  # noqa: E402
from t2v_energy_lib.results.storage import load_results  # noqa: E402

WAN = "wan2.1-t2v-1.3b"


def optimize(out: Path, variants: tuple[str, ...]) -> dict[str, Any]:
    return tiny_optimize(out, WAN, variants, steps=2)


@pytest.fixture
def eager_flex_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """flex_attention raises out of memory unless Dynamo is tracing it (a compiled call)."""
    import torch.nn.attention.flex_attention as flex_module

    real = flex_module.flex_attention

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not torch.compiler.is_compiling():
            raise torch.OutOfMemoryError("eager flex_attention materialised the scores")
        return real(*args, **kwargs)

    monkeypatch.setattr(flex_module, "flex_attention", guarded)


def test_compiled_flex_is_counted_and_measured_without_an_eager_call(
    tmp_path: Path, eager_flex_fails: None
) -> None:
    records = optimize(tmp_path, ("attention:flex+compile",))
    flex = records["attention:flex+compile"]
    assert flex.component == "end_to_end", flex.extra.get("reason")
    engagement = flex.extra["engagement"]
    assert engagement["attention:flex"]["activity"]["dispatched_calls"] > 0
    assert engagement["compile"]["activity"]["compiled_regions"] > 0
    counted_in = flex.extra["counted_in"]
    assert "2-step" in counted_in and "flex_attention compiled alone" in counted_in


def test_flex_compiled_restores_the_function() -> None:
    import torch.nn.attention.flex_attention as flex_module

    original = flex_module.flex_attention
    with flex_compiled({"backend": "eager", "fullgraph": True}):
        assert flex_module.flex_attention is not original
    assert flex_module.flex_attention is original


def test_an_interrupted_variant_is_recorded_with_how_long_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call's time limit stops the process with SIGINT: the variant running then is recorded
    ``not_reached`` with its elapsed seconds (a lower bound of its cost), the measured ones stay."""
    from t2v_energy_lib.bench.optimizations import variant_run

    calls = {"n": 0}
    real_setup = variant_run.VariantRun.setup

    def setup(self: Any) -> None:
        if self.variant.name == "steps:half":
            raise KeyboardInterrupt
        calls["n"] += 1
        real_setup(self)

    monkeypatch.setattr(variant_run.VariantRun, "setup", setup)
    with pytest.raises(KeyboardInterrupt):
        optimize(tmp_path, ("cfg_batch", "steps:half", "vae:tiling"))
    records = {r.extra["variant"]["name"]: r for r in load_results(tmp_path / "optimizations.json").records}
    assert records["default"].component == records["cfg_batch"].component == "end_to_end"
    half = records["steps:half"]
    assert half.component == "not_measured" and half.extra["status"] == "not_reached"
    assert half.extra["interrupted"] and half.extra["failed_component"] == "setup"
    assert half.extra["reason"].startswith("interrupted after ") and "in its setup" in half.extra["reason"]
    assert "vae:tiling" not in records and calls["n"] == 2
