"""Composing what the user sees: the extractive answer, hits and their citations.

The answer is never generated text: it is the one to three source sentences that best
answer the question, quoted verbatim from the hits, each followed by the [n] of its hit.
Citations carry everything a reader needs to check a quote: speaker, title, date, place,
turn number, time (for recordings) and the source link; a hit also names its transcript's
language and, for a Kremlin transcript, both language versions (`links.sources`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from .links import sources
from .records import Passage, is_question_of
from .sentences import quotable_spans

NOT_FOUND = "No transcript in the corpus answers this; closest passages:"


@dataclass
class Hit:
    rank: int
    passage: Passage
    score: float
    similarity: float
    keyword: float
    relevance: str  # "strong" | "good" | "weak": what the similarity means to a person
    highlights: list[tuple[int, int]] = field(default_factory=list)  # answer sentences in text

    def citation(self) -> str:
        return citation_line(self.passage, self.rank)

    def to_json(self) -> dict[str, Any]:
        p = self.passage
        return {
            "rank": self.rank, "score": round(self.score, 4), "similarity": round(self.similarity, 4),
            "relevance": self.relevance, "transcript": p.transcript, "title": p.title, "date": p.date,
            "place": p.place, "url": p.url, "link": source_link(p), "speaker": p.speaker, "turn": p.turn,
            "part": p.part, "last_part": p.last_part, "last_turn": p.last_turn, "turns": turn_reference(p),
            "speakers": exchange_speakers(p),
            "start": p.start, "end": p.end, "timestamp": timestamp(p.start),
            "text": p.text, "context": p.context, "context_speaker": p.context_speaker,
            "highlights": [list(h) for h in self.highlights], "citation": self.citation(),
            "language": p.language, "sources": sources(p.url),
        }


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    hits: list[Hit]
    understood: dict[str, Any] = field(default_factory=dict)  # inferred speaker/date/follow-up
    generation: int | None = None  # the index generation every hit was read from
    language: str | None = None  # the question's language (ISO 639-1, "und" when undetermined)
    space: str | None = None  # what answered: "english", "multilingual" (both joined by "+"), "keyword" (BM25 over transcripts in the question's language, no multilingual space), or None

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question, "answer": self.answer, "abstained": self.abstained,
            "understood": self.understood, "index_generation": self.generation,
            "language": self.language, "space": self.space,
            "hits": [h.to_json() for h in self.hits],
        }


def _is_prompt_of_another(hit: Hit, hits: Sequence[Hit]) -> bool:
    return any(h is not hit and is_question_of(hit.passage, h.passage) for h in hits)


def timestamp(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def source_link(p: Passage) -> str | None:
    """The source url, carrying the time for recordings (``?t=SECONDS`` as video pages take it)."""
    if not p.url:
        return None
    if p.start is None:
        return p.url
    sep = "&" if "?" in p.url else "?"
    return f"{p.url}{sep}t={int(p.start)}"


def human_date(iso: str | None) -> str:
    if not iso:
        return "undated"
    from datetime import date

    parts = iso.split("-")
    try:
        if len(parts) == 3:
            d = date(int(parts[0]), int(parts[1]), int(parts[2]))
            return f"{d.strftime('%B')} {d.day}, {d.year}"
        if len(parts) == 2:
            return date(int(parts[0]), int(parts[1]), 1).strftime("%B %Y")
    except ValueError:
        pass
    return iso


def citation_line(p: Passage, rank: int | None = None) -> str:
    """One-line human reference: [n] Speaker, "Title", date, place, turn N[, at hh:mm:ss], url."""
    bits = [", ".join(exchange_speakers(p)) or "(no speaker label)", f"“{p.title}”", human_date(p.date)]
    if p.place:
        bits.append(p.place)
    bits.append(turn_reference(p))
    if p.start is not None:
        bits.append(f"at {timestamp(p.start)}")
    link = source_link(p)
    bits.append(link or p.transcript)
    head = f"[{rank}] " if rank is not None else ""
    return head + ", ".join(bits)


def turn_reference(p: Passage) -> str:
    """"turn 4", "turn 4, part 2", "turn 4, parts 2-3" (joined windows) or "turns 4-9" (an exchange)."""
    if p.last_turn is not None and p.last_turn != p.turn:
        return f"turns {p.turn}-{p.last_turn}"
    if p.last_part is not None and p.last_part != p.part:
        return f"turn {p.turn}, parts {p.part + 1}-{p.last_part + 1}"
    return f"turn {p.turn}" + (f", part {p.part + 1}" if p.part else "")


LABELS = ("strong", "good", "weak")


def relevance_label(similarity: float, strong: float, good: float) -> str:
    if similarity >= strong:
        return "strong"
    if similarity >= good:
        return "good"
    return "weak"


def ranked_labels(similarities: Sequence[float], words: Sequence[int], strong: float, good: float,
                  short_words: int) -> list[str]:
    """Relevance labels that follow the ranking: a hit is never labelled better than one above
    it, and a passage whose own text is shorter than ``short_words`` is at best "weak" (what
    it seems to match is the question it answers, not anything it says)."""
    out: list[str] = []
    worst = 0
    for similarity, n in zip(similarities, words):
        level = LABELS.index(relevance_label(similarity, strong, good))
        if n < short_words:
            level = 2
        worst = max(worst, level)
        out.append(LABELS[worst])
    return out


def choose_sentences(
    question_vector: np.ndarray,
    hits: Sequence[Hit],
    embed: Callable[[list[str]], np.ndarray],
    top_hits: int = 3,
    max_sentences: int = 3,
    margin: float = 0.06,
    speakers: Collection[str] = (),
    question_text: str = "",
    per_hit: int | None = 6,
    anonymous: Mapping[str, Collection[str]] | None = None,
) -> tuple[str, float]:
    """The extractive answer and the best candidate sentence's cosine to the question (0.0
    when there is none): the evidence that some sentence says what was asked, which the
    multilingual space's abstention uses (`core`).

    Sentences are scored by cosine similarity to the question (``embed`` gives their vectors:
    the index's sentence table, `sentences`, else the encoder); the best one is always used,
    others only when nearly as good. Their spans are recorded on the hits for highlighting.
    The answer quotes answers, not questions: a sentence ending in "?" is never quoted, nor
    a turn that prompted another hit. When the question names people (``speakers``: their
    labels) and one of the top hits is theirs, only their hits are quoted, and in an exchange
    only their lines; ``anonymous`` (transcript -> labels such as "Guest 1") adds, for a person
    no label names, the anonymous turns of the transcripts that mention them, so that "according
    to Vivek Kaul" never quotes the host, who is named. A hit offers at most ``per_hit`` sentences (those sharing most words with
    the question), or all of them with None.
    """
    anonymous = anonymous or {}

    def asked_about(p: Passage) -> set[str]:  # the labels in ``p`` that may be the people asked about
        return set(speakers) | set(anonymous.get(p.transcript, ()))

    pool = [h for h in hits[:top_hits] if not _is_prompt_of_another(h, hits)]
    theirs = [h for h in hits if set(h.passage.speakers or [h.passage.speaker]) & asked_about(h.passage)][:top_hits]
    if theirs:
        pool = theirs
    candidates: list[tuple[Hit, tuple[int, int]]] = []
    asked = set(_words(question_text))
    for hit in pool:
        mine = quotable_spans(hit.passage)
        if theirs and hit.passage.speakers:  # an exchange: only the lines of the people asked about
            mine = [span for span in mine if _line_speaker(hit.passage, span[0]) in asked_about(hit.passage)]
        if per_hit is not None and len(mine) > per_hit:
            # A joined hit or an exchange has many sentences: embed only those sharing most
            # words with the question (ties: the earlier), which keeps the answer fast.
            overlap = [len(asked & set(_words(hit.passage.text[a:b]))) for a, b in mine]
            keep = sorted(sorted(range(len(mine)), key=lambda i: (-overlap[i], i))[:per_hit])
            mine = [mine[i] for i in keep]
        candidates.extend((hit, span) for span in mine)
    if not candidates:
        return "", 0.0
    vectors = embed([h.passage.text[s:e] for h, (s, e) in candidates])
    scores = vectors @ question_vector
    similarity = float(scores.max())
    # A sentence in a better-ranked hit is preferred at equal similarity.
    scores = scores - np.array([0.01 * (h.rank - 1) for h, _ in candidates])
    best = float(scores.max())
    chosen = [i for i in np.argsort(-scores)[: max_sentences] if scores[i] >= best - margin]
    chosen.sort(key=lambda i: (candidates[i][0].rank, candidates[i][1][0]))
    parts = []
    for i in chosen:
        hit, (s, e) = candidates[i]
        hit.highlights.append((s, e))
        parts.append(f"{_attributed(hit.passage, s, e)} [{hit.rank}]")
    return " ".join(parts), similarity


_WORD = re.compile(r"[a-z0-9]{3,}")
_CYRILLIC_WORD = re.compile(r"[а-яё]{3,}")


def _words(text: str) -> list[str]:
    """The words a question and a sentence are compared on: Latin words as they are, Russian
    words stemmed (an inflected "железной дороге" still matches "железную дорогу")."""
    low = text.lower()
    words = _WORD.findall(low)
    cyrillic = _CYRILLIC_WORD.findall(low)
    return words + _russian_stems(cyrillic) if cyrillic else words


def _russian_stems(words: list[str]) -> list[str]:
    import Stemmer

    return Stemmer.Stemmer("russian").stemWords([w.replace("ё", "е") for w in words])


def exchange_speakers(p: Passage) -> list[str]:
    """Who speaks in ``p``: an exchange's speakers in order of first appearance, else its speaker."""
    return list(p.speakers or ([p.speaker] if p.speaker else []))


