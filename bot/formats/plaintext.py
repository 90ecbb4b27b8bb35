"""Plain-text and Markdown transcripts: the en.kremlin.ru layout and its relatives.

Layout: a title line, an optional date line ("July 19, 2000, Pyongyang", "Month D, YYYY",
a bare year; on kremlin.ru "19 июля 2000 года, Пхеньян" or "19.07.2000"), then paragraphs separated by blank lines. A paragraph that opens with a
speaker label ("Vladimir Putin:", "THE PRESIDENT:", "Q:", "Xi Jinping (retranslated):",
"Speaker 1 (00:01:02):", "John Smith, CEO of Acme Inc.:", "李克强：", "interpreter:", and
the Russian labels of kremlin.ru: "В.Путин:", "Путин В.В.:", "Вопрос:", "Реплика:")
starts a turn, and so does each later line of it that opens with a label (one turn per
line); a paragraph without one continues the current turn. A timestamp in a label becomes
the turn's start and is not part of the speaker's name. Raw en.kremlin.ru pages
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

# A time in a label: "00:01:02", "1:02", "00:01:02.500". It must stand alone (no digits
# around it), which also keeps the label pattern below from backtracking over digit runs.
_TIME = r"(?<![\d:])\d{1,2}(?::\d{2}){1,2}(?:[.,]\d{1,3})?(?![.,]?\d|:\d)"
# A speaker label: the text before the first colon of a line that is followed by white space
# (or ends the line), where parenthetical and bracketed remarks and times may hold colons of
# their own ("Speaker 1 (00:01:02):", "[00:01:02] Ann:"). The colon may be followed by the
# closing emphasis of a Markdown label ("**Speaker:** text"). A full-width colon (CJK text,
# "李克强：") needs no space after it.
_LABEL_ITEM = rf"(?:\([^()\n]*\)|\[[^\[\]\n]*\]|{_TIME}|[^:：\n(\[])"
LABEL = re.compile(
    rf"^(?P<label>(?:\([^()\n]*\)|\[[^\[\]\n]*\]|{_TIME}|[^\s:：(\[]){_LABEL_ITEM}{{0,200}}?)"
    r"(?:[ \t]*:(?:\*{1,2}|_{1,2})?(?:[ \t\u00a0]+|\n|$)|[ \t]*：(?:\*{1,2}|_{1,2})?[ \t\u00a0]*)"
)
# Words a speaker label may hold in lower case ("President of the Republic of ...").
LABEL_FUNCTION_WORDS = {
    "of", "the", "and", "de", "da", "del", "della", "van", "von", "der", "den", "for", "on",
    "in", "at", "to", "la", "le", "les", "bin", "al", "el", "y", "du", "di", "ad", "&", "-",
    "–", "and/or", "with", "ibn", "e", "das", "dos", "do",
    # Russian: "Голос из зала", "Министр по делам ...", particles of foreign names ("фон", "де")
    "и", "из", "по", "при", "фон", "ван", "дер", "де", "аль", "ибн", "бен",
}
# Generic speakers that transcribers write in any case ("unidentified speaker", "Audience
# member", "interpreter"); a label of such words is a label even in lower case.
GENERIC_ROLES = {
    "speaker", "speakers", "unidentified", "unknown", "unnamed", "male", "female", "man", "woman",
    "voice", "voices", "interpreter", "translator", "moderator", "host", "co-host", "guest",
    "interviewer", "interviewee", "audience", "member", "participant", "panelist", "panellist",
    "reporter", "journalist", "questioner", "caller", "operator", "narrator", "announcer",
    "presenter", "chair", "chairman", "chairwoman", "chairperson", "crowd", "multiple",
    "respondent", "student", "off-camera", "offscreen", "off-screen", "several", "all",
    # Russian (kremlin.ru): "Вопрос", "Реплика", "Ведущая", "Голос из зала" ("a voice from the hall")
    "вопрос", "реплика", "ответ", "ведущий", "ведущая", "модератор", "журналист", "журналистка",
    "корреспондент", "участник", "участница", "переводчик", "голос", "голоса", "зала", "слушатель",
    "студент", "студентка",
}
# Capitalised words that open prose, lists and notes, not speeches ("Note: ...", "Second:
# we will ...", "Listen: you ..."); alone before a colon they are not a speaker.
NOT_LABELS = {
    "note", "notes", "nb", "warning", "caution", "important", "tip", "hint", "update", "edit",
    "ps", "p.s", "summary", "example", "examples", "source", "sources", "see", "re", "subject",
    "date", "time", "location", "venue", "agenda", "attendees", "present", "absent", "title",
    "abstract", "keywords", "tags", "background", "context", "conclusion", "disclaimer",
    "reminder", "remember", "definition", "result", "results", "first", "second", "third",
    "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "firstly", "secondly",
    "thirdly", "finally", "lastly", "next", "then", "listen", "look", "now", "so", "well",
    "also", "however", "therefore", "thus", "moreover", "furthermore", "besides", "again",
    "yes", "no", "ok", "okay", "attention", "correction", "translation", "transcript", "link",
    "url", "photo", "video", "audio", "caption", "credit", "copyright", "update", "step",
    "phase", "stage", "part", "chapter", "section", "appendix", "total", "price", "cost",
    # Russian words that open enumerations and notes ("Первое: ...", "Во-первых: ...", "Итак: ...")
    "первое", "второе", "третье", "четвертое", "четвёртое", "пятое", "во-первых", "во-вторых",
    "в-третьих", "в-четвертых", "в-четвёртых", "итак", "смотрите", "посмотрите", "слушайте",
    "примечание", "внимание", "справка", "итог", "итоги", "вывод", "так", "вот", "ну", "да", "нет",
    "кстати", "например", "пример", "цитата", "источник", "дата", "время", "место", "тема",
    "повестка", "кому", "от", "сейчас", "теперь", "значит", "далее", "наконец",
}
# Headings that number things ("Question 3:", "Step 2:", "Part II:"): a list, not a speaker.
NUMBERED_HEADINGS = {
    "question", "note", "step", "part", "chapter", "section", "item", "point", "rule", "example",
    "figure", "fig", "table", "exhibit", "slide", "appendix", "article", "clause", "paragraph",
    "page", "day", "week", "option", "issue", "phase", "stage", "round", "lesson", "episode",
    "problem", "task", "exercise", "topic", "session", "act", "scene", "verse", "volume", "vol",
    "no", "number", "case", "test", "level", "question", "chapter", "line", "year", "quarter",
    "вопрос", "часть", "пункт", "статья", "глава", "раздел", "шаг", "слайд", "день", "этап",
}
NUMBER = re.compile(r"^(?:\d+[a-z]?|[ivxlc]+|[a-z])[.)]?$", re.I)  # 3, 3a, IV, b
# "Inc.", "Jr.", "U.S.", "Ph.D.", and Russian initials after a surname ("Путин В.В.")
ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Z][A-Za-z]{0,3}\.)+$|(?:^|\s)(?:[А-ЯЁ][а-яё]{0,3}\.)+$")
MARKDOWN_EMPHASIS = re.compile(r"^[*_#>\s]+|[*_]+$")
QUESTION_NUMBER = re.compile(r"^\[\d+\.?\]\s*")  # "[18.] Q:": the number is not part of the name
# Times around a label ("Speaker 1 (00:01:02)", "[00:01:02] Ann", "00:01:02 Ann") and
# broadcast captions' speaker-change marks (">> ANN", "&gt;&gt; ANN", "- Ann").
LEADING_TIME = re.compile(rf"^(?:\[{_TIME}\]|\({_TIME}\)|{_TIME})[ \t]*")
TRAILING_TIME = re.compile(rf"[ \t]*(?:\[{_TIME}\]|\({_TIME}\)|(?<=[ \t]){_TIME})$")
CHANGE_MARK = re.compile(r"^(?:>>+|(?:&gt;){2,}|[-–—](?=[ \t]))[ \t]*")
CJK_PUNCTUATION = re.compile(r"[，。、！？；「」『』（）《》]")


def speaker_of(label: str) -> tuple[str, float | None]:
    """The speaker a label names, and the time it carries (seconds), if any.

    Markup and numbering are not part of the name: Markdown emphasis ("**Ann**"), a question
    number ("[18.] Q"), a speaker-change mark (">> ANN") and a timestamp ("Speaker 1
    (00:01:02)") are cut from either end, so that one speaker keeps one name through the
    file. The result is always a substring of ``label``.
    """
    name = MARKDOWN_EMPHASIS.sub("", label.strip()).strip()
    name = CHANGE_MARK.sub("", name)
    start: float | None = None
    for pattern in (LEADING_TIME, TRAILING_TIME):
        m = pattern.search(name)
        if m and m.group().strip() != name:
            start = _seconds(m.group())
            name = (name[: m.start()] + name[m.end():]).strip()
    name = QUESTION_NUMBER.sub("", MARKDOWN_EMPHASIS.sub("", name).strip())
    return name.strip(), start


def _seconds(stamp: str) -> float:
    parts = stamp.strip(" \t[]()").replace(",", ".").split(":")
    total = 0.0
    for part in parts:
        total = total * 60 + float(part)
    return total


def looks_like_label(label: str) -> bool:
    """Whether the text before a paragraph's first colon is a speaker label, not prose.

    Labels are names and titles: capitalised words (or words of scripts without case, such
    as Chinese or Arabic), a few function words, digits ("Speaker 1"), generic roles in any
    case ("unidentified speaker"), an affiliation after a comma ("John Smith, CEO of Acme
    Inc."), any parenthetical remark ("(retranslated)") and a timestamp. Sentences end in
    punctuation or hold lower-case verbs, which is what rules them out; so do the words that
    open notes and lists ("Note", "Second", "Question 3").
    """
    label = label.strip()
    if not label or len(label) > 160:
        return False
    name, _ = speaker_of(label)
    bare = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", name)
    bare = MARKDOWN_EMPHASIS.sub("", bare.strip())
    if not re.search(r"[^\W\d_]", bare):  # no letter at all: "2019", "(laughs)"
        return False
    if re.search(r"[!?;\"“”…]$", bare) or re.search(r"https?$|www\.|://", bare) or CJK_PUNCTUATION.search(bare):
        return False
    if bare.endswith(".") and not ABBREVIATION.search(bare):
        return False
    words = bare.replace(",", " ").split()
    if not words or len(words) > 20:
        return False
    cores = [word.strip("'’‘\"“”-–.") for word in words]
    lowered = [core.lower() for core in cores]
    if len(words) == 1 and lowered[0] in NOT_LABELS:
        return False
    if len(words) == 2 and lowered[0] in NUMBERED_HEADINGS and NUMBER.match(words[1]):
        return False
    caseless = sum(1 for core in cores if core and _caseless(core[0]))
    if caseless and (len(words) > 6 or sum(len(c) for c in cores if c and _caseless(c[0])) > 16):
        return False  # a run of caseless words that long is a sentence, not a name
    named = 0
    for i, (core, low) in enumerate(zip(cores, lowered)):
        if not core:
            continue
        if core[0].isupper() or core[0].isdigit() or _caseless(core[0]) or low in GENERIC_ROLES:
            named += 1
        elif low in LABEL_FUNCTION_WORDS and i > 0:
            continue
        elif i == 0 and len(words) >= 3:
            continue  # "chairman of the Board ... Igor Sechin": a lower-case title opens it
        else:
            return False
    if named == 0:
        return False
    last = cores[-1] or words[-1]
    return bool(last) and (last[0].isupper() or last[0].isdigit() or _caseless(last[0]) or lowered[-1] in GENERIC_ROLES)


def _caseless(char: str) -> bool:
    """A letter of a script without case (Chinese, Japanese, Arabic, Hebrew, Devanagari...)."""
    return char.isalpha() and not char.isupper() and not char.islower()


def read_label(line: str) -> tuple[str, int, float | None] | None:
    """A speaker label at the start of ``line``: (speaker, offset where the speech starts, time)."""
    m = LABEL.match(line)
    if not m or not looks_like_label(m["label"]):
        return None
    speaker, start = speaker_of(m["label"])
    return speaker, m.end(), start


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
        dated = parse_date_line(first)
        if dated:  # no title, date first
            meta.date, meta.place = dated
            date_line = first
            paras.pop(0)
        elif "\n" not in first and len(first) <= 300 and (
            read_label(first.split("\n")[0]) is None
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
    time: float | None = None
    start: int | None = None
    end = 0
    for label, p_start, p_end in _pieces(text, paras):
        if label is not None:
            if start is not None:
                turns.append(Turn(len(turns), speaker, text[start:end], start=time))
            speaker, time = label
            start, end = (p_start, p_end) if p_start < p_end else (None, 0)  # a label alone: text follows
        elif p_start < p_end:
            if start is None:
                start = p_start
            end = p_end
    if start is not None:
        turns.append(Turn(len(turns), speaker, text[start:end], start=time))
    return ParsedTranscript(meta=meta, turns=turns, format="text")


def _pieces(text: str, paras: list[tuple[int, int]]) -> list[tuple[tuple[str, float | None] | None, int, int]]:
    """The paragraphs cut at speaker labels: (speaker and time or None, start, end) offsets.

    A paragraph that opens with a label is also cut at every later line that opens with one,
    since many transcripts put one turn per line ("Ann: Hi.\nBob: Hello."); a paragraph
    without a label at its start is prose, whatever its lines begin with. Offsets exclude
    the label and surrounding white space; a label alone gives an empty piece.
    """
    pieces: list[tuple[tuple[str, float | None] | None, int, int]] = []
    for p_start, p_end in paras:
        lines = []  # (offset, line) of the paragraph
        at = p_start
        for line in text[p_start:p_end].split("\n"):
            lines.append((at, line))
            at += len(line) + 1
        cuts = []  # (label, offset where its text starts, offset of its line)
        for n, (offset, line) in enumerate(lines):
            found = read_label(line.lstrip(" \t\u00a0")) if n == 0 or cuts else None
            if found:
                indent = len(line) - len(line.lstrip(" \t\u00a0"))
                cuts.append(((found[0], found[2]), offset + indent + found[1], offset))
            elif n == 0:
                break
        if not cuts:
            pieces.append((None, p_start, p_end))
            continue
        for i, (label, text_start, _) in enumerate(cuts):
            stop = cuts[i + 1][2] if i + 1 < len(cuts) else p_end
            pieces.append((label, *_trim(text, text_start, stop)))
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sniff(text: str) -> bool:
    return False  # the fallback format: chosen by extension or when nothing else claims a file


FORMAT = Format(name="text", extensions=(".txt", ".md", ".markdown", ".text"), sniff=sniff, parse=parse)
