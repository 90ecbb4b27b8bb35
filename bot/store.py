"""The index on disk: a self-describing folder of plain files, replaced atomically.

Layout of ``index/``::

    manifest.json               format, model, dimension, counts, per-transcript fingerprints,
                                the data files of the current generation and their checksums
    passages.<gen>.jsonl        one passage per line (verbatim text and citation fields)
    vectors.<gen>.faiss         FAISS inner-product index over normalised vectors, int64 ids
    keyword.<gen>/              BM25 term counts (vocabulary.json + CSR .npy files), rows in
                                passages order; see `keyword`
    titles.<gen>.npy            one normalised float16 vector per transcript title, in the
                                manifest's (sorted) transcript order, to match named events
    multilingual.<gen>.faiss    with ``index --multilingual``: the same passages (same ids) in
                                multilingual-e5's space (`multilingual`), written and checked
                                like the vectors; the manifest's ``multilingual`` entry says so
    sentences.<gen>/            the English vectors of every quotable sentence, keyed by its
                                text (`sentences`), so an answer looks its sentences up instead
                                of embedding them; the manifest's ``sentences`` entry says so
    multilingual_sentences.<gen>/  with the multilingual space: the same sentences in e5's space
                                (same layout), for answers and abstention in that space; the
                                manifest's ``multilingual_sentences`` entry says so

An update writes the next generation's data files beside the current ones, then replaces
``manifest.json`` in one ``os.replace``: a reader (or a crash) sees either the old complete
index or the new complete one, never a mix. The previous generation's files are kept, so a
server that read the old manifest a moment ago can still load it; older ones are removed.
Every data file's SHA-256 is checked on load, so a truncated or altered file is reported by
name instead of returning wrong results.

Passages are sorted by transcript, in the manifest's (sorted) transcript order, and each
manifest entry records its number of passages: the rows of one transcript are a known slice
of every data file. An update therefore copies the lines of unchanged transcripts as bytes,
without parsing them (`open_for_update`), and only parses, tokenises and embeds what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import vector_index
from .chunking import UPGRADABLE_PASSAGE_RULES
from .dates import range_bounds
from .errors import BotError, IndexBusy, IndexCorrupt, IndexMismatch, IndexMissing
from .keyword import LEGACY_STEMMER, KeywordIndex
from .query import is_anonymous
from .records import Passage, is_question_of, word_count
from .sentences import SentenceVectors
from .vectorstore import FaissStore, MilvusStore, StoreSpec, VectorStore

FORMAT_NAME = "transcript-bot-index"
FORMAT_VERSION = 2  # 2: keyword index as term counts (1: bm25s scores); 1 is upgraded in place
UPGRADABLE_VERSIONS = (1, FORMAT_VERSION)
MANIFEST = "manifest.json"
LOCK = ".lock"
DATA_KINDS = ("passages", "vectors", "keyword", "titles")
MULTILINGUAL = "multilingual"  # the optional second vector space's file kind (and manifest key)
SENTENCES = "sentences"  # the sentence table's file kind (and manifest key); optional: answers embed without it
ML_SENTENCES = "multilingual_sentences"  # the sentences in the multilingual space (with that space only)
FILE_KINDS = (*DATA_KINDS, MULTILINGUAL, SENTENCES, ML_SENTENCES)
DEFAULT_CORPUS = Path("corpus")


def index_command(folder: Path, corpus: Path | None = None, *flags: str) -> str:
    """The ``transcript-bot index`` command that fixes the index in ``folder``, for advice in messages.

    It names the index folder always and the corpus when it is not the default ``./corpus``,
    so that followed literally it rebuilds this index from this corpus, not the bundled one.
    """
    parts = ["transcript-bot index", *flags, "--index", _arg(folder)]
    if corpus is not None and Path(corpus) != DEFAULT_CORPUS:
        parts += ["--corpus", _arg(corpus)]
    return " ".join(parts)


def _arg(path: Path | str) -> str:
    import shlex

    return shlex.quote(str(path))


def _rebuild(folder: Path, corpus: Path | None) -> str:
    return f"rebuild with: {index_command(folder, corpus, '--full')}"


def check_folder(folder: Path) -> None:
    """BotError if ``folder`` exists but is not a folder (an index path given by mistake)."""
    if folder.exists() and not folder.is_dir():
        raise BotError(f"index path {folder} is a file, not a folder; give an index folder with --index")


def new_vector_index(dimension: int, storage: str = "fp16", kind: str = "flat", nlist: int = 0):
    """An empty FAISS index (see `vector_index.new_index`, which owns the rules)."""
    return vector_index.new_index(dimension, kind=kind, nlist=nlist, storage=storage)


@dataclass
class IndexData:
    """A loaded index: manifest, passages in row order, the vectors and the BM25 index.

    ``vector_store`` is what searches use; ``vectors`` is the FAISS index itself when the
    vectors are in the folder (the default), None when they are in Milvus.
    """

    folder: Path
    manifest: dict[str, Any]
    passages: list[Passage]
    vectors: Any  # faiss.IndexIDMap2 (or IVF), or None
    keyword: KeywordIndex
    generation: int
    title_vectors: np.ndarray  # rows follow sorted(manifest["transcripts"])
    vector_store: VectorStore | None = None
    multilingual: FaissStore | None = None  # the multilingual space (same ids), if the index has it
    sentences: SentenceVectors | None = None  # the quotable sentences' English vectors, if the index has them
    multilingual_sentences: SentenceVectors | None = None  # the same sentences' e5 vectors, if the index has them

    def __post_init__(self) -> None:
        if self.vector_store is None:
            self.vector_store = FaissStore(self.vectors, ivf=self.manifest.get("vector_index", {}).get("kind") == "ivf")
        self.row_of = {p.id: row for row, p in enumerate(self.passages)}
        self.ids = np.array([p.id for p in self.passages], dtype=np.int64)
        self.transcript_names = sorted(self.manifest.get("transcripts", {}))
        # Each transcript's language, from the manifest (None for an index that predates it).
        self.languages = {rel: e.get("language") for rel, e in self.manifest.get("transcripts", {}).items()}
        for p in self.passages:
            p.language = self.languages.get(p.transcript)
        self._title_keyword: KeywordIndex | None = None
        self._transcript_keyword: KeywordIndex | None = None
        self._sentence_csr: tuple[np.ndarray, np.ndarray] | None = None  # see `_sentence_rows`
        self._date_bounds: tuple[np.ndarray, np.ndarray] | None = None  # per transcript, by dated_within
        # Per-row codes, so that filters and preferences select rows with numpy, not a Python loop.
        self.speaker_labels = sorted({p.speaker for p in self.passages if p.speaker})
        code = self.speaker_code = {label: i for i, label in enumerate(self.speaker_labels)}
        self.row_speaker = np.array([code[p.speaker] if p.speaker else -1 for p in self.passages], dtype=np.int32)
        # Rows whose speaker the transcript does not name ("Guest 1", "Unknown"): a person the
        # question names but no label does may be speaking in them (`Boosts.unlabelled`).
        self.row_anonymous = np.array([is_anonymous(label) for label in self.speaker_labels] + [False])[self.row_speaker]
        tcode = self.transcript_index = {rel: i for i, rel in enumerate(self.transcript_names)}
        self.row_transcript = np.array([tcode.get(p.transcript, -1) for p in self.passages], dtype=np.int32)
        # Words of each passage's own text (not its context): how much a reply says by itself.
        self.own_words = np.array([word_count(p.text) for p in self.passages], dtype=np.int32)
        # Rows that are a question answered by the next row (an interviewer's turn, not an answer).
        self.is_question = np.array([is_question_of(p, self.passages[r + 1] if r + 1 < len(self.passages) else None)
                                     for r, p in enumerate(self.passages)], dtype=bool)

    def transcript_keyword(self) -> KeywordIndex:
        """BM25 over whole transcripts: one row per transcript (``transcript_names`` order), its
        term counts the sum of its passages' (context included). Made on first use from the
        passage counts, so nothing more is stored on disk."""
        if self._transcript_keyword is None:
            import scipy.sparse as sp

            rows = np.flatnonzero(self.row_transcript >= 0)
            member = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (self.row_transcript[rows], rows)),
                                   shape=(len(self.transcript_names), len(self.passages)))
            counts = (member @ self.keyword.counts).tocsr().astype(np.int32)
            self._transcript_keyword = KeywordIndex(counts, self.keyword.terms, self.keyword.stemmer)
        return self._transcript_keyword

    def best_sentence(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per row, the best cosine of ``vector`` with the row's quotable sentences in the
        sentence table (0 for a row with none there)."""
        indptr, table_rows = self._sentence_rows()
        starts, ends = indptr[rows], indptr[rows + 1]
        counts = ends - starts
        out = np.zeros(len(rows), dtype=np.float32)
        if not counts.sum():
            return out
        at = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        found = table_rows[at]
        sims = np.full(len(at), -1.0, dtype=np.float32)
        ok = found >= 0
        sims[ok] = self.sentences.dequantized(found[ok]) @ vector.astype(np.float32)
        has = counts > 0
        best = np.maximum.reduceat(sims, (np.cumsum(counts) - counts)[has])
        out[has] = np.maximum(best, 0.0)
        return out

    def _sentence_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Each passage's quotable sentences as rows of the sentence table (-1: not in it), CSR
        by passage row; made on first use (a second or two per 10,000 passages)."""
        if self._sentence_csr is None:
            from .sentences import keys_of, quotable_spans

            texts: list[str] = []
            indptr = np.zeros(len(self.passages) + 1, dtype=np.int64)
            for r, p in enumerate(self.passages):
                spans = quotable_spans(p)
                texts.extend(p.text[a:b] for a, b in spans)
                indptr[r + 1] = indptr[r] + len(spans)
            self._sentence_csr = (indptr, self.sentences.rows(keys_of(texts)))
        return self._sentence_csr

    def dated_within(self, since: str | None, until: str | None) -> np.ndarray:
        """Per transcript (``transcript_names`` order): can its date fall within [since, until]
        (inclusive, any precision; the rule of `dates.in_range`)? Undated transcripts never do."""
        if self._date_bounds is None:
            entries = self.manifest.get("transcripts", {})
            first = np.zeros(len(self.transcript_names), dtype=np.int32)
            last = np.full(len(self.transcript_names), -1, dtype=np.int32)  # undated: an empty range
            for t, rel in enumerate(self.transcript_names):
                date = entries[rel].get("date")
                if date:
                    a, b = range_bounds(date)
                    first[t], last[t] = int(a.replace("-", "")), int(b.replace("-", ""))
            self._date_bounds = (first, last)
        first, last = self._date_bounds
        ok = last >= first
        if since:
            ok &= last >= int(range_bounds(since)[0].replace("-", ""))
        if until:
            ok &= first <= int(range_bounds(until)[1].replace("-", ""))
        return ok

    def speaker_mask(self, labels) -> np.ndarray:
        """Which rows are spoken under one of these speaker labels."""
        chosen = np.zeros(len(self.speaker_labels) + 1, dtype=bool)  # the last: rows without a speaker
        chosen[[self.speaker_code[label] for label in set(labels) if label in self.speaker_code]] = True
        return chosen[self.row_speaker]

    def transcript_mask(self, rels) -> np.ndarray:
        """Which rows belong to one of these transcripts."""
        chosen = np.zeros(len(self.transcript_names) + 1, dtype=bool)  # the last: rows of no listed transcript
        chosen[[self.transcript_index[rel] for rel in set(rels) if rel in self.transcript_index]] = True
        return chosen[self.row_transcript]

    @property
    def title_keyword(self) -> KeywordIndex:
        """BM25 over transcript titles and places (built on first use; tiny)."""
        if self._title_keyword is None:
            self._title_keyword = KeywordIndex.build([title_text(self.manifest["transcripts"][r], r) for r in self.transcript_names])
        return self._title_keyword


def title_text(entry: dict[str, Any], rel: str) -> str:
    """What represents a transcript as a whole: its title and place."""
    title = entry.get("title") or rel
    return f"{title} ({entry['place']})" if entry.get("place") else title


def language_counts(manifest: dict[str, Any]) -> dict[str, int]:
    """How many transcripts are in each language, most first ("unrecorded": indexed before
    languages were recorded; the next ``transcript-bot index`` records them)."""
    from collections import Counter

    counts = Counter(e.get("language") or "unrecorded" for e in manifest.get("transcripts", {}).values())
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def manifest_path(folder: Path) -> Path:
    return folder / MANIFEST


def read_manifest(folder: Path, corpus: Path | None = None) -> dict[str, Any]:
    """The index manifest; IndexMissing if there is no index, IndexCorrupt if it is unreadable.

    ``corpus`` (here and below) is the corpus the index is for, named in the advice when it is
    not the default.
    """
    check_folder(folder)
    path = manifest_path(folder)
    if not path.exists():
        raise IndexMissing(f"no index at {folder}/ (run: {index_command(folder, corpus)})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"{path}: unreadable index manifest ({exc}); {_rebuild(folder, corpus)}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexCorrupt(f"{path}: not a transcript-bot index manifest; {_rebuild(folder, corpus)}")
    return manifest


def check_compatible(manifest: dict[str, Any], folder: Path, model: str | None, passage_rules: str | None,
                     versions: tuple[int, ...] = (FORMAT_VERSION,), corpus: Path | None = None) -> None:
    """Refuse an index of another format version, model or passage rules, saying how to fix it
    (older rules that `index` updates in place, `chunking.UPGRADABLE_PASSAGE_RULES`, with that
    command rather than a rebuild)."""
    fix = f"rebuild it with: {index_command(folder, corpus, '--full')}"
    if manifest.get("format_version") not in versions:
        if manifest.get("format_version") in UPGRADABLE_VERSIONS:
            raise IndexMismatch(f"{folder}/ has index format {manifest.get('format_version')}, this version reads "
                                f"{FORMAT_VERSION}; upgrade it (no re-embedding) with: {index_command(folder, corpus)}")
        raise IndexMismatch(
            f"{folder}/ has index format {manifest.get('format_version')}, this version reads {FORMAT_VERSION}; {fix}"
        )
    built_with = manifest.get("model", {}).get("name")
    if model is not None and built_with != model:  # `index --model` switches it (indexer._model_switch)
        raise IndexMismatch(f"{folder}/ was built with model {built_with!r}, not {model!r}; name no model to use "
                            f"its own, or switch it with: {index_command(folder, corpus)} --model {_arg(model)}")
    if passage_rules is not None and manifest.get("passage_rules") != passage_rules:
        if manifest.get("passage_rules") in UPGRADABLE_PASSAGE_RULES:
            raise IndexMismatch(f"{folder}/ was cut into passages by rules {manifest.get('passage_rules')!r}, this "
                                f"version uses {passage_rules!r}; update it (only passages now cut differently are "
                                f"re-embedded) with: {index_command(folder, corpus)}")
        raise IndexMismatch(
            f"{folder}/ was built with passage rules {manifest.get('passage_rules')!r}, "
            f"this version uses {passage_rules!r}; {fix}"
        )


def load(folder: Path, model: str | None = None, passage_rules: str | None = None, mmap: bool = False,
         corpus: Path | None = None, store: StoreSpec | None = None) -> IndexData:
    """Load and verify the current generation of the index in ``folder``.

    With ``mmap`` the vectors stay in the page cache instead of being copied into this process
    (shared between processes, loaded in no time): for readers only, since a memory-mapped
    FAISS index must never be modified. Safe because generation files are never rewritten in
    place, only replaced and unlinked, which leaves a mapping intact.

    ``store`` is where the reader expects the vectors (None: where the manifest says); it must
    be the kind and collection the manifest names, though a Milvus server's address may differ
    from the one the indexer used.
    """
    manifest = read_manifest(folder, corpus)
    check_compatible(manifest, folder, model, passage_rules, corpus=corpus)
    files = verify(folder, manifest, corpus)
    passages_file = folder / files["passages"]["path"]
    passages = [Passage.from_json(json.loads(line)) for line in _lines(passages_file)]
    vectors = _open_vectors(folder, manifest, len(passages), mmap, _reader_spec(folder, manifest, store), corpus)
    keyword = _load_keyword(folder, files, len(passages), corpus, keyword_stemmer(manifest))
    titles = _load_titles(folder, manifest, corpus)
    multilingual = _open_multilingual(folder, manifest, len(passages), mmap, corpus)
    return IndexData(folder, manifest, passages, vectors.index if isinstance(vectors, FaissStore) else None, keyword,
                     int(manifest.get("generation", 0)), titles, vectors, multilingual,
                     _load_sentences(folder, manifest, corpus), _load_sentences(folder, manifest, corpus, ML_SENTENCES))


@dataclass
class Stored:
    """The current generation as an update needs it: passage lines unparsed, everything else loaded.

    ``keyword`` is None for a format-1 index, whose BM25 files the indexer rebuilds once.
    """

    folder: Path
    manifest: dict[str, Any]
    lines: list[bytes]  # one JSON passage per item, passages order
    vectors: VectorStore  # loaded for modification (never memory-mapped); a Milvus writer of the next generation
    keyword: KeywordIndex | None
    title_vectors: np.ndarray
    corpus: Path | None = None  # named in advice
    multilingual: FaissStore | None = None  # the multilingual space, loaded for modification, if any
    sentences: SentenceVectors | None = None  # the sentence table, if any
    multilingual_sentences: SentenceVectors | None = None  # its multilingual twin, if any

    def __post_init__(self) -> None:
        self.transcript_names = sorted(self.manifest.get("transcripts", {}))
        counts = [int(self.manifest["transcripts"][r].get("passages", 0)) for r in self.transcript_names]
        starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        if starts[-1] != len(self.lines):
            raise IndexCorrupt(f"{self.folder / self.manifest['files']['passages']['path']}: {len(self.lines)} passages, "
                               f"but the manifest's transcripts add up to {starts[-1]}; {_rebuild(self.folder, self.corpus)}")
        self._slices = {r: (int(starts[i]), int(starts[i + 1])) for i, r in enumerate(self.transcript_names)}

    def rows(self, rel: str) -> tuple[int, int]:
        """The [start, end) rows of a transcript's passages."""
        return self._slices.get(rel, (0, 0))

    def passages(self, rel: str) -> list[Passage]:
        start, end = self.rows(rel)
        return [Passage.from_json(json.loads(line)) for line in self.lines[start:end]]

    def all_passages(self) -> list[Passage]:
        return [Passage.from_json(json.loads(line)) for line in self.lines]


