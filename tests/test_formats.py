"""Unit tests of the transcript format parsers: WebVTT/SRT, JSON/JSONL, HTML, plain text and
Markdown, and of how a format is chosen for a file.

Fixtures in tests/fixtures/formats/ are small real excerpts (see the README there). Every test
checks the verbatim rule: a turn's text is source text (a substring of a text file, the joined
cue texts of a subtitle file, the joined values of a JSON file). No model is loaded here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from bot import corpus
from bot.errors import UnreadableFile
from bot.formats import choose_format, html, jsonturns, parse_text, plaintext, webvtt

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
SHARED = Path("/work/shared/corpus")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def speakers(parsed) -> list[str | None]:
    return [t.speaker for t in parsed.turns]


def cue_runs(text: str) -> list[tuple[str, list[str], float, float]]:
    """Runs of consecutive "[Speaker]: text" cues, read independently of the parser."""
    runs: list[tuple[str, list[str], float, float]] = []
    pattern = r"(\d\d:\d\d:\d\d[.,]\d{3}) --> (\d\d:\d\d:\d\d[.,]\d{3})\n\[([^\]]+)\]: (.*)"
    for start, end, speaker, cue in re.findall(pattern, text):
        s, e = webvtt.parse_timestamp(start), webvtt.parse_timestamp(end)
        if runs and runs[-1][0] == speaker:
            runs[-1][1].append(cue)
            runs[-1] = (speaker, runs[-1][1], runs[-1][2], e)
        else:
            runs.append((speaker, [cue], s, e))
    return runs


def read_file(tmp_path: Path, name: str, data: bytes, metadata: dict | None = None):
    path = tmp_path / name
    path.write_bytes(data)
    return corpus.read_transcript(corpus.CorpusFile(path=path, rel=name, metadata=metadata or {}))


# --- WebVTT and SRT ------------------------------------------------------------------------


def test_vtt_fixture_merges_cues_into_speaker_turns():
    text = fixture("seenunseen_e23_excerpt.vtt")
    parsed = webvtt.parse(text)
    assert parsed.format == "webvtt"
    assert parsed.warnings == []
    assert speakers(parsed) == ["Unknown", "Amit Varma", "Guest", "Amit Varma", "Guest", "Amit Varma"]
    runs = cue_runs(text)
    assert len(runs) == len(parsed.turns)
    for turn, (speaker, cues, start, end) in zip(parsed.turns, runs):
        assert turn.speaker == speaker
        assert turn.text == " ".join(cues)  # verbatim: the cue texts joined with one space
        assert (turn.start, turn.end) == (start, end)
    assert parsed.turns[0].text == (
        "Welcome to The Seen and The Unseen, our weekly podcast on economics, politics and behavioral science."
    )
    assert (parsed.turns[0].start, parsed.turns[0].end) == (115.16, 121.16)
    assert "financial inclusion" in parsed.turns[4].text
    assert parsed.meta.title == ""  # no title in the file: corpus.py falls back to the sidecar/stem


def test_srt_fixture():
    text = fixture("seenunseen_e41_excerpt.srt")
    parsed = webvtt.parse(text)
    assert parsed.format == "srt"
    assert speakers(parsed) == ["Amit Varma", "Guest 1"]
    runs = cue_runs(text)
    assert [t.text for t in parsed.turns] == [" ".join(cues) for _, cues, _, _ in runs]
    assert parsed.turns[0].start == pytest.approx(18 * 60 + 4.88)
    assert parsed.turns[0].end == pytest.approx(18 * 60 + 30.88)
    assert parsed.turns[1].end == pytest.approx(19 * 60 + 27.48)
    assert parsed.turns[1].text.endswith("there has never been any thought at any stage of development.")


@pytest.mark.skipif(not (SHARED / "seenunseen_podcast").exists(), reason="shared corpus not mounted")
def test_vtt_full_episode_matches_reference_turns():
    """The whole E23 episode gives exactly the turns of the corpus's own turns/*.jsonl."""
    base = SHARED / "seenunseen_podcast"
    parsed = webvtt.parse((base / "vtt" / "E23.mp3.vtt").read_text(encoding="utf-8"))
    reference = [
        json.loads(line)
        for line in (base / "turns" / "2017-06-18_E023_episode-23-public-sector-banks.jsonl").read_text().splitlines()
    ]
    assert [(t.speaker, t.text, t.start) for t in parsed.turns] == [
        (r["speaker"], r["text"], webvtt.parse_timestamp(r["start"])) for r in reference
    ]


