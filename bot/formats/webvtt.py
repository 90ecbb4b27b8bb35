"""WebVTT and SRT subtitles: cues with times, merged into speaker turns.

Subtitle files cut speech into cues of a few seconds each; a passage of one cue would be too
short to answer anything, so consecutive cues of one speaker become one turn, which keeps the
start of its first cue and the end of its last. Speakers come from ``<v Name>`` voice tags,
``[Name]:`` prefixes (the podcast transcripts in the shared corpus) or ``NAME:`` / ``Name:``
prefixes; a cue without a speaker continues the turn before it. Files without any speakers
are grouped into turns at pauses and at a sentence end after roughly 150 words.

Verbatim rule: a turn's text is its cues' texts joined with one space, each cue text as in
the file (inner newlines kept) minus the speaker prefix and minus markup tags (``<i>``,
``<c.yellow>``, ``<00:00:01.000>``), which are not speech. Character references such as
``&amp;`` are left as written.

The helpers that every timed format needs (`Segment`, `merge_segments`, `parse_timestamp`,
`to_iso_date`) live here and are shared with the JSON parser.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from ..dates import normalise_iso, parse_date_line
from ..records import ParsedTranscript, TranscriptMeta, Turn
from . import Format
from .plaintext import CHANGE_MARK, looks_like_label, read_label

# hh:mm:ss.ttt, mm:ss.ttt (WebVTT allows the hours to be left out), SRT's comma, and a
# missing fraction, which some hand-made files have.
_TS = r"(?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d+)?"
TIMESTAMP = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d+))?")
TIMING = re.compile(rf"^[ \t]*(?P<start>{_TS})[ \t]*-->[ \t]*(?P<end>{_TS})(?:[ \t]+(?P<settings>.*))?[ \t]*$")
WEBVTT_SIGNATURE = re.compile(r"\A[ \t\n]*WEBVTT(?:[ \t]|\n|\Z)")
SRT_SIGNATURE = re.compile(rf"\A[ \t\n]*(?:\d+[ \t]*\n)?[ \t]*{_TS}[ \t]*-->[ \t]*{_TS}")

# Markup inside cue text: tags (<i>, </c>, <c.yellow>, <lang en>, <font color=...>) start with
# a letter or "/"; inline karaoke timestamps start with a digit. A bare "<" in prose ("x < y")
# is followed by a space and is left alone. {\an8} is an SSA position code that SRT files carry.
TAG = re.compile(r"<(?:/?[A-Za-z][^<>\n]*|/|\d+(?::\d{2}){1,2}(?:\.\d+)?)>|\{\\[^{}\n]*\}")
INLINE_TIMESTAMP = re.compile(r"<\d+(?::\d{2}){1,2}(?:\.\d+)?>")
VOICE = re.compile(r"<v(?:\.[^\s>]*)?[ \t]+(?P<name>[^>\n]*)>")
BRACKET_SPEAKER = re.compile(r"\[(?P<name>[^\[\]\n]{1,80})\]:[ \t]*")
META_LINE = re.compile(r"^[ \t]*(?P<key>[A-Za-z][\w -]{0,40}?)[ \t]*:[ \t]*(?P<value>.+?)[ \t]*$")
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")

# Grouping of cues that name no speaker at all (see merge_segments).
PAUSE_SECONDS = 2.0
TARGET_WORDS = 150
MAX_WORDS = 300
MIN_WORDS_BEFORE_PAUSE_BREAK = 20


@dataclass
class Segment:
    """One piece of timed speech before merging: a cue, a part of a cue, or a JSON segment."""

    speaker: str | None
    text: str
    start: float | None = None
    end: float | None = None
    # The source says the speaker is not known (a JSON "speaker": null), rather than not
    # repeating it: such a segment is nobody's continuation.
    unknown: bool = False


def parse_timestamp(value: str) -> float | None:
    """Seconds in "hh:mm:ss.ttt", "mm:ss.ttt" or "hh:mm:ss,ttt"; None if it is not one."""
    m = TIMESTAMP.fullmatch(value.strip())
    if not m:
        return None
    hours, minutes, seconds, fraction = m.groups()
    total = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if fraction:
        total += int(fraction) / 10 ** len(fraction)
    return float(total)


def to_iso_date(value: object) -> str | None:
    """An ISO date (YYYY, YYYY-MM, YYYY-MM-DD) from how files write dates, or None."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return None
    text = str(value).strip()
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ]\d", text)  # a timestamp: keep its day
    if m:
        text = m.group(1)
    try:
        return normalise_iso(text)
    except ValueError:
        pass
    dated = parse_date_line(text)
    return dated[0] if dated else None


