#!/usr/bin/env bash
# Diffusers version history on H200 (issue 15): Wan2.1-T2V-1.3B under 6-7 Diffusers releases 0.33.1..0.42.1, and
# CogVideoX-2b, each release in its own subprocess with its own folder first on PYTHONPATH (unpacked from
# .whl-versions/<version>/, .whl-versions/shared/ and .whl/; 0.33.1 brings transformers 4.57.6, hub 0.36.2,
# tokenizers 0.22.1). Per job (one version, one model): text encoder, one denoiser step at the default shape
# (Wan 480x832x81, CogVideoX 480x720x49; 3 windows of >= 2 s), VAE decode (2), two complete 4-step generations,
# one profiled step. Expected time per job: Wan ~70-80 s (10 s interpreter and imports, 13 s build with random
# weights, 10 s warm-up, 2 s text encoder, 10 s denoiser, 10 s decode, 19 s generations, 4 s profile),
# CogVideoX-2b ~55-65 s. Every job has a hard limit (150 s) and each phase a time budget: a job that would not
# fit is left out, never cut into a half record.
#   2 GPUs: GPU 0 Wan, GPU 1 CogVideoX-2b, all 7 releases each in the priority order below (time order and
#           release order do not line up, against drift), a second round (reverse order) as far as the
#           budget allows.
#   1 GPU:  Wan under 6 releases (~450 s), then CogVideoX-2b under 0.33.1 and 0.42.1 as far as time allows.
# Usage (repo root; carry .whl-versions and .whl): OUT=<folder> bash baselines/scripts/h200_history.sh
# Stores under $OUT: history.tgz (<version>/history.json with raw rounds, runs/, logs/, history.png,
# DIFFUSERS-VERSIONS.md), logs.tgz. The lead unpacks history.tgz into baselines/<gpu-slug>/.
set -u
R=${R:-/tmp/r}; L=${L:-/tmp/logs}; mkdir -p "$R" "$L"
LIMIT=${LIMIT:-540}
export T2V_ENV_ROOT=/tmp/t2v-envs
# priority order (a job that would not fit its budget is left out, so the least informative come last): the
# ends, then the releases around the changes found in the sources (0.39.0/0.40.0: contiguous hidden states;
# 0.37.1: before set_begin_index), then the rest
ALL=${ALL:-0.33.1,0.42.1,0.39.0,0.40.0,0.37.1,0.35.2,0.36.0}
SIX=${SIX-0.33.1,0.42.1,0.39.0,0.40.0,0.37.1,0.35.2}   # SIX= (empty): no Wan jobs
COG=${COG:-0.33.1,0.42.1}     # 1 GPU: CogVideoX-2b's releases (~60 s each); the rest of the history on the H200:
                              #   SIX= COG=0.35.2,0.37.1,0.39.0,0.40.0,0.36.0 OUT=... bash <this script>
# DEVICE=cpu EXTRA="--wheelhouse <dir>" run the same flow on the CPU with the tiny variants (a flow test only)
H="python3 -m t2v_energy_lib history --device ${DEVICE:-cuda} --order listed --e2e-steps 4 --idle-s 1 --job-timeout-s 150 ${EXTRA:-}"
left() { echo $(( LIMIT - SECONDS )); }
phase() {  # phase <gpu> <budget s> <log> <history args...>: the history command's own budget, SIGINT 30 s later
    local gpu=$1 secs=$2 log=$3; shift 3
    [ "$secs" -gt 60 ] || { echo "skipped (no time left): $*" >>"$L/$log"; return; }
    CUDA_VISIBLE_DEVICES=$gpu timeout -s INT -k 15 $(( secs + 30 )) $H --time-budget-s "$secs" "$@" >>"$L/$log" 2>&1
    echo "exit $? after $SECONDS s: $*" >>"$L/$log"
}
python3 -m pip list 2>/dev/null | grep -iE '^(torch|diffusers|transformers|huggingface.hub|tokenizers|httpx|requests|ftfy|numpy|scipy|matplotlib) ' >"$L/pip.txt"
nvidia-smi --query-gpu=index,name,uuid,power.limit,driver_version,clocks.max.sm --format=csv >"$L/nvidia-smi.csv" 2>&1
du -sh .whl-versions .whl >>"$L/pip.txt" 2>&1
NGPU=$(nvidia-smi -L 2>/dev/null | wc -l)
if [ "$NGPU" -ge 2 ]; then
    phase 0 $(( $(left) - 50 )) wan.log --models wan2.1-t2v-1.3b --versions "$ALL" --rounds 2 --out "$R/wan" &
    phase 1 $(( $(left) - 50 )) cog.log --models cogvideox-2b --versions "$ALL" --rounds 2 --out "$R/cog" &
    wait
else
    [ -n "$SIX" ] && phase 0 $(( $(left) - 90 )) wan.log --models wan2.1-t2v-1.3b --versions "$SIX" --rounds 1 --out "$R/wan"
    phase 0 $(( $(left) - 30 )) cog.log --models cogvideox-2b --versions "$COG" --rounds 1 --out "$R/cog"
fi
# one tree: each version's run folders of both models, then one report over all of them
mkdir -p "$R/all"
for d in "$R/wan" "$R/cog"; do [ -d "$d" ] && cp -r "$d"/. "$R/all"/; done
rm -f "$R"/all/*/history.json "$R"/all/history.png
python3 -m t2v_energy_lib history --report-only --versions "$ALL" --out "$R/all" \
    --markdown "$R/all/DIFFUSERS-VERSIONS.md" >"$L/report.log" 2>&1
echo "report exit $? after $SECONDS s" >>"$L/report.log"
tar czf "$OUT/history.tgz" -C "$R/all" .
tar czf "$OUT/logs.tgz" -C "$(dirname "$L")" "$(basename "$L")"
ls -la "$OUT"; cat "$L/pip.txt"; tail -n 3 "$L"/wan.log "$L"/cog.log; tail -n 60 "$L/report.log"