VTT_FEATURES = """WEBVTT - with a header comment
Kind: captions
Language: en

NOTE title: Budget hearing
date: 2021-03-04

STYLE
::cue { color: yellow }

REGION
id:fred

intro
00:01.000 --> 00:04.000 align:start position:10%
<v.loud Mary Smith>We <i>will</i> cut the
deficit by <c.yellow>half</c>.</v>

2
00:00:04.000 --> 00:00:06.500 line:0
<v Mary Smith>That is our plan.

00:06.000 --> 00:06.200

00:05.800 --> 00:09.000
<v Bob>Why<00:00:06.100> now?</v>
<v Mary Smith>Because rates are low.</v>

00:08.500 --> 00:08.900
And falling &amp; falling.
"""


def test_vtt_voice_tags_inline_tags_settings_and_notes():
    parsed = webvtt.parse(VTT_FEATURES)
    assert parsed.meta.title == "Budget hearing"
    assert parsed.meta.date == "2021-03-04"
    assert parsed.meta.extra == {"kind": "captions", "language": "en"}
    assert parsed.warnings == []
    assert [(t.speaker, t.text, t.start, t.end) for t in parsed.turns] == [
        # two cues of one voice merge; tags are gone, the inner newline stays
        ("Mary Smith", "We will cut the\ndeficit by half. That is our plan.", 1.0, 6.5),
        # one cue with two voices splits; the empty cue in between is skipped
        ("Bob", "Why now?", 5.8, 9.0),
        # a cue without a voice continues the turn; overlapping times keep the latest end;
        # character references are left as written
        ("Mary Smith", "Because rates are low. And falling &amp; falling.", 5.8, 9.0),
    ]


def test_vtt_timestamps():
    assert webvtt.parse_timestamp("01:02:03.500") == 3723.5
    assert webvtt.parse_timestamp("02:03.25") == 123.25
    assert webvtt.parse_timestamp("00:00:01,000") == 1.0
    assert webvtt.parse_timestamp("100:00:00.000") == 360000.0
    assert webvtt.parse_timestamp("soon") is None


def test_srt_name_prefixes_and_unlabelled_continuations():
    text = (
        "1\n00:00:01,000 --> 00:00:02,500\nJOHN: Hello there.\n\n"
        "2\n00:00:02,600 --> 00:00:04,000\nHow are you?\n\n"
        "3\n00:00:04,100 --> 00:00:05,000\n<i>MARY:</i> Fine, thanks.\n"
        "JOHN: Good.\n\n"
        "4\n00:00:05,100 --> 00:00:06,000\nBob: Me too.\n"
    )
    parsed = webvtt.parse(text)
    assert [(t.speaker, t.text, t.start, t.end) for t in parsed.turns] == [
        ("JOHN", "Hello there. How are you?", 1.0, 4.0),  # an unlabelled cue continues the turn
        ("MARY", "Fine, thanks.", 4.1, 5.0),  # tags around the label are markup
        ("JOHN", "Good.", 4.1, 5.0),  # a label at the start of a later line of the cue
        ("Bob", "Me too.", 5.1, 6.0),  # a one-off name counts in a file that uses labels
    ]


def test_vtt_prose_with_a_colon_is_not_a_speaker():
    text = (
        "WEBVTT\n\n00:01.000 --> 00:03.000\nWelcome back to the show.\n\n"
        "00:03.000 --> 00:05.000\nRemember: the vote is on Monday.\n"
    )
    parsed = webvtt.parse(text)
    assert [(t.speaker, t.text) for t in parsed.turns] == [
        (None, "Welcome back to the show. Remember: the vote is on Monday.")
    ]


def test_srt_with_cues_run_together_and_stray_text():
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nAlice: One.\n"
        "2\n00:00:02,000 --> 00:00:03,000\nAlice: Two.\n\n"
        "stray words without a time\n\n"
        "3\n00:00:03,000 --> 00:00:04,000\nBob: Three.\n\n"
    )
    parsed = webvtt.parse(text)
    assert [(t.speaker, t.text) for t in parsed.turns] == [("Alice", "One. Two."), ("Bob", "Three.")]
    assert parsed.warnings == ["1 block(s) without a cue timing line ignored"]


