"""Turn a corpus file's bytes into text, or say in one line why it cannot be.

Transcripts arrive in UTF-8 (with or without a BOM), in legacy encodings such as cp1251,
with Windows line endings, or not as text at all. Everything downstream works on the
decoded, newline-normalised text, and "verbatim" means a substring of exactly that.
"""

from __future__ import annotations

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
    """Decode ``data`` (the content of file ``name``); raise UnreadableFile with the reason."""
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
            return DecodedText(_normalise(data.decode("utf-16")), "utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile(f"{name}: declares UTF-16 but does not decode; skipped") from None
    if b"\x00" in data[:65536]:
        raise UnreadableFile(f"{name}: binary file (contains NUL bytes); skipped")
    try:
        return DecodedText(_normalise(data.decode("utf-8")), "utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000]).best()
    if best is None:
        raise UnreadableFile(f"{name}: not text in any known encoding; skipped")
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        raise UnreadableFile(f"{name}: not text in any known encoding; skipped") from None
    if _control_ratio(text) > 0.05:
        raise UnreadableFile(f"{name}: binary file (mostly control characters); skipped")
    return DecodedText(
        _normalise(text), best.encoding, f"{name}: not UTF-8, decoded as {best.encoding}"
    )


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


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    bad = sum(1 for c in sample if ord(c) < 32 and c not in "\n\r\t\f")
    return bad / max(1, len(sample))
