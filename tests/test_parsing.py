"""Parsing transcripts into turns: the real seed and Kremlin files, and the odd cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.corpus import CorpusFile, read_transcript, scan
from bot.decoding import decode_bytes
from bot.errors import UnreadableFile
from bot.formats import parse_text
from bot.formats.plaintext import looks_like_label
from conftest import KREMLIN, SMALL_FILES

SEED = KREMLIN / SMALL_FILES[0]


def test_seed_menu_lines_are_stripped_and_metadata_read():
    text = SEED.read_text(encoding="utf-8")
    parsed = parse_text(SEED.name, text)
    assert parsed.meta.date == "2000-07-19"
    assert parsed.meta.place == "Pyongyang"
    assert parsed.meta.title.startswith("Replies to Russian Journalists’ Questions About Talks with Kim Jong-il")
    everything = " ".join(t.text for t in parsed.turns)
    for menu in ("View settings", "Font size", "Site colours", "Official website of the President", "Transcripts   /"):
        assert menu not in everything
    assert not parsed.turns[-1].text.rstrip().endswith("July 19, 2000, Pyongyang")
    assert [t.speaker for t in parsed.turns[:3]] == ["Vladimir Putin", "Question", "Putin"]
    assert [t.index for t in parsed.turns] == list(range(len(parsed.turns)))


def test_turn_text_is_verbatim_with_non_breaking_spaces():
    text = SEED.read_text(encoding="utf-8")
    parsed = parse_text(SEED.name, text)
    assert any("\u00a0" in t.text for t in parsed.turns)
    for turn in parsed.turns:
        assert turn.text in text


def test_continuation_paragraphs_join_the_previous_turn():
    text = SEED.read_text(encoding="utf-8")
    turn = parse_text(SEED.name, text).turns[2]
    assert turn.speaker == "Putin"
    assert "$100\u00a0million" in turn.text or "$100 million" in turn.text
    assert "\n\n" in turn.text  # several paragraphs, one turn


def test_kremlin_file_with_manifest_metadata(tmp_path):
    listing = scan(KREMLIN)
    item = next(f for f in listing.files if f.rel == SMALL_FILES[6])
    parsed = read_transcript(item)
    assert parsed.meta.url == "http://en.kremlin.ru/events/president/news/53081"
    assert parsed.meta.date == "2016-10-12"
    assert {"Vladimir Putin"} <= {t.speaker for t in parsed.turns}
    assert len(listing.files) == 301  # 300 transcripts + the founding one; notices and lists skipped


def test_no_date_line_and_no_speakers(tmp_path):
    text = "An Address to the Nation\n\nGood evening. Tonight I speak to you.\n\nThe second paragraph, no speaker.\n"
    parsed = parse_text("a.txt", text)
    assert parsed.meta.title == "An Address to the Nation"
    assert parsed.meta.date is None
    assert len(parsed.turns) == 1 and parsed.turns[0].speaker is None
    assert parsed.turns[0].text == "Good evening. Tonight I speak to you.\n\nThe second paragraph, no speaker."


def test_lead_before_first_label_is_kept_without_speaker():
    text = "Meeting\n\nMay 5, 2015, Moscow\n\nThe President met the minister.\n\nVladimir Putin: Good afternoon.\n"
    parsed = parse_text("m.txt", text)
    assert [(t.speaker, t.text) for t in parsed.turns] == [
        (None, "The President met the minister."), ("Vladimir Putin", "Good afternoon.")]


def test_title_with_a_colon_over_a_date_line_is_the_title_not_a_speaker():
    """Real case: an article by Putin whose title reads like a label ("India and Russia: ...")."""
    path = KREMLIN / "2012-12-23_17180_india-and-russia-new-prospects-for-strategic-partnership-in.txt"
    parsed = parse_text(path.name, path.read_text(encoding="utf-8"))
    assert parsed.meta.title == "India and Russia: new prospects for strategic partnership in the 21st century"
    assert parsed.meta.date == "2012-12-23"
    assert all(t.speaker is None for t in parsed.turns)
    assert parsed.turns[0].text.startswith("Ahead of the Russian President’s official visit to India")
    # a label on the first line with no date line under it is still a speaker
    parsed = parse_text("q.txt", "Vladimir Putin: Good afternoon.\n\nLet us begin.\n")
    assert parsed.turns[0].speaker == "Vladimir Putin"


def test_year_only_date_and_all_caps_labels():
    text = "The President's News Conference\n\n1962\n\nTHE PRESIDENT: I have one statement.\n\nQ: Mr. President, [1.] what about Cuba?\n"
    parsed = parse_text("n.txt", text)
    assert parsed.meta.date == "1962"
    assert [t.speaker for t in parsed.turns] == ["THE PRESIDENT", "Q"]


@pytest.mark.parametrize("label,ok", [
    ("Vladimir Putin", True), ("Question", True), ("THE PRESIDENT", True), ("Q", True),
    ("President of the People's Republic of China Xi Jinping (retranslated)", True),
    ("Speaker 1", True), ("Mr. Hagerty", True),
    ("In addition to the signed document, I can tell you that", False),
    ("There are three things", False), ("He said", False),
])
def test_speaker_label_heuristic(label, ok):
    assert looks_like_label(label) is ok


def test_cp1251_file_is_decoded_with_a_warning(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "ru.txt").write_bytes("Встреча\n\nВладимир Путин: Добрый день, уважаемые коллеги. Начнём.\n".encode("cp1251"))
    item = scan(corpus).files[0]
    parsed = read_transcript(item)
    assert parsed.turns[0].speaker == "Владимир Путин"
    assert parsed.warnings and "ru.txt" in parsed.warnings[0] and "decoded as" in parsed.warnings[0]


def test_binary_and_empty_files_are_refused_by_name():
    with pytest.raises(UnreadableFile, match="bin.txt: binary"):
        decode_bytes(b"\x00\x01\x02PNG\x00" * 50, "bin.txt")
    with pytest.raises(UnreadableFile, match="empty.txt: empty"):
        decode_bytes(b"  \n\n", "empty.txt")


def test_crlf_and_bom_are_normalised():
    decoded = decode_bytes("\ufeffTitle\r\n\r\nA: hello\r\n".encode("utf-8"), "x.txt")
    assert decoded.text == "Title\n\nA: hello\n"


def test_broken_manifest_line_is_reported_and_the_rest_used(tmp_path):
    (tmp_path / "a.txt").write_text("T\n\nJohn Smith: Hi there.\n", encoding="utf-8")
    (tmp_path / "manifest.jsonl").write_text('{"file": "a.txt", "url": "https://example.org/a"}\n{broken\n', encoding="utf-8")
    listing = scan(tmp_path)
    assert listing.files[0].metadata["url"] == "https://example.org/a"
    assert any("manifest.jsonl:2" in p for p in listing.problems)


def test_every_bundled_transcript_parses_and_stays_verbatim():
    listing = scan(KREMLIN)
    for item in listing.files:
        parsed = read_transcript(item)
        source = item.path.read_text(encoding="utf-8")
        assert parsed.turns, item.rel
        for turn in parsed.turns:
            assert turn.text in source, item.rel
