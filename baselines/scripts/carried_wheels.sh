# Sourced by the optimisation device scripts: install a lever's package from wheels carried to the runner
# (it has no network), into its own target, so only the calls that list the lever pay for it.
#   carried_wheels DIR TARGET   installs DIR/*.whl into TARGET and prepends TARGET to PYTHONPATH (no-op when
#                               DIR holds no wheel: the lever is then recorded not_available, at no cost)
# Wheels (download here, name the folder in the device call's carry):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux2014_x86_64 -d .whl-torchao torchao==0.18.0             # fp8 levers (pure Python)
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_28_x86_64 -d .whl-attn xformers==0.0.35              # attention:xformers (3 MB,
#       torch>=2.10, one build for every torch from 2.10 on; no flash-attn, FA3 or sageattention>=2.1.1
#       wheel exists for this platform, and the `kernels` backends download from the Hub at run time)
carried_wheels() {
    local dir=$1 target=$2
    ls "$dir"/*.whl >/dev/null 2>&1 || return 0
    python3 -m pip install -q --no-index --no-deps --target "$target" "$dir"/*.whl
    export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
    echo "installed from $dir into $target: $(cd "$dir" && ls *.whl | tr '\n' ' ')"
}