def test_vtt_without_speakers_is_grouped_at_pauses_and_length():
    sentences = [f"This is cue number {i} of the long talk." for i in range(40)]  # 9 words each
    cues = []
    t = 0.0
    for i, sentence in enumerate(sentences):
        if i == 20:
            t += 5.0  # a pause longer than PAUSE_SECONDS after cue 19
        cues.append(f"{webvtt_ts(t)} --> {webvtt_ts(t + 2)}\n{sentence}")
        t += 2.0
    parsed = webvtt.parse("WEBVTT\n\n" + "\n\n".join(cues) + "\n")
    assert all(turn.speaker is None for turn in parsed.turns)
    # cut at the first sentence end past TARGET_WORDS (cue 16: 153 words), at the pause, and
    # again past TARGET_WORDS; never a turn of one cue
    groups = [(0, 17), (17, 20), (20, 37), (37, 40)]
    assert [t.text for t in parsed.turns] == [" ".join(sentences[a:b]) for a, b in groups]
    assert [(t.start, t.end) for t in parsed.turns] == [(0.0, 34.0), (34.0, 40.0), (45.0, 79.0), (79.0, 85.0)]


def webvtt_ts(seconds: float) -> str:
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{seconds % 60:06.3f}"


def test_vtt_youtube_rolling_captions_are_not_repeated():
    text = (
        "WEBVTT\nKind: captions\nLanguage: en\n\n"
        "00:00:00.030 --> 00:00:02.330 align:start position:0%\n \n"
        "hello<00:00:00.480><c> everyone</c><00:00:00.989><c> welcome</c>\n\n"
        "00:00:02.330 --> 00:00:02.340 align:start position:0%\nhello everyone welcome\n \n\n"
        "00:00:02.340 --> 00:00:05.930 align:start position:0%\nhello everyone welcome\n"
        "to<00:00:02.700><c> the</c><00:00:03.060><c> channel</c>\n"
    )
    parsed = webvtt.parse(text)
    assert [t.text for t in parsed.turns] == ["hello everyone welcome to the channel"]
    assert (parsed.turns[0].start, parsed.turns[0].end) == (0.03, 5.93)


def test_vtt_bom_and_windows_line_endings_through_corpus(tmp_path):
    source = fixture("seenunseen_e23_excerpt.vtt")
    data = b"\xef\xbb\xbf" + source.replace("\n", "\r\n").encode("utf-8")
    parsed = read_file(tmp_path, "episode.vtt", data, {"title": "Episode 23: Public Sector Banks"})
    expected = webvtt.parse(source)
    assert [(t.speaker, t.text, t.start, t.end) for t in parsed.turns] == [
        (t.speaker, t.text, t.start, t.end) for t in expected.turns
    ]
    assert all("\r" not in t.text for t in parsed.turns)
    assert parsed.meta.title == "Episode 23: Public Sector Banks"
    # without metadata the file name is the title
    assert read_file(tmp_path, "E23.srt", data).meta.title == "E23"


def test_vtt_parse_accepts_crlf_and_bom_directly():
    parsed = webvtt.parse("\ufeffWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\n[Ann]: Hi\r\nthere.\r\n")
    assert [(t.speaker, t.text) for t in parsed.turns] == [("Ann", "Hi\nthere.")]


# --- JSON and JSONL --------------------------------------------------------------------------


def test_jsonl_fixture():
    text = fixture("seenunseen_e61_excerpt.jsonl")
    lines = [json.loads(line) for line in text.splitlines()]
    parsed = jsonturns.parse(text)
    assert parsed.format == "json"
    assert speakers(parsed) == ["Unknown", "Amit Varma", "Guest", "Amit Varma", "Guest"]
    assert [t.text for t in parsed.turns] == [line["text"] for line in lines]
    assert [t.start for t in parsed.turns] == [webvtt.parse_timestamp(line["start"]) for line in lines]
    assert parsed.turns[0].start == pytest.approx(129.92)
    assert all(t.end is None for t in parsed.turns)  # the file has no end times
    assert "182 days" in parsed.turns[4].text


def test_json_fixture_with_metadata_merges_segments():
    text = fixture("seenunseen_e48_excerpt.json")
    data = json.loads(text)
    parsed = jsonturns.parse(text)
    assert parsed.meta.title == "Episode 48: Reforming Urban Governance"
    assert parsed.meta.date == "2017-12-24"
    assert parsed.meta.url == data["url"]
    assert parsed.meta.extra == {"language": "en"}
    assert speakers(parsed) == ["Amit Varma", "Guest"]
    guest = [s for s in data["segments"] if s["speaker"] == "Guest"]
    assert parsed.turns[1].text == " ".join(s["text"] for s in guest)
    assert (parsed.turns[1].start, parsed.turns[1].end) == (guest[0]["start"], guest[-1]["end"])
    assert "Bangalore Agenda Task Force" in parsed.turns[1].text