def open_for_update(folder: Path, manifest: dict[str, Any], target: StoreSpec | None = None,
                    corpus: Path | None = None) -> Stored:
    """Verify the generation ``manifest`` names and open it for an update, parsing no passage.

    The caller has read the manifest and checked it with `check_compatible` (versions
    `UPGRADABLE_VERSIONS`): a format-1 index is accepted, its vectors, passages and titles
    read as they are. When the vectors are in a Milvus collection that ``target`` names too,
    they are opened to write the next generation; otherwise they are only read (the caller
    copies them into the target store).
    """
    files = verify(folder, manifest, corpus)
    lines = _lines(folder / files["passages"]["path"])
    here = StoreSpec.of_manifest(manifest)
    if here.kind == "milvus" and target is not None and same_collection(here, target):
        vectors: VectorStore = MilvusStore.writer(target, next_generation(folder), int(manifest["model"]["dimension"]),
                                                  current=int(manifest.get("generation", 0)),
                                                  advice=_rebuild(folder, corpus) + f" --store {target.describe()}")
        if vectors.count() != len(lines):
            raise IndexCorrupt(f"Milvus collection {target.describe()} holds {vectors.count()} vectors, the index "
                               f"{len(lines)} passages; {_rebuild(folder, corpus)}")
    else:
        vectors = _open_vectors(folder, manifest, len(lines), False, here, corpus)
    keyword = (_load_keyword(folder, files, len(lines), corpus, keyword_stemmer(manifest))
               if manifest.get("format_version") == FORMAT_VERSION else None)
    return Stored(folder, manifest, lines, vectors, keyword, _load_titles(folder, manifest, corpus), corpus,
                  _open_multilingual(folder, manifest, len(lines), False, corpus), _load_sentences(folder, manifest, corpus),
                  _load_sentences(folder, manifest, corpus, ML_SENTENCES))


