"""Past one machine, measured here: Ray embedding against the plain path, Milvus against FAISS.

Needs the scale extra (``pip install -e '.[scale]'``). On the bundled corpus:

1. ``throughput``: a full build (`indexer.sync --full`) with the plain encoder and one with
   `RayEmbedder` (a local Ray, ``--workers`` encoder workers), in this run, each into a
   temporary folder: passages per second of the embedding phase and of the whole build, and
   the cosine between the two builds' vectors passage by passage.
2. ``equivalence``: the bundled index's vectors moved into a milvus-lite collection (no
   re-embedding), then every dev question asked of both bots (`TranscriptBot.search`, k=10,
   with the conversation for follow-ups): identical top-10 lists, the differences if any, the
   dev-set scores (`evaluation.evaluate`) and the time per question on each side.
3. ``bm25``: why the keyword side stays the project's own: the passages' keyword texts in a
   Milvus BM25 full-text collection, its top-10 for each dev question against `KeywordIndex`'s.

usage: python bench/scale.py [--only throughput|equivalence|bm25] [--workers 2] [--out bench/results/scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bot import store  # noqa: E402
from bot.core import AskOptions, TranscriptBot  # noqa: E402
from bot.embedding import load_embedder  # noqa: E402
from bot.evaluation import conversation, evaluate, load_questions  # noqa: E402
from bot.indexer import sync  # noqa: E402
from bot.settings import DEFAULT_MODEL, Settings  # noqa: E402
from bot.vectorstore import StoreSpec  # noqa: E402

CORPUS = REPO / "corpus"
DEV = REPO / "eval" / "dev-questions.jsonl"


def throughput(work: Path, workers: int) -> dict:
    from bot.distributed import RayEmbedder

    embedder = load_embedder()
    on_ray = RayEmbedder(DEFAULT_MODEL, workers=workers)
    out = {}
    for name, chosen in (("plain", embedder), (f"ray ({workers} local workers)", on_ray)):
        folder = work / name.split()[0]
        cpu = time.process_time()
        try:
            report = sync(CORPUS, folder, DEFAULT_MODEL, lambda: chosen, full=True, progress=False)
        finally:
            on_ray.close()
        out[name] = {"passages": report.passages, "build_s": round(report.seconds, 1),
                     "embed_s": report.phases.get("embed"),
                     "passages_per_s_embedding": round(report.embedded / report.phases["embed"], 1),
                     "passages_per_s_build": round(report.passages / report.seconds, 1),
                     "driver_cpu_s": round(time.process_time() - cpu, 1)}
        print(name, out[name], flush=True)
    a, b = store.load(work / "plain"), store.load(work / "ray")
    assert [p.id for p in a.passages] == [p.id for p in b.passages]
    va, vb = a.vector_store.reconstruct(a.ids), b.vector_store.reconstruct(b.ids)
    cos = (va * vb).sum(1) / np.linalg.norm(va, axis=1) / np.linalg.norm(vb, axis=1)
    out["cosine_ray_vs_plain"] = {"min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6),
                                  "below_0.9999": int((cos < 0.9999).sum())}
    ta, tb = a.title_vectors, b.title_vectors
    tcos = (ta * tb).sum(1) / np.linalg.norm(ta, axis=1) / np.linalg.norm(tb, axis=1)
    out["title_cosine_min"] = round(float(tcos.min()), 6)
    print("cosine", out["cosine_ray_vs_plain"], flush=True)
    return out


def equivalence(work: Path, milvus: str | None = None) -> dict:
    embedder = load_embedder()
    faiss_index, milvus_index = work / "faiss", work / "milvus"
    shutil.copytree(REPO / "index", faiss_index, ignore=shutil.ignore_patterns(".lock", ".*.tmp"))
    shutil.copytree(faiss_index, milvus_index)
    spec = StoreSpec.parse(milvus or f"{work}/vectors.db#passages")
    started = time.perf_counter()
    moved = sync(CORPUS, milvus_index, DEFAULT_MODEL, lambda: embedder, progress=False, vector_store=spec)
    fill = time.perf_counter() - started
    a = TranscriptBot(Settings(CORPUS, faiss_index, DEFAULT_MODEL), embedder=embedder)
    b = TranscriptBot(Settings(CORPUS, milvus_index, DEFAULT_MODEL), embedder=embedder)
    questions = load_questions(DEV)
    by_id = {q.id: q for q in questions}
    same, differences, times = 0, [], {"faiss": [], "milvus": []}
    for q in questions:
        options = AskOptions(k=10, context=conversation(q, by_id))
        lists = {}
        for name, bot in (("faiss", a), ("milvus", b)):
            t = time.perf_counter()
            hits = bot.search(q.question, options)
            times[name].append(time.perf_counter() - t)
            lists[name] = [(h.passage.transcript, h.passage.turn, h.passage.part, round(h.score, 5)) for h in hits]
        if lists["faiss"] == lists["milvus"]:
            same += 1
        else:
            differences.append({"id": q.id, "faiss": lists["faiss"], "milvus": lists["milvus"]})
    scores = {}
    for name, bot in (("faiss", a), ("milvus", b)):
        report = evaluate(bot, questions, k=10)
        overall = report["overall"]
        scores[name] = {key: overall[key] for key in ("hit@1", "hit@5", "hit@10", "mrr@10", "false_abstentions",
                                                      "abstained_unanswerable") if key in overall}
        scores[name]["ask_p50_ms"] = report["latency_ms"].get("p50")
    out = {"store": spec.describe(), "server": b.data.vector_store.client.get_server_version(),
           "passages": moved.passages, "milvus_fill_s": round(fill, 1), "re_embedded": moved.embedded,
           "questions": len(questions), "identical_top10": same, "differences": differences,
           "search_p50_ms": {k: round(1000 * float(np.median(v)), 1) for k, v in times.items()},
           "search_p95_ms": {k: round(1000 * float(np.percentile(v, 95)), 1) for k, v in times.items()},
           "dev_scores": scores}
    print(json.dumps({k: v for k, v in out.items() if k != "differences"}), flush=True)
    return out


def bm25(work: Path) -> dict:
    """Milvus's BM25 (milvus-lite's analyzer) against the project's keyword index, top-10 per question."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    from bot.chunking import embedding_text
    from bot.indexer import KEYWORD_MODE

    data = store.load(REPO / "index")
    client = MilvusClient(str(work / "bm25.db"))
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    # milvus-lite 3.2.2 knows the tokenizers "standard" and "jieba", not the server's "english" analyzer.
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard",
                                      "filter": ["lowercase", {"type": "stemmer", "language": "english"},
                                                 {"type": "stop", "stop_words": ["_english_"]}]})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("bm25", schema=schema, index_params=index)
    started = time.perf_counter()
    rows = [{"id": int(p.id), "text": embedding_text(p, KEYWORD_MODE)[:60000]} for p in data.passages]
    for at in range(0, len(rows), 1000):
        client.insert("bm25", rows[at:at + 1000])
    fill = time.perf_counter() - started
    overlaps, first_same, times = [], 0, []
    for q in load_questions(DEV):
        ours = np.argsort(-data.keyword.scores(q.question), kind="stable")[:10]
        ours_ids = [int(data.ids[r]) for r in ours]
        t = time.perf_counter()
        hits = client.search("bm25", data=[q.question], anns_field="sparse", limit=10, output_fields=["id"],
                             search_params={"metric_type": "BM25"})[0]
        times.append(time.perf_counter() - t)
        theirs = [int(h["id"]) for h in hits]
        overlaps.append(len(set(ours_ids) & set(theirs)) / 10)
        first_same += bool(theirs) and theirs[0] == ours_ids[0]
    out = {"passages": len(rows), "fill_s": round(fill, 1), "mean_overlap@10": round(float(np.mean(overlaps)), 3),
           "same_first": first_same, "questions": len(overlaps),
           "search_p50_ms": round(1000 * float(np.median(times)), 1)}
    print("bm25", out, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["throughput", "equivalence", "bm25"], action="append")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--milvus", help="equivalence against this store (default: a milvus-lite file), "
                        "e.g. milvus://127.0.0.1:19530/bench")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "scale.json"))
    args = parser.parse_args()
    parts = args.only or ["equivalence", "bm25", "throughput"]
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        for part in parts:
            work = Path(tmp) / part
            work.mkdir()
            if part == "throughput":
                result[part] = throughput(work, args.workers)
            elif part == "equivalence":
                result[part] = equivalence(work, args.milvus)
            else:
                result[part] = bm25(work)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
