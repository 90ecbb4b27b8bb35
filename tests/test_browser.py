"""The web chat driven in a real Chromium (Debian's /usr/bin/chromium through playwright).

One server per module over the small real corpus plus one hostile transcript (script tags,
an image with onerror, Markdown and template tricks, a javascript: source url) indexed with
the real model. Each test opens the page afresh; the browser and server are shared.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import CHROMIUM, free_port, require_chromium

from bot.answer import NOT_FOUND
from bot.core import AskOptions

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SYRIA = "What did Putin tell French journalists about Syria?"
RAILWAY = "What did Kim Jong-il say about the railway?"
FOLLOW_UP = "And what about missiles?"
ABSENT = "What happened at the Christchurch mosque shootings?"
HOSTILE_Q = "What happens at the lighthouse festival in Testville?"
HOSTILE_TEXT = (
    "Lighthouse festival evening\nMarch 3, 2021, Testville\n\n"
    "Moderator: Welcome to the lighthouse festival evening in Testville.\n\n"
    "Ada Quill: The lighthouse festival in Testville has fireworks <script>window.__pwned=1</script> and music "
    '<img src=x onerror="window.__pwned=2"> and tickets at [link](javascript:window.__pwned=3) and '
    "${window.__pwned=4} {{x}} every summer.\n\n"
    "Moderator: What else happens at the lighthouse festival?\n\n"
    "Ada Quill: Boats parade around the lighthouse at night.\n"
)
HOSTILE_MANIFEST = {
    "file": "festival.txt",
    "title": 'Lighthouse festival <img src=x onerror="window.__pwned=6">',
    "date": "2021-03-03",
    "place": "Testville",
    "url": "javascript:window.__pwned=5",
}

require_chromium()


@pytest.fixture(scope="module")
def app(tmp_path_factory, small_corpus, small_index, embedder):
    """The small corpus plus the hostile transcript, indexed (only the new file is embedded), served."""
    from bot.core import TranscriptBot
    from bot.indexer import sync
    from bot.settings import MINILM, Settings
    from bot.web import build_demo

    root = tmp_path_factory.mktemp("browser")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(small_corpus, corpus)
    shutil.copytree(small_index, index)
    (corpus / "festival").mkdir()
    (corpus / "festival" / "festival.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    (corpus / "festival" / "manifest.jsonl").write_text(json.dumps(HOSTILE_MANIFEST) + "\n", encoding="utf-8")
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False)
    assert report.added == ["festival/festival.txt"] and len(report.unchanged) == 9
    bot = TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder)
    assert any("<script>window.__pwned=1</script>" in p.text for p in bot.data.passages)  # stored verbatim
    demo = build_demo(bot)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield bot, f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        # Source links point at en.kremlin.ru; with no internet, answer them with a stub page.
        context.route(
            "http://en.kremlin.ru/**",
            lambda route: route.fulfill(body="<title>source</title>stub", content_type="text/html"),
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        browser.close()


@pytest.fixture
def page(app, browser_page):
    """The shared page, freshly loaded, recording the requests it makes."""
    _, url = app
    requests: list[str] = []

    def record(request) -> None:
        requests.append(request.url)

    browser_page.on("request", record)
    browser_page.goto(url)
    browser_page.wait_for_selector("#tb-question textarea, #tb-question input")
    browser_page.requests = requests
    yield browser_page
    browser_page.remove_listener("request", record)


def question_box(page):
    return page.locator("#tb-question textarea, #tb-question input").first


def ask(page, question: str) -> int:
    """Type a question, press Enter, wait for its answer; the answer's turn index."""
    done = page.locator("#tb-conversation .tb-turn:not(.tb-pending)").count()
    box = question_box(page)
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#tb-conversation .tb-turn:not(.tb-pending)').length > {done}"
        " && !document.querySelector('#tb-conversation .tb-pending')"
    )
    return done


