#!/usr/bin/env bash
# One device call on a 4-GPU H100 host (2026-11-27): the runs left half-way by the previous call (their files
# carried in .runs/ and resumed), then Diffusers context parallelism for Wan2.1-T2V-14B on 1, 2 and 4 GPUs.
# Phase 1 runs independent jobs side by side, each on its own GPUs; phase 2 takes all four GPUs.
#   OUT=<folder> bash baselines/scripts/h100x4_scaleout.sh
set -u
R=/tmp/r; L=/tmp/logs; mkdir -p "$R" "$L"; cp -r .runs/. "$R/" 2>/dev/null
CHAR="python3 -m t2v_energy_lib characterize --device cuda --quick --no-report --resume"
CP="-m t2v_energy_lib.scaleout.context_parallel --model wan2.1-t2v-14b --steps ${STEPS:-3} --idle-s 3"
job() {  # job <gpus> <seconds> <log> <command...>
    local gpus=$1 secs=$2 log=$3; shift 3
    CUDA_VISIBLE_DEVICES=$gpus timeout -s INT -k 15 "$secs" "$@" >>"$L/$log" 2>&1
    echo "exit $? after $SECONDS s: $*" >>"$L/$log"
}
(   job 0 200 g0.log $CHAR --suites resolution --points 12 --out "$R/g3"
    job 0 150 cp.log torchrun --nproc-per-node 1 --master-port 29501 $CP --mode reference --out "$R/cp1.json"
) &
(   job 1 330 g1.log $CHAR --suites cross_model --points 12 --out "$R/g1" ) &
(   job 2,3 120 cp2.log torchrun --nproc-per-node 2 --master-port 29502 $CP --mode ring --out "$R/cp2.json"
    job 2,3 120 cp2.log torchrun --nproc-per-node 2 --master-port 29502 $CP --mode ulysses --out "$R/cp2.json"
) &
wait
job 0,1,2,3 100 cp4.log torchrun --nproc-per-node 4 --master-port 29504 $CP --mode ring --out "$R/cp4.json"
job 0,1,2,3 100 cp4.log torchrun --nproc-per-node 4 --master-port 29504 $CP --mode ulysses --out "$R/cp4.json"
nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version --format=csv >"$L/nvidia-smi.csv" 2>&1
tar czf "$OUT/logs.tgz" -C /tmp logs
tar czf "$OUT/results.tgz" -C "$R" .
ls -la "$OUT"; tail -n 5 "$L"/*.log
