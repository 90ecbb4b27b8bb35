"""Retrieval ablation: one question set, one index, several `RetrievalConfig` variants.

Usage::

    python bench/ablation.py --index INDEX --questions SET.jsonl [--variant NAME=FIELD:VALUE,...]

Each variant is the default `RetrievalConfig` with some fields changed (``--variant
"no penalty=short_penalty:0"``); ``default`` is always measured first. The model is loaded
once and shared. It prints one table row per variant (Hit@1/5/10, MRR@10, abstentions, and
the share of top-1 hits under 12 words) and, with ``--json FILE``, writes every row.
The numbers in docs/RETRIEVAL.md's ablation table were produced with this script.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_variant(text: str):
    """``name=field:value,field:value`` -> (name, {field: value}) with values typed as the defaults."""
    from bot.retrieval import RetrievalConfig
    from bot.settings import knob_type

    name, _, spec = text.partition("=")
    defaults = RetrievalConfig()
    types = {f.name: knob_type(f, getattr(defaults, f.name)) for f in fields(RetrievalConfig)}
    changes = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition(":")
        if key not in types:
            raise SystemExit(f"unknown RetrievalConfig field {key!r}")
        kind = types[key]
        changes[key] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    return name, changes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--variant", action="append", default=[], help="NAME=FIELD:VALUE[,FIELD:VALUE]")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--misses", action="store_true", help="print the misses of each variant")
    ap.add_argument("--within-file", action="store_true", help="ask each question within its gold transcript")
    args = ap.parse_args()

    from bot.core import TranscriptBot
    from bot.embedding import load_query_embedder
    from bot.evaluation import evaluate, load_questions
    from bot.retrieval import RetrievalConfig
    from bot.settings import Settings

    questions = load_questions(Path(args.questions))
    settings = Settings.resolve(index=args.index, corpus=str(Path(args.index).parent / "corpus"))
    embedder = load_query_embedder(settings, threads=1)  # the serving encoder (same vectors as torch)
    multilingual = None  # one e5 for every variant, when the index has the multilingual space
    if json.loads((Path(args.index) / "manifest.json").read_text(encoding="utf-8")).get("multilingual"):
        from bot.multilingual import load_multilingual

        multilingual = load_multilingual()
    variants = [("default", {})] + [parse_variant(v) for v in args.variant]
    out = []
    print(f"{Path(args.questions).name}: {len(questions)} questions, index {args.index}")
    print(f"{'variant':<34}{'hit@1':>7}{'hit@5':>7}{'hit@10':>7}{'mrr@10':>8}{'f.abst':>7}{'unans':>7}{'short@1':>8}{'quotes':>8}{'p50 ms':>8}")
    for name, changes in variants:
        bot = TranscriptBot(settings, embedder=embedder, config=replace(RetrievalConfig(), **changes),
                            multilingual_embedder=multilingual)
        report = evaluate(bot, questions, k=args.k, within_file=args.within_file)
        o = report["overall"]
        short = sum(1 for r in report["rows"] if r.get("top_words") is not None and r["top_words"] < 12)
        una = f"{o['abstained_unanswerable']}/{o['unanswerable']}" if "unanswerable" in o else "-"
        print(f"{name:<34}{o.get('hit@1', 0):>7.3f}{o.get('hit@5', 0):>7.3f}{o.get('hit@10', 0):>7.3f}"
              f"{o.get('mrr@10', 0):>8.3f}{o.get('false_abstentions', 0):>7}{una:>7}{short:>8}{o.get('answer_quotes', 0):>8.3f}"
              f"{report['latency_ms'].get('p50', 0):>8.0f}", flush=True)
        if args.misses:
            for m in report["misses"]:
                print(f"    {m['id']} rank={m['rank']} {m['question'][:90]}")
        out.append({"variant": name, "changes": changes, "overall": o, "by_type": report["by_type"],
                    "short_top1": short, "latency_ms": report["latency_ms"]})
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
