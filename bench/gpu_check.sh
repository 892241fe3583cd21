#!/usr/bin/env bash
# The GPU check, one prepared script for a machine with a GPU (Python 3.12,
# torch preinstalled, no network). Prepare here first:
#     bash bench/fetch_gpu_wheels.sh
# then run on the device from the repository root, carrying ".whl":
#     bash bench/gpu_check.sh            # writes $OUT/gpu_bench.json and $OUT/gpu_bench.log
# Steps per run: STEPS (default 100); kinds: KINDS (default cls,pair,ner,qa);
# PYSPY=1 samples the first kind's bertft and Trainer runs with py-spy (PYSPY_KINDS=ner,qa: those kinds);
# BENCH_ARGS passes gpu_bench.py's own options (--precisions, --peers, --rounds, --examples, --cache-ab);
# encoder sizes: SIZES (default "minilm",
# the packaged architecture; "minilm,base" adds BERT-base widths, ~2x longer).
# Budget: under 8 minutes in all (the benchmark itself is cut at LIMIT seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
START=$(date +%s)

if [ ! -f .whl/site-cp312.tar.xz ]; then
  echo "ERROR: .whl/site-cp312.tar.xz is missing: run bash bench/fetch_gpu_wheels.sh here and carry .whl" >&2
  exit 2
fi
mkdir -p /tmp/site /tmp/site-project
tar -xJf .whl/site-cp312.tar.xz -C /tmp/site
# The project itself, from this working tree (its entry points register the components).
PYTHONPATH=/tmp/site python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile \
  --target /tmp/site-project .
export PYTHONPATH=/tmp/site-project:/tmp/site
PYSPY_ARGS=()
if [ -n "${PYSPY:-}" ]; then
  # PYSPY=1: the first kind once more for bertft and the Trainer under py-spy
  # (collapsed stacks, gzipped into $OUT; summarise with bench/pyspy_summary.py).
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/pyspy .whl/py_spy-*.whl
  export PYSPY_BIN=/tmp/pyspy/bin/py-spy
  PYSPY_ARGS=(--pyspy "$OUT")
  if [ -n "${PYSPY_KINDS:-}" ]; then PYSPY_ARGS+=(--pyspy-kinds "$PYSPY_KINDS"); fi
fi
echo "installed in $(( $(date +%s) - START )) s"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 - <<'PY' || echo "WARNING: thinc cannot use the GPU (above): the spaCy runs will fail, the Trainer runs go on"
import cupy, spacy, thinc, torch, transformers
from thinc.api import require_gpu
print(f"python ok: spacy {spacy.__version__}, thinc {thinc.__version__}, torch {torch.__version__}, "
      f"transformers {transformers.__version__}, cupy {cupy.__version__}, device {torch.cuda.get_device_name(0)}")
require_gpu(0)
print("thinc on GPU: ok")
PY

status=0
timeout "${LIMIT:-400}" python3 bench/gpu_bench.py --steps "${STEPS:-100}" --warm "${WARM:-10}" \
  --sizes "${SIZES:-minilm}" --kinds "${KINDS:-cls,pair,ner,qa}" ${PROFILE:+--profile "$OUT/profile-spacy-train.txt"} \
  ${BENCH_ARGS:-} ${PYSPY_ARGS[@]+"${PYSPY_ARGS[@]}"} \
  --out "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/gpu_bench.log" \
  | grep --line-buffered -v -e "^Some weights" -e "^You should" -e "^{'train_runtime'" || status=$?
gzip -f "$OUT"/pyspy-*.txt 2>/dev/null || true
echo "gpu_check done in $(( $(date +%s) - START )) s (status ${status})"
exit "$status"
