"""The keyword side of retrieval: BM25 over passages, kept as term counts so it updates in place.

Dense embeddings miss names, numbers and rare terms ("Bidzina Ivanishvili", "$100 million");
BM25 finds them. Documents are stemmed English (PyStemmer) with bm25s's English stop words
removed.

What is stored is not scores but raw counts: a sparse passages × terms matrix of how often
each term occurs in each passage, plus the vocabulary. Document frequencies, IDF and the
average length are computed from it when the index is loaded. That is what makes updates
cheap: adding a transcript tokenises only its passages and appends their rows; removing one
drops its rows. A library that bakes IDF into stored per-passage scores (bm25s does, which is
why it is fast to query) has to re-tokenise and re-score the whole corpus on every change:
16 s at 94,000 passages, where this takes a fraction of a second. The scores are Lucene's
BM25 (k1 = 1.2, b = 0.75), the same numbers bm25s gives (``tests/test_keyword.py`` checks).

On disk, a folder of plain files: ``vocabulary.json`` (the terms, column order) and
``indptr.npy``, ``indices.npy``, ``counts.npy`` (the CSR matrix, one row per passage in
passages order).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp

_SPLIT = r"(?u)\b\w\w+\b|\$|\b\d\b"  # keep single digits and "$": numbers matter in questions
EMPTY = "∅"  # the one token of a passage with no content words, so every row has a length
K1, B = 1.2, 0.75


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _stopwords() -> frozenset[str]:
    import bm25s.stopwords

    return frozenset(bm25s.stopwords.STOPWORDS_EN)


class KeywordIndex:
    """BM25 scores for every passage row, given a question; rows can be appended and dropped."""

    def __init__(self, counts: sp.csr_matrix, vocabulary: list[str]):
        self.counts = counts
        self.terms = list(vocabulary)
        self._column = {t: i for i, t in enumerate(self.terms)}
        self._stem = _stemmer().stemWord
        self._stopwords = _stopwords()
        self._by_term: sp.csc_matrix | None = None
        self._weights: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_docs(self) -> int:
        return self.counts.shape[0]

    @property
    def vocabulary(self) -> dict[str, int]:
        """Every term (stem) that occurs in some passage, with its column."""
        return self._column

    def tokens(self, text: str) -> list[str]:
        return [self._stem(w) for w in re.findall(_SPLIT, text.lower()) if w not in self._stopwords]

    # -- building and updating ------------------------------------------------------------

    @classmethod
    def build(cls, texts: Sequence[str]) -> "KeywordIndex":
        empty = cls(sp.csr_matrix((0, 0), dtype=np.int32), [])
        return empty.extended(texts)

    def extended(self, texts: Sequence[str]) -> "KeywordIndex":
        """A new index: these rows plus one row per text, appended; new terms extend the vocabulary."""
        stem, stop = _stemmer().stemWords, self._stopwords
        column = dict(self._column)
        indptr, indices = [0], []
        for text in texts:
            words = stem([w for w in re.findall(_SPLIT, text.lower()) if w not in stop]) or [EMPTY]
            for w in words:
                indices.append(column.setdefault(w, len(column)))
            indptr.append(len(indices))
        width = len(column)
        added = sp.csr_matrix((np.ones(len(indices), dtype=np.int32), np.array(indices, dtype=np.int32),
                               np.array(indptr, dtype=np.int64)), shape=(len(texts), width))
        added.sum_duplicates()  # repeated terms become counts
        old = self.counts
        old = sp.csr_matrix((old.data, old.indices, old.indptr), shape=(old.shape[0], width))
        vocabulary = sorted(column, key=column.get)
        return KeywordIndex(sp.vstack([old, added], format="csr", dtype=np.int32), vocabulary)

    def take(self, rows: np.ndarray) -> "KeywordIndex":
        """A new index of just these rows, in this order; terms no row uses any more are dropped."""
        counts = self.counts[np.asarray(rows, dtype=np.int64)]
        used = np.bincount(counts.indices, minlength=len(self.terms)) > 0
        if used.all():
            return KeywordIndex(counts, self.terms)
        renumber = np.cumsum(used) - 1
        counts = sp.csr_matrix((counts.data, renumber[counts.indices].astype(np.int32), counts.indptr),
                               shape=(counts.shape[0], int(used.sum())))
        return KeywordIndex(counts, [t for t, u in zip(self.terms, used) if u])

    # -- scoring --------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Per-term postings, IDF and per-passage length normalisation (once per loaded index)."""
        by_term = self.counts.tocsc()
        n = max(self.n_docs, 1)
        df = np.diff(by_term.indptr).astype(np.float64)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        lengths = np.asarray(self.counts.sum(axis=1)).ravel().astype(np.float64)
        norm = K1 * ((1 - B) + B * lengths / max(lengths.mean(), 1e-9)) if len(lengths) else lengths
        self._by_term, self._weights = by_term, (idf, norm)

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every passage row for ``text`` (zeros when no term is known).

        A term repeated in the question counts once per occurrence, as in bm25s.
        """
        out = np.zeros(self.n_docs, dtype=np.float32)
        known = [self._column[t] for t in self.tokens(text) if t in self._column]
        if not known or self.n_docs == 0:
            return out
        if self._by_term is None:
            self._prepare()
        by_term, (idf, norm) = self._by_term, self._weights
        acc = np.zeros(self.n_docs, dtype=np.float64)
        for col in known:
            lo, hi = by_term.indptr[col], by_term.indptr[col + 1]
            rows, tf = by_term.indices[lo:hi], by_term.data[lo:hi].astype(np.float64)
            acc[rows] += idf[col] * tf / (norm[rows] + tf)
        out[:] = acc
        return out

    # -- files ----------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocabulary.json").write_text(json.dumps(self.terms, ensure_ascii=False) + "\n", encoding="utf-8")
        for name, array in (("indptr", self.counts.indptr.astype(np.int64)),
                            ("indices", self.counts.indices.astype(np.int32)),
                            ("counts", self.counts.data.astype(np.int32))):
            with (folder / f"{name}.npy").open("wb") as f:
                np.save(f, array, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, n_docs: int) -> "KeywordIndex":
        """Read a saved index; ValueError (with the reason) if its files do not fit together."""
        terms = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        indptr, indices, data = (np.load(folder / f"{name}.npy", allow_pickle=False)
                                 for name in ("indptr", "indices", "counts"))
        if len(indptr) != n_docs + 1 or indptr[-1] != len(indices) or len(indices) != len(data):
            raise ValueError(f"{len(indptr) - 1} keyword rows for {n_docs} passages")
        if len(indices) and (indices.min() < 0 or indices.max() >= len(terms)):
            raise ValueError("term numbers outside the vocabulary")
        return cls(sp.csr_matrix((data, indices, indptr), shape=(n_docs, len(terms))), terms)
