"""Speaker labels: every label shape seen in real transcripts starts its own turn, with the
right speaker, in every format; prose with a colon does not.

Each labelled case here was merged into the previous speaker's turn before (so a quote was
attributed to the wrong person), and each prose case that is marked was taken as a speaker.
"""

from __future__ import annotations

import json

import pytest

from bot.formats import html, jsonturns, plaintext, webvtt

OPENING = "Meeting\n\nBob Jones: Opening words.\n\n"


@pytest.mark.parametrize("paragraph, speaker, text, start", [
    ("Speaker 1 (00:01:02): Hello there.", "Speaker 1", "Hello there.", 62.0),
    ("Speaker 1 (00:01:02):\nHello there.", "Speaker 1", "Hello there.", 62.0),
    ("Speaker 2 [01:02]: Hello there.", "Speaker 2", "Hello there.", 62.0),
    ("[00:01:02] Speaker 2: Hello there.", "Speaker 2", "Hello there.", 62.0),
    ("John Smith, CEO of Acme Inc.: Thank you.", "John Smith, CEO of Acme Inc.", "Thank you.", None),
    ("Suzanne S.: Thank you, Scott.", "Suzanne S.", "Thank you, Scott.", None),
    ("Valeriya Korableva, reporter at Channel One: Good afternoon.",
     "Valeriya Korableva, reporter at Channel One", "Good afternoon.", None),
    ("李克强: 各位记者朋友们。", "李克强", "各位记者朋友们。", None),
    ("李克强：各位记者朋友们。", "李克强", "各位记者朋友们。", None),
    ("Владимир Путин: Добрый день.", "Владимир Путин", "Добрый день.", None),
    ("محمد بن سلمان: شكرا.", "محمد بن سلمان", "شكرا.", None),
    ("unidentified speaker: Hello?", "unidentified speaker", "Hello?", None),
    ("interpreter: He says yes.", "interpreter", "He says yes.", None),
    ("moderator: Next question.", "moderator", "Next question.", None),
    ("speaker 2: Thank you.", "speaker 2", "Thank you.", None),
    ("Audience member: Why?", "Audience member", "Why?", None),
    ("Research Director of the Valdai Club, moderator Fyodor Lukyanov: Friends,",
     "Research Director of the Valdai Club, moderator Fyodor Lukyanov", "Friends,", None),
    (">> JOHN: Good evening.", "JOHN", "Good evening.", None),
])
def test_label_starts_a_turn_with_its_speaker(paragraph, speaker, text, start):
    source = OPENING + paragraph + "\n"
    turns = plaintext.parse(source).turns
    assert [(t.speaker, t.text, t.start) for t in turns] == [
        ("Bob Jones", "Opening words.", None), (speaker, text, start)]
    assert all(t.text in source for t in turns)


@pytest.mark.parametrize("paragraph", [
    "The answer is simple: we will not.",
    "Note: the meeting was closed.",  # was a speaker "Note"
    "Question 3: what is the budget?",  # was a speaker "Question 3"
    "Second: we will cut taxes.",  # was a speaker "Second"
    "Listen: you should read the treaty.",  # was a speaker "Listen"
    "2019: a good year.",  # was a speaker "2019"
    "See https://example.org: it is there.",
    "We met at 10:30: it was late.",
    "Mr. President, you said: no.",
    "However, the point is this: we wait.",
    "(laughter): yes.",
])
def test_prose_with_a_colon_continues_the_turn(paragraph):
    source = OPENING + paragraph + "\n"
    turns = plaintext.parse(source).turns
    assert [(t.speaker, t.text) for t in turns] == [("Bob Jones", "Opening words.\n\n" + paragraph)]


