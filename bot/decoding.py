"""Turn a corpus file's bytes into text, or say in one line why it cannot be.

Transcripts arrive in UTF-8 (with or without a BOM), sometimes with a few corrupt bytes, in
legacy encodings such as cp1251 or cp1252, with Windows line endings or stray NUL bytes, or
not as text at all. Everything downstream works on the decoded, newline-normalised text
(replacement characters in, NULs out), and "verbatim" means a substring of exactly that.
Whatever was changed on the way is said in the one-line ``DecodedText.warning``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import UnreadableFile

MAX_FILE_BYTES = 20 * 1024 * 1024  # a transcript past this is almost certainly not one


@dataclass
class DecodedText:
    text: str
    encoding: str
    warning: str | None = None


def decode_bytes(data: bytes, name: str, max_bytes: int = MAX_FILE_BYTES) -> DecodedText:
    """Decode ``data`` (the content of file ``name``); raise UnreadableFile with the reason.

    UTF-8 is tried first, and kept when most of the file is UTF-8: a few corrupt bytes in a
    UTF-8 transcript become U+FFFD rather than turning every accented letter and dash of
    the file into mojibake under a legacy reading. Only files that are not UTF-8 at all go
    to the legacy encodings (cp1252, cp1251, then whatever charset_normalizer detects).
    Stray NUL bytes are removed, with a warning; a file with many of them is binary.
    """
    if len(data) > max_bytes:
        raise UnreadableFile(
            f"{name}: too large ({len(data) / 1e6:.1f} MB, limit {max_bytes / 1e6:.0f} MB); skipped"
        )
    if not data.strip():
        raise UnreadableFile(f"{name}: empty file; skipped")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile(f"{name}: declares UTF-16 but does not decode; skipped") from None
        return _finish(text, "utf-16", name, [])
    # NUL never occurs in text: a file with more than a trace of it (past any NUL padding at
    # the end, which interrupted writes leave) is binary, wherever in the file it is.
    body = data.rstrip(b"\x00")
    if not body.strip() or body.count(b"\x00") > max(1, len(data) // 1000):
        raise UnreadableFile(f"{name}: binary file (contains NUL bytes); skipped")
    try:
        return _finish(data.decode("utf-8"), "utf-8", name, [])
    except UnicodeDecodeError:
        pass
    valid, invalid = _utf8_counts(data)
    if valid and valid >= invalid:
        # Reading it as a legacy encoding would garble more characters (every valid
        # multi-byte sequence) than the replacement characters lose.
        return _finish(data.decode("utf-8", errors="replace"), "utf-8", name,
                       [f"{invalid} invalid UTF-8 byte(s) replaced with U+FFFD"])
    guess = _legacy(data)
    if guess is None:
        raise UnreadableFile(f"{name}: not text in any known encoding; skipped")
    text, encoding = guess
    if _control_ratio(text) > 0.05:
        raise UnreadableFile(f"{name}: binary file (mostly control characters); skipped")
    return _finish(text, encoding, name, [f"not UTF-8, decoded as {encoding}"])


def read_text(path: Path, name: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> DecodedText:
    """Read and decode one file; ``name`` is how messages refer to it (default: the path)."""
    label = name or str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnreadableFile(
                f"{label}: too large ({size / 1e6:.1f} MB, limit {max_bytes / 1e6:.0f} MB); skipped"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{label}: cannot read ({exc.strerror or exc}); skipped") from None
    return decode_bytes(data, label, max_bytes)


def _finish(text: str, encoding: str, name: str, notes: list[str]) -> DecodedText:
    """Normalise line ends, drop stray NULs, and put every note into one warning line."""
    if "\x00" in text:
        notes.append(f"{text.count(chr(0))} NUL byte(s) removed")
        text = text.replace("\x00", "")
    if not text.strip():
        raise UnreadableFile(f"{name}: empty file; skipped")
    warning = f"{name}: {'; '.join(notes)}" if notes else None
    return DecodedText(_normalise(text), encoding, warning)


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _utf8_counts(data: bytes) -> tuple[int, int]:
    """(valid multi-byte characters, invalid bytes) when ``data`` is read as UTF-8."""
    text = data.decode("utf-8", errors="surrogateescape")  # each invalid byte -> U+DC80..U+DCFF
    invalid = len(_ESCAPED.findall(text))
    valid = sum(1 for c in text if c > "\x7f") - invalid
    return valid, invalid


_ESCAPED = re.compile("[\udc80-\udcff]")
# Single-byte encodings tried before detection, in order: Western European (cp1252 is a
# superset of latin-1's printable range) and Cyrillic. Detection on short texts is
# unreliable (it reads a few accented French words as Baltic cp1257), so these two are
# checked directly: the right one gives words of one script, the wrong one gives words
# such as "Cafй" (cp1252 read as cp1251) or "Âëàäèìèð" (cp1251 read as cp1252).
LEGACY = ("cp1252", "cp1251", "latin-1")
# Non-letters that legitimately touch letters in these encodings' text.
_WORD_PUNCTUATION = set("“”‘’‚„–—…«»•·°€£¥§©®™¿¡\u00a0×±µ‹›†‡‰¢")


def _legacy(data: bytes) -> tuple[str, str] | None:
    """The text and encoding of a file that is not UTF-8, or None if nothing reads it."""
    sample = data[:200_000]
    best: tuple[float, str] | None = None
    for encoding in LEGACY:
        try:
            decoded = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        bad, total = _implausible_words(decoded)
        if total and bad / total <= 0.1 and (best is None or bad / total < best[0]):
            best = (bad / total, encoding)
    if best is not None:
        try:
            return data.decode(best[1]), best[1]
        except UnicodeDecodeError:
            pass  # the sample decoded, the rest of the file does not: let detection decide
    from charset_normalizer import from_bytes

    found = from_bytes(data[:1_000_000]).best()
    if found is None:
        return None
    try:
        return data.decode(found.encoding), found.encoding
    except (UnicodeDecodeError, LookupError):
        return None


def _implausible_words(text: str) -> tuple[int, int]:
    """(implausible, all) words holding a non-ASCII character, under one candidate decoding.

    Implausible: letters of two scripts in one word, a lower-case letter followed by an
    upper-case one, a Latin word that is mostly accented letters, or a symbol inside a word.
    """
    bad = total = 0
    for word in text.split():
        if word.isascii():
            continue
        total += 1
        scripts = set()
        accented = letters = 0
        previous = ""
        odd = False
        for i, c in enumerate(word):
            if c.isalpha():
                letters += 1
                script = "latin" if c.isascii() else _script(c)
                scripts.add(script)
                accented += not c.isascii()
                if previous.isalpha() and previous.islower() and c.isupper():
                    odd = True
            elif not c.isascii() and c not in _WORD_PUNCTUATION:
                neighbours = word[i - 1:i] + word[i + 1:i + 2]
                if any(n.isalpha() for n in neighbours):
                    odd = True
            previous = c
        if odd or len(scripts) > 1 or (scripts == {"latin"} and letters >= 4 and accented * 2 > letters):
            bad += 1
    return bad, total


def _script(char: str) -> str:
    try:
        return unicodedata.name(char).split()[0].lower()  # "LATIN SMALL LETTER E WITH ACUTE"
    except ValueError:
        return "other"


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    bad = sum(1 for c in sample if ord(c) < 32 and c not in "\n\r\t\f")
    return bad / max(1, len(sample))
