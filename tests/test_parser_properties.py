"""Property-based tests of decoding and of every transcript parser (hypothesis).

Whatever the input (random text, random bytes, label-like lines, random cue files, random
HTML nesting, random JSON shapes), the parsers keep their promises:
- no exception escapes but the project's one-line errors (UnreadableFile from decoding; the
  ValueError with a one-line reason that jsonturns documents, which corpus.py turns into
  UnreadableFile);
- every turn's text is source text: an exact substring of the decoded text (plain text,
  Markdown), of the extracted layout (HTML; checked against the page's visible text), or
  pieces of cue and segment texts (subtitles, JSON);
- turns are numbered 0, 1, 2, ... in order;
- no speaker is invented: each is source text (after the documented clean-up: Markdown
  emphasis, numbering and timestamps cut from a label's ends, white space collapsed), or
  "Speaker N" from a number in JSON.

Runs are bounded: the "quick" profile (the default) keeps this file well under a minute;
HYPOTHESIS_PROFILE=thorough runs many more examples.
"""

from __future__ import annotations

import json
import os
import re

from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.decoding import decode_bytes
from bot.errors import UnreadableFile
from bot.formats import html, jsonturns, parse_text, plaintext, webvtt
from bot.records import ParsedTranscript

settings.register_profile(
    "quick", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

# --- building blocks ----------------------------------------------------------------------

TRICKY = "aZé李克强Путинمحمد 09:：()[]*_#>-–.,;!?\"“”'’\u00a0\t\n&<>/{}\\"
tricky_text = st.text(alphabet=TRICKY, max_size=80)
any_text = st.text(max_size=120)  # every code point hypothesis likes, surrogates excluded
names = st.sampled_from([
    "Vladimir Putin", "Q", "THE PRESIDENT", "Speaker 1", "speaker 2", "unidentified speaker",
    "interpreter", "John Smith, CEO of Acme Inc.", "Suzanne S.", "李克强", "Владимир Путин",
    "محمد بن سلمان", "Xi Jinping (retranslated)", "[18.] Q", "Note", "Question 3", "2019",
    "The answer is simple", "at 10:30", "https://example.org", "",
])
stamps = st.sampled_from(["", " (00:01:02)", " [01:02]", " (1:02:03.500)", " (99:99)", " ("])
colons = st.sampled_from([":", "：", ": ", ":\n", "", "::"])


@st.composite
def label_lines(draw) -> str:
    """A line shaped like "Name (time): text", with variations that are and are not labels."""
    lead = draw(st.sampled_from(["", "[00:00:05] ", ">> ", "- ", "**", "__", "# ", "  "]))
    name = draw(st.one_of(names, tricky_text))
    tail = draw(st.sampled_from(["", "**", "__"]))
    return f"{lead}{name}{draw(stamps)}{draw(colons)}{tail} {draw(tricky_text)}"


@st.composite
def documents(draw) -> str:
    """Paragraphs of label lines, prose and random text, with random separators."""
    parts = draw(st.lists(st.one_of(label_lines(), tricky_text, any_text), max_size=12))
    seps = draw(st.lists(st.sampled_from(["\n", "\n\n", "\n \n", "\n\n\n", " "]),
                         min_size=len(parts), max_size=len(parts)))
    return "".join(p + s for p, s in zip(parts, seps))


def norm(text: str) -> str:
    return " ".join(text.split())


def check_turns(parsed: ParsedTranscript) -> None:
    assert isinstance(parsed, ParsedTranscript)
    assert [t.index for t in parsed.turns] == list(range(len(parsed.turns)))
    for turn in parsed.turns:
        assert isinstance(turn.text, str) and turn.text.strip()
        assert turn.speaker is None or (isinstance(turn.speaker, str) and turn.speaker.strip())
    assert all(isinstance(w, str) and "\n" not in w for w in parsed.warnings)


def check_speakers_in(parsed: ParsedTranscript, source: str) -> None:
    flat = norm(source)
    for turn in parsed.turns:
        if turn.speaker is not None:
            assert norm(turn.speaker) in flat, turn.speaker


# --- decoding -----------------------------------------------------------------------------


def check_decoded(data: bytes) -> None:
    try:
        decoded = decode_bytes(data, "f.txt")
    except UnreadableFile as exc:
        message = str(exc)
        assert message.startswith("f.txt: ") and "\n" not in message
        return
    assert isinstance(decoded.text, str) and decoded.text.strip()
    assert "\x00" not in decoded.text and "\r" not in decoded.text
    assert decoded.warning is None or (decoded.warning.startswith("f.txt: ") and "\n" not in decoded.warning)


@PROFILE
@given(st.binary(max_size=400))
def test_decode_random_bytes(data):
    check_decoded(data)


@PROFILE
@given(any_text.filter(lambda t: "\x00" not in t and t.strip()))
def test_decode_valid_utf8_round_trips(text):
    decoded = decode_bytes(text.encode("utf-8"), "f.txt")
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert (decoded.text, decoded.encoding, decoded.warning) == (expected.removeprefix("\ufeff"), "utf-8", None)


@PROFILE
@given(any_text, st.sampled_from(["utf-8", "utf-16", "cp1252", "cp1251", "latin-1", "koi8-r", "gb18030"]),
       st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4))
