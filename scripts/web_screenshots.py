"""Take the README's screenshots of the web chat (docs/screenshot-*.png) in a real Chromium.

Serves the chat over an existing index (default ./index and ./corpus) on a free local port
and photographs the main views: an answer with cited passages, an expanded context, the
filters, an honest "not found", "Who said it", the corpus panel, a phone-width window, and the
research tools: a quote checked (close, with its differences), a topic over time with a picked
bar, and the copy buttons. ``--only-tools`` takes the research tools' pictures alone.

    .venv/bin/python scripts/web_screenshots.py [--corpus DIR] [--index DIR] [--out docs] [--only-tools]

Needs Debian's chromium at /usr/bin/chromium and the Python playwright package.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
QUESTION = "What did Putin say about the railway to Europe?"
FOLLOW_UP = "And what did he say about missile defence?"
ABSENT = "What happened at the Christchurch mosque shootings?"
WHO = "gas prices"
CLOSE_QUOTE = ("There is no doubt that the projects to build new gas routes to Europe are economically justified and "
               "supported by the growing demand that we see right now.")
TIMELINE = "gas supplies to Europe"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(page, question: str) -> int:
    done = page.locator("#tb-conversation .tb-turn:not(.tb-pending)").count()
    box = page.locator("#tb-question textarea, #tb-question input").first
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#tb-conversation .tb-turn:not(.tb-pending)').length > {done}"
        " && !document.querySelector('#tb-conversation .tb-pending')",
        timeout=120_000,
    )
    page.wait_for_timeout(700)  # let the smooth scroll settle
    return done


def tools_views(page, url: str, out: Path) -> None:
    """The research tools: a close quote with its differences, a topic over time with a bar picked,
    and an answer opened from a link, with its copy buttons."""
    page.goto(url)
    page.wait_for_selector("#tb-conversation .tb-welcome")
    page.get_by_role("tab", name="Check a quote").click()
    page.locator("#tb-check-quote textarea").fill(CLOSE_QUOTE)
    page.locator("#tb-check-go").click()
    page.wait_for_selector("#tb-check-out .tb-verdict", timeout=120_000)
    page.wait_for_timeout(500)
    page.set_viewport_size({"width": 1280, "height": 1250})
    page.screenshot(path=out / "screenshot-check.png")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("tab", name="Over time").click()
    page.locator("#tb-tl-topic textarea, #tb-tl-topic input").first.fill(TIMELINE)
    page.locator("#tb-tl-go").click()
    page.wait_for_function("[...document.querySelectorAll('#tb-tl-plot svg g.mark-rect path')]"
                           ".some(p => p.getBoundingClientRect().height > 1)", timeout=120_000)
    page.wait_for_timeout(800)
    bars = [b for b in (page.locator("#tb-tl-plot svg g.mark-rect path").nth(i).bounding_box()
                        for i in range(page.locator("#tb-tl-plot svg g.mark-rect path").count())) if b and b["height"] > 1]
    tallest = max(bars, key=lambda b: b["height"])
    x, y = tallest["x"] + tallest["width"] / 2, tallest["y"] + tallest["height"] / 2
    page.mouse.move(x - 3, y)
    page.mouse.down()
    page.mouse.move(x + 3, y, steps=4)
    page.mouse.up()
    page.wait_for_selector("#tb-tl-passages .tb-period", timeout=60_000)
    page.wait_for_timeout(500)
    page.set_viewport_size({"width": 1280, "height": 1300})
    page.screenshot(path=out / "screenshot-timeline.png")

    from urllib.parse import urlencode

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url + "?" + urlencode({"q": "What did Miller say about gas exports to Europe?", "speaker": "Alexei Miller",
                                     "since": "2016", "k": "3"}))
    page.wait_for_selector("#tb-conversation .tb-turn:not(.tb-pending)", timeout=120_000)
    page.wait_for_timeout(700)
    page.add_style_tag(content="#tb-askbar { position: static !important; }")
    page.locator("#tb-t0").screenshot(path=out / "screenshot-link.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--index", default="index")
    parser.add_argument("--out", default="docs")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--only-tools", action="store_true", help="only the check/timeline/copy pictures")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from bot.core import TranscriptBot
    from bot.embedding import load_embedder
    from bot.settings import Settings
    from bot.web import build_demo, launch

    settings = Settings.resolve(args.corpus, args.index)
    bot = TranscriptBot(settings, embedder=load_embedder(settings.model))
    demo = build_demo(bot)
    url = launch(demo, port=free_port(), prevent_thread_lock=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            if args.only_tools:
                tools_views(page, url, out)
                browser.close()
                return 0
            page.goto(url)
            page.wait_for_selector("#tb-conversation .tb-welcome")
            page.wait_for_timeout(800)  # fonts and transitions settle
            page.screenshot(path=out / "screenshot-welcome.png")

            turn = ask(page, args.question)
            page.evaluate("window.scrollTo(0, 0)")
            page.set_viewport_size({"width": 1280, "height": 1200})
            page.screenshot(path=out / "screenshot-chat.png")

            card = page.locator(f"#tb-t{turn}-h1")
            card.locator("details.tb-context summary").click()
            card.scroll_into_view_if_needed()
            card.screenshot(path=out / "screenshot-context.png")

            page.add_style_tag(content="#tb-askbar { position: static !important; }")  # not over element shots
            turn = ask(page, FOLLOW_UP)
            page.locator(f"#tb-t{turn}").screenshot(path=out / "screenshot-follow-up.png")

            page.locator("#tb-new").click()
            page.wait_for_selector("#tb-conversation .tb-welcome")
            page.locator("#tb-filters").get_by_text("Filters").first.click()
            speakers = page.locator("#tb-speakers input").first
            speakers.click()
            speakers.fill("Putin")
            page.locator('[role=option][aria-label^="Vladimir Putin"]').first.click()
            page.locator("#tb-since textarea, #tb-since input").first.fill("2016")
            page.locator("#tb-since textarea, #tb-since input").first.press("Tab")
            ask(page, "What was said about gas supplies to Europe?")
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=out / "screenshot-filters.png")
            page.locator("#tb-clear-filters").click()

            page.locator("#tb-new").click()
            page.wait_for_selector("#tb-conversation .tb-welcome")
            turn = ask(page, ABSENT)
            page.locator(f"#tb-t{turn}").screenshot(path=out / "screenshot-not-found.png")

            page.get_by_role("tab", name="Who said it").click()
            topic = page.locator("#tb-who-topic textarea, #tb-who-topic input").first
            topic.fill(WHO)
            topic.press("Enter")
            page.wait_for_selector("#tb-who-out .tb-who-row", timeout=120_000)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=out / "screenshot-who.png")

            page.get_by_role("tab", name="Corpus").click()
            page.wait_for_selector("#tb-corpus .tb-tiles")
            page.screenshot(path=out / "screenshot-corpus.png")

            phone = browser.new_page(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            phone.goto(url)
            phone.wait_for_selector("#tb-conversation .tb-welcome")
            ask(phone, args.question)
            phone.screenshot(path=out / "screenshot-phone.png")
            tools_views(browser.new_page(viewport={"width": 1280, "height": 900}), url, out)
            browser.close()
    finally:
        demo.close()
    for path in sorted(out.glob("screenshot-*.png")):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
