#!/usr/bin/env bash
# Measure retrieval on the three development sets over their full corpora (a developer's tool:
# it reads the project's shared corpora, which neither the bot nor the tests need).
#
#   scripts/eval_sets.sh [SHARED] [WORK]      (defaults: ../shared and ../eval-work)
#   MODEL=NAME scripts/eval_sets.sh ...        the same with another encoder than the default
#                                              all-mpnet-base-v2 (all-MiniLM-L6-v2, or a folder); its own WORK
#
# It lays out, outside the repository, the full 1,396-transcript Kremlin corpus (bundled 301 +
# kremlin_extra), the 35 QMSum val meetings, and the earnings calls + podcast episodes; indexes
# each incrementally (the first Kremlin build reuses the bundled index's vectors and embeds the
# other 19,678 passages: about 85 minutes with the default model on two cores, about 30 with
# MiniLM; later runs only embed what changed), then runs bench/ablation.py on
# each set with the variants given in ABLATION (default: the defaults alone).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-../shared}
WORK=${2:-../eval-work}
BOT=.venv/bin/transcript-bot
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MODEL=${MODEL:-}
if [ -n "$MODEL" ]; then export TRANSCRIPT_BOT_MODEL=$MODEL; fi  # index and ablation alike
mkdir -p "$WORK"

lay_out() {  # lay_out DEST NAME=SOURCE-FOLDER... : copy transcripts and manifests into DEST/corpus/NAME/
  local dest=$1; shift
  for pair in "$@"; do
    local name=${pair%%=*} src=${pair#*=}
    mkdir -p "$dest/corpus/$name"
    cp -u "$src"/*.txt "$dest/corpus/$name/"
    if [ -f "$src/manifest.jsonl" ]; then cp -u "$src/manifest.jsonl" "$dest/corpus/$name/"; fi
  done
}

# Kremlin: one folder, as the bundled corpus has it, so the bundled index's vectors are reused.
mkdir -p "$WORK/kremlin-full/corpus/kremlin"
cp -u corpus/kremlin/*.txt "$SHARED"/corpus/kremlin_extra/*.txt "$WORK/kremlin-full/corpus/kremlin/"
cat corpus/kremlin/manifest.jsonl "$SHARED/corpus/kremlin_extra/manifest.jsonl" > "$WORK/kremlin-full/corpus/kremlin/manifest.jsonl"
# (another model embeds everything anew, so the bundled index is of no use to it)
[ -n "$MODEL" ] || [ -d "$WORK/kremlin-full/index" ] || cp -r index "$WORK/kremlin-full/index"
lay_out "$WORK/qmsum" "qmsum=$SHARED/corpus/qmsum_val/transcripts"
lay_out "$WORK/calls" "earnings21=$SHARED/corpus/earnings21" "seenunseen=$SHARED/corpus/seenunseen_podcast"

# English space only (the bundled index's multilingual space would otherwise be kept and
# extended: hours of e5 on 2 cores); INDEX_FLAGS overrides.
read -r -a FLAGS <<< "${INDEX_FLAGS:---no-multilingual}"
for set in kremlin-full qmsum calls; do
  $BOT index --corpus "$WORK/$set/corpus" --index "$WORK/$set/index" "${FLAGS[@]}"
done

read -r -a VARIANTS <<< "${ABLATION:-}"
run() { .venv/bin/python bench/ablation.py --index "$WORK/$1/index" --questions "$2" "${VARIANTS[@]}"; }
run kremlin-full eval/dev-questions.jsonl
run qmsum eval/qmsum-val-questions.jsonl
run calls eval/calls-podcasts-questions.jsonl
