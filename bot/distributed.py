"""Embedding on a Ray cluster: the same encoder, run by several workers through Ray Data.

`RayEmbedder` is an `Embedder` whose ``embed_documents`` sends the texts through a Ray Data
pipeline: a ``map_batches`` stage whose workers (actors) each load the sentence-transformers
model once and encode their batches exactly as the plain path does (texts sorted by length,
batches of 64 encoded 16 at a time). The vectors come back to the indexer, which writes them
into the same index generation as always: parsing, chunking, ids, the manifest, the lock and
the atomic switch do not change. With no address it starts a local Ray on this machine (one
CPU per worker); with one (or ``RAY_ADDRESS``) it joins that cluster, whose nodes need this
package and the model installed. Ray is imported only here.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np

from .embedding import SentenceTransformerEmbedder
from .errors import BotError
from .vectorstore import SCALE_EXTRA

BATCH = 64  # texts per Ray batch: what `SentenceTransformerEmbedder.embed_documents` encodes per step


class _Encoder:
    """One Ray Data worker: holds one model for all the batches it is given."""

    def __init__(self, model: str, threads: int):
        self.embedder = SentenceTransformerEmbedder(model, threads=threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed_documents(list(batch["text"]))
        return {"row": batch["row"], "vector": vectors}


class RayEmbedder:
    """Documents embedded by ``workers`` Ray workers; queries (rare while indexing) locally."""

    def __init__(self, model: str, address: str | None = None, workers: int = 2, threads_per_worker: int = 1):
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError:
            raise BotError(f"--ray needs Ray Data; {SCALE_EXTRA}") from None
        self.name = model
        self.address = address
        self.workers = workers
        self.threads = threads_per_worker
        self._dimension: int | None = None
        self._local: SentenceTransformerEmbedder | None = None
        self._started = False  # this embedder started the (local) Ray it uses: `close` stops it

    @property
    def dimension(self) -> int:
        if self._dimension is None:  # only asked before anything was embedded (an empty first build)
            self._dimension = self._local_embedder().dimension
        return self._dimension

    def _local_embedder(self) -> SentenceTransformerEmbedder:
        if self._local is None:
            self._local = SentenceTransformerEmbedder(self.name)
        return self._local

    def embed_query(self, text: str) -> np.ndarray:
        return self._local_embedder().embed_query(text)

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import ray
        import ray.data

        self._connect(ray)
        try:
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False  # the indexer shows its own bar
            context.print_on_execution_start = False
            # Longest first, as the plain path sorts them, so each batch pads little.
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
            items = [{"row": i, "text": texts[i]} for i in order]
            blocks = min(max(self.workers, min(len(items) // BATCH, 200)), len(items))
            dataset = ray.data.from_items(items, override_num_blocks=blocks)
            encoded = dataset.map_batches(
                _Encoder, fn_constructor_kwargs={"model": self.name, "threads": self.threads},
                batch_size=BATCH, batch_format="numpy", num_cpus=self.threads,
                compute=ray.data.ActorPoolStrategy(size=min(self.workers, blocks)),  # no more workers than blocks
            )
            out: np.ndarray | None = None
            for batch in encoded.iter_batches(batch_size=BATCH, batch_format="numpy"):
                vectors = np.asarray(batch["vector"], dtype=np.float32)
                if out is None:
                    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
                out[np.asarray(batch["row"], dtype=np.int64)] = vectors
                if progress:
                    progress(len(vectors))
        except BotError:
            raise
        except Exception as exc:  # a worker's failure arrives wrapped in Ray's own exception types
            raise BotError(f"embedding on Ray failed: {_first_line(exc)}") from None
        assert out is not None
        self._dimension = out.shape[1]
        return out

    def close(self) -> None:
        """Stop the local Ray this embedder started (a cluster it joined keeps running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def _connect(self, ray) -> None:
        """Join the cluster (or start a local Ray), once for all the calls of this embedder."""
        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        import logging

        # Ray's loggers report progress and notices on stderr; the index command prints its own
        # summary, and failures arrive as exceptions.
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)

        kwargs = dict(logging_level=logging.ERROR, log_to_driver=False, include_dashboard=False,
                      runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}})
        if address:
            _check_reachable(address)
        try:
            if address:
                ray.init(address=address, **kwargs)
            else:  # a local Ray with as many CPUs as workers need (2 by default: this machine's share)
                ray.init(num_cpus=self.workers * self.threads, **kwargs)
        except Exception as exc:
            raise BotError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {_first_line(exc)}") from None
        self._started = True


def _check_reachable(address: str) -> None:
    """Fail at once, in one line, when nothing listens at a HOST:PORT Ray address (ray.init
    itself retries for minutes). "auto" and other forms are left to Ray."""
    import socket

    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise BotError(f"cannot reach Ray at {address}: {exc.strerror or exc}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
