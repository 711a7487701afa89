#!/usr/bin/env bash
# Run the GPU benchmarks on an offline GPU box, from the repository root, with the kit prepare.sh made:
#
#   bash benchmarks/gpu_box/run.sh [meter|strategies|all]
#
# Installs .gpu_box/wheels/ into /tmp/gpu_box_site (no index, no dependency resolution: the image supplies
# the rest), checks that greentune's runner, ledger and codecarbon import, then runs meter_gpu_check.py and/or
# finetune_gpu_strategies.py (tokenizer from .gpu_box/tokenizer/). Results go to benchmarks/results/, logs to
# .gpu_box/logs/; when OUT is set, both are copied there too, also after a failure.
#
# Environment: GPU_BOX_DIR (default .gpu_box), PYTHON (default python3), OUT (optional).
set -euo pipefail

fail() { echo "run.sh: $1" >&2; exit "${2:-1}"; }

which=${1:-all}
[[ $which =~ ^(meter|strategies|all)$ ]] || fail "unknown benchmark '$which'; give meter, strategies or all" 2
[[ -f benchmarks/meter_gpu_check.py ]] || fail "run it from the repository root" 2
box=${GPU_BOX_DIR:-.gpu_box}
python=${PYTHON:-python3}
site=/tmp/gpu_box_site
logs=$box/logs
compgen -G "$box/wheels/*.whl" >/dev/null || fail "no wheels in $box/wheels; run prepare.sh on a connected machine" 2
[[ -f $box/tokenizer/tokenizer.json ]] || fail "no tokenizer in $box/tokenizer; run prepare.sh on a connected machine" 2
mkdir -p "$logs"

copy_out() {
    [[ -n ${OUT:-} ]] || return 0
    mkdir -p "$OUT"
    cp "$logs"/*.log "$OUT"/ 2>/dev/null || true
    for log in "$logs"/meter.log "$logs"/strategies.log; do
        [[ -f $log ]] || continue
        sed -n 's/^wrote //p' "$log" | while read -r result; do
            if [[ -f $result ]]; then cp "$result" "$OUT"/; fi
        done
    done
}
trap copy_out EXIT
rm -f "$logs"/*.log

rm -rf "$site"
"$python" -m pip install --no-index --no-deps --no-cache-dir --target "$site" "$box"/wheels/*.whl \
    >"$logs/install.log" 2>&1 \
    || fail "pip could not install $box/wheels (made for another Python? see $logs/install.log)"
PYTHONPATH=$site "$python" -m pip check >>"$logs/install.log" 2>&1 \
    || echo "run.sh: note: pip check finds unmet requirements (the image's versions?); see $logs/install.log" >&2
export PYTHONPATH=src:$site HF_HUB_OFFLINE=1
"$python" -c 'import greentune.finetune.runner, greentune.ledger.mlflow_store, codecarbon' >"$logs/imports.log" 2>&1 \
    || fail "the kit does not import here: $(tail -n 1 "$logs/imports.log") (see $logs/imports.log)"

if [[ $which == meter || $which == all ]]; then
    "$python" benchmarks/meter_gpu_check.py --out benchmarks/results/ 2>&1 | tee "$logs/meter.log" \
        || fail "meter_gpu_check.py failed; see $logs/meter.log"
fi
if [[ $which == strategies || $which == all ]]; then
    "$python" benchmarks/finetune_gpu_strategies.py --out benchmarks/results/ --set "model.tokenizer=$box/tokenizer" \
        2>&1 | tee "$logs/strategies.log" \
        || fail "finetune_gpu_strategies.py failed; see $logs/strategies.log"
fi
echo "run.sh: done; results in benchmarks/results/, logs in $logs${OUT:+, copies in $OUT}"
