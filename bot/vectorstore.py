"""Where the passage vectors live: one narrow interface, FAISS by default, Milvus past one machine.

The retriever and the indexer need five things from vector storage: add vectors under int64
passage ids, remove ids, the top-k ids by cosine (optionally within a subset), the cosine of
given ids, and the stored vectors back. `FaissStore` is today's FAISS index in the index
folder (the default); `MilvusStore` keeps the same vectors in a Milvus collection, reached
with ``milvus://HOST:PORT/COLLECTION`` or, for development and tests, a local ``PATH.db``
file that pymilvus serves with the embedded milvus-lite. pymilvus is imported only here, and
only when a Milvus store is used.

Generations in Milvus. The index folder switches generations atomically (`store.write`); a
collection is modified in place, so each row carries the generations it belongs to:
``gen_from`` (written by) and ``gen_to`` (removed by; `LIVE` while it is current). A reader of
generation N searches ``gen_from <= N and gen_to > N``, so it never sees a later update's rows
and still sees the rows that update removed. After the manifest switch the rows no reader
can want any more (removed two generations ago, as the folder keeps the previous generation)
are deleted; an interrupted update's rows are undone by the next writer. The passages, the
keyword index and the title vectors stay in the index folder, which stays the system of record.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from .errors import BotError, IndexCorrupt, IndexMismatch

LIVE = 2**62  # gen_to of a row no generation has removed yet
SCALE_EXTRA = "install the scale extra: pip install -e '.[scale]'"
_COLLECTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_CHUNK = 1000  # ids per Milvus request (its filter expressions and result windows are bounded)
STORE_HELP = "faiss (default), milvus://HOST:PORT/COLLECTION, or a milvus-lite file PATH.db[#COLLECTION]"


@dataclass(frozen=True)
class StoreSpec:
    """Which store holds the vectors: ``faiss`` (the index folder) or a Milvus collection."""

    kind: str = "faiss"
    uri: str | None = None  # what pymilvus connects to: http://HOST:PORT, or an absolute milvus-lite file
    collection: str | None = None

    @classmethod
    def parse(cls, text: str) -> "StoreSpec":
        """``faiss``, ``milvus://HOST:PORT/COLLECTION`` or ``PATH.db[#COLLECTION]``; BotError otherwise."""
        text = (text or "").strip()
        if text in ("", "faiss"):
            return cls()
        if text.startswith("milvus://"):
            rest = text[len("milvus://"):]
            address, _, collection = rest.partition("/")
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not collection:
                raise BotError(f"--store {text}: expected milvus://HOST:PORT/COLLECTION")
            return cls("milvus", f"http://{host}:{port}", _collection(collection, text))
        path, _, collection = text.partition("#")
        if path.endswith(".db"):
            return cls("milvus", str(Path(path).expanduser().resolve()), _collection(collection or "passages", text))
        raise BotError(f"--store {text}: expected {STORE_HELP}")

    @classmethod
    def of_manifest(cls, manifest: dict[str, Any]) -> "StoreSpec":
        entry = manifest.get("vector_store") or {}
        if entry.get("kind", "faiss") == "faiss":
            return cls()
        return cls("milvus", entry.get("uri"), entry.get("collection"))

    def to_manifest(self) -> dict[str, Any] | None:
        return None if self.kind == "faiss" else {"kind": self.kind, "uri": self.uri, "collection": self.collection}

    @property
    def lite(self) -> bool:
        return self.kind == "milvus" and not str(self.uri).startswith(("http://", "https://"))

    def describe(self) -> str:
        if self.kind == "faiss":
            return "faiss"
        if self.lite:
            return f"{self.uri}#{self.collection}"
        return f"milvus://{str(self.uri).split('://', 1)[1]}/{self.collection}"


def _collection(name: str, text: str) -> str:
    if not _COLLECTION.match(name):
        raise BotError(f"--store {text}: collection name {name!r} must be letters, digits and underscores")
    return name