def _attributed(p: Passage, start: int, end: int) -> str:
    """The sentence ``p.text[start:end]``; in an exchange (several speakers' lines), prefixed with
    the label of the turn it stands in, so the quote names who said it. A turn's own later
    paragraphs carry no label: the label is the nearest line above that starts with one of the
    exchange's speakers."""
    sentence = p.text[start:end]
    found = _line_label(p, start)
    if found is None:
        return sentence
    label, at = found
    if start < at + len(label):  # the sentence begins the line, its label included
        return sentence
    return f"{label}{sentence}"


def _line_speaker(p: Passage, start: int) -> str | None:
    """Who said the text at ``p.text[start]``: in an exchange, the label of the turn it stands
    in (see `_attributed`); otherwise the passage's speaker."""
    found = _line_label(p, start)
    return found[0][:-2] if found is not None else p.speaker


def _line_label(p: Passage, start: int) -> tuple[str, int] | None:
    """In an exchange, the ``"Label: "`` of the turn holding ``p.text[start]`` and where that
    turn's line begins; None outside an exchange or above its first label."""
    if p.last_turn is None or not p.speakers:
        return None
    labels = [f"{s}: " for s in p.speakers]
    line_start = start
    while True:
        line_start = p.text.rfind("\n\n", 0, line_start)
        at = 0 if line_start < 0 else line_start + 2
        label = next((lab for lab in labels if p.text.startswith(lab, at)), None)
        if label is not None:
            return label, at
        if line_start < 0:
            return None