def verify(folder: Path, manifest: dict[str, Any], corpus: Path | None = None) -> dict[str, Any]:
    """Check that every data file of the manifest's generation is present and intact; its files."""
    files = manifest.get("files", {})
    in_folder = DATA_KINDS if StoreSpec.of_manifest(manifest).kind == "faiss" else \
        tuple(k for k in DATA_KINDS if k != "vectors")
    if manifest.get(MULTILINGUAL):
        in_folder = (*in_folder, MULTILINGUAL)
    if manifest.get(SENTENCES):
        in_folder = (*in_folder, SENTENCES)
    if manifest.get(ML_SENTENCES):
        in_folder = (*in_folder, ML_SENTENCES)
    for key in in_folder:
        if key not in files:
            raise IndexCorrupt(f"{manifest_path(folder)}: names no {key} file; {_rebuild(folder, corpus)}")
    for entry in files.values():
        _verify(folder / entry["path"], entry.get("sha256"), folder, corpus)
    return files


def same_collection(a: StoreSpec, b: StoreSpec) -> bool:
    """Whether two specs name the same vectors: both FAISS (the folder's file), or one Milvus
    collection (a server's address may be spelt differently)."""
    if a.kind == b.kind == "faiss":
        return True
    return a.kind == b.kind == "milvus" and a.collection == b.collection and (a.lite == b.lite) and \
        (not a.lite or a.uri == b.uri)


