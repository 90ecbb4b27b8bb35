"""Plain-text and Markdown transcripts: the en.kremlin.ru layout and its relatives.

Layout: a title line, an optional date line ("July 19, 2000, Pyongyang", "Month D, YYYY",
a bare year), then paragraphs separated by blank lines. A paragraph that opens with a
speaker label ("Vladimir Putin:", "THE PRESIDENT:", "Q:", "Xi Jinping (retranslated):")
starts a turn; a paragraph without one continues the current turn. Raw en.kremlin.ru pages
also carry the site's menu lines at the top and the date line repeated at the bottom; those
are dropped so they never appear in results. Turn text is always an exact substring of the
input text.
"""

from __future__ import annotations

import re

from ..dates import parse_date_line
from ..records import ParsedTranscript, TranscriptMeta, Turn
from . import Format

# Lines of the en.kremlin.ru page chrome that precede the title in raw saved pages.
MENU_LINES = {
    "view settings",
    "font size:",
    "site colours:",
    "site colors:",
    "official website of the president of russia",
    "images",
    "text version",
}
BREADCRUMB = re.compile(r"^[A-Z][\w ,’'&-]{0,60}?\s+/\s*$")  # "Transcripts   /"

# The colon may be followed by the closing emphasis of a Markdown label ("**Speaker:** text").
LABEL = re.compile(r"^(?P<label>[^\s:][^:\n]{0,160}?):(?:\*{1,2}|_{1,2})?(?:[ \t\u00a0]+|\n|$)")
# Words a speaker label may hold in lower case ("President of the Republic of ...").
LABEL_FUNCTION_WORDS = {
    "of", "the", "and", "de", "da", "del", "della", "van", "von", "der", "den", "for", "on",
    "in", "at", "to", "la", "le", "les", "bin", "al", "el", "y", "du", "di", "ad", "&", "-",
    "–", "and/or", "with", "ibn", "e", "das", "dos", "do",
}
MARKDOWN_EMPHASIS = re.compile(r"^[*_#>\s]+|[*_]+$")
QUESTION_NUMBER = re.compile(r"^\[\d+\.?\]\s*")  # "[18.] Q:": the number is not part of the name


def looks_like_label(label: str) -> bool:
    """Whether the text before a paragraph's first colon is a speaker label, not prose.

    Labels are names and titles: capitalised words, a few function words, digits ("Speaker
    1"), any parenthetical remark ("(retranslated)"); sentences end in punctuation or hold
    lower-case verbs, which is what rules them out.
    """
    label = label.strip()
    if not label or len(label) > 160:
        return False
    bare = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", label)
    bare = MARKDOWN_EMPHASIS.sub("", bare.strip())
    if re.search(r"[.!?;\"“”]$", bare) or re.search(r"https?$|www", bare):
        return False
    words = bare.replace(",", " ").split()
    if not words or len(words) > 20:
        return False
    capitalised = 0
    for i, word in enumerate(words):
        core = word.strip("'’‘\"“”-–.")
        if not core:
            continue
        if core[0].isupper() or core[0].isdigit():
            capitalised += 1
        elif core.lower() in LABEL_FUNCTION_WORDS:
            continue
        elif i == 0 and len(words) >= 3:
            continue  # "chairman of the Board ... Igor Sechin": a lower-case title opens it
        else:
            return False
    if capitalised == 0:
        return False
    last = words[-1].strip("'’‘\"“”.")
    return bool(last) and (last[0].isupper() or last[0].isdigit())


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the non-blank paragraphs, stripped of surrounding whitespace."""
    spans = []
    for m in re.finditer(r"(?:[^\n]|\n(?![ \t\u00a0]*\n))+", text):
        start, end = m.start(), m.end()
        chunk = text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk) - len(chunk.rstrip())
        if end - trail > start + lead:
            spans.append((start + lead, end - trail))
    return spans


def _is_menu(line: str) -> bool:
    flat = " ".join(line.replace("\u00a0", " ").split())
    return flat.lower() in MENU_LINES or bool(BREADCRUMB.match(flat))


def parse(text: str) -> ParsedTranscript:
    """Parse a plain-text transcript into metadata and speaker turns."""
    paras = _paragraphs(text)
    # Site menu lines at the top of raw en.kremlin.ru pages.
    while paras and all(_is_menu(line) for line in text[paras[0][0]:paras[0][1]].split("\n")):
        paras.pop(0)

    meta = TranscriptMeta()
    date_line: str | None = None
    if paras:
        first = text[paras[0][0]:paras[0][1]]
        m = LABEL.match(first)
        dated = parse_date_line(first)
        if dated:  # no title, date first
            meta.date, meta.place = dated
            date_line = first
            paras.pop(0)
        elif "\n" not in first and len(first) <= 300 and (
            not (m and looks_like_label(m["label"]))
            # "India and Russia: new prospects ..." over a date line is a title, not a speaker
            or (len(paras) > 1 and parse_date_line(text[paras[1][0]:paras[1][1]]) is not None)
        ):
            meta.title = " ".join(MARKDOWN_EMPHASIS.sub("", first).split())
            paras.pop(0)
            if paras:
                second = text[paras[0][0]:paras[0][1]]
                dated = parse_date_line(second)
                if dated:
                    meta.date, meta.place = dated
                    date_line = second
                    paras.pop(0)
    # The page footer repeats the date line.
    if paras and date_line is not None:
        last = text[paras[-1][0]:paras[-1][1]]
        if " ".join(last.split()) == " ".join(date_line.split()):
            paras.pop()

    turns: list[Turn] = []
    speaker: str | None = None
    start = end = None
    for p_start, p_end in paras:
        para = text[p_start:p_end]
        m = LABEL.match(para)
        if m and looks_like_label(m["label"]):
            if start is not None:
                turns.append(Turn(len(turns), speaker, text[start:end]))
            speaker = QUESTION_NUMBER.sub("", MARKDOWN_EMPHASIS.sub("", m["label"]).strip())
            start, end = p_start + m.end(), p_end
            if start >= end:  # a label alone on its line: the turn's text follows
                start = None
                continue
        else:
            if start is None:
                start = p_start
            end = p_end
    if start is not None:
        turns.append(Turn(len(turns), speaker, text[start:end]))
    return ParsedTranscript(meta=meta, turns=turns, format="text")


def sniff(text: str) -> bool:
    return False  # the fallback format: chosen by extension or when nothing else claims a file


FORMAT = Format(name="text", extensions=(".txt", ".md", ".markdown", ".text"), sniff=sniff, parse=parse)
