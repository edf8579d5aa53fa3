"""The context-parallel runner's CPU-testable parts, and a 2-process gloo smoke of its window and gather.

Diffusers' context parallelism itself needs CUDA and NCCL; it is not run here. Meter readings are synthetic.
"""

from __future__ import annotations

import datetime
import json
import time
import types
from pathlib import Path

import pytest

from t2v_energy_lib.errors import FitError, InvalidSettingsError, T2VEnergyError
from t2v_energy_lib.scaleout import context_parallel as cp
from t2v_energy_lib.scaleout.window import RankMeasurement, aggregate, gather_to_rank0, measure_window

ARGS = ["--model", "wan2.1-t2v-14b", "--mode", "ring", "--steps", "4", "--out", "x.json"]


def test_arguments_parse_into_a_frozen_config():
    config = cp.parse_args([*ARGS, "--rounds", "2", "--height", "480", "--anything"])
    assert (config.model, config.mode, config.steps, config.out) == ("wan2.1-t2v-14b", "ring", 4, "x.json")
    assert (config.rounds, config.height, config.width, config.anything) == (2, 480, None, True)
    assert config.attention_backend == "_native_cudnn"
    with pytest.raises(AttributeError):
        config.steps = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "argv",
    [
        ["--model", "m", "--mode", "tensor", "--steps", "1", "--out", "o"],
        ["--mode", "ring", "--steps", "1", "--out", "o"],
        ["--model", "m", "--mode", "ring", "--steps", "x", "--out", "o"],
    ],
)
def test_bad_command_lines_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cp.parse_args(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [["--steps", "0"], ["--rounds", "0"], ["--warmup-steps", "-1"]])
def test_out_of_range_counts_are_refused(extra):
    with pytest.raises(InvalidSettingsError):
        cp.parse_args([*ARGS, *extra])