def test_ask_shows_answer_and_cited_passages_with_working_source_links(app, page):
    bot, _ = app
    expected = bot.ask(SYRIA, AskOptions(k=5)).to_json()
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")  # keyboard: "/" jumps to the question box
    assert page.evaluate("document.activeElement.closest('#tb-question') !== null")
    turn = page.locator(f"#tb-t{ask(page, SYRIA)}")
    assert turn.locator(".tb-answer").inner_text().count("[") >= 1
    cards = turn.locator(".tb-card")
    assert cards.count() == len(expected["hits"])
    for i, hit in enumerate(expected["hits"]):
        card = cards.nth(i)
        assert card.locator(".tb-num").inner_text() == f"[{hit['rank']}]"
        assert card.locator(".tb-speaker").inner_text() == hit["speaker"]
        assert hit["title"] in card.locator(".tb-meta").inner_text()
        source = card.locator("a.tb-source")
        assert source.get_attribute("href") == hit["link"] and source.get_attribute("target") == "_blank"
    # The answer's [n] jumps to its card; the source link opens the transcript's page.
    turn.locator(".tb-answer a.tb-cite").first.click()
    with page.expect_popup() as popup:
        cards.first.locator("a.tb-source").click()
    popup.value.wait_for_load_state()
    assert popup.value.url == expected["hits"][0]["link"]
    popup.value.close()


def test_expand_context_shows_the_exchange(app, page):
    bot, _ = app
    hit = bot.ask(RAILWAY, AskOptions(k=5)).to_json()["hits"][0]
    card = page.locator(f"#tb-t{ask(page, RAILWAY)}-h1")
    exchange = card.locator("details.tb-context")
    assert not exchange.locator(".tb-nbs").is_visible()
    exchange.locator("summary").focus()
    page.keyboard.press("Enter")  # keyboard use: the native <details> opens on Enter
    assert exchange.locator(".tb-nbs").is_visible()
    current = exchange.locator(".tb-nb-current")
    assert current.locator(".tb-here").inner_text() == "this passage"
    assert f"turn {hit['turn']}" in current.inner_text()
    assert exchange.locator(".tb-nb").count() >= 2
    assert hit["citation"] in exchange.locator(".tb-citation").inner_text()


def test_speaker_filter_shows_only_that_speaker(app, page):
    bot, _ = app
    page.locator("#tb-filters").get_by_text("Filters").first.click()
    speakers = page.locator("#tb-speakers input").first
    speakers.click()
    speakers.fill("Miller")
    page.locator('[role=option][aria-label^="Alexei Miller"]').click()
    page.wait_for_function("document.querySelector('#tb-filters').innerText.includes('speaker Alexei Miller')")
    turn = page.locator(f"#tb-t{ask(page, 'What was said about gas supplies to Europe?')}")
    assert "Filtered to speaker Alexei Miller" in turn.locator(".tb-used").first.inner_text()
    shown = set(turn.locator(".tb-speaker").all_inner_texts())
    assert shown and shown <= bot.directory.labels_for("Alexei Miller")


def test_who_said_it_ranks_people_within_the_filters(app, page):
    bot, _ = app
    page.locator("#tb-filters").get_by_text("Filters").first.click()
    since = page.locator("#tb-since input, #tb-since textarea").first
    since.fill("2016")
    since.press("Tab")
    page.wait_for_function("document.querySelector('#tb-filters').innerText.includes('from 2016')")
    page.get_by_role("tab", name="Who said it").click()
    topic = page.locator("#tb-who-topic input, #tb-who-topic textarea").first
    topic.fill("gas supplies to Europe")
    topic.press("Enter")
    page.wait_for_selector("#tb-who-out .tb-who-row")
    out = page.locator("#tb-who-out")
    assert "(filters: from 2016)" in out.inner_text()
    names = out.locator(".tb-who-name").all_inner_texts()
    expected = [r["person"] for r in bot.who("gas supplies to Europe", k=8, pool=60, options=AskOptions(since="2016"))]
    assert names == expected and names
    years = [int(y) for span in out.locator(".tb-who-span").all_inner_texts() for y in re.findall(r"\b(\d{4})\b", span)]
    assert years and min(years) >= 2016  # every person's passages date from 2016 on


