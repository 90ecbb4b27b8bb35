"""Finding the transcripts in a corpus folder and what is known about each.

A corpus is a folder tree of transcript files. Each folder may hold a ``manifest.jsonl``
(one JSON object per file: ``file``, ``title``, ``date``, ``place``, ``url``, ``language``, ...) and any
file may have a same-name ``.json`` sidecar; both supply or override the metadata read from
the file itself. Every transcript gets a fingerprint of its bytes and its metadata, which
is how the indexer knows what changed without parsing or embedding anything.

Nothing outside the corpus folder is ever read: a symbolic link is followed only when it
points to a file inside the corpus; links that leave it, dangle, loop, or point to a folder
are reported (one line each) and skipped. Hidden files and folders are ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .decoding import MAX_FILE_BYTES, read_text
from .errors import BotError, UnreadableFile
from .formats import EXTENSIONS, choose_format
from .records import ParsedTranscript

MANIFEST = "manifest.jsonl"
# What a manifest line or sidecar may say about a transcript (anything else is ignored);
# ``speaker`` names the speaker of turns without a label, ``language`` overrides detection.
META_KEYS = ("title", "date", "place", "url", "speaker", "language")
# Files that live in corpus folders but are not transcripts.
NOT_TRANSCRIPTS = ("readme", "license", "licence", "copying", "source_copyright_notice", "notice")
PARSER_VERSION = "5"  # 2: a title with a colon over a date line is a title; 3: conversational transcripts cut into exchanges (chunking.py); 4: exchanges record their speakers; 5: more label shapes (timestamps, affiliations, abbreviations, caseless scripts, generic roles, one turn per line), fewer prose labels, lenient UTF-8. Bump when parsing rules change, so every transcript is re-read


@dataclass
class CorpusFile:
    """A transcript file found in the corpus, before it is read."""

    path: Path
    rel: str  # path relative to the corpus root, with forward slashes
    metadata: dict[str, Any] = field(default_factory=dict)  # from manifest.jsonl and sidecar
    fingerprint: str = ""


@dataclass
class CorpusScan:
    files: list[CorpusFile]
    problems: list[str]  # one line each, naming the file and the reason


HashCache = dict  # path -> (size, mtime_ns, inode, sha256 of the bytes): see `scan`


def scan(root: Path, max_bytes: int = MAX_FILE_BYTES, hashes: HashCache | None = None) -> CorpusScan:
    """List the transcripts under ``root`` with their metadata and fingerprints.

    ``hashes``, when given, remembers each file's digest by its size, modification time and
    inode, so that a repeated scan (a server checking freshness) re-reads only the files that
    changed since; the indexer passes none and hashes every byte.
    """
    if not root.exists():
        raise BotError(f"corpus folder not found: {root}")
    if not root.is_dir():
        raise BotError(f"corpus path is not a folder: {root}")
    problems: list[str] = []
    manifests: dict[Path, dict[str, dict[str, Any]]] = {}
    files: list[CorpusFile] = []
    for path in sorted(_walk(root, problems)):
        rel = path.relative_to(root).as_posix()
        name = path.name.lower()
        if name == MANIFEST or not name.endswith(tuple(EXTENSIONS)):
            continue
        if name.split(".")[0] in NOT_TRANSCRIPTS or name.endswith(".list"):
            continue
        if name.endswith(".json") and _has_transcript_sibling(path):
            continue  # a metadata sidecar, read below with its transcript
        folder = path.parent
        if folder not in manifests:
            manifests[folder] = _read_manifest(folder / MANIFEST, root, problems)
        meta = dict(manifests[folder].get(path.name, {}))
        sidecar = path.with_suffix(".json")
        if sidecar != path and sidecar.exists() and _inside(sidecar, root):
            meta.update(_read_sidecar(sidecar, root, problems))
        try:
            st = path.stat()
            size = st.st_size
            if size > max_bytes:
                digest = f"size:{size}"
            elif hashes is not None:
                key = (size, st.st_mtime_ns, st.st_ino)
                known = hashes.get(path)
                if known is None or known[0] != key:
                    known = hashes[path] = (key, _hash_file(path))
                digest = known[1]
            else:
                digest = _hash_file(path)
        except OSError as exc:
            problems.append(f"{rel}: cannot read ({exc.strerror}); skipped")
            continue
        fingerprint = hashlib.sha256(
            f"{PARSER_VERSION}\n{digest}\n{json.dumps(meta, sort_keys=True)}".encode()
        ).hexdigest()[:32]
        files.append(CorpusFile(path=path, rel=rel, metadata=meta, fingerprint=fingerprint))
    return CorpusScan(files=files, problems=problems)


def read_transcript(item: CorpusFile, max_bytes: int = MAX_FILE_BYTES) -> ParsedTranscript:
    """Decode and parse one transcript, with manifest/sidecar metadata applied.

    Raises UnreadableFile (naming the file) when it is binary, empty, too large or yields no
    text. Decoding warnings travel in ``ParsedTranscript.warnings``.
    """
    decoded = read_text(item.path, item.rel, max_bytes)
    fmt = choose_format(item.path.name, decoded.text)
    try:
        parsed = fmt.parse(decoded.text)
    except (ValueError, KeyError, TypeError) as exc:
        raise UnreadableFile(f"{item.rel}: not a readable {fmt.name} transcript ({exc}); skipped") from None
    if not any(t.text.strip() for t in parsed.turns):
        raise UnreadableFile(f"{item.rel}: no transcript text found ({fmt.name}); skipped")
    # Every warning is reported as one line that names the file.
    named = [w if w.startswith(f"{item.rel}:") else f"{item.rel}: {w}" for w in parsed.warnings]
    hint = item.metadata.get("speaker")
    if isinstance(hint, str) and hint.strip():  # the uploader's name for unlabelled turns
        for turn in parsed.turns:
            if not turn.speaker:
                turn.speaker = hint.strip()
    if not any(t.speaker for t in parsed.turns):
        named.append(f"{item.rel}: no speaker labels found; indexed without speaker names")
    parsed.warnings = [*([decoded.warning] if decoded.warning else []), *named]
    meta = item.metadata
    for key in META_KEYS:
        value = meta.get(key)
        if value not in (None, ""):
            setattr(parsed.meta, key, str(value))
    if not parsed.meta.title:
        parsed.meta.title = item.path.stem
    if not parsed.meta.language:
        parsed.meta.language = transcript_language(parsed)
    return parsed


def transcript_language(parsed: ParsedTranscript, sample: int = 3000) -> str:
    """The language the turns are written in (ISO 639-1, "und" when there is no text to judge).

    Judged from the speech alone, not the title or labels, and from a sample taken across the
    transcript (its first, middle and last turns) so that an English transcript opening with a
    quoted Russian proverb is still English. A manifest or sidecar ``language`` overrides it.
    """
    from .language import detect

    turns = [t.text for t in parsed.turns if t.text.strip()]
    if not turns:
        return detect("").code
    picked: list[str] = []
    size = 0
    for i in dict.fromkeys([*range(min(len(turns), 6)), *range(len(turns) // 2, len(turns) // 2 + 4), len(turns) - 1]):
        if 0 <= i < len(turns) and size < sample:
            picked.append(turns[i][: sample // 3])
            size += len(picked[-1])
    return detect("\n".join(picked), sample=sample).code


def _walk(root: Path, problems: list[str]) -> Iterator[Path]:
    """Every regular file under ``root`` that is safe to read (see the module docstring).

    Symbolic links to folders are not descended into (no loops, no duplicates); a symbolic
    link to a file is kept only when its target lies inside the corpus.
    """
    top = root.resolve()
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in [*dirs, *names]:
            if name.startswith("."):
                continue
            path = here / name
            if path.is_symlink():
                problem = _link_problem(path, top)
                if problem:
                    problems.append(f"{path.relative_to(root).as_posix()}: {problem}; skipped")
                    continue
            if name in names and path.is_file():
                yield path


def _link_problem(link: Path, top: Path) -> str | None:
    """Why the symbolic link ``link`` must not be followed, or None when it may be."""
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        return "symbolic link to nothing (dangling)"
    except (RuntimeError, OSError) as exc:  # a loop raises RuntimeError or ELOOP
        return "symbolic link loop" if "loop" in str(exc).lower() or isinstance(exc, RuntimeError) else \
            f"unreadable symbolic link ({exc})"
    if target.is_dir():
        return "symbolic link to a folder (not followed)"
    if target != top and top not in target.parents:
        return "symbolic link to a file outside the corpus"
    return None


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (after following links) lies inside the corpus ``root``."""
    try:
        target, top = path.resolve(strict=True), root.resolve()
    except (OSError, RuntimeError):
        return False
    return top in target.parents