def merge_segments(segments: Iterable[Segment]) -> list[Turn]:
    """Merge timed segments into turns.

    A segment with a speaker joins the open turn when that turn has the same speaker and
    starts a new one otherwise; a segment without a speaker continues the open turn, since
    subtitles usually name a speaker only where the speaker changes, unless it is marked
    ``unknown`` (the source says nobody known said it), which only joins a speakerless turn. Runs of segments before
    any speaker (or in files with none) are cut where a pause longer than PAUSE_SECONDS
    follows a turn that has some substance, at a sentence end once a turn reaches
    TARGET_WORDS, and in any case at MAX_WORDS, so that they give passages of a useful size.
    Text is joined with one space; start is the first segment's start and end the latest
    end, which is the last segment's end unless cues overlap.
    """
    turns: list[Turn] = []
    parts: list[str] = []
    words = 0
    current: Turn | None = None

    def close() -> None:
        nonlocal current, parts, words
        if current is not None and parts:
            current.text = " ".join(parts)
            turns.append(current)
        current, parts, words = None, [], 0

    for seg in segments:
        text = seg.text.strip()
        if not text:
            continue
        if current is not None:
            if seg.speaker is not None:
                same = seg.speaker == current.speaker
            elif current.speaker is not None:
                same = not seg.unknown
            else:
                same = not _speakerless_break(current, parts, words, seg)
            if not same:
                close()
        if current is None:
            current = Turn(index=len(turns), speaker=seg.speaker, text="", start=seg.start, end=seg.end)
        elif seg.end is not None and (current.end is None or seg.end > current.end):
            current.end = seg.end
        if current.start is None:
            current.start = seg.start
        parts.append(text)
        words += len(text.split())
    close()
    return turns


def _speakerless_break(turn: Turn, parts: list[str], words: int, seg: Segment) -> bool:
    if words >= MAX_WORDS:
        return True
    if words >= TARGET_WORDS and SENTENCE_END.search(parts[-1]):
        return True
    if turn.end is not None and seg.start is not None and seg.start - turn.end > PAUSE_SECONDS:
        return words >= MIN_WORDS_BEFORE_PAUSE_BREAK
    return False


@dataclass
class _Cue:
    start: float
    end: float
    text: str  # payload as in the file, inner newlines kept; tags go when segments are cut


def parse(text: str) -> ParsedTranscript:
    """Parse WebVTT or SRT text into metadata and turns with start/end times in seconds."""
    text = text.lstrip("\ufeff")
    if "\r" in text:  # corpus.py normalises line ends; direct callers may not have
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    is_vtt = bool(WEBVTT_SIGNATURE.match(text))
    meta = TranscriptMeta()
    warnings: list[str] = []
    cues, ignored = _read_cues(text, is_vtt, meta)
    if ignored:
        warnings.append(f"{ignored} block(s) without a cue timing line ignored")
    if any(INLINE_TIMESTAMP.search(c.text) for c in cues):
        _drop_rolling_repeats(cues)
    turns = merge_segments(_segments(cues))
    return ParsedTranscript(meta=meta, turns=turns, format="webvtt" if is_vtt else "srt", warnings=warnings)


def _blocks(text: str, is_vtt: bool) -> list[list[str]]:
    """Groups of consecutive lines separated by blank lines.

    In WebVTT only an empty line ends a block (a line holding a space is part of a cue, as
    YouTube writes them); SRT files are hand-edited often enough that a whitespace-only line
    also counts as blank.
    """
    blocks: list[list[str]] = []
    block: list[str] = []
    for line in text.split("\n"):
        blank = line == "" if is_vtt else not line.strip()
        if blank:
            if block:
                blocks.append(block)
            block = []
        else:
            block.append(line)
    if block:
        blocks.append(block)
    return blocks


def _read_cues(text: str, is_vtt: bool, meta: TranscriptMeta) -> tuple[list[_Cue], int]:
    """The cues in file order, and the number of stray blocks ignored."""
    cues: list[_Cue] = []
    ignored = 0
    blocks = _blocks(text, is_vtt)
    if is_vtt and blocks:
        header = blocks.pop(0)
        timing_at = next((i for i, line in enumerate(header) if TIMING.match(line)), None)
        if timing_at is not None:  # a cue glued to the header: keep it
            blocks.insert(0, header[max(timing_at - 1, 1):])
            header = header[: max(timing_at - 1, 1)]
        _read_metadata(header[1:], meta, header=True)
    for block in blocks:
        first = block[0].strip()
        timings = [i for i, line in enumerate(block) if TIMING.match(line)]
        if not timings:
            if first == "NOTE" or first.startswith(("NOTE ", "NOTE\t")):
                _read_metadata([first[4:], *block[1:]], meta, header=False)
            elif first not in ("STYLE", "REGION"):
                ignored += 1
            continue
        if timings[0] > 1:  # more than one line before the timing line: not an identifier
            ignored += 1
        # Normally one cue per block; malformed SRT sometimes runs cues together without a
        # blank line, in which case the line before each later timing line is its number.
        for n, at in enumerate(timings):
            stop = timings[n + 1] if n + 1 < len(timings) else len(block)
            payload = block[at + 1 : stop]
            if n + 1 < len(timings) and payload and payload[-1].strip().isdigit():
                payload = payload[:-1]
            m = TIMING.match(block[at])
            assert m is not None
            start, end = parse_timestamp(m["start"]), parse_timestamp(m["end"])
            assert start is not None and end is not None  # TIMING only matches valid times
            cues.append(_Cue(start, end, "\n".join(payload)))
    return cues, ignored