@pytest.mark.parametrize(
    "segment, speaker, start, end",
    [
        ({"speaker_label": "spk_0", "transcript": "T", "start_time": "1.5", "end_time": "2.5"}, "spk_0", 1.5, 2.5),
        ({"spk": "A", "content": "T", "startTime": 1.5, "endTime": 2.5}, "A", 1.5, 2.5),
        ({"name": "Ann", "sentence": "T", "begin": "00:00:01.500", "to": "00:00:02.500"}, "Ann", 1.5, 2.5),
        ({"speaker_name": "Ann", "speaker": 3, "text": "T", "from": 1.5, "end": 2.5}, "Ann", 1.5, 2.5),
        ({"speaker": 3, "text": "T", "offset": 1.5, "duration": 1.0}, "Speaker 3", 1.5, 2.5),
        ({"speaker": {"id": 2, "name": "Ann"}, "text": "T", "start_ms": 1500, "end_ms": 2500}, "Ann", 1.5, 2.5),
        ({"speaker": "B", "text": "T", "startMs": "1500", "endMs": 2500}, "B", 1.5, 2.5),
        ({"text": "T", "timestamp": [1.5, 2.5]}, None, 1.5, 2.5),
        ({"text": "T", "start": "1.5s", "end": "PT2.5S"}, None, 1.5, 2.5),
        ({"text": "T", "start": "01:02.5", "end": None}, None, 62.5, None),
    ],
)
def test_json_key_variants(segment, speaker, start, end):
    parsed = jsonturns.parse(json.dumps([segment]))
    assert [(t.speaker, t.text, t.start, t.end) for t in parsed.turns] == [(speaker, "T", start, end)]


@pytest.mark.parametrize("key", ["turns", "segments", "utterances", "results", "monologues"])
def test_json_containers_and_metadata(key):
    doc = {
        "title": "Council meeting",
        "date": "March 4, 2021",
        "place": "Town hall",
        "url": "https://example.org/council",
        key: [
            {"speaker": "Ann", "text": "First.", "start": 0, "end": 1},
            {"speaker": "Ann", "text": "Second.", "start": 1, "end": 2},
            {"speaker": "Bob", "text": "Third.", "start": 2, "end": 3},
        ],
    }
    parsed = jsonturns.parse(json.dumps(doc))
    assert (parsed.meta.title, parsed.meta.date, parsed.meta.place, parsed.meta.url) == (
        "Council meeting", "2021-03-04", "Town hall", "https://example.org/council",
    )
    assert [(t.speaker, t.text, t.start, t.end) for t in parsed.turns] == [
        ("Ann", "First. Second.", 0.0, 2.0),
        ("Bob", "Third.", 2.0, 3.0),
    ]


def test_json_whisper_output_without_speakers():
    doc = {
        "text": " Hello there. General remarks.",
        "language": "en",
        "segments": [
            {"id": 0, "seek": 0, "start": 0.0, "end": 2.0, "text": " Hello there."},
            {"id": 1, "seek": 0, "start": 2.0, "end": 3.5, "text": " General remarks."},
        ],
    }
    parsed = jsonturns.parse(json.dumps(doc))
    # segment texts as given, joined with one space (their leading blank trimmed)
    assert [(t.speaker, t.text, t.start, t.end) for t in parsed.turns] == [
        (None, "Hello there. General remarks.", 0.0, 3.5)
    ]


def test_json_revai_monologues_join_elements_verbatim():
    doc = {
        "monologues": [
            {"speaker": 0, "speaker_name": "Ann Lee", "elements": [
                {"type": "text", "value": "Hello", "ts": 0.5, "end_ts": 0.9},
                {"type": "punct", "value": ","},
                {"type": "punct", "value": " "},
                {"type": "text", "value": "all", "ts": 1.0, "end_ts": 1.2},
                {"type": "punct", "value": "."},
            ]},
            {"speaker": 1, "elements": [{"type": "text", "value": "Hi", "ts": 2.0, "end_ts": 2.4}]},
        ]
    }
    parsed = jsonturns.parse(json.dumps(doc))
    assert [(t.speaker, t.text, t.start, t.end) for t in parsed.turns] == [
        ("Ann Lee", "Hello, all.", 0.5, 1.2),
        ("Speaker 1", "Hi", 2.0, 2.4),
    ]


