"""The web chat's plain-Python layer: the chat function, its HTML, filters, exports and escaping.

These call `bot.web.chat` and the renderers directly over the small real index (no server,
no Gradio import), and compare what the chat shows with what the core returns.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest

from bot import web
from bot import web_render as R
from bot.answer import NOT_FOUND, human_date
from bot.core import AskOptions, TranscriptBot
from bot.errors import BadQuery
from bot.retrieval import RetrievalConfig

pytestmark = pytest.mark.slow

SYRIA = "What did Putin tell French journalists about Syria?"
RAILWAY = "What did Kim Jong-il say about the railway?"
FOLLOW_UP = "And what about missiles?"
ABSENT = "What happened at the Christchurch mosque shootings?"


class Links(HTMLParser):
    """Collects every tag with its attributes, to check what the HTML would make a browser do."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Links()
    parser.feed(html)
    return parser.tags


def test_chat_shows_answer_and_cited_cards(small_bot):
    html, history = web.chat(small_bot, SYRIA)
    expected = small_bot.ask(SYRIA, AskOptions(k=5)).to_json()
    assert len(history) == 1 and history[0]["result"] == expected
    assert not expected["abstained"] and expected["hits"]
    # The answer on top, its [n] markers linking to the cards of this turn.
    first_cite = re.search(r"\[(\d+)\]", expected["answer"]).group(1)
    assert f'href="#tb-t0-h{first_cite}"' in html
    assert html.index("tb-answer") < html.index("tb-card")
    found = tags(html)
    for hit in expected["hits"]:
        card = html[html.index(f'id="tb-t0-h{hit["rank"]}"') :]
        card = card[: card.index("</article>")]
        assert f"[{hit['rank']}]" in card
        assert R.esc(hit["speaker"]) in card and R.esc(hit["title"]) in card
        assert human_date(hit["date"]) in card and R.esc(hit["place"]) in card and f"turn {hit['turn']}" in card
        assert R.RELEVANCE[hit["relevance"]][0] in card
        # The source link opens the passage's url in a new tab, without handing over the opener.
        sources = [a for t, a in found if t == "a" and a.get("class") == "tb-source"]
        assert any(a["href"] == hit["link"] for a in sources)
        assert all(a["target"] == "_blank" and "noopener" in a["rel"] for a in sources)
        # Verbatim text; the answer's sentences highlighted.
        for start, end in hit["highlights"]:
            assert f"<mark>{R.esc(hit['text'][start:end])}</mark>" in card
    assert any(h["highlights"] for h in expected["hits"])


def test_cards_expand_to_the_exchange(small_bot):
    html, history = web.chat(small_bot, RAILWAY)
    hit = history[0]["result"]["hits"][0]
    around = history[0]["neighbours"]["1"]
    assert around == small_bot.neighbours(hit["transcript"], hit["turn"], before=2, after=2)
    assert any(n["turn"] == hit["turn"] for n in around) and len(around) > 1
    card = html[html.index('id="tb-t0-h1"') :]
    details = card[card.index("<details") : card.index("</details>")]
    assert "this passage" in details and f"turn {around[0]['turn']}" in details
    assert R.esc(hit["citation"]) in details


def test_follow_up_uses_earlier_questions(small_bot):
    _, history = web.chat(small_bot, RAILWAY)
    html, history = web.chat(small_bot, FOLLOW_UP, history)
    assert [t["question"] for t in history] == [RAILWAY, FOLLOW_UP]
    assert history[1]["context"] == [RAILWAY]
    expected = small_bot.ask(FOLLOW_UP, AskOptions(context=[RAILWAY])).to_json()
    assert history[1]["result"] == expected and expected["understood"]["follow_up"]
    assert "Follow-up of the previous question" in html
    # Without the conversation, the same words are not a follow-up.
    assert not web.chat(small_bot, FOLLOW_UP)[1][0]["result"]["understood"]["follow_up"]
    # "Ask again without" what was inferred: no conversation, no inferred speakers or dates.
    relaxed = web.answer_turn(small_bot, FOLLOW_UP, history[:1], history[1]["filters"], infer=False, use_context=False)
    assert relaxed["context"] == [] and not relaxed["result"]["understood"]["follow_up"]