def _reader_spec(folder: Path, manifest: dict[str, Any], asked: StoreSpec | None) -> StoreSpec:
    """Where a reader finds the vectors: the manifest's store, at the address asked for if any
    (a server may reach the Milvus the indexer wrote to under another name)."""
    here = StoreSpec.of_manifest(manifest)
    if asked is None or asked == here:
        return here
    if asked.kind != here.kind or asked.collection != here.collection:
        raise IndexMismatch(f"{folder}/ keeps its vectors in {here.describe()}, not {asked.describe()}; "
                            f"use --store {here.describe()}, or move them with: transcript-bot index --store "
                            f"{asked.describe()}")
    return asked


def _open_vectors(folder: Path, manifest: dict[str, Any], n_passages: int, mmap: bool, spec: StoreSpec,
                  corpus: Path | None = None) -> VectorStore:
    """The generation's vectors, checked to hold one per passage."""
    if spec.kind == "milvus":
        if n_passages != manifest.get("passages"):
            raise IndexCorrupt(f"{folder}/: {n_passages} passages, the manifest says {manifest.get('passages')}; "
                               f"{_rebuild(folder, corpus)}")
        return MilvusStore.reader(spec, int(manifest.get("generation", 0)), int(manifest["model"]["dimension"]),
                                  n_passages, advice=_rebuild(folder, corpus) + f" --store {spec.describe()}")
    ivf = manifest.get("vector_index", {}).get("kind") == "ivf"
    return FaissStore(_read_vectors(folder, manifest, n_passages, mmap, corpus), ivf=ivf)


