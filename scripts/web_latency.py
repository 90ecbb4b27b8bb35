"""Measure the web chat's answer latency as a user sees it: Enter pressed to answer shown.

Serves the chat over an index (default ./index and ./corpus), opens it in Chromium, warms it
up, then asks N different questions (each in a new chat) and prints p50 / p90 / max of the
browser-side time, next to the time the core alone takes for the same questions.

    .venv/bin/python scripts/web_latency.py [--corpus DIR] [--index DIR] [-n 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTIONS = [
    "What did Putin say about the railway to Europe?",
    "What did Putin tell French journalists about Syria?",
    "What did Miller say about gas exports to Europe?",
    "What did Putin say about the Baksan hydroelectric plant?",
    "What did Guterres and Putin discuss?",
    "How did Putin describe relations with Austria?",
    "What was said about the Moscow mayor candidate?",
    "What did Patrushev report to the President?",
    "What did Putin say about missile defence?",
    "What did Medvedev say about the economy?",
    "What was said about utility prices?",
    "What did Putin say about investment in Tatarstan?",
    "What was said about the election commission?",
    "How did Putin talk about the Second World War?",
    "What was said about fires and emergencies?",
    "What did Putin say about Egypt?",
    "What did Putin say about Slovenia?",
    "What was said about the COVID-19 medical centres?",
    "What did Putin say about the Russian Direct Investment Fund?",
    "What was said about the State Duma's spring session?",
    "What did Putin say about oil refining?",
    "What was said about Kim Jong-il?",
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="corpus")
    parser.add_argument("--index", default="index")
    parser.add_argument("-n", type=int, default=20, help="questions to time (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, as `serve` uses (default 1)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from bot.core import TranscriptBot
    from bot.embedding import load_embedder
    from bot.settings import Settings
    from bot.web import build_demo, launch

    settings = Settings.resolve(args.corpus, args.index)
    bot = TranscriptBot(settings, embedder=load_embedder(settings.model, threads=args.threads))
    questions = (QUESTIONS * (1 + args.n // len(QUESTIONS)))[: args.n]
    demo = build_demo(bot)
    url = launch(demo, port=free_port(), prevent_thread_lock=True)
    browser_times: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            box = page.locator("#tb-question textarea, #tb-question input").first
            box.wait_for()
            for i, question in enumerate(
                ["warm-up: what was said about gas?", "warm-up: who spoke about Syria?", *questions]
            ):
                page.locator("#tb-new").click()
                page.wait_for_selector("#tb-conversation .tb-welcome")
                box.fill(question)
                started = time.perf_counter()
                box.press("Enter")
                page.wait_for_selector("#tb-conversation .tb-turn:not(.tb-pending)", timeout=120_000)
                elapsed = time.perf_counter() - started
                if i >= 2:
                    browser_times.append(elapsed)
            browser.close()
    finally:
        demo.close()
    core_times = []
    for question in questions:
        started = time.perf_counter()
        bot.ask(question)
        core_times.append(time.perf_counter() - started)
    stats = bot.stats()
    print(
        f"index: {stats['transcripts']} transcripts, {stats['passages']} passages; torch threads {args.threads}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, values in (("browser (Enter to answer shown)", browser_times), ("core bot.ask alone", core_times)):
        print(
            f"{name:34s} n={len(values)}  p50 {statistics.median(values) * 1000:6.0f} ms  "
            f"p90 {percentile(values, 0.9) * 1000:6.0f} ms  max {max(values) * 1000:6.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
