"""Adding transcripts to the corpus from outside the machine (the web Corpus tab), and taking them out.

Uploaded files go to ``corpus/uploads/`` and nowhere else: the client's file name is only a
hint, reduced to a safe base name (no folders, no hidden or reserved names, a supported
extension), and no client path is ever opened. Each file is written to a hidden staging
file first (the corpus scan ignores hidden files), read exactly as ``transcript-bot index``
would read it, and moved into place only when it is readable, so a binary, empty, oversized
or unknown file never enters the corpus; it gets the same one-line problem ``index --check``
prints. A file of the same name is replaced only when the caller says so. Metadata given
with a file (title, date, place, url, a speaker for unlabelled turns) goes into
``uploads/manifest.jsonl``, which the corpus reads as for any folder.

`IndexJob` then brings the index in line with the corpus in a background thread, through the
ordinary incremental indexer and its writer lock, reporting its stage and how many passages
are embedded (by the running bot's own encoder: no second model is loaded; its ONNX export is
verified to agree with torch, see `onnx_encoder`); the running bot loads the new generation as
soon as it is written, and answers from the old one meanwhile. While another ``transcript-bot index`` run holds the lock,
uploads and removals are refused before anything is saved (`IndexBusy`), so the user can
retry.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from . import store
from .corpus import MANIFEST, META_KEYS, NOT_TRANSCRIPTS, CorpusFile, read_transcript
from .dates import normalise_iso
from .decoding import MAX_FILE_BYTES
from .errors import BadQuery, BotError, IndexBusy, UnreadableFile
from .formats import EXTENSIONS

UPLOADS = "uploads"  # the corpus sub-folder uploads go to (their collection in filters)
MAX_NAME_CHARS = 120  # a saved file name, extension included
META_FIELDS = META_KEYS
META_LIMITS = {"title": 300, "date": 10, "place": 200, "url": 2000, "speaker": 200, "language": 3}
STAGING_PREFIX = ".incoming-"  # hidden: the corpus scan never sees a half-written upload

_save_lock = threading.Lock()  # one upload or removal at a time rewrites uploads/manifest.jsonl


@dataclass(frozen=True)
class UploadLimits:
    """How much one upload may bring: per file, per request (all files together), files per request."""

    file_bytes: int = MAX_FILE_BYTES  # the indexer's own limit: a larger file would be skipped anyway
    request_bytes: int = 50 * 1024 * 1024
    files: int = 50


@dataclass
class UploadMeta:
    """What the uploader says about a file; every field optional. ``speaker`` names the speaker of
    turns that have no label (a lecture, a one-person recording)."""

    title: str | None = None
    date: str | None = None
    place: str | None = None
    url: str | None = None
    speaker: str | None = None
    language: str | None = None  # an ISO 639 code ("ru"), overriding the detected language (a sidecar's)

    def checked(self, name: str) -> dict[str, str]:
        """The fields given, stripped, as a manifest entry; BadQuery naming the file and field."""
        out: dict[str, str] = {}
        for key in META_FIELDS:
            value = getattr(self, key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise BadQuery(f"{name}: {key} must be text")
            value = " ".join(value.split())
            if not value:
                continue
            if len(value) > META_LIMITS[key]:
                raise BadQuery(f"{name}: {key} too long ({len(value):,} characters, limit {META_LIMITS[key]:,})")
            if key == "date":
                try:
                    value = normalise_iso(value)
                except ValueError as exc:
                    raise BadQuery(f"{name}: bad date: {exc}") from None
            if key == "language" and not re.fullmatch(r"[a-z]{2,3}", value):
                raise BadQuery(f"{name}: language must be an ISO 639 code such as en or ru, not {value[:40]!r}")
            if key == "url" and not re.match(r"https?://[^\s/]+", value, re.IGNORECASE):
                raise BadQuery(f"{name}: the url must start with http:// or https://, not {value[:40]!r}")
            out[key] = value
        return out

    @classmethod
    def from_json(cls, data: Any, name: str) -> "UploadMeta":
        """A sidecar's content (a JSON object with some of the fields); BadQuery otherwise."""
        if not isinstance(data, dict):
            raise BadQuery(f"{name}: a metadata sidecar must be a JSON object with title, date, place, url, speaker")
        return cls(**{k: data[k] if isinstance(data[k], str) or data[k] is None else str(data[k])
                      for k in META_FIELDS if k in data})

    def merged(self, over: "UploadMeta | None") -> "UploadMeta":
        """These fields with ``over``'s non-empty ones on top (the form beats a sidecar)."""
        if over is None:
            return self
        return replace(self, **{k: getattr(over, k) for k in META_FIELDS if (getattr(over, k) or "").strip()})


