"""Finding the passages that answer a question: dense + keyword search, fused, then boosted.

Dense search (FAISS over sentence embeddings) finds paraphrases; BM25 finds names, numbers
and rare terms. Their candidates are pooled and fused (reciprocal rank fusion by default,
or a weighted sum of normalised scores), then nudged by what the question itself says: the
person it asks about, the month or year it names, the transcript a follow-up continues.
Explicit filters (speaker labels, date range, transcripts) restrict the search instead.
The top similarity also decides abstention: when nothing is close enough, the caller is told
so and still gets the closest passages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from .dates import in_range
from .records import Passage
from .store import IndexData


@dataclass
class RetrievalConfig:
    """Knobs of the search pipeline; defaults are the values measured best on the dev set."""

    fusion: str = "weighted"  # "weighted" | "rrf" | "dense" | "keyword"
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    candidates: int = 200
    speaker_boost: float = 0.25  # the question asks what this person said
    mention_boost: float = 0.05  # the person is only mentioned
    date_boost: float = 0.2
    transcript_boost: float = 0.3  # follow-ups: the transcript(s) the conversation was about
    followup_weight: float = 0.25  # how much of the previous question's vector a follow-up keeps
    followup_keyword: bool = True  # add the previous question's words to the keyword query
    title_boost: float = 0.3  # transcripts whose title matches the question (the event it names)
    title_power: float = 2.0
    title_keyword: float = 0.5
    abstain_below: float = 0.35  # top dense similarity under which the bot abstains
    abstain_below_if_unknown: float = 0.5  # the same, when a question word is unknown to the corpus


@dataclass
class Filters:
    """Hard restrictions set by the user (never inferred): only passages that satisfy all."""

    speakers: set[str] | None = None  # exact speaker labels
    since: str | None = None
    until: str | None = None
    transcripts: set[str] | None = None

    def active(self) -> bool:
        return bool(self.speakers is not None or self.since or self.until or self.transcripts is not None)

    def allows(self, p: Passage) -> bool:
        if self.speakers is not None and p.speaker not in self.speakers:
            return False
        if self.transcripts is not None and p.transcript not in self.transcripts:
            return False
        return in_range(p.date, self.since, self.until)


@dataclass
class Boosts:
    """Soft preferences inferred from the question and conversation."""

    speakers: dict[str, float] = field(default_factory=dict)  # label -> boost
    dates: list[tuple[str, str, float]] = field(default_factory=list)  # (since, until, boost)
    transcripts: dict[str, float] = field(default_factory=dict)


@dataclass
class ScoredPassage:
    row: int
    passage: Passage
    score: float
    dense: float
    keyword: float


class Retriever:
    """Search over one loaded index; stateless apart from the index it was given."""

    def __init__(self, data: IndexData, config: RetrievalConfig | None = None):
        self.data = data
        self.config = config or RetrievalConfig()
        kind = data.manifest.get("vector_index", {}).get("kind", "flat")
        if kind == "ivf":
            import faiss

            ivf = faiss.extract_index_ivf(data.vectors)
            ivf.nprobe = max(1, ivf.nlist // 8)

    def search(
        self,
        query_vector: np.ndarray,
        keyword_text: str,
        k: int = 10,
        filters: Filters | None = None,
        boosts: Boosts | None = None,
        config: RetrievalConfig | None = None,
    ) -> list[ScoredPassage]:
        cfg = config or self.config
        data = self.data
        n = len(data.passages)
        if n == 0:
            return []
        filters = filters or Filters()
        boosts = boosts or Boosts()
        allowed = self._allowed_rows(filters) if filters.active() else None
        if allowed is not None and not len(allowed):
            return []

        dense_rows, dense_scores = self._dense(query_vector, cfg.candidates, allowed)
        keyword_all = data.keyword.scores(keyword_text) if cfg.fusion != "dense" else np.zeros(n, np.float32)
        if allowed is not None:
            mask = np.zeros(n, dtype=bool)
            mask[allowed] = True
            keyword_all = np.where(mask, keyword_all, 0.0)
        keyword_rows = np.argsort(-keyword_all)[: cfg.candidates]
        keyword_rows = keyword_rows[keyword_all[keyword_rows] > 0]

        pool: set[int] = set(dense_rows.tolist()) | set(keyword_rows.tolist())
        # Passages of the people or transcripts the question points at compete too, even when
        # the global top lists missed them.
        preferred = [label for label, b in boosts.speakers.items() if b >= cfg.speaker_boost]
        if preferred or boosts.transcripts:
            subset = self._preferred_rows(preferred, boosts.transcripts, allowed)
            if len(subset):
                rows, _ = self._dense(query_vector, cfg.candidates // 2, subset)
                pool |= set(rows.tolist())
                sub_kw = subset[np.argsort(-keyword_all[subset])[: cfg.candidates // 2]]
                pool |= set(sub_kw[keyword_all[sub_kw] > 0].tolist())
        if cfg.fusion == "keyword":
            pool = set(keyword_rows.tolist())
        rows = np.array(sorted(pool), dtype=np.int64)
        if not len(rows):
            return []
        dense = self._dense_scores(query_vector, rows)
        keyword = keyword_all[rows]
        fused = self._fuse(dense, keyword, cfg)
        factor = np.ones(len(rows), dtype=np.float32)
        for i, row in enumerate(rows):
            p = data.passages[row]
            bonus = boosts.speakers.get(p.speaker or "", 0.0) + boosts.transcripts.get(p.transcript, 0.0)
            for since, until, b in boosts.dates:
                if in_range(p.date, since, until):
                    bonus += b
                    break
            factor[i] += bonus
        final = fused * factor
        order = np.argsort(-final, kind="stable")
        out: list[ScoredPassage] = []
        seen: set[tuple[str, str]] = set()
        for i in order:
            p = data.passages[int(rows[i])]
            key = (p.transcript, " ".join(p.text.split()))
            if key in seen:  # pull quotes and repeated paragraphs: show once
                continue
            seen.add(key)
            out.append(ScoredPassage(int(rows[i]), p, float(final[i]), float(dense[i]), float(keyword[i])))
            if len(out) >= k:
                break
        return out

    def best_similarity(self, query_vector: np.ndarray, filters: Filters | None = None) -> float:
        """Cosine similarity of the closest passage (within the filters): how near the corpus comes.

        Independent of how many hits the caller asked for, so abstention does not depend on k.
        """
        filters = filters or Filters()
        allowed = self._allowed_rows(filters) if filters.active() else None
        if allowed is not None and not len(allowed):
            return 0.0
        _, scores = self._dense(query_vector, 1, allowed)
        return float(scores[0]) if len(scores) else 0.0

    # -- pieces -----------------------------------------------------------------------------

    def _fuse(self, dense: np.ndarray, keyword: np.ndarray, cfg: RetrievalConfig) -> np.ndarray:
        if cfg.fusion == "dense":
            return dense.astype(np.float32)
        if cfg.fusion == "keyword":
            return keyword.astype(np.float32)
        if cfg.fusion == "weighted":
            kw = keyword / keyword.max() if keyword.max() > 0 else keyword
            return (cfg.dense_weight * dense + cfg.keyword_weight * kw * 0.5).astype(np.float32)
        dense_rank = _ranks(dense)
        keyword_rank = _ranks(keyword)
        kw_part = np.where(keyword > 0, 1.0 / (cfg.rrf_k + keyword_rank), 0.0)
        fused = cfg.dense_weight / (cfg.rrf_k + dense_rank) + cfg.keyword_weight * kw_part
        return (fused * cfg.rrf_k).astype(np.float32)  # scale so that 1.0 ~ "first in one list"

    def _allowed_rows(self, filters: Filters) -> np.ndarray:
        """The rows ``filters`` allows (the same rule as `Filters.allows`, computed per column)."""
        data = self.data
        mask = np.ones(len(data.passages), dtype=bool)
        if filters.speakers is not None:
            mask &= data.speaker_mask(filters.speakers)
        if filters.transcripts is not None:
            mask &= data.transcript_mask(filters.transcripts)
        if filters.since or filters.until:
            entries = data.manifest.get("transcripts", {})
            mask &= data.transcript_mask(rel for rel in data.transcript_names
                                         if in_range(entries[rel].get("date"), filters.since, filters.until))
        return np.flatnonzero(mask)

    def _preferred_rows(self, speakers: list[str], transcripts, allowed: np.ndarray | None) -> np.ndarray:
        """Rows spoken by one of ``speakers`` or in one of ``transcripts``, within ``allowed``."""
        mask = self.data.speaker_mask(speakers) | self.data.transcript_mask(transcripts)
        rows = np.flatnonzero(mask)
        return rows if allowed is None else np.intersect1d(rows, allowed, assume_unique=True)

    def _dense(self, vector: np.ndarray, k: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows by cosine similarity, optionally only among ``rows`` (an id selector)."""
        import faiss

        index = self.data.vectors
        params = None
        if rows is not None:
            ids = self.data.ids[rows]
            params = faiss.SearchParametersIVF() if self.data.manifest.get("vector_index", {}).get("kind") == "ivf" \
                else faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(ids)
            if isinstance(params, faiss.SearchParametersIVF):
                params.nprobe = max(1, faiss.extract_index_ivf(index).nlist // 8)
        k = min(k, index.ntotal if rows is None else len(rows))
        scores, ids = index.search(vector.reshape(1, -1).astype(np.float32), k, params=params)
        keep = ids[0] >= 0
        found = np.array([self.data.row_of[int(i)] for i in ids[0][keep]], dtype=np.int64)
        return found, scores[0][keep]

    def _dense_scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        vecs = np.vstack([self.data.vectors.reconstruct(int(self.data.ids[r])) for r in rows])
        return vecs @ vector.astype(np.float32)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score (highest first)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def rows_of(passages: Iterable[ScoredPassage]) -> list[int]:
    return [p.row for p in passages]
