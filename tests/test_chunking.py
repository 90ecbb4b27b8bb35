"""Cutting turns into passages: windows fit the model, keep metadata, stay verbatim."""

from __future__ import annotations

from bot.chunking import MAX_TOKENS, estimate_tokens, passages_for, sentence_spans, windows
from bot.formats import parse_text
from bot.records import ParsedTranscript, TranscriptMeta, Turn


def test_short_turn_is_one_passage():
    assert windows("One sentence. Two sentences.") == [(0, 28)]


def test_long_turn_splits_at_sentences_with_overlap():
    text = " ".join(f"Sentence number {i} talks about the economy and gas prices in detail." for i in range(60))
    spans = windows(text)
    assert len(spans) > 2
    for s, e in spans:
        assert estimate_tokens(text[s:e]) <= MAX_TOKENS
        assert text[s:e].startswith("Sentence") and text[s:e].endswith(".")
    # consecutive windows overlap by one sentence
    assert spans[1][0] < spans[0][1]


def test_a_giant_sentence_is_cut_at_words():
    text = "word " * 1000
    spans = windows(text.strip())
    assert len(spans) > 3
    assert all(estimate_tokens(text[s:e]) <= MAX_TOKENS for s, e in spans)


def test_sentence_spans_keep_quotes_and_abbreviations_reasonably():
    text = 'He said “We agree.” Then he left. What now?'
    parts = [text[s:e] for s, e in sentence_spans(text)]
    assert parts == ["He said “We agree.”", "Then he left.", "What now?"]


def test_passages_keep_metadata_context_and_verbatim_text():
    long_answer = " ".join(f"Point {i} is about the railway to Europe through Russia." for i in range(50))
    parsed = ParsedTranscript(
        meta=TranscriptMeta(title="Talks", date="2000-07-19", place="Pyongyang", url="http://x/1"),
        turns=[Turn(0, "Question", "Did he explain why?"), Turn(1, "Vladimir Putin", long_answer)],
        format="text",
    )
    ps = passages_for("k/a.txt", parsed, first_id=100)
    assert ps[0].id == 100 and ps[0].context is None
    replies = [p for p in ps if p.turn == 1]
    assert len(replies) > 1
    assert [p.part for p in replies] == list(range(len(replies)))
    for p in replies:
        assert p.text in long_answer
        assert (p.title, p.date, p.place, p.url, p.speaker) == ("Talks", "2000-07-19", "Pyongyang", "http://x/1", "Vladimir Putin")
        assert p.context == "Did he explain why?" and p.context_speaker == "Question"
    assert replies[0].lead is None and replies[1].lead.startswith("Point 0")


def test_real_transcript_passages_are_substrings(tmp_path):
    from conftest import KREMLIN, SMALL_FILES

    text = (KREMLIN / SMALL_FILES[6]).read_text(encoding="utf-8")
    ps = passages_for("x", parse_text("x.txt", text), 0)
    assert len(ps) > 10
    assert all(p.text in text for p in ps)