def test_abstention_is_said_plainly_with_closest_passages(small_corpus, small_index, embedder):
    strict = TranscriptBot(
        small_bot_settings(small_corpus, small_index), embedder=embedder, config=RetrievalConfig(abstain_below=0.99)
    )
    html, history = web.chat(strict, ABSENT)
    result = history[0]["result"]
    assert result["abstained"] and result["hits"]
    assert R.esc(NOT_FOUND) in html and "Closest passages" in html and "Closest passage<" in html
    assert "tb-answer" not in html  # no quoted "answer" when nothing answers
    assert "Strong match" not in html and "Good match" not in html


def small_bot_settings(corpus, index):
    from bot.settings import MINILM, Settings

    return Settings(corpus, index, MINILM)


def test_speaker_filter_takes_several_people(small_bot):
    putin = small_bot.directory.labels_for("Vladimir Putin")
    miller = small_bot.directory.labels_for("Alexei Miller")
    _, history = web.chat(small_bot, "gas supplies to Europe", speakers=["Alexei Miller"], k=8)
    assert {h["speaker"] for h in history[0]["result"]["hits"]} <= miller
    _, history = web.chat(small_bot, "gas supplies to Europe", speakers=["Alexei Miller", "Vladimir Putin"], k=10)
    speakers = {h["speaker"] for h in history[0]["result"]["hits"]}
    assert speakers <= miller | putin and speakers & miller and speakers & putin
    # The core option behind it, used directly.
    hits = small_bot.ask("gas supplies", AskOptions(k=10, speakers=["Alexei Miller", "Vladimir Putin"])).hits
    assert {h.passage.speaker for h in hits} <= miller | putin
    with pytest.raises(BadQuery, match="no speaker matches"):
        web.chat(small_bot, "gas", speakers=["Nobody Atall"])


def test_date_collection_and_transcript_filters(small_bot):
    html, history = web.chat(small_bot, "cooperation", since="2016", until="2017-06-30", k=10)
    dates = [h["date"] for h in history[0]["result"]["hits"]]
    assert dates and all("2016-01-01" <= d <= "2017-06-30" for d in dates)
    assert "Filtered to 2016 to 2017-06-30" in html
    rels = sorted(small_bot.data.manifest["transcripts"])
    guterres = next(r for r in rels if "guterres" in r)
    _, history = web.chat(small_bot, "cooperation", transcripts=[guterres], k=10)
    assert {h["transcript"] for h in history[0]["result"]["hits"]} == {guterres}
    assert web.collection_choices(small_bot) == [(f"kremlin ({len(rels)} transcripts)", "kremlin")]
    _, history = web.chat(small_bot, "cooperation", collections=["kremlin"], transcripts=[guterres])
    assert {h["transcript"] for h in history[0]["result"]["hits"]} == {guterres}
    with pytest.raises(BadQuery, match="collections"):
        web.chat(small_bot, "cooperation", collections=["elsewhere"])
    with pytest.raises(BadQuery, match="bad date"):
        web.chat(small_bot, "cooperation", since="last spring")


def test_bad_questions_are_refused_with_a_message(small_bot):
    with pytest.raises(BadQuery, match="empty question"):
        web.chat(small_bot, "   ")
    with pytest.raises(BadQuery, match=r"too long .*limit 1,000\)$"):
        web.chat(small_bot, "why " * 300)


def test_a_long_chat_sends_its_last_questions_as_context(small_bot):
    """The conversation grows with the chat; what is sent stays within the core's limit."""
    from bot.core import MAX_CONTEXT_QUESTIONS

    history = [{"question": f"What about gas in {year}?"} for year in range(1950, 2010)]
    turn = web.answer_turn(small_bot, "And what about oil?", history, web.make_filters(k=2))
    assert turn["context"] == [t["question"] for t in history][-MAX_CONTEXT_QUESTIONS:]