@dataclass(frozen=True)
class Where:
    """The rows a dense search may return, as field conditions (all must hold), for engines that
    filter on their own scalar fields. FAISS selects by the equivalent ids instead."""

    speakers: frozenset[str] | None = None
    transcripts: frozenset[str] | None = None
    since: str | None = None
    until: str | None = None
    any_speakers: frozenset[str] | None = None  # with any_transcripts: speaker in A or transcript in B
    any_transcripts: frozenset[str] | None = None


class VectorStore(Protocol):
    """Normalised float32 vectors under int64 passage ids; inner product is cosine."""

    kind: str

    def count(self) -> int: ...

    def add(self, vectors: np.ndarray, ids: np.ndarray, passages: Sequence[Any]) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, vector: np.ndarray, k: int, ids: np.ndarray | None = None,
               where: Where | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) by cosine, best first; only among ``ids`` (= ``where``) if given."""
        ...

    def scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray: ...

    def reconstruct(self, ids: np.ndarray) -> np.ndarray: ...

    def committed(self, generation: int) -> None:
        """Called once the manifest names ``generation``: drop what no reader can need."""
        ...


class FaissStore:
    """Today's FAISS index (exact flat or IVF, fp16, `IndexIDMap2` ids), held in the index folder."""

    kind = "faiss"

    def __init__(self, index: Any, ivf: bool = False):
        self.index = index
        self.ivf = ivf
        self._codes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see `_stored_rows`
        if ivf:
            from .vector_index import configure

            self._nprobe = configure(index)

    def count(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray, ids: np.ndarray, passages: Sequence[Any] = ()) -> None:
        if len(ids):
            self._codes = None
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._codes = None
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, vector: np.ndarray, k: int, ids: np.ndarray | None = None,
               where: Where | None = None) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        params = None
        if ids is not None:
            params = faiss.SearchParametersIVF() if self.ivf else faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(ids)
            if self.ivf:
                params.nprobe = self._nprobe
        k = min(k, self.index.ntotal if ids is None else len(ids))
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores, found = self.index.search(vector.reshape(1, -1).astype(np.float32), k, params=params)
        keep = found[0] >= 0
        return scores[0][keep], found[0][keep]

    def scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Cosines of ``vector`` with the stored vectors of ``ids`` (the pooled candidates, which
        include keyword matches FAISS did not return). For the flat fp16 index the stored
        components are read in place (`_stored_rows`, no copy of the index); otherwise, and
        for IVF, through ``reconstruct_batch``, which cost ~1 ms per 300 ids."""
        stored = self._stored_rows()
        if stored is None:
            return self.index.reconstruct_batch(ids) @ vector.astype(np.float32)
        rows, sorted_ids, position = stored
        at = position[np.searchsorted(sorted_ids, np.asarray(ids, dtype=np.int64))]
        return rows[at].astype(np.float32) @ vector.astype(np.float32)

    def _stored_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The flat fp16 index's storage as a float16 (n, d) array viewing FAISS's own codes
        (also when memory-mapped), with its ids sorted and each one's position; None for
        other kinds. Made on first use, dropped by `add` and `remove`."""
        if self._codes is None and not self.ivf:
            import faiss

            inner = faiss.downcast_index(self.index.index) if hasattr(self.index, "id_map") else None
            if isinstance(inner, faiss.IndexScalarQuantizer) and inner.sa_code_size() == 2 * inner.d \
                    and inner.sq.qtype == faiss.ScalarQuantizer.QT_fp16:
                n = int(inner.ntotal)
                rows = faiss.rev_swig_ptr(inner.codes.data(), n * inner.code_size).view(np.float16) \
                    .reshape(n, inner.d) if n else np.zeros((0, inner.d), np.float16)
                ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
                order = np.argsort(ids, kind="stable")
                self._codes = (rows, ids[order], order)
        return self._codes

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        return self.index.reconstruct_batch(np.asarray(ids, dtype=np.int64)).astype(np.float32)

    def committed(self, generation: int) -> None:
        pass


