"""Recall probe: where the gold passage of each answerable question ranks under three orders.

Usage::

    python bench/recall_probe.py --index INDEX --questions SET.jsonl

For every answerable question it prints the gold passage's best rank (a) in the bot's own
ranking (`TranscriptBot.ask`, top 50), (b) among all passages by their best quotable
sentence's cosine with the question (the index's sentence table), (c) among all passages by
the passage vector's cosine; then, per cut-off N, how many questions each order finds within
N and how many the bot's top 50 and the sentence order's top N find together. It answers
"would the sentence table as a first-stage candidate source add recall?" (docs/RETRIEVAL.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--questions", required=True)
    args = ap.parse_args()

    from bot.core import AskOptions, TranscriptBot
    from bot.embedding import load_query_embedder
    from bot.evaluation import conversation, is_hit, load_questions
    from bot.settings import Settings

    settings = Settings.resolve(index=args.index, corpus=str(Path(args.index).parent / "corpus"))
    embedder = load_query_embedder(settings, threads=1)
    bot = TranscriptBot(settings, embedder=embedder)
    data = bot.data
    if data.sentences is None:
        raise SystemExit(f"{args.index}: the index has no sentence table (run `transcript-bot index` on it)")
    n = len(data.passages)
    every_row = np.arange(n)
    questions = load_questions(Path(args.questions))
    by_id = {q.id: q for q in questions}

    def rank(scores: np.ndarray, gold: np.ndarray) -> int:
        order = np.argsort(-scores, kind="stable")
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        return int(position[gold].min()) + 1

    found = []
    for q in questions:
        if not q.file:
            continue
        gold = np.array([r for r, p in enumerate(data.passages) if is_hit(q, p.transcript, p.text)], dtype=np.int64)
        if not len(gold):
            print(f"{q.id}: no passage holds the evidence")
            continue
        answer = bot.ask(q.question, AskOptions(k=50, context=conversation(q, by_id)))
        bot_rank = next((h.rank for h in answer.hits if is_hit(q, h.passage.transcript, h.passage.text)), 10**6)
        vector = embedder.embed_query(q.question)
        best = data.best_sentence(vector, every_row)
        passage = data.vector_store.scores(vector, data.ids)
        found.append((q.id, q.type, bot_rank, rank(best, gold), rank(passage, gold)))
        print(f"{q.id} {q.type:<10} bot {bot_rank if bot_rank < 10**6 else '>50':>4}  "
              f"sentence {found[-1][3]:>5}  passage {found[-1][4]:>5}", flush=True)
    print(f"\n{'N':>4}{'bot':>6}{'sentence':>10}{'passage':>9}{'bot@50 or sentence@N':>22}   of {len(found)}")
    for cut in (5, 10, 20, 50, 100, 200):
        print(f"{cut:>4}{sum(f[2] <= cut for f in found):>6}{sum(f[3] <= cut for f in found):>10}"
              f"{sum(f[4] <= cut for f in found):>9}{sum(f[2] <= 50 or f[3] <= cut for f in found):>22}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
