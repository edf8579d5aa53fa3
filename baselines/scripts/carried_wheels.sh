# Sourced by the optimisation device scripts: install a lever's package from wheels carried to the runner
# (it has no network), into its own target, so only the calls that list the lever pay for it.
#   carried_wheels DIR TARGET   installs DIR/*.whl into TARGET and prepends TARGET to PYTHONPATH (no-op when
#                               DIR holds no wheel: the lever is then recorded not_available, at no cost)
# Wheels (download here, name the folder in the device call's carry):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d .whl-torchao torchao==0.18.0             # fp8 levers (pure Python)
# No attention package has a wheel whose kernels run on the H200 runner (torch 2.11 + CUDA 13.0, Python
# 3.12): xformers 0.0.35 (the newest, 3 MB, `-d .whl-attn xformers==0.0.35 --platform manylinux_2_28_x86_64`)
# installs and imports, but its extensions were built for torch 2.10 + CUDA 12.8 and Python 3.10 and do not
# load (measured 2026-12-01, baselines/nvidia-h200/optimizations-6/; the availability check now records it
# not_available before any measurement); flash-attn, FA3 and sageattention>=2.1.1 publish no binary wheel for
# this platform, and the `kernels` backends download from the Hub at run time.
carried_wheels() {
    local dir=$1 target=$2
    ls "$dir"/*.whl >/dev/null 2>&1 || return 0
    python3 -m pip install -q --no-index --no-deps --target "$target" "$dir"/*.whl
    export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
    echo "installed from $dir into $target: $(cd "$dir" && ls *.whl | tr '\n' ' ')"
}