def _read_metadata(lines: list[str], meta: TranscriptMeta, header: bool) -> None:
    """Title, date, place and url from "Key: value" lines of the header or a NOTE block.

    Other header fields ("Kind: captions", "Language: en") go to ``meta.extra``.
    """
    for line in lines:
        m = META_LINE.match(line)
        if not m:
            continue
        key, value = m["key"].strip().lower(), m["value"]
        if key == "title" and not meta.title:
            meta.title = value
        elif key == "date" and meta.date is None:
            meta.date = to_iso_date(value)
        elif key == "place" and meta.place is None:
            meta.place = value
        elif key in ("url", "link", "source") and meta.url is None and re.match(r"https?://", value):
            meta.url = value
        elif header:
            meta.extra.setdefault(key, value)


def _drop_rolling_repeats(cues: list[_Cue]) -> None:
    """Remove the repeated lines of rolling captions.

    YouTube's automatic captions (the files with inline ``<00:00:01.000>`` word timestamps)
    show each line twice: once as it is spoken, then again on top of the next line, plus a
    10 ms cue that repeats it alone. Left in, every sentence would appear two or three times
    in a turn. A cue's leading lines that were already shown by the cue before are dropped;
    nothing is rewritten, so the text left is still the file's.
    """
    previous: set[str] = set()
    for cue in cues:
        lines = cue.text.split("\n")
        shown = {_strip_tags(line).strip() for line in lines}
        while lines and (not lines[0].strip() or _strip_tags(lines[0]).strip() in previous):
            lines.pop(0)
        cue.text = "\n".join(lines)
        previous = shown - {""}


def _strip_tags(text: str) -> str:
    return TAG.sub("", text)


def _segments(cues: list[_Cue]) -> list[Segment]:
    """Split cues into speaker segments: at voice tags, then at speaker prefixes of lines."""
    raw: list[tuple[_Cue, str | None, str]] = []
    for cue in cues:
        pos = 0
        speaker: str | None = None
        for m in VOICE.finditer(cue.text):
            raw.append((cue, speaker, cue.text[pos : m.start()]))
            speaker = " ".join(m["name"].split()) or None
            pos = m.end()
        raw.append((cue, speaker, cue.text[pos:]))

    pieces = [(cue, speaker, _strip_tags(body)) for cue, speaker, body in raw]
    # "Name:" prefixes are trusted when the same name opens several lines, or when it is
    # written in capitals or has more than one word; once a file has such labels, any name
    # is. A lone "Remember:" in a file without speaker labels is prose.
    counts: Counter[str] = Counter()
    for _, speaker, body in pieces:
        if speaker is None:
            for line in body.split("\n"):
                found = read_label(line.strip())
                if found:
                    counts[found[0]] += 1
    labelled = any(_strong_label(label, n) for label, n in counts.items())

    def prefix(line: str) -> tuple[str, int] | None:
        stripped = line.lstrip()
        offset = len(line) - len(stripped)
        mark = CHANGE_MARK.match(stripped)  # ">> [Ann]:" in broadcast captions
        at = mark.end() if mark else 0
        m = BRACKET_SPEAKER.match(stripped, at)
        if m and looks_like_label(m["name"]):
            return " ".join(m["name"].split()), offset + m.end()
        found = read_label(stripped)
        if found and found[0] and (labelled or _strong_label(found[0], counts[found[0]])):
            return found[0], offset + found[1]
        return None

    segments: list[Segment] = []
    for cue, speaker, body in pieces:
        if speaker is not None:
            segments.append(Segment(speaker, body.strip(), cue.start, cue.end))
            continue
        current: str | None = None
        lines: list[str] = []
        for line in body.split("\n"):
            found = prefix(line)
            if found:
                if lines:
                    segments.append(Segment(current, "\n".join(lines).strip(), cue.start, cue.end))
                current, lines = found[0], [line[found[1]:]]
            else:
                lines.append(line)
        segments.append(Segment(current, "\n".join(lines).strip(), cue.start, cue.end))
    return segments


def _strong_label(label: str, occurrences: int) -> bool:
    return occurrences >= 2 or label.isupper() or len(label.split()) >= 2


def sniff(text: str) -> bool:
    """A "WEBVTT" signature, or an SRT opening ("1" then "00:00:01,000 --> ...")."""
    head = text[:4096].lstrip("\ufeff").replace("\r\n", "\n")
    return bool(WEBVTT_SIGNATURE.match(head) or SRT_SIGNATURE.match(head))


FORMAT = Format(name="webvtt", extensions=(".vtt", ".srt"), sniff=sniff, parse=parse)