@dataclass
class Incoming:
    """One uploaded file: the name the client gave (a hint only) and where the server stored its bytes."""

    name: str
    path: Path
    meta: UploadMeta | None = None


@dataclass
class FileResult:
    """What became of one uploaded file; ``message`` is one line, shown next to the file."""

    name: str  # as the client sent it (shortened)
    status: str  # "added", "replaced", "unchanged", "sidecar" or "refused"
    message: str
    rel: str | None = None  # its path in the corpus, when saved
    warnings: list[str] = field(default_factory=list)

    @property
    def saved(self) -> bool:
        return self.status in ("added", "replaced")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message, "rel": self.rel,
                "warnings": self.warnings}


def sanitise_name(name: Any) -> str:
    """A safe file name for ``uploads/`` from a client's file name, or BadQuery saying why there is none.

    Only the last path component counts (``../../etc/passwd`` is ``passwd``, ``C:\\x\\y.txt`` is
    ``y.txt``); letters (any script), digits, ``-``, ``_`` and ``.`` are kept, anything else
    becomes ``-``; no leading dot (hidden), no reserved names (``manifest.jsonl``, README...),
    the extension lower-cased, at most `MAX_NAME_CHARS` characters.
    """
    if not isinstance(name, str) or not name.strip():
        raise BadQuery("a file without a name")
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name).strip())[-1].strip()
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"-{2,}", "-", "".join(c if c.isalnum() or c in "-_." else "-" for c in stem)).strip("-. ")
    ext = ext.strip().lower()
    if not stem:
        raise BadQuery(f"{_shown(name)}: no usable file name (letters or digits needed)")
    if f".{ext}" not in EXTENSIONS:
        supported = ", ".join(sorted(EXTENSIONS))
        raise BadQuery(f"{_shown(name)}: unknown format{f' (.{ext[:12]})' if ext else ' (no extension)'}; "
                       f"supported: {supported}")
    if stem.lower().split(".")[0] in NOT_TRANSCRIPTS or f"{stem}.{ext}".lower() == MANIFEST:
        stem = f"upload-{stem}"
    stem = stem[: MAX_NAME_CHARS - len(ext) - 1]
    return f"{stem}.{ext}"


def save_uploads(corpus: Path, items: Sequence[Incoming], replace_existing: bool = False,
                 limits: UploadLimits = UploadLimits()) -> list[FileResult]:
    """Check each file and save the readable ones under ``corpus/uploads/``; one result per file.

    The request as a whole is refused (BadQuery, nothing saved) when it has too many files or
    too many bytes; a single file is refused (its result says why, the others go on) when its
    name, format, size or content is wrong, or a different file of its name exists and
    ``replace_existing`` is false. A ``NAME.json`` sent with ``NAME.txt`` (any format) is read as
    that file's metadata sidecar.
    """
    items = list(items)
    if not items:
        raise BadQuery("no files to add; choose or drop one or more transcripts")
    if len(items) > limits.files:
        raise BadQuery(f"too many files at once ({len(items)}, limit {limits.files}); send them in smaller groups")
    sizes = [_size(item.path) for item in items]
    total = sum(sizes)
    if total > limits.request_bytes:
        raise BadQuery(f"this upload is too large ({_mb(total)}, limit {_mb(limits.request_bytes)} per upload); "
                       "send fewer files at once")
    folder = corpus / UPLOADS
    _check_folder(corpus, folder)
    results: list[FileResult] = []
    sidecars = _sidecars(items)
    with _save_lock:
        folder.mkdir(parents=True, exist_ok=True)
        entries = _read_entries(folder)
        taken: set[str] = set()
        for item, size in zip(items, sizes):
            shown = _shown(item.name, 80)
            if id(item) in sidecars.values():
                results.append(FileResult(shown, "sidecar", "metadata for the transcript of the same name"))
                continue
            try:
                result = _save_one(corpus, folder, item, size, sidecars, items, entries, taken,
                                   replace_existing, limits)
            except BadQuery as exc:
                result = FileResult(shown, "refused", str(exc))
            results.append(result)
        _write_entries(folder, entries)
    return results


