#!/usr/bin/env bash
# One device call on a 4-GPU H100 host (2026-11-27): the pytest -m h100 benchmark matrix (a subset) sharded over
# all four GPUs with pytest-xdist, one worker per GPU, per-worker result files merged by the controller, and the
# merged run gated against the stored 0.42.1 baseline of the same GPU model.
#   OUT=<folder> bash baselines/scripts/h100x4_xdist.sh
set -u
R=/tmp/x; mkdir -p "$R"
K="(resolution_denoiser_step and (256x256 or 384x384 or 480x480 or 512x512 or 480x832 or 640x640 or 720x720 or 768x768)) or (frames_denoiser_step and 480x832)"
timeout -s INT -k 15 "${LIMIT:-330}" python3 -m pytest -p pytest_t2v_energy.plugin -p xdist -n 4 \
    -p no:cacheprovider -m h100 --require-gpu tests/gpu -k "$K" \
    --energy-results "$R/xdist.json" --energy-baseline baselines/nvidia-h100-80gb-hbm3/0.42.1 \
    >"$R/pytest-xdist.log" 2>&1
echo "pytest exit $?" >>"$R/pytest-xdist.log"
nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version --format=csv >>"$R/pytest-xdist.log" 2>&1
tar czf "$OUT/xdist.tgz" -C "$R" .
tail -n 40 "$R/pytest-xdist.log"
