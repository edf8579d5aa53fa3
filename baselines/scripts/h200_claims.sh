#!/usr/bin/env bash
# One NVIDIA H200, <= 8 minutes: what the falsifiable claims need (issue 20), all on the SAME GPU in one run.
#   1. calibration (bench/calibrate.py): bf16 matmul ceiling, copy bandwidth, idle and loaded power (~40 s)
#   2. independent step-count runs of Wan2.1-T2V-1.3B at 480x832x81: S = 2, 5, 10, 20, 3 separate complete
#      denoising loops each (not prefixes of one run), round by round in alternating order        (~3.5 min)
#   3. the random-weights caveat: the Wan2.1-1.3B transformer at 480x832x81, one forward, weights and inputs
#      drawn 8 ways (builder, trained-like N(0,0.02^2), x4, x1/4, 90% sparse, zero blocks, zero / x10
#      latents), energy and latency per forward                                                     (~2 min)
# Results (t2v-energy result files) go to $OUT/results/ as calibration.json, steps_independent.json (suite
# 'steps', 'denoise_run' records) and weights_study.json; copy the three into baselines/nvidia-h200/0.42.1/
# (beside the folder's steps.json, which they do not replace). Logs in $OUT/logs/.
# Usage (repo root; diffusers wheel installed into /tmp/site):
#   OUT=<folder> PYTHONPATH=/tmp/site:$PWD T2V_ENERGY_GIT_COMMIT=<sha> bash baselines/scripts/h200_claims.sh
set -u
OUT=${OUT:?set OUT to the output folder}
R="$OUT/results"; L="$OUT/logs"; mkdir -p "$R" "$L"
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
run() {  # run <seconds> <log> <command...>: SIGINT at the limit (result writers keep what finished)
    local secs=$1 log=$2; shift 2
    timeout -s INT -k 15 "$secs" "$@" >>"$L/$log" 2>&1
    echo "exit $? after $SECONDS s: $*" >>"$L/$log"
}
nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version,clocks.max.sm,persistence_mode \
    --format=csv >"$L/nvidia-smi.csv" 2>&1
run 80 calibration.log python3 -m t2v_energy_lib.bench.calibrate "$R/calibration.json"
run 260 steps_runs.log python3 -m t2v_energy_lib.bench.steps_runs "$R" --model wan2.1-t2v-1.3b \
    --size 480x832x81 --steps 2,5,10,20 --rounds 3 --device cuda
run 140 weights_study.log python3 -m t2v_energy_lib.bench.weights_study "$R" --model wan2.1-t2v-1.3b \
    --size 480x832x81 --rounds 3 --forwards 4 --device cuda
echo "total $SECONDS s" >>"$L/calibration.log"
ls -la "$R"; tail -n 3 "$L"/*.log