def test_safe_nccl_environment_is_set_but_never_overridden():
    env: dict[str, str] = {}
    assert cp.apply_safe_env(env) == {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1"}
    env = {"NCCL_NVLS_ENABLE": "1"}
    assert cp.apply_safe_env(env)["NCCL_NVLS_ENABLE"] == "1"
    assert env["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == "1"


def test_cp_degrees_per_mode_and_they_build_a_real_config():
    from diffusers import ContextParallelConfig

    assert cp.cp_degrees("reference", 1) == {}
    assert cp.cp_degrees("ring", 4) == {"ring_degree": 4}
    assert cp.cp_degrees("ulysses", 2) == {"ulysses_degree": 2}
    for mode in ("ring", "ulysses"):
        config = ContextParallelConfig(**cp.cp_degrees(mode, 4))
        assert config.ring_degree * config.ulysses_degree == 4
    with pytest.raises(InvalidSettingsError, match="nproc-per-node 1"):
        cp.cp_degrees("reference", 2)
    with pytest.raises(InvalidSettingsError, match="mode reference"):
        cp.cp_degrees("ulysses", 1)


def test_uneven_splits_are_refused_unless_anything():
    cp.check_split("ulysses", 4, num_heads=40, tokens=32760, anything=False)  # Wan2.1-14B at 480x832x81
    with pytest.raises(InvalidSettingsError, match="12 attention heads"):
        cp.check_split("ulysses", 8, num_heads=12, tokens=32760, anything=False)
    cp.check_split("ring", 8, num_heads=12, tokens=32760, anything=False)
    with pytest.raises(InvalidSettingsError, match="tokens"):
        cp.check_split("ring", 3, num_heads=12, tokens=32761, anything=False)
    cp.check_split("ulysses", 8, num_heads=12, tokens=32761, anything=True)


def test_diffusers_version_gate(monkeypatch):
    import diffusers

    cp.check_diffusers_supports_cp()  # the installed 0.42.1 has it
    monkeypatch.setattr(diffusers, "__version__", "0.35.2")
    with pytest.raises(T2VEnergyError, match=r"0\.35\.2.*>= 0\.36"):
        cp.check_diffusers_supports_cp()


def test_parallel_mode_is_refused_for_a_denoiser_without_a_cp_plan():
    import diffusers

    from t2v_energy_lib.models import get_spec

    spec = get_spec("hunyuanvideo")
    assert getattr(diffusers, cp.denoiser_class_name(spec))._cp_plan is None  # the fact the refusal rests on
    for mode in ("ring", "ulysses"):
        with pytest.raises(InvalidSettingsError) as exc:
            cp.check_cp_plan(spec, mode)
        message = str(exc.value)
        assert "HunyuanVideoTransformer3DModel" in message
        assert f"diffusers {diffusers.__version__}" in message
        assert "--mode reference" in message and "Wan, LTX-Video" in message
    cp.check_cp_plan(spec, "reference")  # one GPU needs no plan


def test_parallel_mode_is_accepted_for_wan_which_has_a_cp_plan():
    import diffusers

    from t2v_energy_lib.models import get_spec

    spec = get_spec("wan2.1-t2v-14b")
    assert cp.denoiser_class_name(spec) == "WanTransformer3DModel"
    assert diffusers.WanTransformer3DModel._cp_plan
    for mode in cp.MODES:
        cp.check_cp_plan(spec, mode)


def test_cp_plan_check_reads_the_class_it_is_given():
    from t2v_energy_lib.models import get_spec

    class WithoutPlan:
        _cp_plan = None

    class WithPlan:
        _cp_plan = ("a plan",)

    spec = get_spec("wan2.1-t2v-14b")
    with pytest.raises(InvalidSettingsError, match="WithoutPlan"):
        cp.check_cp_plan(spec, "ring", transformer_class=WithoutPlan)
    cp.check_cp_plan(spec, "ring", transformer_class=WithPlan)
    with pytest.raises(InvalidSettingsError, match="tensor"):
        cp.check_cp_plan(spec, "tensor")


def test_runner_refuses_hunyuanvideo_before_building_anything(monkeypatch):
    import t2v_energy_lib.models as models
    import t2v_energy_lib.scaleout._cp_run as cp_run

    def no_build(*_args, **_kwargs):
        raise AssertionError("the pipeline was built before the refusal")

    monkeypatch.setattr(models, "build_pipeline", no_build)
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = cp.RunConfig(model="hunyuanvideo", mode="ring", steps=1, out="never-written.json", anything=True)
    with pytest.raises(InvalidSettingsError, match="HunyuanVideoTransformer3DModel"):
        cp_run.run(config)


def test_gpu_side_module_imports_without_cuda():
    import t2v_energy_lib.scaleout._cp_run as run

    assert callable(run.run)


def settings_for(world_size: int, mode: str) -> dict:
    return {
        "height": 480,
        "width": 832,
        "num_frames": 81,
        "guidance_scale": 5.0,
        "mode": mode,
        "world_size": world_size,
    }


def synthetic(rank: int, energy_j: float, duration_s: float, steps: tuple, above: float | None = 1.0):
    return RankMeasurement(
        rank=rank,
        device=f"GPU-synthetic-{rank}",
        duration_s=duration_s,
        gpu_energy_j=energy_j,
        gpu_energy_above_idle_j=above,
        step_end_s=steps,
    )


def test_record_sums_devices_and_divides_per_step():
    config = cp.parse_args([*ARGS[:-4], "--steps", "2", "--out", "o.json"])
    rounds = [
        [synthetic(0, 100.0, 2.0, (1.0, 2.0)), synthetic(1, 140.0, 2.1, (1.1, 2.05))],
        [synthetic(0, 120.0, 2.2, (1.2, 2.2)), synthetic(1, 100.0, 2.0, (1.0, 2.0))],
    ]
    record = cp.build_record(config, settings_for(2, "ring"), rounds, {"token_length": 32760})
    assert record.id == "scaleout/wan2.1-t2v-14b/480x832x81-g5/ring-n2/denoise_step"
    assert record.suite == "scaleout" and record.units_per_round == 2
    assert record.rounds["gpu_energy_j"] == pytest.approx((120.0, 110.0))  # (100+140)/2, (120+100)/2
    assert record.rounds["latency_s"] == pytest.approx((1.05, 1.1))  # longest rank's window / steps
    assert record.rounds["gpu_energy_above_idle_j"] == pytest.approx((1.0, 1.0))
    assert record.extra["per_device_gpu_energy_j"] == {
        "GPU-synthetic-0": pytest.approx([50.0, 60.0]),
        "GPU-synthetic-1": pytest.approx([70.0, 50.0]),
    }
    assert record.extra["step_latencies_s"][0] == pytest.approx([1.1, 1.0])
    assert record.extra["token_length"] == 32760


def test_record_without_idle_has_no_above_idle_round():
    config = cp.parse_args([*ARGS[:-4], "--steps", "1", "--out", "o.json"])
    rounds = [[synthetic(0, 10.0, 1.0, (1.0,), above=None), synthetic(1, 10.0, 1.0, (1.0,))]]
    record = cp.build_record(config, settings_for(2, "ring"), rounds)
    assert "gpu_energy_above_idle_j" not in record.rounds


def test_aggregate_refuses_an_inconsistent_window():
    with pytest.raises(FitError, match="missing"):
        aggregate([synthetic(0, 1.0, 1.0, (1.0,)), synthetic(2, 1.0, 1.0, (1.0,))])
    twin = RankMeasurement(1, "GPU-synthetic-0", 1.0, 1.0, None, (1.0,))
    with pytest.raises(FitError, match="same GPU"):
        aggregate([synthetic(0, 1.0, 1.0, (1.0,)), twin])
    with pytest.raises(FitError, match="different numbers of steps"):
        aggregate([synthetic(0, 1.0, 1.0, (1.0,)), synthetic(1, 1.0, 1.0, (0.5, 1.0))])
    with pytest.raises(FitError, match="no rank"):
        aggregate([])


class FakeMeter:
    """A meter of one device whose readings are synthetic: energy = 100 W x (rank + 1) x window seconds."""

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.start = 0.0

    def begin_window(self, key: str) -> None:
        self.start = time.perf_counter()

    def end_window(self, key: str):
        duration_s = time.perf_counter() - self.start
        energy_j = 100.0 * (self.rank + 1) * duration_s
        return types.SimpleNamespace(
            duration_s=duration_s,
            gpu_energy_j={0: energy_j},
            gpu_energy_above_idle_j={0: energy_j / 2},
            states={0: {"uuid": f"GPU-synthetic-{self.rank}", "temperature_c": 0}},
        )


STEP_S = (0.02, 0.15)  # rank 1 is the slow one


def _gloo_rank(rank: int, world_size: int, store: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group(
        "gloo",
        init_method=f"file://{store}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=60),
    )
    try:

        def work(mark_step):
            for _ in range(3):
                time.sleep(STEP_S[rank])
                mark_step()

        mine = measure_window(FakeMeter(rank), "round0", work, rank=rank, device_index=0, device_sync=None)
        gathered = gather_to_rank0(mine)
        if rank == 0:
            config = cp.parse_args(["--model", "synthetic", "--mode", "ring", "--steps", "3", "--out", out])
            record = cp.build_record(config, settings_for(world_size, "ring"), [gathered])
            per_rank = [{"duration_s": m.duration_s, "energy_j": m.gpu_energy_j} for m in gathered]
            Path(out).write_text(json.dumps({"record": record.to_dict(), "ranks": per_rank}))
        else:
            assert gathered is None
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_window_gathers_and_sums(tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "out.json"
    mp.spawn(_gloo_rank, args=(2, str(tmp_path / "store"), str(out)), nprocs=2, join=True)
    data = json.loads(out.read_text())
    record, ranks = data["record"], data["ranks"]
    slow_work_s = 3 * STEP_S[1]
    # synchronised window: the fast rank's window also covers its wait for the slow rank
    assert min(r["duration_s"] for r in ranks) >= 0.9 * slow_work_s
    total_j = sum(r["energy_j"] for r in ranks)
    assert record["rounds"]["gpu_energy_j"] == pytest.approx([total_j / 3])
    assert record["rounds"]["latency_s"] == pytest.approx([max(r["duration_s"] for r in ranks) / 3])
    assert set(record["extra"]["per_device_gpu_energy_j"]) == {"GPU-synthetic-0", "GPU-synthetic-1"}
    assert record["extra"]["devices"] == ["GPU-synthetic-0", "GPU-synthetic-1"]
    steps = record["extra"]["step_latencies_s"][0]
    assert len(steps) == 3 and all(s >= 0.9 * STEP_S[1] for s in steps)  # per step, the slow rank's
    assert record["machine_state"]["devices"]["GPU-synthetic-1"] == {
        "uuid": "GPU-synthetic-1",
        "temperature_c": 0,
    }
