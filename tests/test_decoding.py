"""Bytes -> text: UTF-8 with a few corrupt bytes, legacy encodings, NUL bytes, binary files.

Each case here was decoded wrongly before (mojibake, a wrong code page, NULs kept in the
text, or a readable file refused); the verbatim rule is checked through the parser.
"""

from __future__ import annotations

import pytest

from bot.decoding import decode_bytes
from bot.errors import UnreadableFile
from bot.formats import parse_text

UTF8_TEXT = "Meeting\n\nVladimir Putin: Good afternoon — café, naïve, “quoted”.\n\nJohn Smith: Déjà vu.\n"


def test_mostly_utf8_file_stays_utf8_with_replacement_characters():
    data = UTF8_TEXT.encode("utf-8")
    cut = data.index(b"Good")
    data = data[:cut] + b"\x92\xff" + data[cut:]  # two stray bytes in an otherwise UTF-8 file
    decoded = decode_bytes(data, "talk.txt")
    assert decoded.encoding == "utf-8"
    assert decoded.text == UTF8_TEXT.replace("Good", "\ufffd\ufffdGood")
    assert "â€" not in decoded.text and "Ã" not in decoded.text  # no mojibake
    assert decoded.warning == "talk.txt: 2 invalid UTF-8 byte(s) replaced with U+FFFD"
    turns = parse_text("talk.txt", decoded.text).turns
    assert [t.speaker for t in turns] == ["Vladimir Putin", "John Smith"]
    assert all(t.text in decoded.text for t in turns)


def test_truncated_multibyte_sequence_counts_its_bytes():
    data = "Ann: café — ok\n".encode() + "—".encode()[:2] + " end\n".encode()
    decoded = decode_bytes(data, "t.txt")
    assert decoded.encoding == "utf-8"
    assert decoded.text == "Ann: café — ok\n\ufffd end\n"
    assert decoded.warning == "t.txt: 2 invalid UTF-8 byte(s) replaced with U+FFFD"


@pytest.mark.parametrize("text, encoding, expected", [
    ("Short: café.\n", "cp1252", "cp1252"),
    ("Café au lait — “quoted” naïve façade. Déjà vu.\n", "cp1252", "cp1252"),
    ("Über Straße, Öl und Äpfel. Grüße!\n", "latin-1", "cp1252"),  # cp1252 is latin-1's superset
    ("It’s fine.\n", "cp1252", "cp1252"),  # one smart quote in an ASCII file
    ("Владимир Путин: Добрый день, уважаемые коллеги. Начнём.\n", "cp1251", "cp1251"),
    ("Zażółć gęślą jaźń. Świętokrzyskie województwo.\n", "cp1250", "cp1250"),
])
def test_legacy_encodings_decode_exactly(text, encoding, expected):
    decoded = decode_bytes(text.encode(encoding), "old.txt")
    assert decoded.text == text
    assert decoded.encoding == expected
    assert decoded.warning == f"old.txt: not UTF-8, decoded as {expected}"


def test_stray_nul_past_64_kb_is_removed_with_a_warning():
    data = b"Title\n\n" + b"Ann: hello there.\n\n" * 5000 + b"Bob: bye\x00 now.\n"
    assert data.index(b"\x00") > 65536
    decoded = decode_bytes(data, "long.txt")
    assert "\x00" not in decoded.text
    assert decoded.text.endswith("Bob: bye now.\n")
    assert decoded.warning == "long.txt: 1 NUL byte(s) removed"
    turns = parse_text("long.txt", decoded.text).turns
    assert turns[-1].text == "bye now." and all(t.text in decoded.text for t in turns)


def test_nul_padding_at_the_end_is_removed():
    decoded = decode_bytes(b"Ann: hello.\n" + b"\x00" * 4096, "padded.txt")
    assert decoded.text == "Ann: hello.\n"
    assert decoded.warning == "padded.txt: 4096 NUL byte(s) removed"


@pytest.mark.parametrize("data", [
    b"\x00\x01\x02PNG\x00" * 50,
    b"Ann: hello.\n" * 7000 + b"\x00\x10\x00\x00\xff" * 400,  # text first, binary past 64 KB
    "Ann: hello.\n".encode("utf-16-le") * 10,  # UTF-16 without a BOM is not guessed
])
def test_files_with_many_nul_bytes_are_binary(data):
    with pytest.raises(UnreadableFile, match=r"^x\.bin: binary file"):
        decode_bytes(data, "x.bin")


@pytest.mark.parametrize("data", [b"\x00\x00\x00", b" \n\x00"])
def test_nothing_but_nul_bytes_is_binary_not_empty(data):
    with pytest.raises(UnreadableFile, match=r"^e\.txt: binary file"):
        decode_bytes(data, "e.txt")