def test_speaker_choices_group_labels_with_turn_counts(small_bot):
    choices = dict((value, label) for label, value in web.speaker_choices(small_bot))
    putin = next(s for s in small_bot.speakers() if s["person"] == "Vladimir Putin")
    assert choices["Vladimir Putin"] == f"Vladimir Putin ({putin['turns']:,} turns, {len(putin['labels'])} labels)"
    assert len(putin["labels"]) > 1


def test_exports_carry_the_citations(small_bot, tmp_path):
    _, history = web.chat(small_bot, SYRIA)
    turn = history[0]
    markdown, md, csv_path, jsonl = web.write_exports(turn, tmp_path / "export")
    hits = turn["result"]["hits"]
    assert md.read_text(encoding="utf-8") == markdown
    assert markdown.startswith("## What did Putin tell French journalists about Syria?")
    for hit in hits:
        assert f"<{hit['link']}>" in markdown
        cite = hit["citation"].rsplit(", ", 1)[0]
        assert f"[{hit['rank']}] " + R.md_escape(cite[len(f"[{hit['rank']}] ") :]) in markdown
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert [r["citation"] for r in rows] == [h["citation"] for h in hits]
    assert [r["text"] for r in rows] == [h["text"] for h in hits]
    lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [{k: v for k, v in line.items() if k not in ("question", "abstained")} for line in lines] == hits


HOSTILE = (
    'Fireworks <script>window.__pwned=1</script> and <img src=x onerror="window.__pwned=2"> '
    "and [tickets](javascript:window.__pwned=3) and ![x](http://evil.example/x.png) ${window.__pwned=4} {{x}}\n"
    '=HYPERLINK("http://evil.example")'
)


def hostile_turn() -> dict:
    hit = {
        "rank": 1,
        "score": 1.0,
        "similarity": 0.7,
        "relevance": "strong",
        "transcript": "evil/t.txt",
        "title": 'Title "><img src=x onerror=alert(1)>',
        "date": "2021-03-03",
        "place": "<b>Place</b>",
        "url": "javascript:alert(1)",
        "link": "javascript:alert(1)",
        "speaker": "<script>alert(1)</script>",
        "turn": 2,
        "part": 0,
        "start": None,
        "end": None,
        "timestamp": None,
        "text": HOSTILE,
        "context": "<iframe src=x>",
        "context_speaker": "<svg onload=alert(1)>",
        "highlights": [[0, 30]],
        "citation": '[1] <script>alert(1)</script>, “Title "><img src=x>”, March 3, 2021, turn 2, evil/t.txt',
    }
    result = {
        "question": "<img src=x onerror=alert(1)> [q](javascript:alert(1))",
        "answer": HOSTILE[:60] + " [1]",
        "abstained": False,
        "understood": {
            "speakers": [{"person": "<i>x</i>", "asks_what_they_said": True}],
            "dates": [],
            "follow_up": False,
        },
        "hits": [hit],
    }
    neighbours = {
        "1": [
            {"turn": 1, "speaker": "<script>", "text": "<img src=x onerror=alert(2)>"},
            {"turn": 2, "speaker": hit["speaker"], "text": HOSTILE},
        ]
    }
    return {
        "question": result["question"],
        "result": result,
        "filters": web.make_filters(speakers=["<b>"]),
        "infer": True,
        "context": [],
        "neighbours": neighbours,
    }