def _open_multilingual(folder: Path, manifest: dict[str, Any], n_passages: int, mmap: bool,
                       corpus: Path | None) -> FaissStore | None:
    """The generation's multilingual space (None if the index has none), one vector per passage."""
    if not manifest.get(MULTILINGUAL):
        return None
    ivf = manifest[MULTILINGUAL].get("vector_index", {}).get("kind") == "ivf"
    return FaissStore(_read_vectors(folder, manifest, n_passages, mmap, corpus, MULTILINGUAL), ivf=ivf)


def _read_vectors(folder: Path, manifest: dict[str, Any], n_passages: int, mmap: bool, corpus: Path | None,
                  kind: str = "vectors"):
    """The generation's FAISS index of ``kind`` (a vector space's file), checked to hold one
    vector per passage."""
    import faiss

    path = folder / manifest["files"][kind]["path"]
    try:
        vectors = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
    except RuntimeError as exc:
        raise IndexCorrupt(f"{path}: unreadable FAISS index ({str(exc).splitlines()[0]}); "
                           f"{_rebuild(folder, corpus)}") from None
    if vectors.ntotal != n_passages or n_passages != manifest.get("passages"):
        where = f"{folder}/" if kind == "vectors" else f"{path}"
        raise IndexCorrupt(f"{where}: {vectors.ntotal} vectors but {n_passages} passages (manifest says "
                           f"{manifest.get('passages')}); {_rebuild(folder, corpus)}")
    return vectors


