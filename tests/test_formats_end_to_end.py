"""Every format in, the same precise citations out: index a folder mixing all formats with the
real model, ask a question answered in each file, and check the citation fields."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.core import AskOptions, TranscriptBot
from bot.indexer import check, sync
from bot.settings import MINILM, Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "formats"


@pytest.fixture(scope="module")
def mixed_bot(tmp_path_factory, embedder):
    corpus = tmp_path_factory.mktemp("mixed")
    for f in FIXTURES.iterdir():
        if f.name != "README.md":
            shutil.copy(f, corpus / f.name)
    index = tmp_path_factory.mktemp("mixed-index")
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False)
    assert not [p for p in report.problems if "skipped" in p], report.problems
    return TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder), corpus


CASES = [
    # (question, file, speaker, timed)
    ("Was financial inclusion a reason for nationalising the banks in 1969?", "seenunseen_e23_excerpt.vtt", "Guest", True),
    ("Was there ever any thought about how Indian cricket should develop, including the IPL?", "seenunseen_e41_excerpt.srt", "Guest 1", True),
    ("When did the work on urban governance start with the Bangalore Agenda Task Force?", "seenunseen_e48_excerpt.json", None, True),
    ("Who can get an Aadhaar, is it a national ID?", "seenunseen_e61_excerpt.jsonl", None, True),
    ("Which is the largest region in the Central Federal District?", "kremlin_51437_meeting_with_igor_rudenya.html", "Igor Rudenya", False),
    ("How many professionals from the regions came to the Forum of Russian and Belarusian Regions?", "kremlin_54915_lukashenko.md", None, False),
    ("What did the President say about Radio Free Europe?", "us_news_1961-03-08_kennedy_excerpt.txt", "THE PRESIDENT", False),
    ("How much were Monro's comparable store sales down in the third quarter?", "earnings21_monro_q3_excerpt.txt", None, False),
]


@pytest.mark.parametrize("question,file,speaker,timed", CASES, ids=[c[1].split(".")[-1] + ":" + c[1][:20] for c in CASES])
def test_answer_found_with_citation_fields(mixed_bot, question, file, speaker, timed):
    bot, corpus = mixed_bot
    result = bot.ask(question, AskOptions(k=5))
    hits = [h for h in result.hits if h.passage.transcript == file]
    assert hits, [h.passage.transcript for h in result.hits]
    if speaker:  # the answering turn is among the hits (a reply to it may rank first)
        hits = [h for h in hits if h.passage.speaker and speaker.lower() in h.passage.speaker.lower()]
        assert hits
    hit = hits[0]
    p = hit.passage
    assert isinstance(p.turn, int) and p.turn >= 0 and p.title
    data = hit.to_json()
    if timed:
        assert p.start is not None and data["timestamp"].count(":") == 2
        if p.url:
            assert data["link"].endswith(f"t={int(p.start)}") and f"at {data['timestamp']}" in data["citation"]
    else:
        assert p.start is None and data["timestamp"] is None


def test_check_lists_format_turns_and_speakers_per_file():
    results, problems = check(FIXTURES)
    by_file = {r.rel: r for r in results}
    assert by_file["seenunseen_e23_excerpt.vtt"].format == "webvtt"
    assert by_file["seenunseen_e41_excerpt.srt"].format == "srt"
    assert by_file["seenunseen_e61_excerpt.jsonl"].format == "json"
    assert by_file["kremlin_51437_meeting_with_igor_rudenya.html"].format == "html"
    assert all(r.turns > 0 for r in results) and "seenunseen_e23_excerpt.json" not in by_file  # a sidecar
    assert not problems
