"""The records that flow through transcript-bot: turns parsed from a transcript, passages
cut from turns for embedding, and hits returned by a search.

They are plain dataclasses so that every layer (parsing, indexing, retrieval, front ends)
agrees on one vocabulary, and so that they serialise to JSON without custom code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TranscriptMeta:
    """What is known about one transcript as a whole (from its header, a manifest or a sidecar)."""

    title: str = ""
    date: str | None = None  # ISO 8601 (YYYY-MM-DD, or YYYY when only the year is known)
    place: str | None = None
    url: str | None = None
    language: str | None = None  # ISO 639-1 ("en", "ru"), detected from the turns or given by the manifest
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    """One speaker turn, in order of appearance; ``text`` is verbatim source text."""

    index: int
    speaker: str | None
    text: str
    start: float | None = None  # seconds from the start of the recording, when the format has times
    end: float | None = None


@dataclass
class ParsedTranscript:
    """A transcript after parsing: its metadata, its turns, and the format it was read as."""

    meta: TranscriptMeta
    turns: list[Turn]
    format: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class Passage:
    """The unit that is embedded and retrieved: a turn, or a sentence window of a long turn.

    ``text`` is shown to users and is always an exact substring of the source transcript.
    ``context`` is the turn that prompted this one (for an answer, the question asked) and
    ``lead`` the opening sentence of the turn when this passage is a later window of it; both
    may be used for retrieval, but never replace the verbatim text.
    """

    id: int
    transcript: str
    title: str
    date: str | None
    place: str | None
    url: str | None
    speaker: str | None
    turn: int
    part: int
    text: str
    context: str | None = None
    context_speaker: str | None = None
    lead: str | None = None
    start: float | None = None
    end: float | None = None
    last_part: int | None = None  # a hit that joins overlapping windows part..last_part of one turn
    last_turn: int | None = None  # a passage of several consecutive turns (an exchange): turn..last_turn
    speakers: list[str] | None = None  # an exchange's speaker labels, in order of first appearance
    # The transcript's language (ISO 639-1). Not stored with the passage: the index manifest
    # records it once per transcript, and a loaded index fills it in (`store.IndexData`).
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["language"]
        for key in ("last_part", "last_turn", "speakers"):  # absent unless used, so stored lines stay as they were
            if data[key] is None:
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Passage":
        known = {k: data.get(k) for k in cls.__dataclass_fields__}
        return cls(**known)  # type: ignore[arg-type]


def is_question_of(question: Passage, reply: Passage | None) -> bool:
    """``question`` is a question (it ends in "?") and ``reply`` the next turn, by someone else,
    answering it."""
    return (reply is not None and question.transcript == reply.transcript and reply.context is not None
            and reply.part == 0 and question.turn == reply.turn - 1 and question.speaker == reply.context_speaker
            and question.text.rstrip(" \"”’)]").endswith("?"))


def word_count(text: str) -> int:
    """Words of ``text``: its whitespace-separated tokens holding a letter or digit, so that a
    transcript's separators ("* * *", "–") are not words. How much a passage says by itself
    (the short-reply discount) and the evaluation's "top-1 hit under 12 words" both count this."""
    return sum(1 for token in text.split() if any(c.isalnum() for c in token))