def keyword_stemmer(manifest: dict[str, Any]) -> str:
    """The tokeniser the manifest's keyword counts were made with (indexes before Russian
    support recorded "english", and are read with it)."""
    return str(manifest.get("keyword", {}).get("stemmer") or LEGACY_STEMMER)


def _load_keyword(folder: Path, files: dict[str, Any], n_passages: int, corpus: Path | None,
                  stemmer: str) -> KeywordIndex:
    path = folder / files["keyword"]["path"]
    try:
        return KeywordIndex.load(path, n_passages, stemmer)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"{path}: unreadable keyword index ({exc}); {_rebuild(folder, corpus)}") from None


def _load_sentences(folder: Path, manifest: dict[str, Any], corpus: Path | None,
                    kind: str = SENTENCES) -> SentenceVectors | None:
    if not manifest.get(kind):
        return None
    path = folder / manifest["files"][kind]["path"]
    dimension = int((manifest.get(MULTILINGUAL) or {}).get("dimension", 0)) if kind == ML_SENTENCES \
        else int(manifest["model"]["dimension"])
    try:
        return SentenceVectors.load(path, dimension)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path}: unreadable sentence vectors ({exc}); {_rebuild(folder, corpus)}") from None


def _load_titles(folder: Path, manifest: dict[str, Any], corpus: Path | None) -> np.ndarray:
    path = folder / manifest["files"]["titles"]["path"]
    titles = np.load(path, allow_pickle=False).astype(np.float32)
    if len(titles) != len(manifest.get("transcripts", {})):
        raise IndexCorrupt(f"{path}: {len(titles)} title vectors for {len(manifest.get('transcripts', {}))} "
                           f"transcripts; {_rebuild(folder, corpus)}")
    return titles