def test_one_turn_per_line():
    source = "T\n\nAnn: Hi.\nBob: Hello.\nand more\n\nAnn (00:00:05): Bye.\n"
    turns = plaintext.parse(source).turns
    assert [(t.speaker, t.text, t.start) for t in turns] == [
        ("Ann", "Hi.", None), ("Bob", "Hello.\nand more", None), ("Ann", "Bye.", 5.0)]
    # a paragraph that does not open with a label is prose, whatever its lines begin with
    prose = "T\n\nAnn: Hi.\n\nWe said this\nOne thing: it works.\n"
    assert [t.speaker for t in plaintext.parse(prose).turns] == ["Ann"]


def test_one_speaker_keeps_one_name_across_timestamps():
    source = "T\n\nSpeaker 1 (00:00:01):\nHi.\n\nSpeaker 2 (00:00:04):\nHello.\n\nSpeaker 1 (00:00:09):\nBye.\n"
    turns = plaintext.parse(source).turns
    assert [(t.speaker, t.start) for t in turns] == [("Speaker 1", 1.0), ("Speaker 2", 4.0), ("Speaker 1", 9.0)]


def test_vtt_label_shapes():
    vtt = ("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ann>Hello.\n\n00:02.000 --> 00:03.000\n&gt;&gt; BOB: Hi.\n\n"
           "00:03.000 --> 00:04.000\n- Speaker 2 (00:03): Yes.\n\n00:04.000 --> 00:05.000\n李克强: 好。\n\n"
           "00:05.000 --> 00:06.000\n李克强: 好。\n")
    assert [(t.speaker, t.text) for t in webvtt.parse(vtt).turns] == [
        ("Ann", "Hello."), ("BOB", "Hi."), ("Speaker 2", "Yes."), ("李克强", "好。 好。")]
    srt = ("1\n00:00:01,000 --> 00:00:02,000\nJohn Smith, CEO of Acme Inc.: Welcome.\n\n"
           "2\n00:00:02,000 --> 00:00:03,000\nunidentified speaker: Question?\n\n"
           "3\n00:00:03,000 --> 00:00:04,000\n>> [Ann]: Answer.\n")
    assert [(t.speaker, t.text) for t in webvtt.parse(srt).turns] == [
        ("John Smith, CEO of Acme Inc.", "Welcome."), ("unidentified speaker", "Question?"), ("Ann", "Answer.")]


def test_html_label_shapes():
    page = """<html><body><article><h1>Hearing</h1><p>The board met.</p>
    <p><b>Speaker 1 (00:01:02):</b> The quay will be finished.</p>
    <p><strong>John Smith, CEO of Acme Inc.:</strong> Thank you.</p>
    <p>Ann: Hi.<br>Bob: Hello.</p><p><b>李克强：</b>各位。</p><p><b>interpreter:</b> He agrees.</p>
    </article></body></html>"""
    assert [(t.speaker, t.text, t.start) for t in html.parse(page).turns] == [
        (None, "The board met.", None), ("Speaker 1", "The quay will be finished.", 62.0),
        ("John Smith, CEO of Acme Inc.", "Thank you.", None), ("Ann", "Hi.", None), ("Bob", "Hello.", None),
        ("李克强", "各位。", None), ("interpreter", "He agrees.", None)]


def test_json_null_speaker_is_nobodys_continuation():
    doc = [{"speaker": "Ann", "text": "I will vote yes."}, {"speaker": None, "text": "Shame!"},
           {"speaker": "", "text": "Boo."}, {"speaker": "Ann", "text": "Thank you."}]
    assert [(t.speaker, t.text) for t in jsonturns.parse(json.dumps(doc)).turns] == [
        ("Ann", "I will vote yes."), (None, "Shame! Boo."), ("Ann", "Thank you.")]
    # without a speaker key a segment still continues the turn (subtitle-like files)
    doc = [{"speaker": "Ann", "text": "One."}, {"text": "Two."}]
    assert [(t.speaker, t.text) for t in jsonturns.parse(json.dumps(doc)).turns] == [("Ann", "One. Two.")]