def test_follow_up_keeps_the_conversation_and_new_chat_clears_it(app, page):
    bot, _ = app
    ask(page, RAILWAY)
    second = page.locator(f"#tb-t{ask(page, FOLLOW_UP)}")
    expected = bot.ask(FOLLOW_UP, AskOptions(context=[RAILWAY])).to_json()
    assert "Follow-up of the previous question" in second.locator(".tb-understood").inner_text()
    assert second.locator(".tb-citation").first.text_content().strip().endswith(expected["hits"][0]["citation"])
    # Removing what was inferred asks again without the conversation.
    page.locator("#tb-relax").click()
    page.wait_for_function(
        "!document.querySelector('#tb-conversation .tb-pending') && "
        "document.querySelector('#tb-t1') && document.querySelector('#tb-t1').innerText.includes('without inferred')"
    )
    assert page.locator("#tb-t1 .tb-understood").count() == 0
    page.locator("#tb-new").click()
    page.wait_for_selector("#tb-conversation .tb-welcome")
    assert page.locator("#tb-conversation .tb-turn").count() == 0


def test_abstention_says_not_found_and_labels_closest_passages(app, page, monkeypatch):
    bot, _ = app
    # Abstention thresholds are still being calibrated; make this question certainly unanswered.
    monkeypatch.setattr(bot.config, "abstain_below", 0.99)
    turn = page.locator(f"#tb-t{ask(page, ABSENT)}")
    assert NOT_FOUND in turn.locator(".tb-notfound").inner_text()
    assert turn.locator(".tb-answer").count() == 0
    badges = turn.locator(".tb-rel").all_inner_texts()
    assert badges and all(b.strip() == "Closest passage" for b in badges)
    assert turn.locator(".tb-cards-head").text_content() == "Closest passages"


def test_injected_markup_in_a_transcript_stays_inert(app, page):
    turn = page.locator(f"#tb-t{ask(page, HOSTILE_Q)}")
    card = turn.locator(".tb-card").filter(has=page.locator(".tb-text", has_text="fireworks")).first
    page.wait_for_timeout(500)  # give any injected handler the chance to run
    assert page.evaluate("typeof window.__pwned") == "undefined"
    shown = card.inner_text()  # the markup is shown as the text it is
    for literal in (
        "<script>window.__pwned=1</script>",
        '<img src=x onerror="window.__pwned=2">',
        "[link](javascript:window.__pwned=3)",
        "${window.__pwned=4} {{x}}",
        'Lighthouse festival <img src=x onerror="window.__pwned=6">',
    ):
        assert literal in shown
    assert page.locator("#tb-conversation img, #tb-conversation script").count() == 0
    assert page.locator("#tb-conversation a[href^='javascript' i]").count() == 0
    assert not [u for u in page.requests if u.rstrip("/").endswith("/x")]
    # The transcript's javascript: source url is not linked; the card names the file instead.
    assert "file festival/festival.txt" in card.locator(".tb-meta").inner_text()
    # Expanding its context keeps it inert too.
    card.locator("details.tb-context summary").click()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_export_produces_the_citations(app, page):
    bot, _ = app
    expected = bot.ask(SYRIA, AskOptions(k=5)).to_json()
    ask(page, SYRIA)
    page.locator("#tb-export").get_by_text("Export this answer").first.click()
    markdown = page.locator("#tb-export-md textarea").input_value()
    for hit in expected["hits"]:
        assert f"<{hit['link']}>" in markdown
    with page.expect_download() as download:
        page.locator("#tb-dl-csv").click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert all(hit["citation"] in csv_text for hit in expected["hits"])
    with page.expect_download() as download:
        page.locator("#tb-dl-md").click()
    assert Path(download.value.path()).read_text(encoding="utf-8") == markdown


def test_too_long_question_gets_a_clear_message(page):
    box = question_box(page)
    box.fill("why " * 260)
    box.press("Enter")
    toast = page.locator(".toast-body").filter(has_text="limit 1,000)")  # the core's message, as is
    toast.first.wait_for()
    assert "question too long (1,039 characters, limit 1,000)" in toast.first.inner_text()  # without the trailing space
    assert page.locator("#tb-conversation .tb-turn").count() == 0