def _client(spec: StoreSpec):
    """A pymilvus client for ``spec``, or a one-line BotError (not installed, unreachable)."""
    # gRPC's C core logs to stderr on its own (keepalive "too_many_pings" notices from the
    # in-process milvus-lite server, for one); failures reach the user as exceptions anyway.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise BotError(f"--store {spec.describe()} needs pymilvus; {SCALE_EXTRA}") from None
    if spec.lite:
        try:
            import milvus_lite  # noqa: F401  (pymilvus serves PATH.db files with it)
        except ImportError:
            raise BotError(f"--store {spec.describe()} (a local file) needs milvus-lite; {SCALE_EXTRA}") from None
        Path(str(spec.uri)).parent.mkdir(parents=True, exist_ok=True)
    _quiet_milvus_logs()
    try:
        return MilvusClient(uri=spec.uri, timeout=10)
    except Exception as exc:  # pymilvus raises MilvusException, grpc errors or OSError for a bad address
        hint = ("; a milvus-lite file is open in one process at a time (stop the server using it, "
                "or use a Milvus server: milvus://HOST:PORT/COLLECTION)") if spec.lite else ""
        raise BotError(f"cannot reach Milvus at {spec.describe()}: {_first_line(exc)}{hint}") from None


def as_faiss_keeps(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as the FAISS store keeps them (its fp16 scalar quantiser, whose rounding
    differs from numpy's in the last bit of a few components), so that both stores hold the
    same numbers and score alike."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if not len(vectors):
        return vectors
    quantiser = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    return quantiser.sa_decode(quantiser.sa_encode(vectors))


def _quiet_milvus_logs() -> None:
    """pymilvus and the in-process milvus-lite log warnings (a query iterator's missing
    timestamp call, which milvus-lite does not implement) to stderr; errors reach the user as
    one-line BotErrors instead."""
    import logging

    for name in ("pymilvus", "grpc._server", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quote(values: Iterable[str]) -> str:
    """A Milvus list literal of strings (double quotes, backslash escapes)."""
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in sorted(values)) + "]"


def date_bounds(date: str | None) -> tuple[str, str]:
    """First and last day a passage's date can stand for ("" for undated), as filters compare them."""
    from .dates import range_bounds

    if not date:
        return "", ""
    try:
        return range_bounds(date)
    except ValueError:
        return "", ""


class MilvusStore:
    """The vectors in a Milvus collection, seen as one generation (reader) or writing one (writer).

    Exact search (FLAT, inner product) to match the FAISS default. Vectors are stored as the
    FAISS store keeps them (rounded to float16, sent as float32), so both stores score with
    the same numbers. Scalar fields carry what filters need: transcript, speaker, the first and
    last day of the date, and the generation fields (see the module docstring).
    """

    kind = "milvus"

    def __init__(self, spec: StoreSpec, client: Any, generation: int, writing: bool = False,
                 advice: str = "rebuild with: transcript-bot index --full"):
        self.spec = spec
        self.advice = advice  # how to repair the index this collection belongs to (names its folder)
        self.client = client
        self.collection = str(spec.collection)
        self.generation = generation  # the one a reader sees, or the one a writer writes
        self.writing = writing

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def reader(cls, spec: StoreSpec, generation: int, dimension: int, passages: int,
               advice: str = "rebuild with: transcript-bot index --full") -> "MilvusStore":
        """The collection as generation ``generation`` of the index left it, checked to hold
        one vector of ``dimension`` per passage (so a folder and a collection are never mixed)."""
        client = _client(spec)
        store = cls(spec, client, generation, advice=advice)
        if not store._call("has_collection", collection_name=store.collection):
            raise IndexCorrupt(f"Milvus collection {spec.describe()} is missing; {advice}")
        store._check_dimension(dimension)
        store._call("load_collection", collection_name=store.collection)
        found = store.count()
        if found != passages:
            raise IndexCorrupt(f"Milvus collection {spec.describe()} holds {found} vectors of generation "
                               f"{generation}, the index {passages} passages; {advice}")
        return store

    @classmethod
    def writer(cls, spec: StoreSpec, generation: int, dimension: int, current: int | None,
               advice: str = "rebuild with: transcript-bot index --full") -> "MilvusStore":
        """A store that writes ``generation``. ``current`` is the generation the index folder's
        manifest names in this collection (None: the collection is not this index's, or is to
        be rebuilt: it is recreated). Rows an interrupted update left behind are undone."""
        client = _client(spec)
        store = cls(spec, client, generation, writing=True, advice=advice)
        exists = store._call("has_collection", collection_name=store.collection)
        if exists and current is not None:
            store._check_dimension(dimension)
            store._call("load_collection", collection_name=store.collection)
            store._undo_after(current)
        else:
            if exists:
                store._call("drop_collection", collection_name=store.collection)
            store._create(dimension)
        return store

    def _create(self, dimension: int) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("transcript", DataType.VARCHAR, max_length=4096)
        schema.add_field("speaker", DataType.VARCHAR, max_length=4096)
        schema.add_field("date_first", DataType.VARCHAR, max_length=10)
        schema.add_field("date_last", DataType.VARCHAR, max_length=10)
        schema.add_field("gen_from", DataType.INT64)
        schema.add_field("gen_to", DataType.INT64)
        index = self.client.prepare_index_params()
        # FLAT: exhaustive search, exact like the default FAISS index. On a Milvus server
        # past a few million passages, HNSW or IVF here is the switch `index --approximate`
        # makes for FAISS (not wired up: see docs/SCALING.md).
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        self._call("create_collection", collection_name=self.collection, schema=schema, index_params=index,
                   consistency_level="Strong")
        self._call("load_collection", collection_name=self.collection)

    def _check_dimension(self, dimension: int) -> None:
        fields = self._call("describe_collection", collection_name=self.collection).get("fields", [])
        dims = [int(f.get("params", {}).get("dim", 0)) for f in fields if f.get("name") == "vector"]
        names = {f.get("name") for f in fields}
        if not dims or not {"gen_from", "gen_to", "transcript"} <= names:
            raise IndexMismatch(f"Milvus collection {self.spec.describe()} was not made by transcript-bot; "
                                "use another collection name")
        if dims[0] != dimension:
            raise IndexMismatch(f"Milvus collection {self.spec.describe()} holds {dims[0]}-dimensional vectors, "
                                f"the model makes {dimension}; {self.advice}")

    def _call(self, method: str, **kwargs):
        """One pymilvus call; its failures become one-line errors."""
        try:
            return getattr(self.client, method)(**kwargs)
        except BotError:
            raise
        except Exception as exc:
            raise BotError(f"Milvus {self.spec.describe()}: {method} failed: {_first_line(exc)}") from None

    # -- generations ------------------------------------------------------------------------

    def _visible(self) -> str:
        if self.writing:  # what the generation being written holds
            return f"gen_to == {LIVE}"
        return f"gen_from <= {self.generation} and gen_to > {self.generation}"

    def _undo_after(self, current: int) -> None:
        """Undo what an interrupted writer of a generation after ``current`` left behind."""
        self._call("delete", collection_name=self.collection, filter=f"gen_from > {current}")
        rows = self._rows(f"gen_to > {current} and gen_to < {LIVE}")
        if rows:
            for row in rows:
                row["gen_to"] = LIVE
            self._upsert(rows)

    def _rows(self, expr: str) -> list[dict[str, Any]]:
        fields = ["id", "vector", "transcript", "speaker", "date_first", "date_last", "gen_from", "gen_to"]
        out: list[dict[str, Any]] = []
        iterator = self._call("query_iterator", collection_name=self.collection, filter=expr, output_fields=fields,
                              batch_size=_CHUNK)
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    break
                out.extend(dict(r) for r in batch)
        finally:
            iterator.close()
        return out

    def _upsert(self, rows: list[dict[str, Any]]) -> None:
        for at in range(0, len(rows), _CHUNK):
            self._call("upsert", collection_name=self.collection, data=rows[at:at + _CHUNK])

    def committed(self, generation: int) -> None:
        # Readers of the previous generation may still search (the folder keeps its files too);
        # rows removed before it are needed by no one.
        self._call("delete", collection_name=self.collection, filter=f"gen_to < {generation}")

    # -- the interface ----------------------------------------------------------------------

    def count(self) -> int:
        result = self._call("query", collection_name=self.collection, filter=self._visible(),
                            output_fields=["count(*)"])
        return int(result[0]["count(*)"]) if result else 0

    def add(self, vectors: np.ndarray, ids: np.ndarray, passages: Sequence[Any]) -> None:
        assert self.writing
        vectors = as_faiss_keeps(vectors)
        rows = []
        for vec, pid, p in zip(vectors, ids, passages):
            first, last = date_bounds(p.date)
            rows.append({"id": int(pid), "vector": vec.tolist(), "transcript": p.transcript, "speaker": p.speaker or "",
                         "date_first": first, "date_last": last, "gen_from": self.generation, "gen_to": LIVE})
        for at in range(0, len(rows), _CHUNK):
            self._call("insert", collection_name=self.collection, data=rows[at:at + _CHUNK])

    def remove(self, ids: np.ndarray) -> None:
        """Mark ``ids`` removed by this generation (readers of the previous one still see them)."""
        assert self.writing
        ids = [int(i) for i in ids]
        for at in range(0, len(ids), _CHUNK):
            chunk = ids[at:at + _CHUNK]
            rows = self._rows(f"id in {chunk} and gen_to == {LIVE}")
            for row in rows:
                row["gen_to"] = self.generation
            self._upsert(rows)

    def retire_all(self) -> None:
        """Mark every current row removed by this generation (a full rebuild into the same collection)."""
        rows = self._rows(f"gen_to == {LIVE}")
        for row in rows:
            row["gen_to"] = self.generation
        self._upsert(rows)

    def search(self, vector: np.ndarray, k: int, ids: np.ndarray | None = None,
               where: Where | None = None) -> tuple[np.ndarray, np.ndarray]:
        expr = self._visible()
        if where is not None:
            expr += "".join(f" and ({c})" for c in _conditions(where))
        elif ids is not None:
            if len(ids) > 16 * _CHUNK:
                raise BotError("a Milvus search restricted to more than 16,000 ids; filter by fields instead")
            expr += f" and id in {[int(i) for i in ids]}"
        k = min(k, 16384)  # Milvus's largest top-k
        if ids is not None:
            k = min(k, len(ids))
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        result = self._call("search", collection_name=self.collection, data=[vector.astype(np.float32).tolist()],
                            anns_field="vector", limit=k, filter=expr, output_fields=["id"],
                            search_params={"metric_type": "IP"})
        hits = list(result[0]) if result else []
        return (np.array([h["distance"] for h in hits], dtype=np.float32),
                np.array([h["id"] for h in hits], dtype=np.int64))

    def scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        # Scored here from the stored vectors, as the FAISS store does: the same arithmetic.
        return self.reconstruct(ids) @ vector.astype(np.float32)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        ids = [int(i) for i in ids]
        found: dict[int, list[float]] = {}
        for at in range(0, len(ids), _CHUNK):
            chunk = ids[at:at + _CHUNK]
            rows = self._call("query", collection_name=self.collection,
                              filter=f"{self._visible()} and id in {chunk}", output_fields=["id", "vector"])
            found.update((int(r["id"]), r["vector"]) for r in rows)
        missing = [i for i in ids if i not in found]
        if missing:
            raise IndexCorrupt(f"Milvus collection {self.spec.describe()} has no vector for passage {missing[0]} "
                               f"of generation {self.generation}; {self.advice}")
        return np.array([found[i] for i in ids], dtype=np.float32).reshape(len(ids), -1)


def _conditions(where: Where) -> list[str]:
    """``where`` as Milvus boolean expressions (ANDed by the caller)."""
    out = []
    if where.speakers is not None:
        out.append(f"speaker in {_quote(where.speakers)}")
    if where.transcripts is not None:
        out.append(f"transcript in {_quote(where.transcripts)}")
    if where.since or where.until:
        # The same rule as dates.in_range: a date of any precision can fall within the range.
        from .dates import range_bounds

        out.append('date_first != ""')
        if where.since:
            out.append(f"date_last >= {json.dumps(range_bounds(where.since)[0])}")
        if where.until:
            out.append(f"date_first <= {json.dumps(range_bounds(where.until)[1])}")
    either = []
    if where.any_speakers:
        either.append(f"speaker in {_quote(where.any_speakers)}")
    if where.any_transcripts:
        either.append(f"transcript in {_quote(where.any_transcripts)}")
    if where.any_speakers is not None or where.any_transcripts is not None:
        out.append(" or ".join(either) if either else "id < 0")
    return out