def _lines(path: Path) -> list[bytes]:
    """The JSON lines of a passages file, split on newlines only (text may hold U+2028 and the like)."""
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def passage_line(passage: Passage) -> bytes:
    """A passage as one line of ``passages.<gen>.jsonl`` (without the newline)."""
    return json.dumps(passage.to_json(), ensure_ascii=False).encode("utf-8")


def next_generation(folder: Path) -> int:
    """The number the next `write` into ``folder`` will give its generation."""
    previous = None
    with contextlib.suppress(IndexMissing, IndexCorrupt):
        previous = read_manifest(folder)
    return int(previous.get("generation", 0)) + 1 if previous else 1


def write(folder: Path, manifest: dict[str, Any], lines: list[bytes], vectors: VectorStore, keyword: KeywordIndex,
          title_vectors: np.ndarray, multilingual: FaissStore | None = None,
          sentences: SentenceVectors | None = None, multilingual_sentences: SentenceVectors | None = None) -> int:
    """Write a new generation and switch the manifest to it atomically; returns the generation.

    ``lines`` are the passages as `passage_line` makes them, sorted by transcript. FAISS
    vectors are written as a file of the generation; Milvus vectors are already in their
    collection, tagged with this generation (`MilvusStore.writer`), and the manifest names it.
    ``multilingual``, the second vector space, is one more file of the generation (the
    caller's manifest describes it under ``multilingual``); it must hold one vector per
    passage, as the first space does, or nothing is written. ``sentences``, the quotable
    sentences' vectors, is one more folder of the generation (described under ``sentences``),
    and ``multilingual_sentences`` their e5 twin (only beside ``multilingual``).
    """
    import faiss

    if multilingual is not None and multilingual.count() != len(lines):
        raise IndexCorrupt(f"{folder}/: the multilingual space holds {multilingual.count()} vectors for "
                           f"{len(lines)} passages; nothing written; {_rebuild(folder, None)}")
    check_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    generation = next_generation(folder)
    if isinstance(vectors, MilvusStore) and vectors.generation != generation:
        raise IndexBusy(f"{folder}/ changed generation during the update; run transcript-bot index again")
    while any(folder.glob(f"*.{generation:06d}*")):  # leftovers of an interrupted run
        _remove_generation(folder, generation)
    tag = f"{generation:06d}"
    names = {"passages": f"passages.{tag}.jsonl", "vectors": f"vectors.{tag}.faiss", "keyword": f"keyword.{tag}",
             "titles": f"titles.{tag}.npy"}
    if multilingual is not None:
        names[MULTILINGUAL] = f"{MULTILINGUAL}.{tag}.faiss"
    if sentences is not None:
        names[SENTENCES] = f"{SENTENCES}.{tag}"
    if multilingual is None:
        multilingual_sentences = None
    if multilingual_sentences is not None:
        names[ML_SENTENCES] = f"{ML_SENTENCES}.{tag}"

    sums = {"passages": _write_file(folder / names["passages"], b"".join(line + b"\n" for line in lines))}
    if isinstance(vectors, FaissStore):
        sums["vectors"] = _write_file(folder / names["vectors"], faiss.serialize_index(vectors.index))
    else:
        del names["vectors"]
    if multilingual is not None:
        sums[MULTILINGUAL] = _write_file(folder / names[MULTILINGUAL], faiss.serialize_index(multilingual.index))
    titles = io.BytesIO()
    np.save(titles, np.asarray(title_vectors, dtype=np.float16), allow_pickle=False)
    sums["titles"] = _write_file(folder / names["titles"], titles.getbuffer())

    sums["keyword"] = _write_folder(folder / names["keyword"], keyword.save)
    if sentences is not None:
        sums[SENTENCES] = _write_folder(folder / names[SENTENCES], sentences.save)
    if multilingual_sentences is not None:
        sums[ML_SENTENCES] = _write_folder(folder / names[ML_SENTENCES], multilingual_sentences.save)

    manifest = dict(manifest)
    manifest.update(
        format=FORMAT_NAME, format_version=FORMAT_VERSION, generation=generation, passages=len(lines),
        files={k: {"path": v, "sha256": sums[k]} for k, v in names.items()},
        updated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    manifest.pop("vector_store", None)
    if multilingual is None:
        manifest.pop(MULTILINGUAL, None)
    if sentences is None:
        manifest.pop(SENTENCES, None)
    if multilingual_sentences is None:
        manifest.pop(ML_SENTENCES, None)
    if isinstance(vectors, MilvusStore):  # absent: the FAISS file of the generation (as before)
        manifest["vector_store"] = vectors.spec.to_manifest()
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, manifest_path(folder))
    _fsync_dir(folder)
    vectors.committed(generation)
    # Keep the previous generation for readers that loaded its manifest a moment ago.
    for old in _generations(folder):
        if old < generation - 1:
            _remove_generation(folder, old)
    return generation


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the index's writer lock; a second writer is refused at once with IndexBusy.

    The lock is an OS file lock, so it is released when its process dies, even by SIGKILL.
    """
    from filelock import FileLock, Timeout

    check_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise IndexBusy(
            f"{folder}/ is being updated by another transcript-bot index run (lock {folder / LOCK}); "
            "wait for it to finish and run again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _generations(folder: Path) -> set[int]:
    found = set()
    for path in folder.iterdir():
        parts = path.name.lstrip(".").split(".")
        if len(parts) >= 2 and parts[0] in FILE_KINDS and parts[1].isdigit():
            found.add(int(parts[1]))
    return found


def _remove_generation(folder: Path, generation: int) -> None:
    tag = f"{generation:06d}"
    for path in list(folder.iterdir()):
        if f".{tag}" in path.name and path.name.lstrip(".").split(".")[0] in FILE_KINDS:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _write_folder(path: Path, save) -> str:
    """Write a folder of files durably (``save(tmp_folder)`` fills it), moved into place whole; its checksum."""
    tmp_dir = path.parent / f".{path.name}.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    save(tmp_dir)
    for child in tmp_dir.iterdir():
        _fsync(child)
    os.replace(tmp_dir, path)
    return _checksum(path)


def _write_file(path: Path, data) -> str:
    """Write ``data`` (bytes-like) to ``path`` durably, through a temporary name; its SHA-256."""
    tmp = path.parent / f".{path.name}.tmp"
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


def _checksum(path: Path) -> str:
    h = hashlib.sha256()
    targets = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for target in targets:
        if path.is_dir():
            h.update(target.relative_to(path).as_posix().encode() + b"\0")
        with target.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _verify(path: Path, expected: str | None, folder: Path, corpus: Path | None) -> None:
    if not path.exists():
        raise IndexCorrupt(f"{path}: index file missing; {_rebuild(folder, corpus)}")
    if expected and _checksum(path) != expected:
        raise IndexCorrupt(f"{path}: index file is truncated or altered (checksum mismatch); {_rebuild(folder, corpus)}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(folder)
