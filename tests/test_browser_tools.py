"""The research tools in a real Chromium (Debian's /usr/bin/chromium through playwright) against a
real Gradio server over the small real index: a quote checked as exact, close (differences
shown) and not found; the timeline chart drawn and a picked bar listing its passages; a
``/?q=`` link asked on load; the copy buttons' clipboard text (clipboard permissions granted to
the browser context, read back with ``navigator.clipboard.readText()``)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from conftest import CHROMIUM, require_chromium

from bot.core import AskOptions

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MILLER = ("There is therefore no doubt that the projects to build new gas transport routes to Europe, to northwest "
          "Europe, are economically justified and backed up by the growing demand that we see right now.")
EDITED = ("There is no doubt that the projects to build new gas routes to Europe are economically justified and "
          "supported by the growing demand that we see right now.")
INVENTED = "We will never allow NATO to expand its missile defence into space."
TOPIC = "gas supplies to Europe"

require_chromium()


@pytest.fixture(scope="module")
def server(small_server):
    return small_server


@pytest.fixture(scope="module")
def browser_context(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.rstrip("/"))
        yield context
        browser.close()


@pytest.fixture
def page(server, browser_context):
    page = browser_context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server)
    page.wait_for_selector("#tb-question textarea, #tb-question input")
    yield page
    page.close()


def check_quote(page, quote: str, speaker: str | None = None):
    page.get_by_role("tab", name="Check a quote").click()
    page.locator("#tb-check-quote textarea").fill(quote)
    if speaker:
        box = page.locator("#tb-check-speaker input").first
        box.click()
        box.fill(speaker)
        page.locator(f'[role=option][aria-label^="{speaker}"]').first.click()
    page.locator("#tb-check-go").click()
    page.wait_for_selector("#tb-check-out .tb-verdict")
    return page.locator("#tb-check-out")


def test_an_exact_quote(page, small_bot):
    out = check_quote(page, MILLER, "Alexei Miller")
    expected = small_bot.check_quote(MILLER, "Alexei Miller").to_json()
    assert out.locator(".tb-verdict-label").inner_text() == "Exact quote"
    assert out.locator(".tb-verdict-summary").inner_text() == expected["summary"]
    card = out.locator(".tb-card")
    assert card.count() == 1 and out.locator(".tb-diff-box").count() == 0
    assert card.locator(".tb-text mark").inner_text() == expected["match"]["match"]["text"]
    assert card.locator("a.tb-source").get_attribute("href") == expected["match"]["link"]


def test_a_close_quote_shows_its_differences(page, small_bot):
    out = check_quote(page, EDITED, "Alexei Miller")
    expected = small_bot.check_quote(EDITED, "Alexei Miller").to_json()["match"]["match"]["differences"]
    assert out.locator(".tb-verdict-label").inner_text() == "Close, not exact"
    left = out.locator(".tb-diff-text .tb-d-left_out").all_inner_texts()
    assert left == [d["source"] for d in expected if d["kind"] == "left_out"] and "therefore" in left
    changed = out.locator(".tb-diff-text .tb-d-changed")
    assert changed.count() == 1 and changed.locator("s").inner_text() == "supported"
    assert "backed up" in changed.inner_text()
    assert out.locator(".tb-diffs li").count() == len(expected)


def test_an_invented_quote_is_not_found(page):
    out = check_quote(page, INVENTED, "Vladimir Putin")
    assert out.locator(".tb-verdict-label").inner_text() == "Not found"
    assert out.locator(".tb-verdict-summary").inner_text() == "Not found in 9 transcripts."
    assert out.locator(".tb-card").count() >= 1 and out.locator(".tb-cards-head").first.inner_text() == "CLOSEST PASSAGES"


def test_an_empty_quote_gets_the_core_message(page):
    page.get_by_role("tab", name="Check a quote").click()
    page.locator("#tb-check-go").click()
    toast = page.locator(".toast-body").filter(has_text="empty quote")
    toast.first.wait_for()


def test_the_timeline_draws_and_a_picked_bar_lists_its_passages(page, small_bot):
    expected = small_bot.who_over_time(TOPIC, by="year", k=5, pool=60)
    busiest = max(expected["periods"], key=lambda p: p["total"])
    page.get_by_role("tab", name="Over time").click()
    page.locator("#tb-tl-topic input, #tb-tl-topic textarea").first.fill(TOPIC)
    page.locator("#tb-tl-go").click()
    bars = page.locator("#tb-tl-plot svg g.mark-rect path")  # the bars' segments (and the selection's brush, empty)
    page.wait_for_function("[...document.querySelectorAll('#tb-tl-plot svg g.mark-rect path')]"
                           ".some(p => p.getBoundingClientRect().height > 1)")
    drawn = [b for b in (bars.nth(i).bounding_box() for i in range(bars.count())) if b and b["height"] > 0.5]
    assert len(drawn) == sum(len(p["counts"]) for p in expected["periods"])  # one segment per period and speaker
    legend = page.locator("#tb-tl-plot svg").text_content()
    for name in [*expected["speakers"], "others"]:
        assert name in legend
    # Pick the tallest bar (its stacked segments share one x): a short drag over it is the plot's select event.
    columns: dict[int, list] = {}
    for b in drawn:
        columns.setdefault(round(b["x"] + b["width"] / 2), []).append(b)
    column = max(columns.values(), key=lambda c: sum(b["height"] for b in c))
    assert len(column) == len(busiest["counts"])  # one segment per speaker of the busiest period
    box = max(column, key=lambda b: b["height"])
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 3, y)
    page.mouse.down()
    page.mouse.move(x + 3, y, steps=4)
    page.mouse.up()
    listed = page.locator("#tb-tl-passages .tb-period")
    listed.wait_for()
    assert listed.get_attribute("data-period") == busiest["period"]
    assert listed.locator(".tb-card").count() == busiest["total"]
    assert listed.locator(".tb-speaker").first.inner_text() == busiest["hits"][0]["speaker"]
    # The dropdown of periods lists the same passages (keyboard users' way to a bar).
    dropdown = page.locator("#tb-tl-period input").first
    assert dropdown.input_value().startswith(f"{busiest['period']} (")


def test_a_link_asks_its_question_on_load_and_copy_link_makes_it(server, browser_context, small_bot):
    question = "What was said about gas supplies to Europe?"
    page = browser_context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server + "?" + urlencode({"q": question, "speaker": "Miller", "since": "2016", "k": "3"}))
    page.wait_for_selector("#tb-conversation .tb-turn:not(.tb-pending)")
    expected = small_bot.ask(question, AskOptions(k=3, speakers=["Alexei Miller"], since="2016")).to_json()
    turn = page.locator("#tb-t0")
    assert turn.locator(".tb-q-text").inner_text() == question
    assert "Filtered to speaker Alexei Miller; from 2016" in turn.locator(".tb-used").first.inner_text()
    assert turn.locator(".tb-card").count() == len(expected["hits"]) == 3
    assert turn.locator(".tb-citation").first.text_content().strip().endswith(expected["hits"][0]["citation"])
    # The filters are set (the accordion's label follows each field's change event: waited for,
    # since under load the date's update lands after the answer).
    page.wait_for_function("document.querySelector('#tb-filters').innerText.includes('speaker Alexei Miller; from 2016')")
    turn.locator(".tb-copy-link").click()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == server + "?" + urlencode({"q": question, "speaker": "Alexei Miller", "since": "2016", "k": "3"})
    # The copied link asks the same question again.
    page.goto(link)
    page.wait_for_selector("#tb-conversation .tb-turn:not(.tb-pending)")
    assert page.locator("#tb-t0 .tb-card").count() == 3
    page.close()


def test_a_link_with_an_unknown_speaker_says_so(server, browser_context):
    page = browser_context.new_page()
    page.goto(server + "?" + urlencode({"q": "gas prices", "speaker": "Nobody Atall"}))
    toast = page.locator(".toast-body").filter(has_text="no speaker matches 'Nobody Atall'")
    toast.first.wait_for(timeout=60_000)
    assert page.locator("#tb-conversation .tb-turn:not(.tb-pending)").count() == 0
    page.close()


def test_copy_citation_and_copy_quote_put_the_right_text_on_the_clipboard(page, small_bot):
    from bot.web_render import plain_citation

    question = "What did Putin tell French journalists about Syria?"
    box = page.locator("#tb-question textarea, #tb-question input").first
    box.fill(question)
    box.press("Enter")
    page.wait_for_selector("#tb-conversation .tb-turn:not(.tb-pending)")
    expected = small_bot.ask(question, AskOptions(k=5)).to_json()["hits"]
    card = page.locator("#tb-t0-h2")
    card.locator(".tb-copy-cite").click()
    assert page.evaluate("navigator.clipboard.readText()") == plain_citation(expected[1])
    assert plain_citation(expected[1]).endswith(expected[1]["link"])
    card.locator(".tb-copy-quote").click()
    assert page.evaluate("navigator.clipboard.readText()") == f"“{expected[1]['text']}” — {plain_citation(expected[1])}"
    page.wait_for_function("document.querySelector('#tb-t0-h2 .tb-copy-quote').textContent === 'Copied'")
    # The quote check's card has the same buttons.
    out = check_quote(page, MILLER)
    out.locator(".tb-copy-quote").click()
    hit = small_bot.check_quote(MILLER).to_json()["match"]
    assert page.evaluate("navigator.clipboard.readText()") == f"“{hit['text']}” — {plain_citation(hit)}"
