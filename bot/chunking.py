"""Cutting turns into passages: one passage per turn, sentence windows for long turns,
exchanges of consecutive turns in conversational transcripts.

all-MiniLM-L6-v2 reads 256 word pieces and silently drops the rest, so a long turn is split
at sentence boundaries into windows that fit, each an exact substring of the source and
each keeping the turn's metadata. Windows overlap by one sentence so an answer that sits on
a boundary is still whole in one of them. Each passage also records the turn that prompted
it (``context``) and, for later windows, the turn's opening sentence (``lead``); retrieval
may use both, display never replaces the verbatim text with them.

In a conversational transcript (a meeting: the median turn has fewer than
``CONVERSATIONAL_MEDIAN_WORDS`` words, "Yeah .", "Okay ."), one turn is too little to find or
to quote, so consecutive turns are packed into exchanges of up to ``EXCHANGE_TOKENS``, each
line ``Label: verbatim turn text``, lines separated by a blank line; consecutive exchanges
share one turn. A turn too long to share an exchange is cut into windows as above, of the
same budget. An exchange records the turns it spans (``turn``..``last_turn``) and the speaker
with the most words.
"""

from __future__ import annotations

import re
from typing import Iterable

from .records import ParsedTranscript, Passage, Turn

PASSAGE_RULES = "turn-windows-v2"  # recorded in the index manifest; change it when rules change
# Rules an index may have been cut with that `index` brings up to date in place: it cuts every
# transcript anew and re-embeds only the passages that come out differently (v1 -> v2: a
# meeting's exchanges grew from 200 to 300 estimated tokens; interviews are cut as before).
UPGRADABLE_PASSAGE_RULES = ("turn-windows-v1",)
MAX_TOKENS = 200  # budget for the passage text; the rest of the 256 is left for context
# Budget of a meeting's exchange. Larger than a turn's window: an exchange is embedded alone
# (no context), and all-mpnet-base-v2 reads 384 word pieces. QMSum val with mpnet, 200 -> 300:
# Hit@10 0.620 -> 0.658, false abstentions 6 -> 4; all-MiniLM-L6-v2 reads only its first 256
# word pieces of one (Hit@10 0.574 -> 0.599, but false abstentions 10 -> 27) (docs/RETRIEVAL.md).
EXCHANGE_TOKENS = 300
CONTEXT_WORDS = 40  # how much of the prompting turn is kept with a reply
CONVERSATIONAL_MEDIAN_WORDS = 10  # a transcript whose median speaker turn is shorter is cut into exchanges
CONVERSATIONAL_MIN_TURNS = 20
EXCHANGE_LINE_SEPARATOR = "\n\n"

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)\]]*\s+(?=[\"“‘(\[<]?[A-Z0-9А-Я])|\n\s*\n")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Approximate word-piece count: words and punctuation, long words counted as several."""
    return sum(1 + len(t) // 7 for t in _TOKEN.findall(text))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``, paragraphs always ending one."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        end = m.start()
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end if text[end - 1] not in "\"”’)]" else end))
        start = m.end()
    tail = text[start:].rstrip()
    if tail.strip():
        spans.append((start, start + len(tail)))
    # The lookbehind split keeps closing quotes out of a sentence; put them back in.
    fixed = []
    for s, e in spans:
        while e < len(text) and text[e] in "\"”’)]":
            e += 1
        fixed.append((s, e))
    return fixed


def windows(text: str, max_tokens: int = MAX_TOKENS) -> list[tuple[int, int]]:
    """Split ``text`` into sentence windows of at most ``max_tokens``, overlapping by one sentence.

    A single sentence longer than the budget is cut at word boundaries instead.
    """
    if estimate_tokens(text) <= max_tokens:
        return [(0, len(text))]
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        if estimate_tokens(text[s:e]) <= max_tokens:
            units.append((s, e))
        else:
            units.extend(_word_chunks(text, s, e, max_tokens))
    result: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units):
            cost = estimate_tokens(text[units[j][0]:units[j][1]])
            if j > i and used + cost > max_tokens:
                break
            used += cost
            j += 1
        result.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # Overlap one sentence, unless that would not move the window forward.
        i = j - 1 if j - 1 > i and estimate_tokens(text[units[j - 1][0]:units[j - 1][1]]) < max_tokens // 2 else j
    return result


def _word_chunks(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
    chunks, chunk_start, used = [], None, 0
    for m in re.finditer(r"\S+", text[start:end]):
        s, e = start + m.start(), start + m.end()
        cost = estimate_tokens(m.group())
        if chunk_start is not None and used + cost > max_tokens:
            chunks.append((chunk_start, last_end))
            chunk_start, used = None, 0
        if chunk_start is None:
            chunk_start = s
        used += cost
        last_end = e
    if chunk_start is not None:
        chunks.append((chunk_start, last_end))
    return chunks


def first_sentence(text: str, max_words: int = CONTEXT_WORDS) -> str:
    spans = sentence_spans(text)
    s, e = spans[0] if spans else (0, len(text))
    return _clip_words(text[s:e], max_words)


def _clip_words(text: str, max_words: int) -> str:
    words = text.split()
    return " ".join(words) if len(words) <= max_words else " ".join(words[:max_words]) + " …"


def is_conversational(parsed: ParsedTranscript) -> bool:
    """Short turns throughout (a meeting, not an interview): cut into exchanges."""
    lengths = sorted(len(t.text.split()) for t in parsed.turns if t.speaker and t.text.strip())
    return len(lengths) >= CONVERSATIONAL_MIN_TURNS and lengths[len(lengths) // 2] < CONVERSATIONAL_MEDIAN_WORDS


def exchange_line(turn: Turn) -> str:
    return f"{turn.speaker}: {turn.text}" if turn.speaker else turn.text


def passages_for(
    rel: str, parsed: ParsedTranscript, first_id: int, max_tokens: int = MAX_TOKENS,
    exchange_tokens: int = EXCHANGE_TOKENS,
) -> list[Passage]:
    """All passages of one parsed transcript, with ids from ``first_id`` upwards."""
    if is_conversational(parsed):
        return _exchange_passages(rel, parsed, first_id, exchange_tokens)
    meta = parsed.meta
    out: list[Passage] = []
    previous = None
    for turn in parsed.turns:
        text = turn.text
        if not text.strip():
            continue
        context, context_speaker = None, None
        if previous is not None and previous.speaker != turn.speaker and turn.speaker is not None:
            context, context_speaker = _clip_words(previous.text, CONTEXT_WORDS * 2), previous.speaker
        out.extend(_turn_windows(rel, parsed, turn, first_id + len(out), max_tokens, context, context_speaker))
        previous = turn
    return out


def _turn_windows(rel: str, parsed: ParsedTranscript, turn: Turn, first_id: int, max_tokens: int,
                  context: str | None = None, context_speaker: str | None = None) -> list[Passage]:
    """The passages of one turn: the whole turn, or its sentence windows, ids from ``first_id``."""
    meta, text = parsed.meta, turn.text
    spans = windows(text, max_tokens)
    lead = first_sentence(text) if len(spans) > 1 else None
    return [
        Passage(
            id=first_id + part, transcript=rel, title=meta.title, date=meta.date,
            place=meta.place, url=meta.url, speaker=turn.speaker, turn=turn.index,
            part=part, text=text[s:e], context=context, context_speaker=context_speaker,
            lead=lead if part > 0 else None, start=turn.start, end=turn.end,
        )
        for part, (s, e) in enumerate(spans)
    ]


def join_overlapping(first: str, second: str, min_overlap: int = 10) -> str | None:
    """``first`` and ``second`` joined on their shared text (a suffix of one, a prefix of the
    other): consecutive windows of one turn share a sentence. None when they share less than
    ``min_overlap`` characters: then the exact source text between them is unknown, and
    joining would not be verbatim."""
    for n in range(min(len(first), len(second)), min_overlap - 1, -1):
        if first.endswith(second[:n]):
            return first + second[n:]
    return None


def _exchange_passages(rel: str, parsed: ParsedTranscript, first_id: int, max_tokens: int) -> list[Passage]:
    """Consecutive turns packed into exchanges of up to ``max_tokens``, sharing one turn."""
    meta = parsed.meta
    turns = [t for t in parsed.turns if t.text.strip()]
    cost = [estimate_tokens(exchange_line(t)) for t in turns]
    out: list[Passage] = []

    def emit(group: list[Turn]) -> None:
        words: dict[str, int] = {}
        for t in group:
            if t.speaker:
                words[t.speaker] = words.get(t.speaker, 0) + len(t.text.split())
        speaker = max(words, key=lambda s: words[s]) if words else None
        out.append(Passage(
            id=first_id + len(out), transcript=rel, title=meta.title, date=meta.date, place=meta.place,
            url=meta.url, speaker=speaker, turn=group[0].index, part=0,
            text=EXCHANGE_LINE_SEPARATOR.join(exchange_line(t) for t in group),
            start=group[0].start, end=group[-1].end,
            last_turn=group[-1].index if len(group) > 1 else None,
            speakers=list(dict.fromkeys(t.speaker for t in group if t.speaker)) if len(group) > 1 else None,
        ))

    i = 0
    while i < len(turns):
        if cost[i] > max_tokens // 2:  # a long turn: its own windows, as in an interview
            out.extend(_turn_windows(rel, parsed, turns[i], first_id + len(out), max_tokens))
            i += 1
            continue
        j, used = i, 0
        while j < len(turns) and cost[j] <= max_tokens // 2 and (j == i or used + cost[j] <= max_tokens):
            used += cost[j]
            j += 1
        emit(turns[i:j])
        if j >= len(turns):
            break
        # Share the last turn with the next exchange, unless the next turn is a long one.
        i = j - 1 if j - 1 > i and cost[j] <= max_tokens // 2 else j
    return out


def embedding_text(p: Passage, mode: str = "speaker+context") -> str:
    """What is embedded for a passage: the verbatim text, optionally with retrieval context.

    Modes (measured on the dev set, see README): ``plain`` is the text alone; ``speaker``
    prefixes the speaker label; ``speaker+context`` also adds the prompting question (for a
    reply) or the turn's lead sentence (for a later window).
    """
    if mode == "plain" or p.last_turn is not None:  # an exchange carries its speakers in its lines
        return p.text
    head = f"{p.speaker}: " if p.speaker else ""
    if mode == "speaker":
        return head + p.text
    extra = []
    if p.context:
        extra.append(f"{p.context_speaker or 'Previous'}: {_clip_words(p.context, CONTEXT_WORDS)}")
    if p.lead:
        extra.append(p.lead)
    return "\n".join([*extra, head + p.text])


def iter_texts(passages: Iterable[Passage], mode: str) -> list[str]:
    return [embedding_text(p, mode) for p in passages]
