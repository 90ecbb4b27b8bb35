"""The keyword side of retrieval: BM25 over passages with ``bm25s``.

Dense embeddings miss names, numbers and rare terms ("Bidzina Ivanishvili", "$100 million");
BM25 finds them. Documents are stemmed English with stop words removed. The index is saved
with bm25s's own plain files (JSON and ``.npy``, no pickle) in a folder beside the FAISS
file, and rebuilt with it whenever passages change: BM25 statistics are corpus-wide, and
building is seconds where embedding is minutes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

_SPLIT = r"(?u)\b\w\w+\b|\$|\b\d\b"  # keep single digits and "$": numbers matter in questions


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


class KeywordIndex:
    """BM25 scores for every passage row, given a question."""

    def __init__(self, retriever, n_docs: int):
        self._retriever = retriever
        self.n_docs = n_docs
        self._stem = _stemmer().stemWord
        import bm25s

        self._stopwords = set(bm25s.stopwords.STOPWORDS_EN)

    @classmethod
    def build(cls, texts: Sequence[str]) -> "KeywordIndex":
        import bm25s

        stem = _stemmer().stemWords
        stop = set(bm25s.stopwords.STOPWORDS_EN)
        docs = [stem([w for w in re.findall(_SPLIT, t.lower()) if w not in stop]) or ["∅"] for t in texts]
        retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
        retriever.index(docs, show_progress=False)
        return cls(retriever, len(texts))

    @property
    def vocabulary(self) -> dict[str, int]:
        return self._retriever.vocab_dict

    def tokens(self, text: str) -> list[str]:
        return [self._stem(w) for w in re.findall(_SPLIT, text.lower()) if w not in self._stopwords]

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every passage row for ``text`` (zeros when no term is known)."""
        vocab = self._retriever.vocab_dict
        known = [t for t in self.tokens(text) if t in vocab]
        if not known or self.n_docs == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(known), dtype=np.float32)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, n_docs: int) -> "KeywordIndex":
        import bm25s

        retriever = bm25s.BM25.load(str(folder), mmap=False, allow_pickle=False, show_progress=False, verbosity=0)
        return cls(retriever, n_docs)
