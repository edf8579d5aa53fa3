"""An attention backend whose package imports but whose kernels cannot run is not available, found before
any measurement: on the H200 xformers 0.0.35 passed Diffusers' requirement check and failed at the first
attention call of the video (its extensions were built for another torch and CUDA)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
attention_dispatch = pytest.importorskip("diffusers.models.attention_dispatch")

from t2v_energy_lib.bench.optimizations.levers import ApplyContext, unavailable_reason  # noqa: E402
from t2v_energy_lib.bench.optimizations.variants import attention_levers  # noqa: E402


def context() -> ApplyContext:
    pipe = SimpleNamespace(transformer=SimpleNamespace(dtype=torch.float32))
    return ApplyContext(pipe=pipe, family="wan", device="cpu", steps=2, default_steps=2, guidance_scale=5.0)


def test_a_backend_whose_kernels_run_here_may_be_measured() -> None:
    assert unavailable_reason(attention_levers(["_native_math"]), context()) is None


def test_a_backend_whose_kernels_fail_is_not_available_with_the_cause_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_operator(*args: object, **kwargs: object) -> None:
        raise NotImplementedError(
            "No operator found for `memory_efficient_attention_forward` with inputs:\n"
            " query: shape=(1, 64, 2, 64)\n"
            "`cutlassF-pt` is not supported because:\n xFormers wasn't build with CUDA support"
        )

    monkeypatch.setattr(attention_dispatch, "dispatch_attention_fn", no_operator)
    reason = unavailable_reason(attention_levers(["_native_math"]), context())
    assert reason is not None
    assert "NotImplementedError: No operator found for `memory_efficient_attention_forward`" in reason
    assert "\n" not in reason  # one line, the library's whole message (why each operator was refused)
    assert "`cutlassF-pt` is not supported because: xFormers wasn't build with CUDA support" in reason
    assert f"install a build made for torch {torch.__version__}" in reason


def test_flex_is_left_to_its_compiled_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attention_dispatch, "dispatch_attention_fn", lambda *a, **k: 1 / 0)
    ctx = context()
    reason = unavailable_reason(attention_levers(["flex"]), ctx)
    assert reason is not None and "torch.compile" in reason  # eager: the known reason, not the smoke call
    compiled = ApplyContext(**{**ctx.__dict__, "compiled": True})
    assert unavailable_reason(attention_levers(["flex"]), compiled) is None