def _save_one(corpus: Path, folder: Path, item: Incoming, size: int, sidecars: dict[int, int],
              items: Sequence[Incoming], entries: dict[str, dict[str, str]], taken: set[str],
              replace_existing: bool, limits: UploadLimits) -> FileResult:
    shown = _shown(item.name, 80)
    name = sanitise_name(item.name)
    rel = f"{UPLOADS}/{name}"
    if size > limits.file_bytes:
        raise BadQuery(f"{rel}: too large ({_mb(size)}, limit {_mb(limits.file_bytes)} per file)")
    if name in taken:
        raise BadQuery(f"{rel}: another file of this upload has the same name; rename one")
    clash = _sidecar_clash(folder, name, taken)
    if clash:
        raise BadQuery(f"{rel}: {UPLOADS}/{clash} has the same name before the extension, so the .json one would be "
                       "read as the other's metadata, not as a transcript; rename one")
    meta = UploadMeta()
    side = sidecars.get(id(item))
    if side is not None:
        sidecar = next(i for i in items if id(i) == side)
        meta = _read_sidecar(sidecar, rel)
    meta = meta.merged(item.meta)
    entry = meta.checked(rel)
    # Staged in a hidden folder (the corpus scan skips it) under its final name, so that what is
    # read from it (a title taken from the file name) is what the index will read.
    staging = folder / f"{STAGING_PREFIX}{uuid.uuid4().hex}" / name
    staging.parent.mkdir()
    try:
        _copy_limited(item.path, staging, limits.file_bytes, rel)
        final = folder / name
        if final.is_symlink() or (final.exists() and not final.is_file()):
            raise BadQuery(f"{rel}: exists and is not a plain file; not replaced")
        existed = final.exists()
        if existed and not entry:  # a file sent again without details keeps the ones it has
            entry = dict(entries.get(name, {}))
        if existed and _same_bytes(final, staging):
            if entries.get(name, {}) == entry:
                taken.add(name)
                return FileResult(shown, "unchanged", f"{rel}: already in the corpus, identical", rel)
            if not replace_existing:
                raise BadQuery(f"{rel}: already in the corpus with other details (title, date...); "
                               "tick “Replace files of the same name” to change them")
        elif existed and not replace_existing:
            raise BadQuery(f"{rel}: a different file of this name is already in the corpus; "
                           "tick “Replace files of the same name” to overwrite it, or rename yours")
        try:  # read it as the indexer will, under its final name, before it enters the corpus
            parsed = read_transcript(CorpusFile(path=staging, rel=rel, metadata=entry), limits.file_bytes)
        except UnreadableFile as exc:
            raise BadQuery(re.sub(r"; skipped$", "; not added", str(exc))) from None
        os.replace(staging, final)
    finally:
        staging.unlink(missing_ok=True)
        staging.parent.rmdir()
    taken.add(name)
    if entry:
        entries[name] = entry
    else:
        entries.pop(name, None)
    speakers = {t.speaker for t in parsed.turns if t.speaker}
    what = (f"{parsed.format}, {len(parsed.turns)} turns, {len(speakers)} speaker{'s' if len(speakers) != 1 else ''}"
            + (f", “{parsed.meta.title[:80]}”" if parsed.meta.title else ""))
    status = "replaced" if existed else "added"
    return FileResult(shown, status, f"{rel}: {'replaced' if existed else 'saved'} ({what})", rel,
                      list(parsed.warnings))


def remove_upload(corpus: Path, rel: Any) -> str:
    """Delete an uploaded transcript (and its metadata) from ``corpus/uploads/``; a one-line message.

    Only files under ``uploads/`` can be removed this way: the rest of the corpus is the
    server's own, managed on its disk. BadQuery for anything else.
    """
    if not isinstance(rel, str) or not rel.strip():
        raise BadQuery("choose a transcript to remove")
    rel = rel.strip()
    name = rel.removeprefix(f"{UPLOADS}/")
    if not rel.startswith(f"{UPLOADS}/") or "/" in name or "\\" in name or name.startswith(".") or not name:
        raise BadQuery(f"{_shown(rel)}: only transcripts added from the browser (under {UPLOADS}/) can be removed here")
    folder = corpus / UPLOADS
    _check_folder(corpus, folder)
    path = folder / name
    with _save_lock:
        if path.is_symlink() or not path.is_file():
            raise BadQuery(f"{rel}: not in the corpus (already removed?)")
        path.unlink()
        entries = _read_entries(folder)
        if entries.pop(name, None) is not None:
            _write_entries(folder, entries)
    return f"{rel}: removed from the corpus"


def uploaded(transcripts: dict[str, Any]) -> list[str]:
    """The index's transcripts that came from uploads (what `remove_upload` accepts)."""
    return sorted(rel for rel in transcripts if rel.startswith(f"{UPLOADS}/") and rel.count("/") == 1)


