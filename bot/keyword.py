"""The keyword side of retrieval: BM25 over passages, kept as term counts so it updates in place.

Dense embeddings miss names, numbers and rare terms ("Bidzina Ivanishvili", "$100 million");
BM25 finds them. Each word is stemmed by its script, so that one index serves transcripts and
questions in English and in Russian: a word with Cyrillic letters by PyStemmer's Russian
stemmer, with bm25s's Russian stop words removed ("железной дороги" and "железную дорогу"
both become "железн дорог"); every other word as before, by the English stemmer with bm25s's
English stop words removed. Text without Cyrillic is tokenised exactly as by the English-only
tokeniser, so English scores do not change. The tokeniser is recorded in the index manifest
(``keyword.stemmer``): an index built with the English-only one (``"english"``) is read with
it, and the next ``transcript-bot index`` re-tokenises its passages (no re-embedding).

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

import bisect
import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp

_SPLIT = r"(?u)\b\w\w+\b|\$|\b\d\b"  # keep single digits and "$": numbers matter in questions
EMPTY = "∅"  # the one token of a passage with no content words, so every row has a length
K1, B = 1.2, 0.75
# The tokenisers, as the manifest names them: "english" stems every word as English (indexes
# built before Russian support); STEMMER, the current one, stems Cyrillic words as Russian.
LEGACY_STEMMER = "english"
STEMMER = "english+russian"
STEMMERS = (LEGACY_STEMMER, STEMMER)
STOPWORDS = {LEGACY_STEMMER: "bm25s english", STEMMER: "bm25s english + bm25s russian"}
_CYRILLIC = re.compile("[\u0400-\u04ff]")
# A term spelled out letter by letter, as meeting transcripts write acronyms ("L_C_D_", "T_V_"
# in the AMI corpus): the word a question writes ("LCD") finds it (`KeywordIndex.tokens`).
_SPELLED = re.compile(r"(?:[^\W\d_]_){2,}")


def _stemmer(language: str = "english"):
    import Stemmer

    return Stemmer.Stemmer(language)


def _stopwords(language: str = "english") -> frozenset[str]:
    import bm25s.stopwords

    return frozenset(bm25s.stopwords.STOPWORDS_EN if language == "english" else bm25s.stopwords.STOPWORDS_RUSSIAN)


class _Analyser:
    """Words of a text -> stems, by script (see the module docstring)."""

    def __init__(self, stemmer: str):
        if stemmer not in STEMMERS:
            raise ValueError(f"unknown keyword tokeniser {stemmer!r} (this version knows {', '.join(STEMMERS)})")
        self.name = stemmer
        self.stem_en, self.stop_en = _stemmer().stemWords, _stopwords()
        self.russian = stemmer == STEMMER
        if self.russian:
            self.stem_ru, self.stop_ru = _stemmer("russian").stemWords, _stopwords("russian")

    def __call__(self, text: str) -> list[str]:
        lowered = text.lower()
        words = re.findall(_SPLIT, lowered)
        if not self.russian or not _CYRILLIC.search(lowered):
            return self.stem_en([w for w in words if w not in self.stop_en])  # exactly the English-only tokens
        latin, cyrillic = [], []
        for w in words:
            if _CYRILLIC.search(w):
                w = w.replace("ё", "е")  # written either way; the stop list and stems use "е"
                if w not in self.stop_ru:
                    cyrillic.append(w)
            elif w not in self.stop_en:
                latin.append(w)
        return self.stem_en(latin) + self.stem_ru(cyrillic)


class KeywordIndex:
    """BM25 scores for every passage row, given a question; rows can be appended and dropped."""

    def __init__(self, counts: sp.csr_matrix, vocabulary: list[str], stemmer: str = STEMMER):
        self.counts = counts
        self.terms = list(vocabulary)
        self._column = {t: i for i, t in enumerate(self.terms)}
        self._analyse = _Analyser(stemmer)
        self._by_term: sp.csc_matrix | None = None
        self._weights: tuple[np.ndarray, np.ndarray] | None = None
        self._spelled: dict[str, str] | None = None  # see `tokens`
        self._sorted: list[str] | None = None  # the terms in order, for `variant`

    @property
    def n_docs(self) -> int:
        return self.counts.shape[0]

    @property
    def vocabulary(self) -> dict[str, int]:
        """Every term (stem) that occurs in some passage, with its column."""
        return self._column

    @property
    def stemmer(self) -> str:
        """The tokeniser its rows were counted with (`STEMMER`, or `LEGACY_STEMMER` for an older index)."""
        return self._analyse.name

    def tokens(self, text: str) -> list[str]:
        """The terms of a question. A word the corpus writes letter by letter ("LCD" as
        "L_C_D_") is looked up in that spelling too, so that it is searched for and known; a
        word it never uses is searched as the corpus's other form of it, if it has one
        (`variant`: "Alaskans" as "Alaska")."""
        out = self._analyse(text)
        spelled = self._spelled_terms()
        terms: list[str] = []
        for t in out:
            if t in spelled:
                terms.extend([t, spelled[t]] if t in self._column else [spelled[t]])
            elif t not in self._column and (other := self.variant(t)) is not None:
                terms.append(other)
            else:
                terms.append(t)
        return terms

    def variant(self, term: str) -> str | None:
        """The vocabulary's other form of ``term``, a term it does not hold: the one that is
        ``term`` with its last one or two letters dropped ("alaskan" -> "alaska"), else the
        shortest that is ``term`` with one or two letters added ("alaska" -> "alaskan"). Only
        for words of six letters or more whose form keeps five, so that short words do not
        become other words ("raini" is not "rain"). The stemmer leaves such pairs apart
        (demonyms, names with a suffix), and machine transcripts use one where a question
        uses the other."""
        if len(term) < 6 or not term.isalpha():
            return None
        for cut in (1, 2):
            if len(term) - cut >= 5 and term[:-cut] in self._column:
                return term[:-cut]
        if self._sorted is None:
            self._sorted = sorted(self.terms)
        at = bisect.bisect_left(self._sorted, term)
        longer = []
        while at < len(self._sorted) and self._sorted[at].startswith(term):
            if len(self._sorted[at]) <= len(term) + 2 and self._sorted[at].isalpha():
                longer.append(self._sorted[at])
            at += 1
        return min(longer, key=lambda t: (len(t), t)) if longer else None

    def _spelled_terms(self) -> dict[str, str]:
        """Spelled-out terms of the vocabulary by the term their letters make ("lcd": "l_c_d_")."""
        if self._spelled is None:
            self._spelled = {}
            for term in self.terms:
                if _SPELLED.fullmatch(term):
                    joined = self._analyse(term.replace("_", ""))
                    if len(joined) == 1:
                        self._spelled.setdefault(joined[0], term)
        return self._spelled

    # -- building and updating ------------------------------------------------------------

    @classmethod
    def build(cls, texts: Sequence[str], stemmer: str = STEMMER) -> "KeywordIndex":
        empty = cls(sp.csr_matrix((0, 0), dtype=np.int32), [], stemmer)
        return empty.extended(texts)

    def extended(self, texts: Sequence[str]) -> "KeywordIndex":
        """A new index: these rows plus one row per text, appended; new terms extend the vocabulary."""
        analyse = self._analyse
        column = dict(self._column)
        indptr, indices = [0], []
        for text in texts:
            words = analyse(text) or [EMPTY]
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
        return KeywordIndex(sp.vstack([old, added], format="csr", dtype=np.int32), vocabulary, self.stemmer)

    def take(self, rows: np.ndarray) -> "KeywordIndex":
        """A new index of just these rows, in this order; terms no row uses any more are dropped."""
        counts = self.counts[np.asarray(rows, dtype=np.int64)]
        used = np.bincount(counts.indices, minlength=len(self.terms)) > 0
        if used.all():
            return KeywordIndex(counts, self.terms, self.stemmer)
        renumber = np.cumsum(used) - 1
        counts = sp.csr_matrix((counts.data, renumber[counts.indices].astype(np.int32), counts.indptr),
                               shape=(counts.shape[0], int(used.sum())))
        return KeywordIndex(counts, [t for t, u in zip(self.terms, used) if u], self.stemmer)

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
    def load(cls, folder: Path, n_docs: int, stemmer: str = STEMMER) -> "KeywordIndex":
        """Read a saved index counted with ``stemmer`` (the manifest says which); ValueError (with
        the reason) if its files do not fit together or the tokeniser is unknown."""
        terms = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        indptr, indices, data = (np.load(folder / f"{name}.npy", allow_pickle=False)
                                 for name in ("indptr", "indices", "counts"))
        if len(indptr) != n_docs + 1 or indptr[-1] != len(indices) or len(indices) != len(data):
            raise ValueError(f"{len(indptr) - 1} keyword rows for {n_docs} passages")
        if len(indices) and (indices.min() < 0 or indices.max() >= len(terms)):
            raise ValueError("term numbers outside the vocabulary")
        return cls(sp.csr_matrix((data, indices, indptr), shape=(n_docs, len(terms))), terms, stemmer)
