"""Checking a quote: where was this sentence said, word for word, and by whom?

A fact-checker pastes a sentence someone attributes to a speaker. The core retrieves candidate
passages for it as for a question (dense + BM25, no speaker filter, so that the words are
found even when someone else said them) and this module aligns the quote against each
candidate's exact source text, word by word, to find the contiguous span of the source that
matches it best. The verdict is one of:

- ``exact``: the span says the quote's words in the quote's order, nothing more, nothing less
  (case, punctuation, typographic quotes and dashes, and whitespace do not count);
- ``close``: the span matches most of the quote (`QuoteConfig.close_min_ratio`), with word-level
  differences returned one by one: words the quote left out, words it changed, words it added;
- ``someone_else``: the best exact or close span is in a passage of a different speaker than
  the one the quote is attributed to (and none of that person's passages matches);
- ``not_found``: no span of the transcripts searched matches well enough; the closest
  passages are still returned.

Words are compared after normalisation (`normalise_word`): Unicode compatibility forms, lower
case, typographic apostrophes as ``'``. Punctuation is not a word, so "gas, prices" equals
"gas prices". Every character offset returned points into the verbatim source text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Iterable, Sequence

import numpy as np

from .answer import Hit
from .chunking import join_overlapping
from .records import Passage

VERDICTS = ("exact", "close", "someone_else", "not_found")


@dataclass
class QuoteConfig:
    """The knobs of quote checking, in one place. Defaults were measured on real passages of the
    bundled Kremlin corpus with real edits (tests/test_quotecheck.py keeps those cases):

    - ``close_min_ratio`` 0.75: the word-level similarity of quote and span,
      ``2 * matched words / (quote words + span words)`` (difflib's ratio; the span runs from the
      first to the last matched word). Measured: one number
      and one word changed in a 10-word sentence, 0.76; a figure changed and a word dropped in a
      14-word one, 0.90; four words changed or dropped in a 26-word one, 0.88; eight small cuts
      and changes to a 33-word sentence, still recognisably it, 0.76. A paraphrase that keeps
      the topic words scored 0.32-0.48, and invented sentences on the corpus's topics 0.33-0.60
      (their best span shares a phrase such as "the Government and the regional authorities").
      Below 0.75 a reader would no longer call the quote a version of what was said.
    - ``min_matched_run`` 3: the span must share at least one run of three consecutive words
      with the quote, so that a short quote cannot be "close" to a span by scattered common words.
    - ``max_gap`` 8: matched words further apart than this (beyond the quote's own gap) start
      a new span; a quote rarely leaves out more than a clause, and a longer gap means two
      separate places in the turn.
    - ``candidates`` 20: passages retrieved and aligned. In the 13 measured exact and close
      cases the passage that matched was the first or second hybrid hit (a quote's words are
      rare together, so BM25 ranks it high); 20 leaves room for heavier edits, and aligning 20
      candidates' turns took 30-80 ms on a 2-core machine.
    - ``closest`` 3: passages shown when nothing matches.
    - ``min_words`` 3: a shorter "quote" ("thank you") is said everywhere and proves nothing.
    """

    close_min_ratio: float = 0.75
    min_matched_run: int = 3
    max_gap: int = 8
    candidates: int = 20
    closest: int = 3
    min_words: int = 3


_WORD = re.compile(r"[^\W_]+(?:['’‘ʼ][^\W_]+)*")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


@dataclass
class Token:
    """One word of a text: normalised for comparison, with its offsets in the text as given."""

    word: str
    start: int
    end: int
    speaker: str | None = None


def normalise_word(word: str) -> str:
    """A word as quotes are compared: NFKC (ligatures, full-width forms), lower case, one apostrophe."""
    return unicodedata.normalize("NFKC", word).translate(_APOSTROPHES).casefold()


def tokens(text: str, offset: int = 0, speaker: str | None = None) -> list[Token]:
    """The words of ``text`` (punctuation, quotes and dashes are not words), offsets from ``offset``."""
    return [Token(normalise_word(m.group()), offset + m.start(), offset + m.end(), speaker)
            for m in _WORD.finditer(text)]


def passage_tokens(p: Passage) -> list[Token]:
    """The words of a passage, each with who said it: an exchange's lines carry their speaker's
    label (``Label: text``), which is not part of what was said and is left out."""
    if p.last_turn is None or not p.speakers:
        return tokens(p.text, 0, p.speaker)
    out: list[Token] = []
    labels = sorted(p.speakers, key=len, reverse=True)
    at = 0
    for line in p.text.split("\n\n"):
        speaker = next((s for s in labels if line.startswith(f"{s}: ")), None)
        skip = len(speaker) + 2 if speaker else 0
        out.extend(tokens(line[skip:], at + skip, speaker))
        at += len(line) + 2
    return out


@dataclass
class Alignment:
    """The best span of one source for a quote, and how the two differ word by word."""

    start: int  # character offsets of the span in the source text
    end: int
    ratio: float  # 2 * matched / (quote words + source words from the first to the last matched one)
    matched: int
    longest_run: int
    exact: bool
    speaker: str | None  # who says most of the matched words
    segments: list[dict[str, Any]] = field(default_factory=list)

    def differences(self) -> list[dict[str, Any]]:
        return [s for s in self.segments if s["kind"] != "same"]


def align(quote: str, source: str, source_tokens: Sequence[Token], config: QuoteConfig | None = None) -> Alignment | None:
    """The contiguous span of ``source`` that matches ``quote`` best, word by word (None when
    they share no word).

    difflib's matcher finds the matching blocks of the two word sequences; blocks close together
    in the source (`QuoteConfig.max_gap`) form one candidate span, the span with the most matched
    words wins, widened by up to two source words per quote word left unmatched at either end
    (so that a changed first or last word shows as changed, not as added; never into another
    speaker's line) and aligned again on its own. Source words beyond the last matched one that
    pair with nothing are not part of the span.
    """
    cfg = config or QuoteConfig()
    q = tokens(quote)
    s = list(source_tokens)
    if not q or not s:
        return None
    qw, sw = [t.word for t in q], [t.word for t in s]
    blocks = [b for b in SequenceMatcher(None, qw, sw, autojunk=False).get_matching_blocks() if b.size]
    if not blocks:
        return None
    clusters: list[list[Any]] = [[blocks[0]]]
    for prev, b in zip(blocks, blocks[1:]):
        source_gap = b.b - (prev.b + prev.size)
        quote_gap = b.a - (prev.a + prev.size)
        if source_gap - quote_gap > cfg.max_gap or source_gap > cfg.max_gap + quote_gap:
            clusters.append([b])
        else:
            clusters[-1].append(b)
    best = max(clusters, key=lambda c: (sum(b.size for b in c), max(b.size for b in c)))
    # Up to two source words per unmatched quote word at either end: "today" may stand for "right now".
    lo = max(0, best[0].b - 2 * best[0].a)
    hi = min(len(s), best[-1].b + best[-1].size + 2 * (len(q) - best[-1].a - best[-1].size))
    window = sw[lo:hi]
    matcher = SequenceMatcher(None, qw, window, autojunk=False)
    inner = [b for b in matcher.get_matching_blocks() if b.size]
    if not inner:
        return None
    first = inner[0].b
    last = inner[-1].b + inner[-1].size
    # Keep the widening only where it pairs with unmatched quote words (a changed word), not beyond.
    first = max(0, first - 2 * inner[0].a)
    last = min(len(window), last + 2 * (len(q) - inner[-1].a - inner[-1].size))
    # ... and never into another speaker's line of an exchange.
    edge = s[lo + inner[0].b].speaker
    while first < inner[0].b and s[lo + first].speaker != edge:
        first += 1
    edge = s[lo + inner[-1].b + inner[-1].size - 1].speaker
    while last > inner[-1].b + inner[-1].size and s[lo + last - 1].speaker != edge:
        last -= 1
    span = window[first:last]
    matcher = SequenceMatcher(None, qw, span, autojunk=False)
    span_tokens = s[lo + first: lo + last]
    segments = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        kind = {"equal": "same", "replace": "changed", "delete": "added", "insert": "left_out"}[op]
        segments.append({
            "kind": kind,
            "quote": quote[q[i1].start:q[i2 - 1].end] if i2 > i1 else "",
            "source": source[span_tokens[j1].start:span_tokens[j2 - 1].end] if j2 > j1 else "",
            "source_span": [span_tokens[j1].start, span_tokens[j2 - 1].end] if j2 > j1 else None,
            "at": span_tokens[j1].start if j1 < len(span_tokens) else span_tokens[-1].end,
        })
    matched = sum(b.size for b in matcher.get_matching_blocks())
    # Trim unmatched source words at the ends (words the quote changed keep their place).
    while segments and segments[0]["kind"] == "left_out":
        segments.pop(0)
    while segments and segments[-1]["kind"] == "left_out":
        segments.pop()
    spans = [seg["source_span"] for seg in segments if seg["source_span"]]
    if not spans:
        return None
    start, end = spans[0][0], spans[-1][1]
    span_words = [t for t in span_tokens if start <= t.start and t.end <= end]
    # The ratio counts the source words from the first to the last matched one: the widening at
    # the ends only shows what the quote's extra words stand in place of, and must not cost more
    # than leaving them unmatched would.
    same = [seg["source_span"] for seg in segments if seg["kind"] == "same"]
    core = [t for t in span_words if same[0][0] <= t.start and t.end <= same[-1][1]] if same else span_words
    ratio = 2 * matched / (len(q) + len(core))
    who: dict[str | None, int] = {}  # who says the matched words
    for t in core:
        if any(a <= t.start and t.end <= b for a, b in same):
            who[t.speaker] = who.get(t.speaker, 0) + 1
    return Alignment(
        start=start, end=end, ratio=round(ratio, 4), matched=matched,
        longest_run=max((b.size for b in matcher.get_matching_blocks()), default=0),
        exact=all(seg["kind"] == "same" for seg in segments) and matched == len(q),
        speaker=max(who, key=lambda k: who[k]) if who else None, segments=segments,
    )


def qualifies(a: Alignment | None, config: QuoteConfig) -> bool:
    """Good enough to call the quote a version of this span: exact, or close by the thresholds."""
    if a is None:
        return False
    return a.exact or (a.ratio >= config.close_min_ratio and a.longest_run >= config.min_matched_run)


# -- the units that are aligned: whole turns (their windows joined) and exchanges -------------


@dataclass
class Unit:
    """A stretch of verbatim source to align against: a turn's windows joined, or one exchange."""

    passages: list[Passage]  # the windows, in order (one passage for an exchange)
    text: str
    offsets: list[tuple[int, int]]  # each window's span in ``text``

    def passage_for(self, start: int, end: int) -> tuple[Passage, int]:
        """The passage to cite for ``text[start:end]``: the fewest consecutive windows that cover
        it, joined (verbatim), and the offset of that passage's text in ``text``."""
        chosen = [i for i, (a, b) in enumerate(self.offsets) if a < end and b > start]
        if not chosen:
            chosen = [0]
        i, j = chosen[0], chosen[-1]
        first = self.passages[i]
        at = self.offsets[i][0]
        if i == j:
            return first, at
        text = self.text[at:self.offsets[j][1]]
        joined = Passage(**{**first.__dict__, "text": text, "last_part": self.passages[j].part, "lead": None})
        return joined, at


def units_of(parts: Iterable[Passage]) -> list[Unit]:
    """The windows of one turn (any order) as units: consecutive windows that share text are
    joined; windows that do not (the word chunks of one huge sentence) stay apart, since the
    exact source text between them is unknown."""
    ordered = sorted(parts, key=lambda p: p.part)
    units: list[Unit] = []
    for p in ordered:
        if units:
            u = units[-1]
            joined = join_overlapping(u.text, p.text)
            if joined is not None and u.passages[-1].part == p.part - 1:
                start = len(joined) - len(p.text)
                u.text = joined
                u.passages.append(p)
                u.offsets.append((start, len(joined)))
                continue
        units.append(Unit([p], p.text, [(0, len(p.text))]))
    return units


def unit_tokens(unit: Unit) -> list[Token]:
    if len(unit.passages) == 1:
        return passage_tokens(unit.passages[0])
    return tokens(unit.text, 0, unit.passages[0].speaker)


def check_text(quote: str, config: QuoteConfig | None = None) -> list[Token]:
    """The quote's words; ValueError (a user's mistake, for the core to report) if too few."""
    cfg = config or QuoteConfig()
    words = tokens(quote)
    if len(words) < cfg.min_words:
        raise ValueError(f"quote too short to check ({len(words)} word{'s' if len(words) != 1 else ''}; "
                         f"at least {cfg.min_words})")
    return words


# -- the verdict ----------------------------------------------------------------------------------


@dataclass
class QuoteMatch:
    """A passage a quote was aligned with: the cited hit (its text verbatim, the matched span as its
    highlight) and the alignment, with offsets into the hit's text."""

    hit: Hit
    alignment: Alignment

    def to_json(self) -> dict[str, Any]:
        a, text = self.alignment, self.hit.passage.text
        return {
            **self.hit.to_json(),
            "match": {
                "text": text[a.start:a.end], "start": a.start, "end": a.end, "exact": a.exact, "ratio": a.ratio,
                "matched_words": a.matched, "speaker": a.speaker,
                "differences": [_public(s) for s in a.differences()], "segments": [_public(s) for s in a.segments],
            },
        }


def _public(segment: dict[str, Any]) -> dict[str, Any]:
    return {"kind": segment["kind"], "quote": segment["quote"], "source": segment["source"],
            "source_span": segment["source_span"], "at": segment["at"]}


@dataclass
class QuoteCheck:
    """What `TranscriptBot.check_quote` returns: the verdict, the passage it rests on, and the
    closest passages when nothing matched."""

    quote: str
    speaker: str | None  # as the user named them
    speaker_labels: list[str]  # the index's labels of that person ([] when unknown or not named)
    verdict: str  # one of VERDICTS
    transcripts: int  # how many transcripts were searched
    match: QuoteMatch | None
    closest: list[QuoteMatch]
    generation: int | None = None

    def summary(self) -> str:
        """The verdict in one line of plain words."""
        if self.verdict == "not_found" or self.match is None:
            return f"Not found in {self.transcripts:,} transcript{'s' if self.transcripts != 1 else ''}."
        a, hit = self.match.alignment, self.match.hit
        where = f"{a.speaker or 'an unlabelled speaker'}, “{hit.passage.title}”"
        if self.verdict == "exact":
            return f"Exact: said word for word by {where}."
        if self.verdict == "close":
            n = len(a.differences())
            return f"Close: said by {where}, with {n} difference{'s' if n != 1 else ''} in the wording."
        how = "word for word" if a.exact else "in close wording"
        return f"Said by someone else: {where} said it {how}, not {self.speaker}."

    def to_json(self) -> dict[str, Any]:
        return {
            "quote": self.quote, "speaker": self.speaker, "speaker_labels": self.speaker_labels,
            "verdict": self.verdict, "summary": self.summary(), "transcripts_searched": self.transcripts,
            "index_generation": self.generation,
            "match": self.match.to_json() if self.match else None,
            "closest": [m.to_json() for m in self.closest],
        }


def check_quote(quote: str, speaker: str | None, labels: set[str], found: Sequence[Any], data: Any,
                config: QuoteConfig | None = None) -> QuoteCheck:
    """The verdict for ``quote`` over ``found`` (scored passages of one index generation, best
    first; their turns are aligned whole) attributed to the person with speaker ``labels``.

    The named person's best qualifying span wins over anyone else's; without a person named, the
    best span overall. Ties in ratio go to the better-ranked passage.
    """
    cfg = config or QuoteConfig()
    matches: list[tuple[QuoteMatch, float]] = []
    seen: set[tuple[str, int, int]] = set()
    for rank, s in enumerate(found, 1):
        for unit in _units_for(s.passage, data):
            key = (unit.passages[0].transcript, unit.passages[0].id, len(unit.passages))
            if key in seen:
                continue
            seen.add(key)
            a = align(quote, unit.text, unit_tokens(unit), cfg)
            if a is None:
                continue
            passage, at = unit.passage_for(a.start, a.end)
            _shift(a, -at)
            level = "strong" if a.exact else "good" if qualifies(a, cfg) else "weak"
            hit = Hit(rank=0, passage=passage, score=s.score, similarity=s.dense, keyword=s.keyword, relevance=level,
                      highlights=[(a.start, a.end)])
            matches.append((QuoteMatch(hit, a), -rank))
    ordered = [m for m, _ in sorted(matches, key=lambda mr: (mr[0].alignment.exact, mr[0].alignment.ratio, mr[1]),
                                    reverse=True)]
    good = [m for m in ordered if qualifies(m.alignment, cfg)]
    theirs = [m for m in good if m.alignment.speaker in labels]
    searched = len(data.manifest.get("transcripts", {}))
    if theirs:
        best, verdict = theirs[0], "exact" if theirs[0].alignment.exact else "close"
    elif good and speaker:
        best, verdict = good[0], "someone_else"
    elif good:
        best, verdict = good[0], "exact" if good[0].alignment.exact else "close"
    else:
        best, verdict = None, "not_found"
    closest = [] if best else ordered[: cfg.closest]
    for i, m in enumerate([best] if best else closest, 1):
        m.hit.rank = i
    return QuoteCheck(quote=quote, speaker=speaker, speaker_labels=sorted(labels), verdict=verdict,
                      transcripts=searched, match=best, closest=closest, generation=data.generation)


def _shift(a: Alignment, by: int) -> None:
    a.start += by
    a.end += by
    for seg in a.segments:
        seg["at"] += by
        if seg["source_span"]:
            seg["source_span"] = [seg["source_span"][0] + by, seg["source_span"][1] + by]


def _units_for(p: Passage, data: Any) -> list[Unit]:
    """The units a retrieved passage belongs to: its whole turn (all windows, joined where they
    share text) or, for an exchange, the exchange itself."""
    if p.last_turn is not None and p.last_turn != p.turn:
        return [Unit([p], p.text, [(0, len(p.text))])]
    code = data.transcript_index.get(p.transcript, -2)
    rows = np.flatnonzero(data.row_transcript == code)  # only this transcript's rows
    parts = [data.passages[r] for r in rows
             if data.passages[r].turn == p.turn and data.passages[r].last_turn is None]
    return units_of(parts) if parts else [Unit([p], p.text, [(0, len(p.text))])]
