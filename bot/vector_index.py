"""The FAISS vector index itself: which kind, how many cells, how it is trained, how many
cells a search probes. One place for these rules (as txtai's `configure`/`cells`/`nprobe`),
used by the indexer (building), the vector store (searching) and the bench.

- **Kind.** "flat" is exact (exhaustive inner product; vectors are L2-normalised, so it is
  cosine similarity). "ivf" is approximate, for large corpora: an inverted file of `cells(n)`
  k-means cells. Chosen by `choose_kind`: as asked (`index --approximate/--exact`), else as the
  index was, switching to IVF past `APPROXIMATE_ABOVE` passages.
- **Storage.** fp16 components: half the size on disk for a cosine error below 1e-3.
- **Ids.** Explicit int64 passage ids, removable: a flat index is wrapped in `IndexIDMap2`; IVF
  keeps ids itself with a hashtable direct map (wrapping IVF in `IndexIDMap2` maps results to
  the wrong ids after `remove_ids`, since IVF does not renumber the rows it keeps).
- **Training.** k-means on at most 64 vectors per cell, sampled with a fixed seed, so the same
  vectors give the same index.
- **Probing.** `nprobe(nlist)`: an eighth of the cells (recall@10 0.99 against exact search on
  the bench's 1M synthetic passages; README "Scale").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BotError

APPROXIMATE_ABOVE = 200_000  # passages; past this an IVF index is used (see README, "Scale")
KINDS = ("flat", "ivf")
TRAIN_PER_CELL = 64


def choose_kind(approximate: bool | None, old_kind: str | None, n_passages: int) -> str:
    """Exact ("flat") or approximate ("ivf"): as asked; else as before, growing past the threshold."""
    if approximate is not None:
        return "ivf" if approximate else "flat"
    if old_kind == "ivf" or n_passages > APPROXIMATE_ABOVE:
        return "ivf"
    return "flat"


def cells(n_vectors: int) -> int:
    """How many IVF cells for `n_vectors`: 4 * sqrt(n), the usual rule of thumb."""
    return max(1, int(4 * np.sqrt(max(n_vectors, 1))))


def nprobe(nlist: int) -> int:
    """How many cells a search visits."""
    return max(1, nlist // 8)


def new_index(dimension: int, kind: str = "flat", nlist: int = 0, storage: str = "fp16"):
    """An empty index of `kind` over normalised vectors with explicit int64 ids (IVF untrained)."""
    import faiss

    if kind not in KINDS:
        raise BotError(f"unknown vector index kind {kind!r} (one of {', '.join(KINDS)})")
    if kind == "ivf":
        quantizer = faiss.IndexFlatIP(dimension)
        qtype = faiss.ScalarQuantizer.QT_fp16 if storage == "fp16" else faiss.ScalarQuantizer.QT_8bit
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, dimension, max(1, nlist), qtype, faiss.METRIC_INNER_PRODUCT)
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct(id) works and survives removals
        return ivf
    if storage == "fp16":
        inner = faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    else:
        inner = faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(inner)  # the Python wrapper keeps ``inner`` alive


def build(kind: str, dimension: int, vectors: np.ndarray, ids: np.ndarray):
    """A new index of `kind` holding `vectors` under `ids` (trained first when IVF)."""
    nlist = cells(len(vectors)) if kind == "ivf" else 0
    index = new_index(dimension, kind=kind, nlist=nlist)
    if kind == "ivf":
        if len(vectors) < nlist:
            raise BotError(f"an approximate index needs at least {nlist} passages; use the exact one")
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(len(vectors), min(len(vectors), nlist * TRAIN_PER_CELL), replace=False)]
        index.train(sample)
        configure(index)
    if len(vectors):
        index.add_with_ids(vectors, ids)
    return index


def is_ivf(index: Any) -> bool:
    import faiss

    try:
        faiss.extract_index_ivf(index)
        return True
    except RuntimeError:
        return False


def configure(index: Any) -> int:
    """Set an IVF index's search-time nprobe by the rule above; returns it (0 for flat)."""
    import faiss

    if not is_ivf(index):
        return 0
    inner = faiss.extract_index_ivf(index)
    inner.nprobe = nprobe(inner.nlist)
    return int(inner.nprobe)