def test_hostile_text_renders_inert(small_bot):
    html = R.conversation_html([hostile_turn()], {}, {})
    found = tags(html)
    names = {t for t, _ in found}
    assert names <= {
        "section",
        "div",
        "span",
        "a",
        "article",
        "blockquote",
        "mark",
        "details",
        "summary",
        "b",
        "i",
        "small",
        "p",
        "button",
    }  # only the chat's own markup (the copy buttons carry their text as data, no handler)
    assert {a.get("type") for t, a in found if t == "button"} == {"button"}
    assert any("<script>window.__pwned=1</script>" in (a.get("data-tb-copy") or "") for t, a in found if t == "button")
    assert "&lt;b&gt;Place&lt;/b&gt;" in html and "&lt;i&gt;x&lt;/i&gt;" in html
    assert all(not k.startswith("on") for _, attrs in found for k in attrs)
    assert not any((attrs.get("href") or "").lower().startswith("javascript") for _, attrs in found)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    # No link at all for a non-http url: the card names the file instead.
    assert not any(a.get("class") == "tb-source" for t, a in found if t == "a")
    assert "file evil/t.txt" in html


def test_hostile_text_is_inert_in_exports(tmp_path):
    turn = hostile_turn()
    markdown, _, csv_path, jsonl = web.write_exports(turn, tmp_path)
    assert "](javascript" not in markdown.replace("\\]", "")  # every ] escaped: no link can form
    assert "\\[tickets\\](javascript:" in markdown and "!\\[x\\]" in markdown
    assert not re.search(r"(?<!\\)<", markdown)  # no raw tag or autolink: every < is escaped (no http link here)
    assert "\\<script\\>window.\\_\\_pwned=1\\</script\\>" in markdown
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    cells = [c for row in rows[1:] for c in row]
    assert not any(c[:1] in "=+-@" for c in cells if c)
    assert R.csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")' and R.csv_cell(-0.5) == -0.5
    text = jsonl.read_text(encoding="utf-8")
    assert "<" not in text and json.loads(text.splitlines()[0])["text"] == HOSTILE


def test_safe_url_allows_only_http_links():
    assert (
        R.safe_url("http://en.kremlin.ru/events/president/news/17758")
        == "http://en.kremlin.ru/events/president/news/17758"
    )
    assert R.safe_url("https://example.org/a?t=5") == "https://example.org/a?t=5"
    for bad in (
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        " javascript:x",
        "data:text/html,x",
        "//evil.example",
        "/relative",
        'http://x.org/"onmouseover="x',
        "http://x.org/ a",
        "vbscript:x",
        None,
        42,
    ):
        assert R.safe_url(bad) is None, bad


def test_api_answer_is_the_ask_json(small_bot):
    got = web.api_answer(small_bot, FOLLOW_UP, 3, "", "", "", json.dumps([RAILWAY]))
    assert got == small_bot.ask(FOLLOW_UP, AskOptions(k=3, context=[RAILWAY])).to_json()
    assert web.parse_context(RAILWAY) == [RAILWAY] and web.parse_context("") == [] and web.parse_context(["a"]) == ["a"]
    with pytest.raises(BadQuery):
        web.parse_context('["unclosed"')


def test_welcome_and_corpus_panel(small_bot):
    html = web.render(small_bot, [])
    stats = small_bot.stats()
    assert "Ask the transcripts" in html and f"{stats['transcripts']:,} transcripts" in html
    panel, banner = web.corpus_panel(small_bot)
    assert banner == "" and "up to date" in panel
    assert f"<b>{stats['passages']:,}</b>" in panel
    for rel, t in small_bot.data.manifest["transcripts"].items():
        assert R.esc(t["title"]) in panel


def test_stale_index_is_flagged(tmp_path, small_corpus, small_index, embedder):
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus, corpus)
    (corpus / "kremlin" / "2030-01-01_new.txt").write_text("New talk\nJanuary 1, 2030\n\nA: Hello.\n", encoding="utf-8")
    bot = TranscriptBot(small_bot_settings(corpus, small_index), embedder=embedder)
    panel, banner = web.corpus_panel(bot)
    assert "out of date" in banner and "1 new" in banner
    assert "tb-stale" in panel and "transcript-bot index" in panel