def test_json_nested_results_and_millisecond_detection():
    deepgram = {"results": {"channels": [], "utterances": [{"speaker": 0, "transcript": "Yes.", "start": 1, "end": 2}]}}
    assert [(t.speaker, t.text) for t in jsonturns.parse(json.dumps(deepgram)).turns] == [("Speaker 0", "Yes.")]
    assemblyai = {"audio_duration": 12, "utterances": [
        {"speaker": "A", "text": "One.", "start": 500, "end": 4000},
        {"speaker": "B", "text": "Two.", "start": 4100, "end": 9000},
    ]}
    parsed = jsonturns.parse(json.dumps(assemblyai))
    assert [(t.start, t.end) for t in parsed.turns] == [(0.5, 4.0), (4.1, 9.0)]


def test_jsonl_with_metadata_line():
    text = "\n".join([
        json.dumps({"title": "Standup", "date": "2024-05-02"}),
        json.dumps({"speaker": "Ann", "text": "Done with the report."}),
        json.dumps({"speaker": "Ann", "text": "Starting the review."}),
        "",
    ])
    parsed = jsonturns.parse(text)
    assert (parsed.meta.title, parsed.meta.date) == ("Standup", "2024-05-02")
    assert [(t.speaker, t.text) for t in parsed.turns] == [("Ann", "Done with the report. Starting the review.")]


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"turns": [{"speaker": "A", "text": "x"},]}', "invalid JSON"),
        ('{"speaker": "A", "text": "x"}\n{"speaker": oops}\n', "invalid JSON on line 2"),
        ('{"name": "package", "version": "1.0"}', "no list of turns"),
        ("[1, 2, 3]", "no list of turns"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_json_errors_raise_value_error(text, reason):
    with pytest.raises(ValueError, match=reason):
        jsonturns.parse(text)


def test_invalid_json_file_is_skipped_with_one_line(tmp_path):
    with pytest.raises(UnreadableFile) as info:
        read_file(tmp_path, "broken.json", b'{"segments": [{"text": "hi"}')
    message = str(info.value)
    assert message.startswith("broken.json: not a readable json transcript (invalid JSON")
    assert message.endswith("skipped") and "\n" not in message


def test_json_bom_and_windows_line_endings_through_corpus(tmp_path):
    source = fixture("seenunseen_e61_excerpt.jsonl")
    data = b"\xef\xbb\xbf" + source.replace("\n", "\r\n").encode("utf-8")
    parsed = read_file(tmp_path, "turns.jsonl", data)
    assert [t.text for t in parsed.turns] == [t.text for t in jsonturns.parse(source).turns]


# --- HTML ------------------------------------------------------------------------------------


def visible_text(page: str) -> str:
    return " ".join(BeautifulSoup(page, "html.parser").get_text(" ").split())


def test_kremlin_html_fixture():
    page = fixture("kremlin_51437_meeting_with_igor_rudenya.html")
    parsed = html.parse(page)
    assert parsed.format == "html"
    meta = parsed.meta
    assert (meta.title, meta.date, meta.place, meta.url) == (
        "Meeting with Igor Rudenya", "2016-03-02", "The Kremlin, Moscow",
        "http://en.kremlin.ru/events/president/news/51437",
    )
    assert speakers(parsed) == [None, "President of Russia Vladimir Putin"] + ["Igor Rudenya", "Vladimir Putin"] * 4
    lead = parsed.turns[0].text.split("\n\n")
    assert lead == [
        "Vladimir Putin had a meeting with Igor Rudenya, during which he announced his decision to appoint "
        "him Acting Governor of Tver Region.",
        "In 2005–2007, Igor Rudenya served as State secretary and Deputy Agriculture Minister. In 2008–2012, "
        "he headed the Agro-Industrial Complex Department in the Government of the Russian Federation.",
        "* * *",
    ]
    assert parsed.turns[6].text == "It is the largest region in the Central Federal District."
    assert parsed.turns[-1].text == "Very well.\n\n<…>"
    shown = visible_text(page)
    for turn in parsed.turns:  # verbatim: every paragraph is page text (white space as rendered)
        for paragraph in turn.text.split("\n\n"):
            assert paragraph in shown
    everything = "\n".join(t.text for t in parsed.turns)
    for furniture in ("Search", "Events", "Facebook", "See also", "Publication date", "Geography",
                      "Text version", "For the Media", "Creative Commons", "Meeting with Igor Rudenya.",
                      "Last updated", "Presidential Executive Office"):
        assert furniture not in everything


@pytest.mark.skipif(not (SHARED / "kremlin").exists(), reason="shared corpus not mounted")
def test_kremlin_html_gives_the_same_turns_as_the_corpus_text():
    page = html.parse(fixture("kremlin_51437_meeting_with_igor_rudenya.html"))
    text = plaintext.parse((SHARED / "kremlin" / "2016-03-02_51437_meeting-with-igor-rudenya.txt").read_text())
    assert [(t.speaker, t.text) for t in page.turns] == [(t.speaker, t.text) for t in text.turns]
    assert (page.meta.title, page.meta.date, page.meta.place) == (text.meta.title, text.meta.date, text.meta.place)


GENERIC_PAGE = """<!DOCTYPE html>
<html><head><title>Harbour board: public hearing | City News</title>
<meta property="og:url" content="https://news.example.org/harbour-hearing">
<style>p { color: red }</style><script>var p = "<p>not text</p>";</script></head>
<body>
<header class="site-header"><h1 class="logo">City News</h1><nav><a href="/">Home</a> <a href="/x">World</a></nav></header>
<main>
<article>
  <header><h1>Harbour board: public hearing</h1><time datetime="2019-04-25T18:00:00+02:00">25 April 2019</time></header>
  <figure><img src="a.jpg"><figcaption>The harbour at dusk.</figcaption></figure>
  <p>The board met residents about the new quay.</p>
  <p><strong>Chair Anna Berg:</strong> The quay will be
     finished in 2021.<br>It will cost 12 million.</p>
  <p><b>Resident</b>: What about the ferry?</p>
  <p><b>Chair Anna Berg:</b>The ferry keeps running.</p>
  <p>During the works, too.</p>
  <div class="share-buttons">Share on Facebook</div>
  <aside class="related">Related: Budget vote</aside>
</article>
</main>
<footer>© City News</footer>
</body></html>
"""


def test_generic_html_article():
    parsed = html.parse(GENERIC_PAGE)
    meta = parsed.meta
    # a title that looks like "Label: text" is still the title, and the lead is not lost
    assert (meta.title, meta.date, meta.url) == (
        "Harbour board: public hearing", "2019-04-25", "https://news.example.org/harbour-hearing",
    )
    assert [(t.speaker, t.text) for t in parsed.turns] == [
        (None, "The board met residents about the new quay."),
        ("Chair Anna Berg", "The quay will be finished in 2021.\nIt will cost 12 million."),
        ("Resident", "What about the ferry?"),
        # a bold label without a space after it still reads "Label: text"
        ("Chair Anna Berg", "The ferry keeps running.\n\nDuring the works, too."),
    ]


def test_html_without_article_uses_largest_text_block_and_date_line():
    page = """<html><head><title>Interview with the mayor • Town site</title></head><body>
    <div class="menu"><p>Home</p><p>About</p></div>
    <div id="content"><p>March 3, 2020</p>
    <p>Q: Why did you run?</p><p>Mayor: To fix the roads, and because nobody else would.</p>
    <p>Q: And now?</p><p>Mayor: Now we fix them.</p></div>
    <div class="footer"><p>Contact us</p></div></body></html>"""
    parsed = html.parse(page)
    assert parsed.meta.title == "Interview with the mayor"
    assert parsed.meta.date == "2020-03-03"
    assert [(t.speaker, t.text) for t in parsed.turns] == [
        ("Q", "Why did you run?"), ("Mayor", "To fix the roads, and because nobody else would."),
        ("Q", "And now?"), ("Mayor", "Now we fix them."),
    ]


def test_html_preformatted_transcript():
    page = "<html><body><h1>Notes</h1><pre>Ann: Hello.\n  Indented line.\n\nBob: Bye.\n</pre></body></html>"
    parsed = html.parse(page)
    assert parsed.meta.title == "Notes"
    assert [(t.speaker, t.text) for t in parsed.turns] == [("Ann", "Hello.\n  Indented line."), ("Bob", "Bye.")]


def test_html_text_around_removed_furniture_stays_apart():
    """Found by the property tests: text either side of a dropped block ran together."""
    page = ('<html><body>The vote is closed.<div class="share">Share</div>Vladimir Putin: Thank you.'
            '<p>Ann: Bye<span class="share">x</span>bye.</p></body></html>')
    parsed = html.parse(page)
    assert [(t.speaker, t.text) for t in parsed.turns] == [
        (None, "The vote is closed."), ("Vladimir Putin", "Thank you."), ("Ann", "Byebye.")]
    pre = html.parse('<html><body><pre>The end.<p class="share">Share</p>Ann: Hi.</pre></body></html>')
    # the lines stay apart; the second is not a turn, since the paragraph does not open with a label
    assert [(t.speaker, t.text) for t in pre.turns] == [(None, "The end.\nAnn: Hi.")]


def test_html_bom_and_windows_line_endings_through_corpus(tmp_path):
    page = fixture("kremlin_51437_meeting_with_igor_rudenya.html")
    data = b"\xef\xbb\xbf" + page.replace("\n", "\r\n").encode("utf-8")
    parsed = read_file(tmp_path, "page.htm", data)
    assert [(t.speaker, t.text) for t in parsed.turns] == [(t.speaker, t.text) for t in html.parse(page).turns]


# --- Plain text and Markdown -----------------------------------------------------------------


def assert_substrings(parsed, text: str) -> None:
    for turn in parsed.turns:
        assert turn.text in text


def test_us_news_conference_caps_labels_and_numbered_questions():
    text = fixture("us_news_1961-03-08_kennedy_excerpt.txt")
    parsed = plaintext.parse(text)
    assert parsed.meta.title == "The President's News Conference (John F. Kennedy)"
    assert parsed.meta.date == "1961-03-08"
    assert speakers(parsed) == ["THE PRESIDENT", "Q", "THE PRESIDENT", "Q", "THE PRESIDENT"]
    assert parsed.turns[1].text.startswith("[9.] Mr. President, you told us last month")
    assert parsed.turns[3].text.startswith("Mr. President, in order to avoid another snafu")  # "[18.] Q:"
    assert "Radio Free Europe" in parsed.turns[0].text
    assert_substrings(parsed, text)


def test_earnings_call_with_year_only_date():
    text = fixture("earnings21_monro_q3_excerpt.txt")
    parsed = plaintext.parse(text)
    assert (parsed.meta.title, parsed.meta.date) == ("Monro Inc Q3 2020 Earnings Call", "2020")
    assert speakers(parsed) == ["Speaker 1", "Maureen Mulholland", "Brett Ponton"]
    assert parsed.turns[1].text.endswith("Brett Ponton. Brett.")  # continuation paragraph kept
    assert "comps down 0.9% in the third quarter" in parsed.turns[2].text
    assert_substrings(parsed, text)


def test_markdown_title_and_bold_labels():
    text = fixture("kremlin_54915_lukashenko.md")
    parsed = plaintext.parse(text)
    meta = parsed.meta
    assert (meta.title, meta.date, meta.place) == (
        "Meeting with President of Belarus Alexander Lukashenko", "2017-06-30", "The Kremlin, Moscow",
    )
    assert speakers(parsed) == [
        None, "President of Russia Vladimir Putin", "President of Belarus Alexander Lukashenko", "Vladimir Putin",
    ]
    assert parsed.turns[1].text.startswith("Mr Lukashenko, friends,\n\nMr Lukashenko and I")
    assert parsed.turns[3].text == "Thank you.\n\n<…>"
    assert not any("**" in t.text for t in parsed.turns)
    assert_substrings(parsed, text)


def test_markdown_label_variants():
    text = "# Notes\n\n**Ann:** One.\n\n**Bob**: Two.\n\n__Q:__ Three?\n\n*Ann:* Four.\n"
    parsed = plaintext.parse(text)
    assert [(t.speaker, t.text) for t in parsed.turns] == [
        ("Ann", "One."), ("Bob", "Two."), ("Q", "Three?"), ("Ann", "Four."),
    ]


def test_label_less_text_file(tmp_path):
    parsed = read_file(tmp_path, "essay.txt", b"An essay\r\n\r\nFirst paragraph.\r\n\r\nSecond paragraph.\r\n")
    assert [(t.speaker, t.text) for t in parsed.turns] == [(None, "First paragraph.\n\nSecond paragraph.")]
    assert parsed.meta.title == "An essay"


# --- Choosing a format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename, name, expected",
    [
        ("talk.vtt", "seenunseen_e23_excerpt.vtt", "webvtt"),
        ("talk.txt", "seenunseen_e23_excerpt.vtt", "webvtt"),  # content wins over a wrong extension
        ("talk", "seenunseen_e41_excerpt.srt", "webvtt"),
        ("talk.srt", "seenunseen_e41_excerpt.srt", "webvtt"),
        ("talk.json", "seenunseen_e48_excerpt.json", "json"),
        ("talk.txt", "seenunseen_e48_excerpt.json", "json"),
        ("talk.jsonl", "seenunseen_e61_excerpt.jsonl", "json"),
        ("talk.data", "seenunseen_e61_excerpt.jsonl", "json"),
        ("page.html", "kremlin_51437_meeting_with_igor_rudenya.html", "html"),
        ("page.txt", "kremlin_51437_meeting_with_igor_rudenya.html", "html"),
        ("notes.md", "kremlin_54915_lukashenko.md", "text"),
        ("call.txt", "earnings21_monro_q3_excerpt.txt", "text"),
        ("call", "us_news_1961-03-08_kennedy_excerpt.txt", "text"),
        ("call.vtt", "us_news_1961-03-08_kennedy_excerpt.txt", "webvtt"),  # extension decides when nothing sniffs
    ],
)
def test_choose_format(filename, name, expected):
    assert choose_format(filename, fixture(name)).name == expected


