"""Finding the passages that answer a question: dense + keyword search, fused, boosted, in stages.

Dense search (FAISS over sentence embeddings) finds paraphrases; BM25 finds names, numbers
and rare terms. Their candidates are pooled and fused (a weighted sum of cosine and
normalised BM25 by default; reciprocal rank fusion, dense or keyword alone for comparison),
then nudged by what the question itself says: the person it asks about, the month or year
it names, the transcripts whose title it names or that a follow-up continues. A passage is
also judged by its own content: a short reply, or a question the next turn answers, is
discounted. Two later stages rank within the transcripts the question is about: those whose
title it names, by the question without the event's words (`Focus`), and the few the first
pass is about, whose passages all compete and gain with their transcript's best score.
Finally the hits are grouped: one hit per piece of content (`group_hits`). Explicit filters
(speaker labels, date range, transcripts) restrict the search instead. Abstention is decided
by the core (`abstention.py`) from the similarities returned here.

The dense space is the retriever's ``vectors`` (the index's English space by default; the
core gives a question in another language a retriever over the multilingual space). A
`Second` space's cosine can join the fusion too (``multilingual_weight``: e5 beside MiniLM
for English questions; off by default, see docs/RETRIEVAL.md, "Multilingual").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np

from . import calibration
from .chunking import join_overlapping
from .dates import in_range
from .records import Passage, is_question_of
from .store import IndexData
from .vectorstore import VectorStore, Where


@dataclass
class RetrievalConfig:
    """Knobs of the search pipeline; defaults are the values measured best on the dev set."""

    fusion: str = "weighted"  # "weighted" | "rrf" | "dense" | "keyword"
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float | None = None  # BM25's weight in the fusion; None: the model's (`calibration`; MiniLM 1.0)
    candidates: int = 200
    speaker_boost: float = 0.25  # the question asks what this person said
    # ... and the anonymous turns ("Guest 1") of a transcript that mentions a person the question
    # asks about but no label names (machine transcripts: "according to Vivek Kaul").
    unlabelled_boost: float = 0.25
    mention_boost: float = 0.05  # the person is only mentioned
    date_boost: float = 0.2
    transcript_boost: float = 0.3  # follow-ups: the transcript(s) the conversation was about
    followup_weight: float = 0.25  # how much of the previous question's vector a follow-up keeps
    followup_keyword: bool = True  # add the previous question's words to the keyword query
    # transcripts whose title matches the question (the event it names); None: the model's
    # (`calibration`; MiniLM 0.3, mpnet 0.2)
    title_boost: float | None = None
    title_power: float = 2.0
    title_keyword: float = 0.5
    # A question that names a date ("in the June 2018 interview", "the 2020 protests") names an
    # event on that date: a transcript dated outside every date it names keeps this share of its
    # title match (0: none), so it is neither title-boosted nor chosen by the event stage (its
    # passages still compete on their content). Undated transcripts are never discounted.
    # Kremlin full Hit@5 +0.018, MRR +0.035; bundled dev-60 +0.018 / +0.022; calls Hit@1 +0.028;
    # QMSum unchanged (docs/RETRIEVAL.md, session 13).
    title_date_mismatch: float = 0.0
    # A passage is ranked by its own content too: one whose own text is shorter than
    # ``short_words`` words ("That is right.") loses up to ``short_penalty`` of its score,
    # since the context embedded with it (the question it answers) lends it a similarity
    # it did not earn. Words are `records.word_count`'s (separators such as "* * *" are not).
    # 0.7, not 0.4: with the date rule above, an 8-word "Thank you. * * * Part 2, Kaliningrad,
    # March 2, 2018" was a bundled top-1 hit; from 0.7 up no top-1 hit of the three sets is under
    # 12 words, and nothing else moves but bundled Hit@1 +0.018 (session 13).
    # None: the index's model's (`calibration`; all-MiniLM-L6-v2 12, all-mpnet-base-v2 16).
    short_words: int | None = None
    short_penalty: float = 0.7
    question_penalty: float = 0.15  # a question that the next turn answers is not an answer itself
    # Share of a passage's best sentence's cosine (the sentence table, `sentences`) added to its
    # fused score: a passage with one sentence that answers, among others about other things.
    sentence_weight: float = 0.0
    # The same within the second stage (the event's transcripts, ranked by the question's detail):
    # the detail's best sentence ("We keep 40 percent of our reserves in the euro").
    focus_sentence_weight: float = 0.0
    merge_windows: bool = True  # overlapping windows of one turn among the hits become one hit
    merge_max_words: int = 400  # ... unless the joined text would be longer than this
    # ... also a window ranked below the k-th hit, so that a hit's text does not depend on k (the
    # rank-2 hit of k=10 lacked the next window that the same hit of k=20 had joined). Kremlin full
    # Hit@5 +0.018, QMSum Hit@10 +0.030, calls unchanged; hits are longer (docs/RETRIEVAL.md, session 11).
    merge_past_k: bool = True
    # ... and, in a meeting, neighbouring exchanges, which share a turn. QMSum Hit@5 0.460 -> 0.477,
    # Hit@10 0.557 -> 0.574; Kremlin and calls unchanged; QMSum hits longer (docs/RETRIEVAL.md, session 11).
    merge_exchanges: bool = True
    drop_prompts: bool = False  # a prompting question is not a hit beside its own reply (measured: no gain)
    # Two stages: when the question names an event (its words match a transcript's title),
    # the passages of the best-matching transcripts are also ranked by the question with those
    # words taken out, so that the detail asked for, not the event, decides among them.
    focus_transcripts: int = 2  # how many title-matched transcripts get the second stage
    focus_min_title: float = 0.5  # title match (0..1) a transcript needs for it
    focus_weight: float = 0.5  # share of the second-stage score in a focused passage's score
    # At most this many passages of the focused (and the about) transcripts join the candidates,
    # the first in index order: 3000 lets all passages of five long transcripts compete (600 cut
    # the later transcripts of a long set short; QMSum +1 question at Hit@5 and Hit@10, 2 fewer
    # false abstentions; Kremlin and calls unchanged: docs/RETRIEVAL.md, session 9).
    focus_pool: int = 3000
    # the transcripts of the first pass's best passages whose passages all compete; None: the
    # model's (`calibration`; MiniLM 5, mpnet 8)
    about_transcripts: int | None = None
    about_weight: float = 1.0  # a passage gains this share of its transcript's best score (relative)
    # When the question names no transcript by its title (no event stage), the about stage's
    # transcripts are chosen, and their passages gain, by their best passage mixed with this
    # share of their BM25 as a whole (`IndexData.transcript_keyword`, relative to the best
    # transcript's): a meeting whose words match the question across many turns, not in one
    # passage. QMSum Hit@10 +0.017, Kremlin and calls unchanged (docs/RETRIEVAL.md, session 9).
    about_document_weight: float = 1.5
    # Cosine thresholds, on the encoder's own scale: None is the index's model's value
    # (`calibration`; all-MiniLM-L6-v2: 0.35, 0.5, 0.55, 0.40), a number overrides it.
    abstain_below: float | None = None  # top dense similarity under which the bot abstains
    abstain_below_if_unknown: float | None = None  # the same, when a question word is unknown to the corpus
    abstain_looks_at: int = 5  # the top passages whose best similarity decides abstention
    # Relevance labels of hits (cosine of the passage): "strong" from, "good" from, else "weak".
    strong_similarity: float | None = None
    good_similarity: float | None = None
    # The extractive answer (answer.choose_sentences): sentences of the top `answer_hits` hits,
    # at most `answer_sentences` of them, each within `answer_margin` of the best; a hit with
    # many sentences offers the `answer_per_hit` sharing most words with the question.
    answer_hits: int = 3
    answer_sentences: int = 3
    answer_margin: float = 0.06
    # 6, not 3: more of a joined hit's sentences reach the cosine ranking, so the answer quotes
    # the gold evidence more often: quotes 0.339 -> 0.375 Kremlin full, 0.375 -> 0.393 bundled
    # dev-60, 0.286 -> 0.314 calls + podcasts, 0.283 -> 0.278 QMSum (one question). Hits do not
    # change. The sentences are looked up in the index's sentence table, so it costs ~1 ms
    # (docs/RETRIEVAL.md, session 12).
    answer_per_hit: int = 6
    # The multilingual space (multilingual-e5-small), for questions not in English. e5's cosines
    # are compressed into a high band (unrelated text scores ~0.75), so its thresholds differ.
    multilingual_abstain_below: float = 0.79  # top e5 similarity under which the bot abstains (off-topic: 0.77-0.78)
    # ... and the best e5 similarity of any sentence of the top `answer_hits` hits (looked up in
    # the index's multilingual sentence table; without one, no such check), under which it
    # abstains too. In e5 a passage's similarity does not tell on-topic unanswerable questions
    # from answerable ones (0.82-0.84 both); its best sentence does better. 0.78 is just above
    # every off-topic Russian question's best sentence (docs/RETRIEVAL.md, "Multilingual").
    multilingual_sentence_abstain_below: float = 0.78
    multilingual_weight: float = 0.0  # share of e5's cosine in an English question's fusion (0: MiniLM alone)
    # keyword_weight of a question searched in the multilingual space. e5's cosines span a narrow
    # band (~0.75-0.87), so any BM25 match (a year, "G20") swamped them: Russian dev-30 Hit@5
    # 0.571 at 1.0, 0.786 at 0.3, 0.857 at 0 (docs/RETRIEVAL.md, "Multilingual").
    multilingual_keyword_weight: float = 0.0
    # Relevance labels in the multilingual space (e5 cosines sit higher: unrelated text ~0.75).
    multilingual_strong_similarity: float = 0.86
    multilingual_good_similarity: float = 0.83

    def for_model(self, model: str) -> RetrievalConfig:
        """This configuration with every knob left as None (the cosine thresholds, the keyword
        and title weights, the short-reply length, the about stage's breadth) set to the model's own (`calibration.for_model`; ``model`` as the index manifest
        names it)."""
        measured, _ = calibration.for_model(model)
        unset = {name: getattr(measured, name) for name in CALIBRATED if getattr(self, name) is None}
        return replace(self, **unset) if unset else self


CALIBRATED = ("abstain_below", "abstain_below_if_unknown", "strong_similarity", "good_similarity", "keyword_weight",
              "short_words", "title_boost", "about_transcripts")


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
    # transcript -> boost for its anonymously labelled turns ("Guest 1"): the question asks what
    # someone said whom no label names, and this transcript mentions them (`core`).
    unlabelled: dict[str, float] = field(default_factory=dict)


@dataclass
class Focus:
    """The second stage: transcripts the question is about, and the question without the words
    that identified them (its vector and keyword text)."""

    transcripts: list[str]
    vector: np.ndarray
    keyword_text: str


@dataclass
class Second:
    """A second dense space fused into the scores: its vectors and the question's vector in it."""

    vectors: VectorStore
    vector: np.ndarray


@dataclass
class ScoredPassage:
    row: int
    passage: Passage
    score: float
    dense: float
    keyword: float


class Retriever:
    """Search over one loaded index; stateless apart from the index it was given."""

    def __init__(self, data: IndexData, config: RetrievalConfig | None = None, vectors: VectorStore | None = None):
        self.data = data
        # The knobs the configuration leaves to the model are the index's model's (`calibration`).
        self.config = (config or RetrievalConfig()).for_model(data.manifest["model"]["name"])
        self.vectors = vectors if vectors is not None else data.vector_store  # the dense space searched

    def search(
        self,
        query_vector: np.ndarray,
        keyword_text: str,
        k: int = 10,
        filters: Filters | None = None,
        boosts: Boosts | None = None,
        config: RetrievalConfig | None = None,
        focus: Focus | None = None,
        second: Second | None = None,
    ) -> list[ScoredPassage]:
        cfg = config.for_model(self.data.manifest["model"]["name"]) if config is not None else self.config
        if second is not None and cfg.multilingual_weight <= 0:
            second = None
        data = self.data
        n = len(data.passages)
        if n == 0:
            return []
        filters = filters or Filters()
        boosts = boosts or Boosts()
        allowed = self._allowed_rows(filters) if filters.active() else None
        if allowed is not None and not len(allowed):
            return []
        where = _where(filters) if allowed is not None else None

        dense_rows, dense_scores = self._dense(query_vector, cfg.candidates, allowed, where)
        keyword_all = data.keyword.scores(keyword_text) if cfg.fusion != "dense" else np.zeros(n, np.float32)
        if allowed is not None:
            mask = np.zeros(n, dtype=bool)
            mask[allowed] = True
            keyword_all = np.where(mask, keyword_all, 0.0)
        keyword_rows = np.argsort(-keyword_all)[: cfg.candidates]
        keyword_rows = keyword_rows[keyword_all[keyword_rows] > 0]

        pool: set[int] = set(dense_rows.tolist()) | set(keyword_rows.tolist())
        if second is not None:
            pool |= set(self._dense(second.vector, cfg.candidates, allowed, where, second.vectors)[0].tolist())
        # Passages of the people or transcripts the question points at compete too, even when
        # the global top lists missed them.
        preferred = [label for label, b in boosts.speakers.items() if b >= cfg.speaker_boost]
        if boosts.unlabelled:  # ... and the anonymous turns of the transcripts that mention the person
            anon = np.flatnonzero(data.row_anonymous & data.transcript_mask(boosts.unlabelled))
            if allowed is not None:
                anon = np.intersect1d(anon, allowed, assume_unique=True)
            if len(anon):
                base = where or Where()
                labels = frozenset(data.passages[r].speaker for r in anon)
                named = frozenset(boosts.unlabelled)
                pool |= self._best_of(query_vector, keyword_all, anon, cfg.candidates // 2, replace(
                    base, speakers=labels if base.speakers is None else base.speakers & labels,
                    transcripts=named if base.transcripts is None else base.transcripts & named))
        if preferred or boosts.transcripts:
            subset = self._preferred_rows(preferred, boosts.transcripts, allowed)
            if len(subset):
                pool |= self._best_of(query_vector, keyword_all, subset, cfg.candidates // 2, replace(
                    where or Where(), any_speakers=frozenset(preferred), any_transcripts=frozenset(boosts.transcripts)))
        focus_rows = None
        if focus is not None and focus.transcripts and cfg.focus_weight > 0:
            focus_rows = self._rows_of(focus.transcripts, allowed)[: cfg.focus_pool]
            pool |= set(focus_rows.tolist())
        if cfg.fusion == "keyword":
            pool = set(keyword_rows.tolist())
        rows = np.array(sorted(pool), dtype=np.int64)
        if not len(rows):
            return []
        detail_keyword = data.keyword.scores(focus.keyword_text) if focus is not None else None
        final, dense, keyword = self._score(rows, query_vector, keyword_all, boosts, cfg, focus, focus_rows,
                                            detail_keyword, second)
        if cfg.about_transcripts > 0 and cfg.fusion != "keyword":
            # Stage two: the transcripts the first pass is about. All their passages compete
            # (ranked, like the title-matched ones, by the question's detail when it named an
            # event), and each passage gains with its transcript's best score, mixed, when no
            # title named the event, with the transcript's BM25 as a whole.
            best = self._transcript_best(rows, final)
            chosen = best / max(float(best.max()), 1e-9)
            document = None
            # A keyword signal, so off where keywords are off (the multilingual space, whose
            # questions share only numbers and names with English transcripts).
            if cfg.about_document_weight > 0 and cfg.keyword_weight > 0 and not (focus is not None and focus.transcripts):
                document = data.transcript_keyword().scores(keyword_text)
                if allowed is not None:
                    has = np.zeros(len(document), dtype=bool)
                    has[data.row_transcript[allowed]] = True
                    document = np.where(has, document, 0.0)
                if float(document.max()) > 0:
                    document = document / float(document.max())
                    chosen = (chosen + cfg.about_document_weight * document) / (1.0 + cfg.about_document_weight)
                else:  # no word of the question occurs anywhere: the best passages decide alone
                    document = None
            about = [data.transcript_names[i] for i in np.argsort(-chosen)[: cfg.about_transcripts] if chosen[i] > 0]
            extra = self._rows_of(about, allowed)[: cfg.focus_pool]
            if len(extra):
                if focus_rows is not None:
                    extra = np.union1d(extra, focus_rows)
                rows = np.union1d(rows, extra)
                final, dense, keyword = self._score(rows, query_vector, keyword_all, boosts, cfg, focus,
                                                    extra if focus is not None else None, detail_keyword, second)
            best = self._transcript_best(rows, final)
            top = float(best.max())
            if top > 0 and cfg.about_weight > 0:
                share = best / top
                if document is not None:
                    share = (share + cfg.about_document_weight * document) / (1.0 + cfg.about_document_weight)
                final = final * (1.0 + cfg.about_weight * share[data.row_transcript[rows]])
        order = np.argsort(-final, kind="stable")
        ranked = (ScoredPassage(int(rows[i]), data.passages[int(rows[i])], float(final[i]), float(dense[i]),
                                float(keyword[i])) for i in order)
        return group_hits(ranked, k, data.passages, cfg)

    # -- pieces -----------------------------------------------------------------------------

    def _score(self, rows: np.ndarray, query_vector: np.ndarray, keyword_all: np.ndarray, boosts: Boosts,
               cfg: RetrievalConfig, focus: Focus | None, focus_rows: np.ndarray | None,
               detail_keyword: np.ndarray | None, second: Second | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Final, dense and keyword scores of ``rows``: fused, mixed with the second-stage score
        for ``focus_rows``, boosted by what the question points at, and discounted for short
        replies and for questions."""
        data = self.data
        dense = self._dense_scores(query_vector, rows)
        keyword = keyword_all[rows]
        fused = self._fuse(dense, keyword, cfg)
        # The sentence table is in the English space: only a search there may use it.
        by_sentence = data.sentences is not None and self.vectors is data.vector_store
        if cfg.sentence_weight > 0 and by_sentence:
            fused = fused + cfg.sentence_weight * data.best_sentence(query_vector, rows)
        if second is not None:
            fused = fused + cfg.multilingual_weight * second.vectors.scores(second.vector, data.ids[rows])
        if focus is not None and focus_rows is not None and len(focus_rows):
            at = np.flatnonzero(np.isin(rows, focus_rows))
            second = self._fuse(self._dense_scores(focus.vector, rows[at]), detail_keyword[rows[at]], cfg)
            if cfg.focus_sentence_weight > 0 and by_sentence:
                second = second + cfg.focus_sentence_weight * data.best_sentence(focus.vector, rows[at])
            fused[at] = (1 - cfg.focus_weight) * fused[at] + cfg.focus_weight * second
        final = fused * (1.0 + self._bonus(rows, boosts))
        if cfg.short_penalty > 0:
            final = final * content_factor(data.own_words[rows], cfg)
        if cfg.question_penalty > 0:
            final = final * np.where(data.is_question[rows], 1.0 - cfg.question_penalty, 1.0).astype(np.float32)
        return final, dense, keyword

    def _bonus(self, rows: np.ndarray, boosts: Boosts) -> np.ndarray:
        """Each row's boost: its speaker's, its transcript's, and the first date range its
        transcript's date falls in (dates belong to transcripts, so they are judged per transcript)."""
        data = self.data
        bonus = np.zeros(len(rows), dtype=np.float32)
        if boosts.speakers:
            by_label = np.zeros(len(data.speaker_labels) + 1, dtype=np.float32)
            for label, b in boosts.speakers.items():
                if label in data.speaker_code:
                    by_label[data.speaker_code[label]] = b
            bonus += by_label[data.row_speaker[rows]]  # -1 (no speaker) picks the trailing 0
        if boosts.unlabelled:
            per = np.zeros(len(data.transcript_names) + 1, dtype=np.float32)
            for rel, b in boosts.unlabelled.items():
                if rel in data.transcript_index:
                    per[data.transcript_index[rel]] = b
            bonus += np.where(data.row_anonymous[rows], per[data.row_transcript[rows]], np.float32(0))
        if boosts.transcripts or boosts.dates:
            per = np.zeros(len(data.transcript_names) + 1, dtype=np.float32)
            for rel, b in boosts.transcripts.items():
                if rel in data.transcript_index:
                    per[data.transcript_index[rel]] += b
            dated = np.zeros(len(data.transcript_names), dtype=np.float32)
            for since, until, b in reversed(boosts.dates):  # the first range that matches wins
                dated = np.where(data.dated_within(since, until), np.float32(b), dated)
            per[:-1] += dated
            bonus += per[data.row_transcript[rows]]
        return bonus

    def _best_of(self, query_vector: np.ndarray, keyword_all: np.ndarray, rows: np.ndarray, k: int,
                 where: Where) -> set[int]:
        """The best ``k`` of ``rows`` by cosine and the best ``k`` by BM25 (``where`` describes
        ``rows`` for a store that filters on its own fields)."""
        found, _ = self._dense(query_vector, k, rows, where)
        by_keyword = rows[np.argsort(-keyword_all[rows])[:k]]
        return set(found.tolist()) | set(by_keyword[keyword_all[by_keyword] > 0].tolist())

    def _transcript_best(self, rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Per transcript (in ``transcript_names`` order), the best score among ``rows``."""
        best = np.zeros(len(self.data.transcript_names), dtype=np.float32)
        np.maximum.at(best, self.data.row_transcript[rows], scores)
        return best

    def _rows_of(self, transcripts, allowed: np.ndarray | None) -> np.ndarray:
        rows = np.flatnonzero(self.data.transcript_mask(transcripts))
        return rows if allowed is None else np.intersect1d(rows, allowed, assume_unique=True)

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
            within = data.dated_within(filters.since, filters.until)
            mask &= data.transcript_mask(data.transcript_names[t] for t in np.flatnonzero(within))
        return np.flatnonzero(mask)

    def _preferred_rows(self, speakers: list[str], transcripts, allowed: np.ndarray | None) -> np.ndarray:
        """Rows spoken by one of ``speakers`` or in one of ``transcripts``, within ``allowed``."""
        mask = self.data.speaker_mask(speakers) | self.data.transcript_mask(transcripts)
        rows = np.flatnonzero(mask)
        return rows if allowed is None else np.intersect1d(rows, allowed, assume_unique=True)

    def _dense(self, vector: np.ndarray, k: int, rows: np.ndarray | None,
               where: Where | None = None, vectors: VectorStore | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows by cosine similarity, optionally only among ``rows`` (which ``where``
        describes as field conditions, for a store that filters on its own fields)."""
        ids = self.data.ids[rows] if rows is not None else None
        scores, found_ids = (vectors or self.vectors).search(vector, k, ids, where)
        found = np.array([self.data.row_of[int(i)] for i in found_ids], dtype=np.int64)
        return found, scores

    def _dense_scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.vectors.scores(vector, self.data.ids[rows])


def _where(filters: Filters) -> Where:
    """The filters as field conditions (the rule `Retriever._allowed_rows` applies to rows)."""
    return Where(speakers=frozenset(filters.speakers) if filters.speakers is not None else None,
                 transcripts=frozenset(filters.transcripts) if filters.transcripts is not None else None,
                 since=filters.since, until=filters.until)


def content_factor(own_words: np.ndarray, cfg: RetrievalConfig) -> np.ndarray:
    """Score multiplier for passages whose own text is short: 1 at ``short_words`` words and
    more, falling linearly to ``1 - short_penalty`` for an empty text."""
    shortfall = np.clip(1.0 - own_words / max(cfg.short_words, 1), 0.0, 1.0)
    return (1.0 - cfg.short_penalty * shortfall).astype(np.float32)


def group_hits(ranked: Iterable[ScoredPassage], k: int, passages: list[Passage],
               cfg: RetrievalConfig) -> list[ScoredPassage]:
    """The first ``k`` hits of ``ranked`` (best first), one hit per piece of content.

    - A repeated text in one transcript (pull quotes) is shown once.
    - Overlapping windows of one turn that both rank become one hit: their texts are joined
      on the sentence they share, so the hit is still one contiguous span of the source. So do
      neighbouring exchanges of a meeting, joined on the turn they share. A window ranked
      below the k-th hit still joins the hit it neighbours (never a hit of its own), so that
      a hit's text does not depend on k.
    - A question whose own reply also ranks is not a hit of its own: the reply shows it as
      its context. The reply takes the better of the two scores and the earlier place.
    """
    out: list[ScoredPassage] = []
    seen: set[tuple[str, str]] = set()
    turns: set[tuple[str, int]] = set()  # (transcript, turn) of the hits
    for s in ranked:
        if len(out) >= k:  # past the k-th hit a window can only join a hit of its own turn
            if not (cfg.merge_windows and cfg.merge_past_k):
                break
            if (s.passage.transcript, s.passage.turn) not in turns and \
                    (s.passage.transcript, _last_turn(s.passage)) not in turns:
                continue
        p = s.passage
        key = (p.transcript, " ".join(p.text.split()))
        if key in seen:
            continue
        seen.add(key)
        joined = _merge_into(out, s, cfg.merge_max_words, cfg.merge_exchanges) if cfg.merge_windows else None
        if joined is not None:
            turns.add((p.transcript, _last_turn(out[joined].passage)))  # a grown exchange ends later
            continue
        if cfg.drop_prompts:
            # This passage is the question an earlier hit replies to: already shown as context.
            if any(is_question_of(p, h.passage) for h in out):
                continue
            # An earlier hit is this passage's prompting question: the reply takes its place.
            at = next((i for i, h in enumerate(out) if is_question_of(h.passage, p)), None)
            if at is not None:
                out[at] = ScoredPassage(s.row, p, out[at].score, max(out[at].dense, s.dense),
                                        max(out[at].keyword, s.keyword))
                turns.add((p.transcript, p.turn))
                continue
        if len(out) >= k:
            continue
        out.append(s)
        turns.update({(p.transcript, p.turn), (p.transcript, _last_turn(p))})
    return out




def _merge_into(hits: list[ScoredPassage], s: ScoredPassage, max_words: int, exchanges: bool = False) -> int | None:
    """Join ``s`` to a hit that is an overlapping window of the same turn, or (``exchanges``)
    the neighbouring exchange of a meeting, with which it shares a turn; the hit's index, or
    None if there is none."""
    p = s.passage
    for i, h in enumerate(hits):
        q = h.passage
        if q.transcript != p.transcript:
            continue
        first, last = (q, p) if (q.turn, q.part) <= (p.turn, p.part) else (p, q)
        if exchanges and (q.last_turn is not None or p.last_turn is not None):
            if _last_turn(first) != last.turn:
                continue  # not neighbours sharing a turn
            speakers = [x for x in dict.fromkeys([*(first.speakers or [first.speaker]),
                                                  *(last.speakers or [last.speaker])]) if x]
            spans = dict(last_turn=_last_turn(last), speakers=speakers, end=last.end if last.end is not None else first.end)
        elif q.turn != p.turn or q.speaker != p.speaker or first.part + _parts(first) != last.part:
            continue  # not neighbouring windows of one turn
        else:
            spans = dict(last_part=last.part + _parts(last) - 1)
        joined = join_overlapping(first.text, last.text)
        if joined is None or len(joined.split()) > max_words:
            continue
        hits[i] = ScoredPassage(h.row, replace(first, text=joined, **spans), h.score, max(h.dense, s.dense),
                                max(h.keyword, s.keyword))
        return i
    return None


def _last_turn(p: Passage) -> int:
    """The last turn ``p`` spans (an exchange spans several)."""
    return p.last_turn if p.last_turn is not None else p.turn


def _parts(p: Passage) -> int:
    """How many windows ``p`` spans (merged hits span several)."""
    return (p.last_part - p.part + 1) if p.last_part is not None else 1


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score (highest first)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def rows_of(passages: Iterable[ScoredPassage]) -> list[int]:
    return [p.row for p in passages]
