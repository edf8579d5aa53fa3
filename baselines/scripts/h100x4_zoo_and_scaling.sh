#!/usr/bin/env bash
# One device call on a 4-GPU H100 host (2026-11-27): four independent single-GPU jobs, one per GPU, in parallel.
# Each job sees only its own GPU (CUDA_VISIBLE_DEVICES) and NVML handle; energy is per device, so the jobs do
# not share a measurement. Usage (from the repo root, diffusers wheels installed on PYTHONPATH):
#   OUT=<folder> bash baselines/scripts/h100x4_zoo_and_scaling.sh
set -u
R=/tmp/r; L=/tmp/logs; mkdir -p "$R"/g0 "$R"/g1 "$R"/g2 "$R"/g3 "$L"
LIMIT=${LIMIT:-540}
CHAR="python3 -m t2v_energy_lib characterize --device cuda --quick --no-report --resume"
job() {  # job <gpu> <seconds> <log> <command...>: SIGINT at the limit (the writer keeps finished points)
    local gpu=$1 secs=$2 log=$3; shift 3
    CUDA_VISIBLE_DEVICES=$gpu timeout -s INT -k 15 "$secs" "$@" >>"$L/$log" 2>&1
    echo "exit $? after $SECONDS s: $*" >>"$L/$log"
}
start=$SECONDS
(   # GPU 0: Wan2.1-14B defaults, then the study's LTX / Mochi settings, then Wan2.1-14B at 720p
    job 0 $LIMIT g0.log $CHAR --suites cross_model --points 2,8,10,3 --out "$R/g0"
) &
(   # GPU 1: HunyuanVideo defaults (720x1280x129, ~119k tokens) alone
    job 1 $LIMIT g1.log $CHAR --suites cross_model --points 12 --out "$R/g1"
) &
(   # GPU 2: Wan2.2-TI2V-5B, CogVideoX-5b, LTX-Video, Mochi defaults
    job 2 $LIMIT g2.log $CHAR --suites cross_model --points 4,6,7,9 --out "$R/g2"
) &
(   # GPU 3: scaling points left from the last session, then the pytest -m h100 path (one process)
    job 3 200 g3.log $CHAR --suites resolution --points 12 --out "$R/g3"
    job 3 120 g3.log $CHAR --suites frames --points 13-16 --out "$R/g3"
    left=$(( LIMIT - (SECONDS - start) - 5 ))
    [ -z "${SKIP_PYTEST:-}" ] && [ "$left" -gt 60 ] && job 3 "$left" g3-pytest.log python3 -m pytest -p pytest_t2v_energy.plugin \
        -p no:cacheprovider -m h100 --require-gpu tests/gpu \
        -k "(resolution_denoiser_step and (256x256 or 480x832)) or (frames_denoiser_step and 480x832x17) or steps_per_step_trace or (cross_model and animatediff)" \
        --energy-results "$R/g3/pytest_energy.json" --benchmark-json "$R/g3/pytest_benchmark.json" --energy-idle-seconds 5
) &
wait
nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version --format=csv >"$L/nvidia-smi.csv" 2>&1
tar czf "$OUT/logs.tgz" -C /tmp logs

tar czf "$OUT/results.tgz" -C "$R" .
ls -la "$OUT"; tail -n 6 "$L"/*.log