def test_decode_encoded_text_with_corruption(text, encoding, damage):
    data = bytearray(text.encode(encoding, errors="replace"))
    for at, value in damage:
        if data:
            data[at % len(data)] = value
    check_decoded(bytes(data))


# --- plain text and Markdown --------------------------------------------------------------


def check_plaintext(text: str) -> None:
    parsed = plaintext.parse(text)
    check_turns(parsed)
    for turn in parsed.turns:
        assert turn.text in text
        assert turn.text == turn.text.strip()
    # a speaker is the label as written, cut at its ends only (emphasis, numbers, times)
    check_speakers_in(parsed, text)


@PROFILE
@given(documents())
def test_plaintext_documents(text):
    check_plaintext(text)


@PROFILE
@given(any_text)
def test_plaintext_random_text(text):
    check_plaintext(text)


@PROFILE
@given(st.lists(label_lines(), min_size=1, max_size=8), st.sampled_from(["\n", "\n\n"]))
def test_plaintext_label_lines_each_start_a_turn_or_stay_verbatim(lines, sep):
    text = "Title\n\n" + sep.join(lines) + "\n"
    check_plaintext(text)
    for line in lines:  # a line read as a label starts a turn holding exactly its speech
        found = plaintext.read_label(line.lstrip(" \t\u00a0"))
        if found and sep == "\n\n" and line.strip() and "\n" not in line.strip():
            speech = line.lstrip(" \t\u00a0")[found[1]:].strip()
            parsed = plaintext.parse(text)
            if speech:
                assert any(t.speaker == found[0] and t.text.startswith(speech) for t in parsed.turns), line


@PROFILE
@given(documents())
def test_markdown_through_parse_text(text):
    parsed = parse_text("notes.md", "# Notes\n\n" + text)
    check_turns(parsed)


# --- WebVTT and SRT -----------------------------------------------------------------------

timestamps = st.sampled_from(["00:00:01.000", "00:01.500", "1:02:03,250", "00:00:02", "99:59:59.999", "aa:bb"])


@st.composite
def cue_payloads(draw) -> str:
    lines = draw(st.lists(st.one_of(
        label_lines(), tricky_text,
        st.builds(lambda n, t: f"<v {n}>{t}", names, tricky_text),
        st.builds(lambda n, t: f"<v.loud {n}>{t}</v>", names, tricky_text),
        st.builds(lambda n, t: f"[{n}]: {t}", names, tricky_text),
        st.builds(lambda t: f"<i>{t}</i> <c.yellow>x</c><00:00:01.000>", tricky_text),
        st.builds(lambda n, t: f"&gt;&gt; {n}: {t}", names, tricky_text),
    ), max_size=3))
    return "\n".join(line.replace("\n", " ") for line in lines)


@st.composite
def subtitle_files(draw) -> str:
    vtt = draw(st.booleans())
    blocks = []
    for n in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["cue", "cue", "cue", "note", "stray"]))
        if kind == "note":
            blocks.append(f"NOTE {draw(tricky_text)}".replace("\n\n", "\n"))
        elif kind == "stray":
            blocks.append(draw(tricky_text).replace("\n\n", "\n") or "x")
        else:
            ident = draw(st.sampled_from(["", f"{n + 1}\n", "intro\n"]))
            timing = f"{draw(timestamps)} --> {draw(timestamps)}{draw(st.sampled_from(['', ' align:start']))}"
            blocks.append(f"{ident}{timing}\n{draw(cue_payloads())}")
    header = "WEBVTT\nKind: captions\n\n" if vtt else ""
    return header + "\n\n".join(blocks) + "\n"


def check_webvtt(text: str) -> None:
    parsed = webvtt.parse(text)
    check_turns(parsed)
    source = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    stripped = webvtt.TAG.sub("", source)
    for turn in parsed.turns:
        # cue texts joined with one space: every space-free run is file text (tags removed)
        for piece in turn.text.split(" "):
            assert piece in stripped, piece
        if turn.speaker is not None:  # from a voice tag, a [Name]: or a Name: prefix
            assert norm(turn.speaker) in norm(source), turn.speaker


@PROFILE
@given(subtitle_files())
def test_webvtt_random_files(text):
    check_webvtt(text)


@PROFILE
@given(any_text)
def test_webvtt_random_text(text):
    check_webvtt("WEBVTT\n\n" + text)
    check_webvtt(text)


