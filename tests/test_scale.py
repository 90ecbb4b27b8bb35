"""Past one machine: vectors in Milvus (through milvus-lite) and embedding on a local Ray.

The Milvus-backed bot must answer as the FAISS-backed one does (same top-10, same filters),
keep the same passages through additions, changes and removals, show each reader one
generation, and recover from an interrupted update. Ray embedding must give the plain path's
vectors. The ``milvus`` and ``ray`` tests need the scale extra (``pip install -e '.[scale]'``);
deselect them with ``-m "not milvus and not ray"``. They use a few transcripts of the small
corpus; the full bundled corpus is measured by ``bench/scale.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import store
from bot.core import AskOptions, TranscriptBot
from bot.errors import BotError
from bot.indexer import sync
from bot.settings import MINILM, Settings
from bot.vectorstore import MilvusStore, StoreSpec
from conftest import KREMLIN, REPO, SMALL_FILES, copy_small_corpus

QUESTIONS = [
    ("What did Putin say about a railway from Korea to Europe?", AskOptions(k=10)),
    ("What did the CSTO chief say Kyrgyzstan's army and police were short of?", AskOptions(k=10)),
    ("gas prices", AskOptions(k=10, speaker="Alexei Miller")),
    ("hydroelectric power", AskOptions(k=10, since="2012", until="2013-01")),
    ("economic growth", AskOptions(k=10, transcripts=[f"kremlin/{SMALL_FILES[2]}"])),
    ("And did he talk about the mayor?", AskOptions(k=10, context=["What did Medvedev say about Sobyanin?"])),
]


def _hits(bot: TranscriptBot, question: str, options: AskOptions) -> list[tuple]:
    return [(h.passage.transcript, h.passage.turn, h.passage.part, round(h.score, 5))
            for h in bot.search(question, options)]


def _passages(index: Path) -> list[tuple]:
    return [(p.transcript, p.turn, p.part, p.text) for p in store.load(index).passages]


def test_store_specs_parse_or_say_what_is_expected(tmp_path):
    assert StoreSpec.parse("faiss") == StoreSpec()
    spec = StoreSpec.parse("milvus://milvus.internal:19530/transcripts")
    assert (spec.kind, spec.uri, spec.collection) == ("milvus", "http://milvus.internal:19530", "transcripts")
    lite = StoreSpec.parse(f"{tmp_path}/v.db#mine")
    assert lite.lite and lite.uri == str(tmp_path / "v.db") and lite.collection == "mine"
    assert StoreSpec.parse(f"{tmp_path}/v.db").collection == "passages"
    assert StoreSpec.of_manifest({"vector_store": lite.to_manifest()}) == lite
    for bad in ("milvus://host/c", "milvus://host:19530/", "milvus://h:1/bad-name", "qdrant://x", "vectors.faiss"):
        with pytest.raises(BotError, match="--store"):
            StoreSpec.parse(bad)


def test_default_path_imports_neither_ray_nor_milvus(small_corpus, small_index):
    code = ("import sys; from bot.cli import main; "
            f"main(['ask', 'gas prices', '--corpus', {str(small_corpus)!r}, '--index', {str(small_index)!r}, '--json']); "
            "print(sorted(m for m in ('ray', 'pymilvus', 'milvus_lite') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture(scope="module")
def milvus_pair(tmp_path_factory, small_corpus, small_index, embedder):
    """The small index, and a copy of it whose vectors a real sync with ``vector_store`` (what
    ``index --store`` runs) moved into a milvus-lite collection, without re-embedding: both bots
    search the very same vectors, so any difference in their answers is the store's. A Milvus
    index built from scratch against an independent FAISS build: `test_add_change_remove_...`."""
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    folder = tmp_path_factory.mktemp("milvus")
    index = folder / "index"
    shutil.copytree(small_index, index)
    spec = StoreSpec.parse(f"{folder}/vectors.db#passages")
    moved = sync(small_corpus, index, MINILM, lambda: embedder, progress=False, vector_store=spec)
    assert moved.wrote and moved.embedded == 0
    faiss_bot = TranscriptBot(Settings(small_corpus, small_index, MINILM), embedder=embedder)
    milvus_bot = TranscriptBot(Settings(small_corpus, index, MINILM), embedder=embedder)
    return faiss_bot, milvus_bot, spec


@pytest.mark.milvus
def test_milvus_bot_returns_the_faiss_bots_top_10(milvus_pair):
    faiss_bot, milvus_bot, spec = milvus_pair
    manifest = milvus_bot.data.manifest
    assert manifest["vector_store"] == spec.to_manifest() and "vectors" not in manifest["files"]
    assert milvus_bot.data.vector_store.kind == "milvus" and milvus_bot.data.vectors is None
    for question, options in QUESTIONS:
        assert _hits(milvus_bot, question, options) == _hits(faiss_bot, question, options), question
    a = faiss_bot.ask(QUESTIONS[0][0], AskOptions(k=5)).to_json()
    b = milvus_bot.ask(QUESTIONS[0][0], AskOptions(k=5)).to_json()
    assert a["answer"] == b["answer"] and [h["citation"] for h in a["hits"]] == [h["citation"] for h in b["hits"]]


@pytest.mark.milvus
def test_milvus_filters_select_the_rows_faiss_selects(milvus_pair, embedder):
    faiss_bot, milvus_bot, _ = milvus_pair
    from bot.retrieval import Filters, Retriever, _where

    q = embedder.embed_query("energy and gas")
    data_f, data_m = faiss_bot.data, milvus_bot.data
    speakers = {p.speaker for p in data_f.passages if p.speaker and "Miller" in p.speaker}
    for filters in (Filters(speakers=speakers), Filters(since="2010-10", until="2012"), Filters(until="2010-06-14"),
                    Filters(transcripts={f"kremlin/{SMALL_FILES[0]}", f"kremlin/{SMALL_FILES[5]}"}),
                    Filters(speakers=speakers, since="2017")):
        rows = Retriever(data_f)._allowed_rows(filters)
        k = len(rows) + 5
        _, ids_f = data_f.vector_store.search(q, k, data_f.ids[rows])
        _, ids_m = data_m.vector_store.search(q, k, where=_where(filters))  # fields only, no id list
        assert sorted(ids_f.tolist()) == sorted(ids_m.tolist()), filters
        assert [int(i) for i in ids_f[:10]] == [int(i) for i in ids_m[:10]]


@pytest.mark.milvus
def test_add_change_remove_leave_both_stores_with_the_same_passages(tmp_path, embedder):
    pytest.importorskip("milvus_lite")
    corpus = copy_small_corpus(tmp_path / "c", files=SMALL_FILES[:4])
    spec = StoreSpec.parse(f"{tmp_path}/v.db#passages")
    run = lambda index, **kw: sync(corpus, index, MINILM, lambda: embedder, progress=False, **kw)  # noqa: E731
    run(tmp_path / "f")
    run(tmp_path / "m", vector_store=spec)
    reader = TranscriptBot(Settings(corpus, tmp_path / "m", MINILM), embedder=embedder)
    first = reader.data
    # change a paragraph, add one transcript, remove another
    target = corpus / "kremlin" / SMALL_FILES[2]
    text = target.read_text(encoding="utf-8")
    paragraph = next(p for p in text.split("\n\n")[4:] if len(p) > 200)
    target.write_text(text.replace(paragraph, paragraph + " We will also build new roads."), encoding="utf-8")
    shutil.copy(KREMLIN / SMALL_FILES[4], corpus / "kremlin")
    (corpus / "kremlin" / SMALL_FILES[1]).unlink()
    rf, rm = run(tmp_path / "f"), run(tmp_path / "m")  # the Milvus index keeps its store without --store
    assert (rf.added, rf.changed, rf.removed, rf.embedded) == (rm.added, rm.changed, rm.removed, rm.embedded)
    assert rm.reused > 0
    assert _passages(tmp_path / "f") == _passages(tmp_path / "m")
    # the reader that loaded the first generation still sees exactly it, until it reloads
    assert first.vector_store.count() == len(first.passages)
    gone = [p.id for p in first.passages if p.transcript == f"kremlin/{SMALL_FILES[1]}"]
    assert first.vector_store.reconstruct(np.array(gone[:3])).shape == (3, 384)
    assert reader.maybe_reload() and reader.data.vector_store.count() == len(reader.data.passages)
    faiss_bot = TranscriptBot(Settings(corpus, tmp_path / "f", MINILM), embedder=embedder)
    for question in ("road construction", "hydroelectric power", "security council"):
        assert _hits(reader, question, AskOptions(k=10)) == _hits(faiss_bot, question, AskOptions(k=10))
    vf, vm = faiss_bot.data, reader.data
    assert np.allclose(vf.vector_store.reconstruct(vf.ids), vm.vector_store.reconstruct(vm.ids), atol=1e-6)
    # two generations on, the removed rows are gone from the collection
    (corpus / "kremlin" / SMALL_FILES[0]).unlink()
    run(tmp_path / "m")
    client = reader.data.vector_store.client
    left = client.query(spec.collection, filter=f"id in {gone}", output_fields=["id"])
    assert not list(left)


@pytest.mark.milvus
def test_an_interrupted_milvus_update_is_undone_and_readers_never_see_it(tmp_path, embedder):
    pytest.importorskip("milvus_lite")
    corpus = copy_small_corpus(tmp_path / "c", files=SMALL_FILES[:3])
    spec = StoreSpec.parse(f"{tmp_path}/v.db#passages")
    index = tmp_path / "m"
    sync(corpus, index, MINILM, lambda: embedder, progress=False, vector_store=spec)
    before = _passages(index)
    bot = TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder)
    expected = _hits(bot, "security council", AskOptions(k=10))
    # a writer of the next generation that dies before switching the manifest
    manifest = store.read_manifest(index)
    crashed = MilvusStore.writer(spec, manifest["generation"] + 1, 384, current=manifest["generation"])
    data = bot.data
    crashed.remove(data.ids[:20])
    crashed.add(np.tile(data.vector_store.reconstruct(data.ids[:1]), (5, 1)), np.arange(10_000, 10_005),
                data.passages[:5])
    assert data.vector_store.count() == len(data.passages)  # the reader does not see it
    assert _hits(bot, "security council", AskOptions(k=10)) == expected
    # the next update undoes it and brings in a real change
    shutil.copy(KREMLIN / SMALL_FILES[3], corpus / "kremlin")
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False)
    assert report.added == [f"kremlin/{SMALL_FILES[3]}"]
    bot.maybe_reload()
    assert bot.data.vector_store.count() == len(bot.data.passages) > len(before)
    assert not list(bot.data.vector_store.client.query(spec.collection, filter="id >= 10000", output_fields=["id"]))
    fresh = tmp_path / "fresh"
    sync(corpus, fresh, MINILM, lambda: embedder, progress=False)
    assert _passages(fresh) == _passages(index)


@pytest.mark.milvus
def test_vectors_move_between_faiss_and_milvus_without_reembedding(tmp_path, index_copy, small_corpus, embedder):
    pytest.importorskip("milvus_lite")
    before = _passages(index_copy)
    spec = StoreSpec.parse(f"{tmp_path}/v.db#moved")
    to_milvus = sync(small_corpus, index_copy, MINILM, lambda: embedder, progress=False, vector_store=spec)
    assert to_milvus.wrote and to_milvus.embedded == 0
    assert store.read_manifest(index_copy)["vector_store"]["collection"] == "moved"
    back = sync(small_corpus, index_copy, MINILM, lambda: embedder, progress=False, vector_store=StoreSpec())
    assert back.wrote and back.embedded == 0 and "vector_store" not in store.read_manifest(index_copy)
    assert _passages(index_copy) == before


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


@pytest.mark.milvus
def test_store_errors_are_one_line(milvus_pair, small_corpus, small_index, tmp_path):
    _, milvus_bot, spec = milvus_pair
    index = str(milvus_bot.settings.index)
    out = _cli("ask", "gas", "--index", index, "--store", "faiss")
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "keeps its vectors in" in out.stderr
    out = _cli("stats", "--index", str(small_index), "--store", "milvus://127.0.0.1:9/other")
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "keeps its vectors in faiss" in out.stderr
    out = _cli("ask", "gas", "--index", index, env={"TRANSCRIPT_BOT_STORE": "milvus://h/c"})
    assert out.returncode == 1 and "expected milvus://HOST:PORT/COLLECTION" in out.stderr
    copy = tmp_path / "ix"
    shutil.copytree(small_index, copy)
    out = _cli("index", "--corpus", str(small_corpus), "--index", str(copy), "--quiet",
               "--store", "milvus://127.0.0.1:9/passages")  # nothing listens on port 9
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "cannot reach Milvus" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_missing_scale_extra_is_one_line(tmp_path, small_corpus, small_index):
    """Without ray or pymilvus installed (hidden here), the flags say what to install."""
    hide = tmp_path / "hide"
    hide.mkdir()
    for name in ("ray", "pymilvus", "milvus_lite"):
        (hide / f"{name}.py").write_text("raise ImportError('hidden by the test')\n")
    env = {"PYTHONPATH": str(hide)}
    out = _cli("ask", "gas", "--index", str(small_index), "--store", f"{tmp_path}/v.db", env=env)
    assert out.returncode == 1 and "keeps its vectors in faiss" in out.stderr  # checked before connecting
    copy = tmp_path / "ix"
    shutil.copytree(small_index, copy)
    for extra in (["--store", f"{tmp_path}/v.db"], ["--ray", "--full"]):
        out = _cli("index", "--corpus", str(small_corpus), "--index", str(copy), "--quiet", *extra, env=env)
        assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
        assert "install the scale extra: pip install -e '.[scale]'" in out.stderr


@pytest.mark.ray
def test_unreachable_ray_address_is_one_line(tmp_path):
    pytest.importorskip("ray")
    corpus = copy_small_corpus(tmp_path / "c", files=SMALL_FILES[:1])
    out = _cli("index", "--corpus", str(corpus), "--index", str(tmp_path / "ix"), "--quiet", "--ray", "127.0.0.1:9")
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "cannot reach Ray at 127.0.0.1:9" in out.stderr


@pytest.mark.ray
def test_ray_embedding_gives_the_plain_vectors_and_the_same_index(tmp_path, embedder):
    pytest.importorskip("ray")
    from bot.distributed import RayEmbedder

    corpus = copy_small_corpus(tmp_path / "c", files=SMALL_FILES[:2])
    ray_index, plain_index = tmp_path / "ray", tmp_path / "plain"
    on_ray = RayEmbedder(MINILM, workers=2)
    try:
        report = sync(corpus, ray_index, MINILM, lambda: on_ray, progress=False)
    finally:
        on_ray.close()
    sync(corpus, plain_index, MINILM, lambda: embedder, progress=False)
    assert report.embedded == report.passages > 0
    a, b = store.load(ray_index), store.load(plain_index)
    assert _passages(ray_index) == _passages(plain_index) and list(a.ids) == list(b.ids)
    va, vb = a.vector_store.reconstruct(a.ids), b.vector_store.reconstruct(b.ids)
    cosine = (va * vb).sum(axis=1) / np.linalg.norm(va, axis=1) / np.linalg.norm(vb, axis=1)
    assert cosine.min() >= 0.9999
    ma, mb = (json.loads((i / "manifest.json").read_text()) for i in (ray_index, plain_index))
    assert ma["transcripts"] == mb["transcripts"] and ma["next_id"] == mb["next_id"]
    assert np.allclose(a.title_vectors, b.title_vectors, atol=2e-3)
