#!/usr/bin/env bash
# Device call on one H200 (issue 16, third optimisation call), <= 9 min: the variants the second call
# (h200_optimizations_next.sh) recorded wrongly, re-measured with the engagement fixes, into a NEW file.
#  - Compilation after an earlier compile in the process: each compile variant now starts with
#    torch._dynamo.reset() and pays and counts its own graphs (call 2 stored CogVideoX steps:half+compile as
#    not_engaged, 0 graphs, 1.2 s setup: it had reused the compile variant's graphs).
#  - Compilation beside MagCache: diffusers 0.42.1 decorates MagCache's new_forward @torch.compiler.disable,
#    so a compiled block ran eagerly; the block's own forward inside the hook is now compiled.
#  - FasterCache: not available on Wan (two-pass CFG; recorded for free, no GPU time); measured on CogVideoX,
#    its documented model (batched CFG).
# CogVideoX-2b and Wan2.1-1.3B at 10 steps, each with its own default: the lists COG_VARIANTS and
# WAN_VARIANTS below (their comments say what earlier runs of this script measured: optimizations-3, -4, -5
# and -7 in baselines/nvidia-h200/); the runner stops cleanly before what does not fit and names it.
# SKIP_COG=1 LIMIT=<s> runs the Wan part alone (the last minutes of a session).
# Usage (repo root, diffusers wheel on PYTHONPATH, e.g. PYTHONPATH=/tmp/site:$PWD):
#   OUT=<folder> bash baselines/scripts/h200_optimizations_engage.sh
# CPU check of the flow (tiny models): DEVICE=cpu STEPS_WAN=2 STEPS_COG=2 EXTRA="--compile-backend eager" ...
# torchao float8 (weights; weights + activations): torchao is a pure-Python wheel; carry it in .whl-torchao/
# (device tool: carry [".whl", ".whl-torchao"]) to measure these two levers, else they are recorded as not
# available, at no cost. It is installed here only, so the other calls never pay for fp8 variants:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d .whl-torchao torchao==0.18.0
# They come last on Wan (~45 s each; the budget stops cleanly before what does not fit).
. "$(dirname "$0")/carried_wheels.sh"
carried_wheels .whl-torchao /tmp/site-fp8
carried_wheels .whl-attn /tmp/site-attn   # an attention package, if carried: its backend is then tried (xformers 0.0.35
#   does not run on torch 2.11 + CUDA 13.0 and is recorded not_available: carried_wheels.sh)
FREE=attention:flash,attention:_flash_3,attention:sage,attention:xformers,attention:flash_hub
# Measured by 2026-12-01 (optimizations-3/4/5): PAB, FasterCache, half steps, compilation on CogVideoX. Next:
# the caches not yet measured there (TaylorSeer with patterns naming its attn1 modules: its defaults hook
# nothing on CogVideoX or Wan; FirstBlockCache at its default and the docstring's threshold).
COG_VARIANTS=${COG_VARIANTS:-cache:taylorseer@attn,cache:fbc,cache:fbc@0.2,$FREE}
# fp8 weights + compilation on Wan: measured 2026-12-01 (optimizations-7, -13.6%); TaylorSeer on the attention
# modules (-27.9%, 24 GB more peak memory), FirstBlockCache at 0.2 (not engaged), the best set with fp8 weights
# added (-67.4%, as without them) and dynamic fp8 + compilation (-17.3%): optimizations-8. Next: TaylorSeer's
# low-memory mode (its attention-module state ran Wan2.1-14B out of memory: optimizations-14b-4).
WAN_VARIANTS=${WAN_VARIANTS:-cache:taylorseer@lite,$FREE}
export COG_VARIANTS WAN_VARIANTS
exec bash "$(dirname "$0")/h200_optimizations_next.sh"