# -- indexing in the background ------------------------------------------------------------


@dataclass
class JobStatus:
    """A snapshot of the background index update, for the page's progress bar."""

    state: str = "idle"  # "idle", "running", "done" or "failed"
    stage: str = ""
    done: int = 0  # passages embedded so far in this stage
    total: int = 0
    fraction: float = 0.0
    message: str = ""  # one line: the summary when done, the reason when failed
    files: list[str] = field(default_factory=list)  # corpus paths this run was started for
    problems: list[str] = field(default_factory=list)  # the indexer's one-line problems
    generation: int | None = None
    run: int = 0  # how many runs this bot started (lets a page tell a new run from an old one)

    @property
    def running(self) -> bool:
        return self.state == "running"


class IndexJob:
    """One background index update at a time, over the ordinary incremental indexer.

    Files arriving while it runs are picked up by one more run straight after (the indexer
    reads the whole corpus, so nothing is missed). ``on_written`` is called after each run
    (the bot loads the new generation there).
    """

    def __init__(self, corpus: Path, index: Path, model: str, embedder: Callable[[], Any],
                 vector_store: Callable[[], Any], on_written: Callable[[], None]):
        self.corpus, self.index, self.model = corpus, index, model
        self._embedder, self._vector_store, self._on_written = embedder, vector_store, on_written
        self._lock = threading.Lock()
        self._status = JobStatus()
        self._again = False
        self._thread: threading.Thread | None = None

    def status(self) -> JobStatus:
        with self._lock:
            s = self._status
            return replace(s, files=list(s.files), problems=list(s.problems))

    def check_free(self) -> None:
        """IndexBusy when another process's ``index`` run holds the writer lock (our own run is fine:
        it picks the change up)."""
        with self._lock:
            if self._status.running:
                return
        try:
            with store.locked(self.index):
                pass
        except IndexBusy:
            raise IndexBusy(f"the index {self.index}/ is being updated by another transcript-bot index run; "
                            "nothing was changed: try again when it has finished") from None

    def start(self, files: Sequence[str] = ()) -> JobStatus:
        """Run an update now, or once more after the running one; returns the status."""
        with self._lock:
            if self._status.running:
                self._again = True
                self._status.files = sorted({*self._status.files, *files})
                return replace(self._status)
            self._status = JobStatus(state="running", stage="reading the corpus", fraction=0.02,
                                     files=sorted(set(files)), run=self._status.run + 1)
            self._thread = threading.Thread(target=self._run, name="transcript-bot-index", daemon=True)
            self._thread.start()
            return replace(self._status)

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the running update (and any follow-up) is over (for the CLI and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            thread = self._thread
            if thread is None:
                return self.status()
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if not thread.is_alive() and self._thread is thread:
                return self.status()
            if deadline is not None and time.monotonic() >= deadline:
                return self.status()

    def _set(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._status, key, value)

    def _run(self) -> None:
        from .indexer import sync

        while True:
            problems: list[str] = []
            try:
                report = sync(self.corpus, self.index, self.model, lambda: _Reporting(self._embedder(), self),
                              progress=False, warn=problems.append, vector_store=self._vector_store())
                self._set(stage="loading the new index generation", fraction=0.97)
                self._on_written()
                summary, state = report.summary(), "done"
                problems += report.problems
            except IndexBusy:
                summary, state = (f"the index {self.index}/ is being updated by another transcript-bot index run; "
                                  "the files are saved: press “Index now” when it has finished"), "failed"
            except BotError as exc:
                summary, state = str(exc), "failed"
            except Exception as exc:  # noqa: BLE001 - a background thread must report, not die silently
                first = str(exc).splitlines()[0] if str(exc) else ""
                summary, state = f"indexing failed: {type(exc).__name__}: {first}", "failed"
            with self._lock:
                if self._again and state == "done":
                    self._again = False
                    self._status.stage, self._status.fraction = "reading the corpus again (more changes)", 0.02
                    continue
                self._again = False
                generation = _generation(self.index)
                self._status = replace(self._status, state=state, stage="", message=summary, fraction=1.0,
                                       problems=problems, generation=generation)
                return


class _Reporting:
    """The bot's embedder, counting the passages it embeds into the job's status."""

    def __init__(self, inner: Any, job: IndexJob):
        self.inner, self.job = inner, job
        self.name, self.dimension = inner.name, inner.dimension
        self.calls = 0

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None):
        self.calls += 1
        first = self.calls == 1 and len(texts) > 0
        stage = "embedding passages" if first else "embedding titles"
        low, high = (0.05, 0.9) if first else (0.9, 0.95)
        self.job._set(stage=stage, done=0, total=len(texts), fraction=low)
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            share = done[0] / max(len(texts), 1)
            self.job._set(done=done[0], fraction=low + (high - low) * share)
            if progress:
                progress(n)

        return self.inner.embed_documents(texts, progress=step)

    def embed_query(self, text: str):
        return self.inner.embed_query(text)


