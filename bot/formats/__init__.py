"""Transcript formats: one module per format behind one small interface.

Each format module defines a `Format` with a name, the file extensions it claims, a
``sniff(text)`` test for content whose extension does not say, and ``parse(text)``
returning a `ParsedTranscript` whose turns carry verbatim text. Adding a format means
adding a module and listing it in ``FORMATS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..records import ParsedTranscript


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    sniff: Callable[[str], bool]
    parse: Callable[[str], ParsedTranscript]


def _formats() -> list[Format]:
    from . import plaintext

    found = [plaintext.FORMAT]
    for module in ("webvtt", "jsonturns", "html"):
        try:
            mod = __import__(f"{__name__}.{module}", fromlist=["FORMAT"])
        except ImportError:
            continue
        found.insert(0, mod.FORMAT)
    return found


FORMATS: list[Format] = _formats()
EXTENSIONS: frozenset[str] = frozenset(ext for f in FORMATS for ext in f.extensions)


def choose_format(filename: str, text: str) -> Format:
    """Pick a format by extension, then by content sniffing; plain text is the fallback."""
    lower = filename.lower()
    by_ext = [f for f in FORMATS if lower.endswith(f.extensions)]
    for fmt in by_ext:
        if fmt.sniff(text):
            return fmt
    for fmt in FORMATS:
        if fmt.sniff(text):
            return fmt
    return by_ext[0] if by_ext else FORMATS[-1]


def parse_text(filename: str, text: str) -> ParsedTranscript:
    """Parse decoded ``text`` of ``filename`` with the format that fits it."""
    return choose_format(filename, text).parse(text)