# --- HTML ---------------------------------------------------------------------------------

TAGS = ["p", "div", "span", "b", "strong", "i", "br", "article", "main", "section", "nav", "aside",
        "script", "pre", "li", "ul", "h1", "h2", "table", "td", "figure", "header", "footer", "time"]


def html_nodes() -> st.SearchStrategy[str]:
    leaf = st.one_of(tricky_text.map(lambda t: t.replace("<", "&lt;")), label_lines().map(lambda t: t.replace("<", "&lt;")),
                     st.just("<br>"), st.just("<!-- note -->"))
    return st.recursive(leaf, lambda children: st.builds(
        lambda tag, cls, kids: f"<{tag}{cls}>{''.join(kids)}</{tag}>",
        st.sampled_from(TAGS),
        st.sampled_from(["", ' class="share"', ' class="entry-content"', ' itemprop="articleBody"', " hidden"]),
        st.lists(children, max_size=4),
    ), max_leaves=25)


def check_html(page: str) -> None:
    parsed = html.parse(page)
    check_turns(parsed)
    # White space is as a browser renders it (collapsed, a space after a bold label), so
    # the comparison ignores it: each line of a turn is the page's text, in one piece.
    # Share widgets and hidden elements are not the transcript: the parser drops them (unless
    # they are all the page has), so the text is the page's with or without them.
    full = "".join(BeautifulSoup(page, "html.parser").get_text("").split())
    soup = BeautifulSoup(page, "html.parser")
    for tag in soup.select(".share, [hidden]"):
        tag.decompose()
    clean = "".join(soup.get_text("").split())
    for turn in parsed.turns:
        for line in turn.text.split("\n"):
            assert "".join(line.split()) in full or "".join(line.split()) in clean, line
        if turn.speaker is not None:
            speaker = "".join(turn.speaker.split())
            assert speaker in full or speaker in clean, turn.speaker


@PROFILE
@given(st.lists(html_nodes(), max_size=5))
def test_html_random_nesting(nodes):
    check_html("<!DOCTYPE html><html><head><title>T</title></head><body>" + "".join(nodes) + "</body></html>")


@PROFILE
@given(any_text)
def test_html_random_text(text):
    check_html("<html><body>" + text + "</body></html>")


# --- JSON and JSON Lines ------------------------------------------------------------------

KEYS = sorted({*jsonturns.CONTAINER_KEYS, *jsonturns.SPEAKER_KEYS, *jsonturns.TEXT_KEYS,
               *jsonturns.START_KEYS[:6], *jsonturns.END_KEYS[:4], "duration", "audio_duration",
               "elements", "value", "alternatives", "timestamp", "title", "date", "metadata", "x"})
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), tricky_text, label_lines(),
                    st.sampled_from(["12.5s", "PT1.5S", "00:01:02.500", "2021-03-04", "1e400"]))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(st.sampled_from(KEYS), children, max_size=6)),
    max_leaves=30,
)


def strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    return []


def check_json(text: str, data) -> None:
    try:
        parsed = jsonturns.parse(text)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    check_turns(parsed)
    values = strings_in(data)
    joined = "".join(values)  # rev.ai elements are joined without a separator
    for turn in parsed.turns:
        for piece in turn.text.split(" "):
            assert piece in joined, piece
        if turn.speaker is not None:
            assert (any(norm(turn.speaker) in norm(v) for v in values)
                    or re.fullmatch(r"Speaker \S+", turn.speaker)), turn.speaker


@PROFILE
@given(json_values)
def test_json_random_shapes(data):
    jsonturns._load.cache_clear()
    check_json(json.dumps(data), data)


@PROFILE
@given(st.lists(json_values, min_size=1, max_size=6))
def test_jsonl_random_lines(lines):
    jsonturns._load.cache_clear()
    check_json("\n".join(json.dumps(line) for line in lines), lines)


@PROFILE
@given(any_text)
def test_json_random_text(text):
    jsonturns._load.cache_clear()
    try:
        parsed = jsonturns.parse(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    check_turns(parsed)


# --- the whole path: bytes -> text -> the format chosen for the file ----------------------


@PROFILE
@given(st.one_of(documents(), subtitle_files(), any_text).map(lambda t: t.encode("utf-8")) | st.binary(max_size=300),
       st.sampled_from(["a.txt", "a.md", "a.vtt", "a.srt", "a.json", "a.jsonl", "a.html", "a"]))
def test_bytes_to_turns(data, name):
    try:
        decoded = decode_bytes(data, name)
    except UnreadableFile:
        return
    try:
        parsed = parse_text(name, decoded.text)
    except ValueError as exc:  # jsonturns' documented one-line reason
        assert "\n" not in str(exc)
        return
    check_turns(parsed)
    if parsed.format in ("text",):
        assert all(t.text in decoded.text for t in parsed.turns)