# -- helpers ---------------------------------------------------------------------------------


def _generation(index: Path) -> int | None:
    try:
        return int(store.read_manifest(index).get("generation", 0))
    except BotError:
        return None


def _check_folder(corpus: Path, folder: Path) -> None:
    """``corpus/uploads`` must be a real folder inside the corpus (not a link elsewhere)."""
    if not corpus.is_dir():
        raise BotError(f"corpus folder not found: {corpus}")
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise BotError(f"{folder} is not a plain folder; uploads are off until it is one")


def _sidecars(items: Sequence[Incoming]) -> dict[int, int]:
    """id(transcript item) -> id(its sidecar item): ``X.json`` sent together with ``X.<format>``."""
    stems: dict[str, Incoming] = {}
    for item in items:
        base = re.split(r"[\\/]", item.name or "")[-1]
        stem, _, ext = base.rpartition(".")
        if ext.lower() != "json" and f".{ext.lower()}" in EXTENSIONS:
            stems[stem] = item
    pairs = {}
    for item in items:
        base = re.split(r"[\\/]", item.name or "")[-1]
        stem, _, ext = base.rpartition(".")
        if ext.lower() == "json" and stem in stems:
            pairs[id(stems[stem])] = id(item)
    return pairs


def _sidecar_clash(folder: Path, name: str, taken: set[str]) -> str | None:
    """Another transcript in ``uploads/`` (or of this upload) that would make one of the two a sidecar:
    ``talk.json`` beside ``talk.txt`` is read as talk.txt's metadata (see `corpus.scan`)."""
    stem, _, ext = name.rpartition(".")
    others = {p.name for p in folder.iterdir() if p.is_file()} | taken if folder.is_dir() else set(taken)
    for other in sorted(others - {name}):
        o_stem, _, o_ext = other.rpartition(".")
        if o_stem == stem and "json" in (ext, o_ext) and f".{o_ext}" in EXTENSIONS and o_ext != ext:
            return other
    return None


def _read_sidecar(item: Incoming, rel: str) -> UploadMeta:
    if _size(item.path) > 64 * 1024:
        raise BadQuery(f"{rel}: its metadata sidecar is over 64 KB; not a sidecar")
    try:
        data = json.loads(item.path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadQuery(f"{rel}: its metadata sidecar is not valid JSON ({str(exc).splitlines()[0][:80]})") from None
    return UploadMeta.from_json(data, f"{rel} (sidecar)")


def _read_entries(folder: Path) -> dict[str, dict[str, str]]:
    """``uploads/manifest.jsonl`` by file name (lines that do not parse are dropped on rewrite)."""
    path = folder / MANIFEST
    entries: dict[str, dict[str, str]] = {}
    if not path.is_file():
        return entries
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            entries[entry["file"]] = {k: entry[k] for k in META_FIELDS if isinstance(entry.get(k), str)}
    return entries


def _write_entries(folder: Path, entries: dict[str, dict[str, str]]) -> None:
    """Rewrite the manifest atomically (a reader sees the old one or the new one), only entries of
    files that exist; no manifest at all when none is left."""
    path = folder / MANIFEST
    lines = [json.dumps({"file": name, **entries[name]}, ensure_ascii=False)
             for name in sorted(entries) if entries[name] and (folder / name).is_file()]
    if not lines:
        path.unlink(missing_ok=True)
        return
    text = "\n".join(lines) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8", errors="replace") == text:
        return
    tmp = folder / f"{STAGING_PREFIX}{uuid.uuid4().hex}-{MANIFEST}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _copy_limited(source: Path, dest: Path, limit: int, rel: str) -> None:
    """Copy at most ``limit`` bytes (a file that grew past its checked size is refused)."""
    copied = 0
    with source.open("rb") as src, dest.open("wb") as out:
        while block := src.read(1 << 20):
            copied += len(block)
            if copied > limit:
                raise BadQuery(f"{rel}: too large (over {_mb(limit)} per file)")
            out.write(block)


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError as exc:
        raise BotError(f"an uploaded file cannot be read ({exc.strerror})") from None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} KB" if n >= 1000 else f"{n} bytes"


def _shown(value: Any, limit: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