def _has_transcript_sibling(path: Path) -> bool:
    stem = path.name[: -len(".json")]
    return any(
        sibling != path and sibling.name.startswith(stem + ".") and sibling.suffix.lower() in EXTENSIONS
        and sibling.name[len(stem):].count(".") == 1
        for sibling in path.parent.iterdir()
    )


def _read_manifest(path: Path, root: Path, problems: list[str]) -> dict[str, dict[str, Any]]:
    """Entries of a folder's manifest.jsonl by file name; a bad line is reported and ignored."""
    if not path.exists():
        return {}
    rel = path.relative_to(root).as_posix()
    if not _inside(path, root):
        problems.append(f"{rel}: symbolic link to outside the corpus; metadata from it ignored")
        return {}
    entries: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError as exc:
        problems.append(f"{rel}: cannot read ({exc.strerror}); metadata from it ignored")
        return {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{rel}:{number}: not valid JSON ({exc.msg}); line ignored")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            problems.append(f"{rel}:{number}: no \"file\" field; line ignored")
            continue
        entries[entry["file"]] = {k: entry[k] for k in META_KEYS if k in entry}
    return entries


def _read_sidecar(path: Path, root: Path, problems: list[str]) -> dict[str, Any]:
    rel = path.relative_to(root).as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{rel}: unreadable metadata sidecar ({exc}); ignored")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{rel}: metadata sidecar is not a JSON object; ignored")
        return {}
    return {k: data[k] for k in META_KEYS if k in data}


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
