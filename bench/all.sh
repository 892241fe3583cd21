#!/usr/bin/env bash
# Every figure of BENCHMARKS.md, one command: writes bench/results/*.json and
# prints the markdown (bench/report.py) at the end.
#
#   bash bench/all.sh                 # everything (CPU: many hours on 2 cores)
#   bash bench/all.sh sst2 mrpc       # some parts: sst2 sst2-seeds sst2-pooling pooler cls mrpc rte conll squad squad-600 augment ab ab-squad ab-bf16 sst2-bf16 lr significance
#                                     encode cpu-proxy squad600-rss rte-passes mrpc-passes sst2-bf16-pad conll-pad cache cache-proxy batcher
#                                     (the current code's side of the before/after checks)
#
# DATA (default ../shared/data), PY (default .venv/bin/python) and RESULTS
# (default bench/results) can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
R=${RESULTS:-bench/results}
mkdir -p "$R"
PARTS=("$@")
[ ${#PARTS[@]} -eq 0 ] && PARTS=(sst2 sst2-seeds sst2-pooling pooler mrpc rte conll squad augment ab ab-squad lr significance)
run() { "$PY" bench/run.py "$@" --data-dir "$DATA"; }
# Seeds 0-2 of one task, then their table: seeds TASK NAME [bench/run.py options] writes $R/NAME-sS.json
seeds() {
  local task=$1 name=$2
  shift 2
  for seed in 0 1 2; do run "$task" --seed "$seed" "$@" --out "$R/$name-s$seed.json"; done
  "$PY" bench/report.py --seeds "$R/$name"-s[0-9].json
}

for part in "${PARTS[@]}"; do
  case "$part" in
    sst2)  # issue 2: 8000 rows, 2 epochs, lr 5e-5, max length 128; pipelines kept for the A/B
      run sst2 --save-dir "$R/models-sst2" --out "$R/sst2.json" ;;
    sst2-seeds)  # issue 2: seeds 1-2 against the Trainer (seed 0 is the sst2 part)
      for seed in 1 2; do
        run sst2 --seed "$seed" --peers hf --out "$R/sst2-s$seed.json"
      done
      "$PY" bench/report.py --seeds "$R/sst2.json" "$R"/sst2-s[0-9].json ;;
    sst2-pooling)  # issue 2: mean pooling (bertft only; compared with cls, the default at the time)
      run sst2 --peers none --pooling mean --out "$R/sst2-mean.json" ;;
    pooler)  # issues 2-3: pooling = "pooler" (the Trainer's head), bertft only, seeds 0-2
      for task in sst2 mrpc; do seeds "$task" "$task-pooler" --peers none --pooling pooler; done ;;
    cls)  # issues 2-3: pooling = "cls" (the configs' default before 2026-11-27) against the peers
      run sst2 --pooling cls --out "$R/sst2-cls.json"
      for seed in 1 2; do run sst2 --seed "$seed" --pooling cls --peers hf --out "$R/sst2-cls-s$seed.json"; done
      "$PY" bench/report.py --seeds "$R/sst2-cls.json" "$R"/sst2-cls-s[0-9].json
      for task in mrpc rte; do seeds "$task" "$task-cls" --pooling cls --peers hf; done ;;
    mrpc|rte)  # issue 3: full train, 3 epochs, mean of 3 seeds against the Trainer
      seeds "$part" "$part" --peers hf ;;
    rte-passes|mrpc-passes)  # the classifiers' max_wordpieces_per_pass: one epoch, bertft only, alternating, 2 rounds
      task=${part%-passes}
      mkdir -p "$R/$part"
      for round in 1 2; do
        for budget in 0 2048 1536 1024; do
          run "$task" --epochs 1 --peers none --set "max_wordpieces_per_pass=$budget" \
            --out "$R/$part/$task-e1-w$budget-r$round.json"
        done
      done ;;
    sst2-bf16-pad|conll-pad)  # the encoder's pad_to_multiple_of on CPU, 1 against 8: bertft only, alternating, 2 rounds
      for round in 1 2; do
        for pad in 1 8; do
          if [ "$part" = sst2-bf16-pad ]; then
            run sst2 --bf16 --peers none --set "model.encoder.pad_to_multiple_of=$pad" \
              --out "$R/sst2-cpu-bf16-pad$pad-r$round.json"
          else
            run conll --peers none --set "model.encoder.pad_to_multiple_of=$pad" --out "$R/conll-pad$pad-r$round.json"
          fi
        done
      done ;;
    cache)  # the training wordpiece cache against the tokenizer's call, per batch of 32 (SST-2, MRPC)
      "$PY" bench/wordpiece_cache.py --data-dir "$DATA" > "$R/wordpiece_cache.txt" ;;
    batcher)  # the batcher's wordpiece lengths per epoch: a chunk at once against per example (SST-2, MRPC)
      "$PY" bench/batcher_lengths.py --data-dir "$DATA" > "$R/batcher_lengths.txt" ;;
    cache-proxy)  # the cache on the GPU check's CPU stand-in (hidden size 32): cache off and on, 3 rounds
      mkdir -p "$R/cpu-proxy"
      for round in 1 2 3; do
        "$PY" bench/gpu_bench.py --cpu-dry-run --sizes narrow --kinds cls,pair,qa --steps 150 --warm 20 --peers hf \
          --cache-ab --out "$R/cpu-proxy/cache-ab-r$round.json"
      done ;;
    conll)  # issue 4: first 4000 sentences, 2 epochs, all of eng.testa; bertft seeds 1-2
      run conll --out "$R/conll.json"
      for seed in 1 2; do "$PY" bench/ner_variants.py base --seed "$seed" --data-dir "$DATA"; done ;;
    squad)  # issue 5: 2000 questions, 3 epochs, lr 1e-4, max length 256, stride 128; 600 eval questions
      run squad --peers hf --save-dir "$R/models-squad" --out "$R/squad.json" ;;
    squad-600)  # the QA memory check on 600 training questions
      run squad --n-train 600 --peers hf --out "$R/squad-600.json" ;;
    augment)  # issue 6: synonym augmentation on 500 SST-2 sentences, 3 seeds
      "$PY" bench/augment_sst2.py --data-dir "$DATA" --n-train 500 --sources wordnet \
        --edit-sets synonym synonym,swap,insert,delete --seeds 0 1 2 --out "$R/augment_sst2.json"
      # the control: the baseline for as many steps as the augmented runs take
      "$PY" bench/augment_sst2.py --data-dir "$DATA" --n-train 500 --epochs 6 --sources --seeds 0 1 2 \
        --out "$R/augment_sst2-baseline-6ep.json" ;;
    ab)  # inference A/B on the fine-tuned SST-2 weights (needs the sst2 part's saved pipeline)
      "$PY" bench/infer_ab.py "$R/models-sst2/bertft" --task sst2 --data-dir "$DATA" --rounds 5 \
        --out "$R/infer_ab-sst2.json" ;;
    ab-squad)  # the same for QA, on the squad part's fine-tuned pipeline, its 600 eval questions
      "$PY" bench/infer_ab.py "$R/models-squad/bertft" --task squad --n-eval 600 --data-dir "$DATA" --rounds 5 \
        --out "$R/infer_ab-squad.json" ;;
    ab-bf16)  # CPU bfloat16 autocast (the encoder's cpu_bf16) in the A/B, both systems, SQuAD and SST-2
      "$PY" bench/infer_ab.py "$R/models-squad/bertft" --task squad --n-eval 600 --data-dir "$DATA" --rounds 5 \
        --cpu-bf16 --out "$R/infer_ab-squad-bf16.json"
      "$PY" bench/infer_ab.py "$R/models-sst2/bertft" --task sst2 --data-dir "$DATA" --rounds 5 \
        --cpu-bf16 --out "$R/infer_ab-sst2-bf16.json" ;;
    sst2-bf16)  # SST-2 with every system under bfloat16 autocast on CPU (bertft's cpu_bf16, the Trainer's bf16)
      run sst2 --bf16 --peers hf,hf-grouped,torch --out "$R/sst2-cpu-bf16.json" ;;
    encode)  # what building a WordpieceBatch costs over the tokenizer's own call (per batch of 32)
      for task in squad mrpc; do
        "$PY" bench/encode_batch.py --task "$task" --data-dir "$DATA" > "$R/encode_batch-$task-after.txt"
      done ;;
    cpu-proxy)  # the GPU check's spacy train against the Trainer on CPU, hidden size 32 (host work per step)
      mkdir -p "$R/cpu-proxy"
      for kind in qa pair; do
        "$PY" bench/gpu_bench.py --cpu-dry-run --sizes narrow --kinds "$kind" --steps 60 --warm 10 --peers hf \
          --out "$R/cpu-proxy/$kind-new-r1.json"
      done ;;
    squad600-rss)  # bertft's peak RSS on 600 SQuAD training questions (the memory check)
      mkdir -p "$R/squad600-rss"
      run squad --n-train 600 --peers none --out "$R/squad600-rss/squad600-after-r1.json" ;;
    lr)  # learning rates as the BERT paper contrasts them, SST-2 2000 rows, 1 epoch
      "$PY" bench/lr_sweep.py sst2 --n-train 2000 --epochs 1 --lrs 1e-3,2e-5,1e-6 --peers hf --data-dir "$DATA" \
        --out "$R/lr_sweep-sst2.json" ;;
    significance)  # bertft against the Trainer on each run's eval set
      for f in "$R"/*.predictions.json; do
        [ -f "$f" ] || continue
        # bertft-only variants (--peers none) have no Trainer to compare with
        "$PY" -c 'import json, sys; sys.exit("hf" not in json.load(open(sys.argv[1]))["predictions"])' "$f" || continue
        "$PY" bench/significance.py bertft hf --run "$f" --data "$DATA" --out "${f%.predictions.json}-significance.json"
      done
      # CoNLL's target is the better of the Trainer and spacy-transformers
      [ -f "$R/conll.predictions.json" ] && "$PY" bench/significance.py bertft spacy-transformers \
        --run "$R/conll.predictions.json" --data "$DATA" --out "$R/conll-significance-spacy-transformers.json"
      ;;
    *) echo "unknown part '$part'" >&2; exit 2 ;;
  esac
done
"$PY" bench/report.py "$R"/*.json