def test_sniffers_do_not_claim_other_formats():
    samples = {name: fixture(name) for name in (
        "seenunseen_e23_excerpt.vtt", "seenunseen_e41_excerpt.srt", "seenunseen_e48_excerpt.json",
        "seenunseen_e61_excerpt.jsonl", "kremlin_51437_meeting_with_igor_rudenya.html",
        "kremlin_54915_lukashenko.md", "earnings21_monro_q3_excerpt.txt",
    )}
    claims = {
        name: [fmt.name for fmt in (webvtt.FORMAT, jsonturns.FORMAT, html.FORMAT) if fmt.sniff(text)]
        for name, text in samples.items()
    }
    assert claims == {
        "seenunseen_e23_excerpt.vtt": ["webvtt"], "seenunseen_e41_excerpt.srt": ["webvtt"],
        "seenunseen_e48_excerpt.json": ["json"], "seenunseen_e61_excerpt.jsonl": ["json"],
        "kremlin_51437_meeting_with_igor_rudenya.html": ["html"],
        "kremlin_54915_lukashenko.md": [], "earnings21_monro_q3_excerpt.txt": [],
    }
    assert not jsonturns.sniff('{"name": "package", "version": "1.0"}')
    assert not jsonturns.sniff("{ broken")
    assert html.sniff("\ufeff<!-- saved -->\n<!DOCTYPE HTML PUBLIC>\n<html>")
    assert not html.sniff("Notes on the <html> tag\n\nSpeaker: text")
    assert webvtt.sniff("\ufeffWEBVTT\n\n00:01.000 --> 00:02.000\nHi\n")
    assert not webvtt.sniff("WEBVTTX\n")


