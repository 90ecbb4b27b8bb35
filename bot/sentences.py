"""Vectors of the sentences an extractive answer may quote, embedded once by ``index``.

The answer (`answer.choose_sentences`) quotes the source sentences of the top hits that are
closest to the question. Embedding those sentences for every question was most of a
question's time (~80 ms of ~140 ms on the bundled corpus, one thread), although they are
the same sentences every time. So ``index`` embeds every quotable sentence of the corpus
once (`quotable_spans`: three words or more, not a question) in the English space, and a
question only looks its candidates up.

The table is keyed by the sentence's exact text (a 64-bit BLAKE2b hash), not by passage:
overlapping windows of one turn share their sentences, so each is embedded and stored once,
and an update needs no row bookkeeping. It drops the sentences of replaced passages that no
new passage has; a sentence that also stood in an unchanged transcript is then simply looked
up in vain, and the answer embeds it on the spot (as it does for any sentence the table
lacks), so a missing row costs time, never a wrong quote.

On disk (``sentences.<gen>/``, checksummed as one file of the generation, see `store`)::

    keys.npy     uint64, sorted: the hashes of the sentence texts
    vectors.npy  int8, one row per key: the normalised vector times 127 / its largest component
    scales.npy   float32, one per key: that largest component / 127 (row = vectors * scale)

int8 with a scale per row keeps 4x less than float32 (the bundled corpus: 36,239 sentences,
14 MB) and moves a cosine by under 0.001, far below what separates two candidate sentences.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .chunking import sentence_spans
from .records import Passage

RULES = "quotable-sentences-v1"  # which sentences the table holds (`quotable_spans`); recorded in the manifest
STORAGE = "int8-row-scaled"
MIN_WORDS = 3


def quotable_spans(passage: Passage) -> list[tuple[int, int]]:
    """The spans of ``passage.text`` an answer may quote: sentences of at least three words
    (not counting an exchange line's speaker label) that are not questions."""
    out = []
    for span in sentence_spans(passage.text):
        sentence = unlabelled(passage, passage.text[span[0]:span[1]])
        if len(sentence.split()) >= MIN_WORDS and not sentence.rstrip("\"”’)] ").endswith("?"):
            out.append(span)
    return out


def unlabelled(p: Passage, sentence: str) -> str:
    """``sentence`` without the speaker label an exchange line starts with (words are counted without it)."""
    for speaker in p.speakers or ():
        if sentence.startswith(f"{speaker}: "):
            return sentence[len(speaker) + 2:]
    return sentence


def quotable_texts(passages: Iterable[Passage]) -> list[str]:
    """The distinct quotable sentences of ``passages``, in first-seen order."""
    seen: dict[str, None] = {}
    for p in passages:
        for s, e in quotable_spans(p):
            seen.setdefault(p.text[s:e], None)
    return list(seen)


def key_of(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def keys_of(texts: Sequence[str]) -> np.ndarray:
    return np.fromiter((key_of(t) for t in texts), dtype=np.uint64, count=len(texts))


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and their scales (row ~= int8 * scale)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    peak = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, np.float32)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return q, scales


@dataclass
class SentenceVectors:
    """The sentence table of one generation (sorted keys, int8 rows, per-row scales)."""

    keys: np.ndarray
    vectors: np.ndarray
    scales: np.ndarray

    @classmethod
    def empty(cls, dimension: int) -> "SentenceVectors":
        return cls(np.zeros(0, np.uint64), np.zeros((0, dimension), np.int8), np.zeros(0, np.float32))

    @classmethod
    def of(cls, texts: Sequence[str], vectors: np.ndarray) -> "SentenceVectors":
        keys = keys_of(texts)
        q, scales = quantize(vectors)
        order = np.argsort(keys, kind="stable")
        keys, q, scales = keys[order], q[order], scales[order]
        unique = np.ones(len(keys), dtype=bool)
        unique[1:] = keys[1:] != keys[:-1]
        return cls(keys[unique], q[unique], scales[unique])

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, -1 where the table has none."""
        at = np.searchsorted(self.keys, keys)
        at = np.minimum(at, max(len(self.keys) - 1, 0))
        found = (self.keys[at] == keys) if len(self.keys) else np.zeros(len(keys), dtype=bool)
        return np.where(found, at, -1)

    def dequantized(self, rows: np.ndarray) -> np.ndarray:
        """The float32 vectors of table ``rows`` (int8 times each row's scale)."""
        return self.vectors[rows].astype(np.float32) * self.scales[rows, None]

    def has(self, texts: Sequence[str]) -> np.ndarray:
        return self.rows(keys_of(texts)) >= 0

    def vectors_for(self, texts: Sequence[str], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """float32 vectors of ``texts``: from the table, and through ``embed`` for any it lacks."""
        rows = self.rows(keys_of(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        hit = rows >= 0
        if hit.any():
            out[hit] = self.dequantized(rows[hit])
        if not hit.all():
            missing = np.flatnonzero(~hit)
            out[missing] = embed([texts[i] for i in missing])
        return out

    def updated(self, drop: Sequence[str], add_texts: Sequence[str], add_vectors: np.ndarray) -> "SentenceVectors":
        """This table without the sentences ``drop`` and with ``add_texts`` (vectors ``add_vectors``)."""
        keep = np.ones(len(self.keys), dtype=bool)
        if len(drop):
            rows = self.rows(keys_of(drop))
            keep[rows[rows >= 0]] = False
        new = SentenceVectors.of(add_texts, add_vectors) if len(add_texts) else SentenceVectors.empty(self.dimension)
        keys = np.concatenate([self.keys[keep], new.keys])
        order = np.argsort(keys, kind="stable")
        merged = SentenceVectors(keys[order], np.vstack([self.vectors[keep], new.vectors])[order],
                                 np.concatenate([self.scales[keep], new.scales])[order])
        unique = np.ones(len(merged.keys), dtype=bool)
        unique[1:] = merged.keys[1:] != merged.keys[:-1]
        return SentenceVectors(merged.keys[unique], merged.vectors[unique], merged.scales[unique])

    def save(self, folder: Path) -> None:
        np.save(folder / "keys.npy", self.keys, allow_pickle=False)
        np.save(folder / "vectors.npy", self.vectors, allow_pickle=False)
        np.save(folder / "scales.npy", self.scales, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, dimension: int) -> "SentenceVectors":
        """Read the table; ValueError when its parts do not fit together (or the model's dimension)."""
        keys = np.load(folder / "keys.npy", allow_pickle=False)
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        scales = np.load(folder / "scales.npy", allow_pickle=False)
        if keys.dtype != np.uint64 or vectors.dtype != np.int8 or scales.dtype != np.float32:
            raise ValueError("unexpected data types")
        if vectors.ndim != 2 or vectors.shape != (len(keys), dimension) or scales.shape != (len(keys),):
            raise ValueError(f"{len(keys)} keys, vectors {vectors.shape}, {len(scales)} scales for dimension {dimension}")
        if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
            raise ValueError("keys not sorted")
        return cls(keys, vectors, scales)


def manifest_entry(model: str, count: int) -> dict:
    return {"rules": RULES, "model": model, "storage": STORAGE, "count": int(count)}


def current(manifest: dict, model: str | None = None, kind: str = "sentences") -> bool:
    """Whether the manifest's sentence table (``kind``: "sentences", or "multilingual_sentences"
    for its twin in the multilingual space) was made by these rules (and, if given, this model)."""
    entry = manifest.get(kind) or {}
    return entry.get("rules") == RULES and entry.get("storage") == STORAGE and \
        (model is None or entry.get("model") == model)
