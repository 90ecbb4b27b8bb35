"""Photograph the Corpus tab's upload (docs/screenshot-upload.png) and time a drop to its first answer.

Copies the corpus and index (default ./corpus, ./index) to a temporary folder without one
transcript of about 100 passages, brings the copy's index in line (a removal), serves it on a
free loopback port and, in a real Chromium, drops that transcript and a binary file on the
Corpus tab, photographs the page while the background update runs, and then asks a question
only that transcript answers. Prints the seconds from "Add to corpus" to the index update done
and to the first answer citing the new file. Nothing in ./corpus or ./index is changed.

    .venv/bin/python scripts/upload_screenshots.py [--corpus DIR] [--index DIR] [--out docs]

Needs Debian's chromium at /usr/bin/chromium and the Python playwright package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DROPPED = "kremlin/2017-04-20_54347_meeting-of-the-pobeda-victory-organising-committee.txt"  # 103 passages
QUESTION = "What is the From Stalingrad to Prague exhibition about?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--index", default="index")
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from bot.core import TranscriptBot
    from bot.embedding import load_embedder
    from bot.indexer import sync
    from bot.settings import DEFAULT_MODEL, Settings
    from bot.web import build_demo, launch

    work = Path(tempfile.mkdtemp(prefix="transcript-bot-upload-"))
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(args.corpus, corpus)
    shutil.copytree(args.index, index)
    upload = work / "drop" / Path(DROPPED).name
    upload.parent.mkdir()
    shutil.move(corpus / DROPPED, upload)
    binary = work / "drop" / "scan.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16)
    embedder = load_embedder(threads=1)
    print(sync(corpus, index, DEFAULT_MODEL, lambda: embedder, progress=False).summary())
    bot = TranscriptBot(Settings(corpus, index, DEFAULT_MODEL), embedder=embedder)
    demo = build_demo(bot)
    port = free_port()
    url = launch(demo, "127.0.0.1", port, prevent_thread_lock=True)
    out = Path(args.out)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            page.set_default_timeout(300_000)
            page.goto(url)
            page.wait_for_selector("#tb-question textarea, #tb-question input")
            page.get_by_role("tab", name="Corpus").click()
            page.locator("#tb-upload input[type=file]").set_input_files([str(upload), str(binary)])
            page.wait_for_function("document.querySelector('#tb-upload-details').innerText.includes('scan.txt')")
            started = time.perf_counter()
            page.locator("#tb-upload-go").click()
            page.wait_for_selector("#tb-index-progress[data-state=running]")
            page.wait_for_function("""() => { const p = document.querySelector('#tb-index-progress');
                return p.dataset.state !== 'running' || Number(p.querySelector('progress').value) > 30; }""")
            page.screenshot(path=str(out / "screenshot-upload.png"))
            page.wait_for_selector("#tb-index-progress[data-state=done]")
            indexed = time.perf_counter() - started
            page.get_by_role("tab", name="Ask").click()
            box = page.locator("#tb-question textarea, #tb-question input").first
            box.fill(QUESTION)
            box.press("Enter")
            page.wait_for_selector("#tb-conversation .tb-turn:not(.tb-pending) .tb-card")
            answered = time.perf_counter() - started
            cited = bot.ask(QUESTION).to_json()["hits"][0]["transcript"]
            print(f"drop -> index updated: {indexed:.1f} s; drop -> first answer: {answered:.1f} s; "
                  f"top hit from {cited}")
            browser.close()
    finally:
        demo.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