def test_mixed_folder_scan_and_sidecars(tmp_path):
    """Every fixture is found and parsed; the .json next to the .vtt is its metadata."""
    for path in FIXTURES.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    scan = corpus.scan(tmp_path)
    assert scan.problems == []
    found = {item.rel: corpus.read_transcript(item) for item in scan.files}
    assert sorted(found) == sorted(
        p.name for p in FIXTURES.iterdir()
        if p.name not in ("README.md", "manifest.jsonl", "seenunseen_e23_excerpt.json")
    )
    formats = {rel: parsed.format for rel, parsed in found.items()}
    assert formats["seenunseen_e23_excerpt.vtt"] == "webvtt"
    assert formats["seenunseen_e41_excerpt.srt"] == "srt"
    assert formats["seenunseen_e48_excerpt.json"] == "json"
    assert formats["kremlin_51437_meeting_with_igor_rudenya.html"] == "html"
    vtt = found["seenunseen_e23_excerpt.vtt"].meta
    assert (vtt.title, vtt.date) == ("Episode 23: Public Sector Banks", "2017-06-18")  # sidecar
    srt = found["seenunseen_e41_excerpt.srt"].meta
    assert (srt.title, srt.date) == ("Episode 41: Money in Cricket", "2017-11-06")  # manifest.jsonl
    assert all(parsed.turns for parsed in found.values())


def test_parse_text_dispatches():
    assert parse_text("x.srt", fixture("seenunseen_e41_excerpt.srt")).format == "srt"
