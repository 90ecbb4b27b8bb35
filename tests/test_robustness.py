"""Crash safety, locking, damaged indexes, bad input, the approximate index, and reloading while serving.

The crash tests run the real command line (``python -m bot index``) in subprocesses and kill
them with SIGKILL; everything else runs in-process with the session's real model. Corpora are
copies of the small real Kremlin corpus in ``tmp_path``; indexes start as copies of the
session's small index, so no test re-embeds more than a few transcripts.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bot import store
from bot.chunking import PASSAGE_RULES, embedding_text
from bot.indexer import EMBEDDING_MODE, sync
from bot import vector_index
from bot.settings import MINILM
from conftest import KREMLIN, SMALL_FILES, copy_small_corpus

REPO = Path(__file__).resolve().parent.parent
NEW_FILE = "2013-02-20_17545_meeting-with-lukoil-president-vagit-alekperov.txt"  # 28 passages, not in SMALL_FILES
SMALLEST = SMALL_FILES[4]  # Baksan hydroelectric plant, 4 passages
CP1251_TEXT = (
    "Совещание по вопросам энергетики\n\n"
    "Владимир Путин: Добрый день, уважаемые коллеги! Сегодня обсудим цены на газ и строительство "
    "новых электростанций в регионах.\n\n"
    "Алексей Миллер: Спасибо, Владимир Владимирович. Поставки газа идут по графику, "
    "цены для населения остаются стабильными.\n"
)


# -- helpers ----------------------------------------------------------------------------------

def strip(passages) -> list[tuple]:
    """What makes two indexes hold the same passages (ids aside)."""
    return [(p.transcript, p.turn, p.part, p.text, p.context, p.speaker) for p in passages]


class HashEmbedder:
    """A deterministic stand-in used only where vectors do not matter (which passages a build keeps)."""

    name, dimension = MINILM, 384

    def embed_documents(self, texts, progress=None):
        out = np.vstack([np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)).standard_normal(384)
                         for t in texts]).astype(np.float32) if texts else np.zeros((0, 384), np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True) if len(out) else out

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def fresh_build(corpus: Path, folder: Path) -> store.IndexData:
    """A from-scratch build of ``corpus``: the reference an interrupted or incremental index must equal."""
    sync(corpus, folder, MINILM, HashEmbedder, full=True, progress=False)
    return store.load(folder)


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *map(str, args)], capture_output=True, text=True,
                          env=_env(), cwd=REPO, timeout=timeout)


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file of an index folder with its mtime and SHA-256."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def holds_lock(pid: int, lock: Path) -> bool:
    """Whether process ``pid`` holds a lock on ``lock`` (read from /proc/locks, without touching it)."""
    try:
        inode = lock.stat().st_ino
    except FileNotFoundError:
        return False
    for line in Path("/proc/locks").read_text().splitlines():
        m = re.match(r"\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s", line)
        if m and int(m.group(1)) == pid and int(m.group(2)) == inode:
            return True
    return False


def assert_searchable(data: store.IndexData) -> None:
    """Each sampled passage's stored vector finds that passage first: ids, vectors and rows agree."""
    for row in range(0, len(data.passages), max(1, len(data.passages) // 15)):
        pid = int(data.ids[row])
        _, found = data.vectors.search(data.vectors.reconstruct(pid).reshape(1, -1), 1)
        assert data.passages[data.row_of[int(found[0][0])]].text == data.passages[row].text


# -- crash safety -----------------------------------------------------------------------------

@pytest.mark.slow
def test_sigkill_at_random_points_keeps_the_previous_index_and_the_next_run_finishes(tmp_path, index_copy):
    corpus = copy_small_corpus(tmp_path / "c")
    index = index_copy
    before = store.load(index)
    old_state, old_generation = strip(before.passages), before.generation
    # The job the killed runs are doing: add one transcript, remove one, change one.
    folder = corpus / "kremlin"
    shutil.copy(KREMLIN / NEW_FILE, folder)
    (folder / SMALL_FILES[1]).unlink()
    changed = folder / SMALL_FILES[2]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nDmitry Medvedev: We will also build new roads.\n",
                       encoding="utf-8")
    expected = strip(fresh_build(corpus, tmp_path / "reference").passages)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    log = tmp_path / "stderr.log"
    phases_hit = []

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bot", "index", "--corpus", str(corpus), "--index", str(index)],
                                stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=_env(), cwd=REPO)

    def wait_for(condition, proc: subprocess.Popen, every: float, timeout: float = 120) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if proc.poll() is not None:
                return False
            time.sleep(every)
        return False

    for phase in ("model load", "embedding", "writing"):
        tag = f".{store.read_manifest(index)['generation'] + 1:06d}"  # the generation this run would write
        proc = start()
        if phase == "model load":
            # Two real index runs: while this one holds the lock (it loads the model under it),
            # a second is refused at once with the clear message.
            assert wait_for(lambda: holds_lock(proc.pid, index / store.LOCK), proc, 0.005), f"seed {seed}"
            second = cli("index", "--corpus", corpus, "--index", index)
            assert second.returncode == 1, second.stderr
            assert "being updated by another transcript-bot index run" in second.stderr.strip().splitlines()[-1]
            time.sleep(rng.uniform(0.0, 1.5))
        elif phase == "embedding":
            wait_for(lambda: b"embedding" in log.read_bytes(), proc, 0.005)
            time.sleep(rng.uniform(0.0, 0.5))
        else:  # the moment one of the new generation's files appears, a different one each run
            kind = rng.choice(store.DATA_KINDS)
            wait_for(lambda: any(tag in n and n.lstrip(".").startswith(kind) for n in os.listdir(index)), proc, 0.0002)
        finished_first = proc.poll() is not None
        if not finished_first:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.returncode == (0 if finished_first else -signal.SIGKILL), log.read_bytes()[-500:]
        phases_hit.append((phase, "finished before the kill" if finished_first else "killed"))

        # After the kill: the index in the manifest is complete, verified and searchable.
        data = store.load(index, model=MINILM, passage_rules=PASSAGE_RULES)  # checks every file's SHA-256
        manifest = store.read_manifest(index)
        assert all(f".{data.generation:06d}" in entry["path"] for entry in manifest["files"].values())
        assert data.vectors.ntotal == len(data.passages) == manifest["passages"]
        assert {p.transcript for p in data.passages} == set(manifest["transcripts"])
        if data.generation == old_generation:
            assert strip(data.passages) == old_state, f"seed {seed}, after a kill in {phase}"
        else:  # the kill came after the switch: then the new generation is the finished job
            assert strip(data.passages) == expected, f"seed {seed}, after a kill in {phase}"
        assert_searchable(data)

    assert sum(1 for _, outcome in phases_hit if outcome == "killed") >= 2, (seed, phases_hit)
    # The next run finishes the job: the index equals a fresh full build, with no leftovers.
    final_run = cli("index", "--corpus", corpus, "--index", index, "--quiet")
    assert final_run.returncode == 0, final_run.stderr
    final = store.load(index, model=MINILM, passage_rules=PASSAGE_RULES)
    assert strip(final.passages) == expected
    assert final.manifest["transcripts"].keys() == store.read_manifest(tmp_path / "reference")["transcripts"].keys()
    assert not [p.name for p in index.iterdir() if p.name.endswith(".tmp")]
    assert store._generations(index) <= {final.generation, final.generation - 1}
    assert_searchable(final)


def test_second_index_run_is_refused_with_a_clear_message(small_corpus, index_copy):
    before = snapshot(index_copy)
    with store.locked(index_copy):  # held by this process: deterministic
        out = cli("index", "--corpus", small_corpus, "--index", index_copy)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "being updated by another transcript-bot index run" in lines[0] and str(index_copy) in lines[0]
    assert snapshot(index_copy) == before


@pytest.mark.parametrize("damage", ["truncated vectors", "altered passages", "altered keyword file", "broken manifest"])
def test_damaged_index_file_is_named_and_ask_says_how_to_rebuild(small_corpus, index_copy, damage):
    manifest = json.loads((index_copy / store.MANIFEST).read_text())
    files = {k: index_copy / v["path"] for k, v in manifest["files"].items()}
    if damage == "truncated vectors":
        target = files["vectors"]
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 3])
    elif damage == "altered passages":
        target = files["passages"]
        target.write_text(target.read_text(encoding="utf-8").replace("Russia", "Prussia", 1), encoding="utf-8")
    elif damage == "altered keyword file":
        target = files["keyword"]
        inner = sorted(p for p in target.iterdir() if p.suffix == ".npy")[0]
        inner.write_bytes(inner.read_bytes()[:-8])
    else:
        target = index_copy / store.MANIFEST
        target.write_text(target.read_text()[:200])
    out = cli("ask", "What did Putin say about gas prices?", "--corpus", small_corpus, "--index", index_copy)
    assert out.returncode == 1 and out.stdout == ""  # no results at all rather than wrong ones
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert target.name in lines[0]
    # The advice names this index and this corpus: followed literally, it rebuilds neither ./index nor from ./corpus.
    assert lines[0].endswith(f"; rebuild with: transcript-bot index --full --index {index_copy} --corpus {small_corpus}")


def test_every_piece_of_advice_names_the_index_and_corpus_it_is_about(tmp_path, small_corpus, index_copy):
    from bot.errors import IndexCorrupt, IndexMismatch, IndexMissing

    corpus = tmp_path / "my corpus"
    with pytest.raises(IndexMissing) as missing:
        store.read_manifest(tmp_path / "none", corpus)
    assert str(missing.value).endswith(f"(run: transcript-bot index --index {tmp_path / 'none'} --corpus '{corpus}')")
    with pytest.raises(IndexMismatch) as other_model:
        store.load(index_copy, model="other-model", corpus=small_corpus)
    assert str(other_model.value).endswith(
        f"switch it with: transcript-bot index --index {index_copy} --corpus {small_corpus} --model other-model")
    manifest = json.loads((index_copy / store.MANIFEST).read_text())
    (index_copy / manifest["files"]["titles"]["path"]).unlink()
    for folder_corpus, tail in ((None, f"--index {index_copy}"), (Path("corpus"), f"--index {index_copy}"),
                                (small_corpus, f"--index {index_copy} --corpus {small_corpus}")):
        with pytest.raises(IndexCorrupt) as damaged:
            store.load(index_copy, corpus=folder_corpus)
        assert str(damaged.value).endswith(f"rebuild with: transcript-bot index --full {tail}")
    (index_copy / store.MANIFEST).write_text("{}")
    with pytest.raises(IndexCorrupt, match=re.escape(f"--full --index {index_copy} --corpus {small_corpus}")):
        store.read_manifest(index_copy, small_corpus)


# -- bad input --------------------------------------------------------------------------------

def bad_corpus(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The small corpus plus one file of every kind of trouble; returns it and, per file, its expected reason."""
    corpus = copy_small_corpus(tmp_path / "c")
    folder = corpus / "kremlin"
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 200)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "cp1251.txt").write_bytes(CP1251_TEXT.encode("cp1251"))
    line = b"John Smith: The same sentence about fishing quotas, again and again, for a very long time.\n"
    with (folder / "huge.txt").open("wb") as f:  # a 50 MB "transcript"
        f.write(b"Huge\n\n" + line * (50 * 1024 * 1024 // len(line) + 1))
    (folder / "nolabels.txt").write_text(
        "A lecture without speaker labels\n\nThe Baksan plant will produce electricity for the whole region. "
        "Construction took several years.\n\nThe second paragraph is about water levels in mountain rivers.\n",
        encoding="utf-8")
    shutil.copy(folder / SMALLEST, folder / "baksan-repeated.txt")  # the same text as another transcript
    with (folder / "manifest.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"file": "binary.txt", "title": "broken\n')
    broken_line = len((folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines())
    return corpus, {
        "kremlin/binary.txt": "binary file", "kremlin/empty.txt": "empty file",
        "kremlin/huge.txt": "too large", f"kremlin/manifest.jsonl:{broken_line}": "not valid JSON",
        "kremlin/cp1251.txt": "decoded as", "kremlin/nolabels.txt": "no speaker labels",
    }


def lines_naming(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(re.escape(name) + r"(?![\w.-])", line)]


@pytest.mark.slow
def test_bad_input_gets_one_line_each_and_nothing_is_lost(tmp_path, index_copy):
    corpus, reasons = bad_corpus(tmp_path)
    before = store.load(index_copy)
    out = cli("index", "--corpus", corpus, "--index", index_copy, "--quiet")
    assert out.returncode == 0, out.stderr
    for name, reason in reasons.items():
        named = lines_naming(out.stderr, name)
        assert len(named) == 1 and reason in named[0], (name, out.stderr)
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == len(reasons), out.stderr  # nothing else is reported

    after = store.load(index_copy)
    indexed = {p.transcript for p in after.passages}
    assert indexed == {f"kremlin/{n}" for n in SMALL_FILES} | {"kremlin/cp1251.txt", "kremlin/nolabels.txt",
                                                              "kremlin/baksan-repeated.txt"}
    # Everything indexed before is still there, unchanged (same ids, same text).
    kept = [p for p in after.passages if p.id in before.row_of]
    assert [p.id for p in kept] == [p.id for p in before.passages] and strip(kept) == strip(before.passages)
    # A repeated transcript is indexed under both names: each is a separate source to cite.
    texts = lambda rel: [p.text for p in after.passages if p.transcript == rel]  # noqa: E731
    assert texts("kremlin/baksan-repeated.txt") == texts(f"kremlin/{SMALLEST}")
    assert any("Добрый день" in p.text and p.speaker == "Владимир Путин" for p in after.passages)
    assert all(p.speaker is None for p in after.passages if p.transcript == "kremlin/nolabels.txt")
    assert_searchable(after)


def test_index_check_reports_every_problem_and_changes_nothing(tmp_path, index_copy):
    corpus, reasons = bad_corpus(tmp_path)
    before = snapshot(index_copy)
    out = cli("index", "--check", "--corpus", corpus, "--index", index_copy)
    assert out.returncode == 0, out.stderr
    both = out.stdout + "\n" + out.stderr
    for name, reason in reasons.items():
        named = [line for line in lines_naming(both, name) if reason in line]
        assert len(named) == 1, (name, both)
    assert snapshot(index_copy) == before
    assert "readable transcripts" in out.stdout.splitlines()[-1]


# -- approximate index ------------------------------------------------------------------------

def clustered_unit_vectors(n: int, d: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Random normalised vectors around random centres: the clustered shape of real embeddings.

    (Isotropic random vectors are IVF's worst case: no cluster structure to exploit, recall@10
    around 0.4-0.7 at nprobe = nlist/8. Sentence embeddings are far from isotropic.)
    """
    x = centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, d)) * (0.75 / np.sqrt(d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_recall_at_10_against_exact_search_is_above_the_floor():
    rng = np.random.default_rng(5)
    d, n = 64, 10_000
    centres = rng.standard_normal((300, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = clustered_unit_vectors(n, d, rng, centres)
    ids = rng.permutation(1_000_000)[:n].astype(np.int64)  # sparse ids, as after many updates
    ivf = vector_index.build("ivf", d, x, ids)  # as the indexer builds it, probed as searches probe it
    assert ivf.nprobe == vector_index.nprobe(ivf.nlist) == vector_index.cells(n) // 8
    exact = store.new_vector_index(d)
    exact.add_with_ids(x, ids)
    queries = clustered_unit_vectors(300, d, rng, centres)
    _, truth = exact.search(queries, 10)
    _, approx = ivf.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, approx)])
    assert recall >= 0.9, recall


def test_ivf_removes_by_id_and_keeps_every_other_id_right(tmp_path):
    import faiss

    rng = np.random.default_rng(6)
    d, n = 32, 4000
    x = rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(10_000, 10_000 + n, dtype=np.int64)
    ivf = vector_index.build("ivf", d, x, ids)
    gone = ids[:50]
    assert ivf.remove_ids(gone) == 50 and ivf.ntotal == n - 50
    ivf.add_with_ids(x[:5], np.array([90_000 + i for i in range(5)], dtype=np.int64))
    path = tmp_path / "ivf.faiss"
    faiss.write_index(ivf, str(path))
    for index in (ivf, faiss.read_index(str(path))):
        faiss.extract_index_ivf(index).nprobe = faiss.extract_index_ivf(index).nlist  # exhaustive: ids only
        _, found = index.search(x[50:250], 1)
        assert list(found[:, 0]) == list(ids[50:250])  # every kept vector still maps to its own id
        _, found = index.search(x[:5], 1)
        assert list(found[:, 0]) == [90_000 + i for i in range(5)]
        _, found = index.search(x[5:50], 10)
        assert not set(found.ravel()) & set(gone.tolist())
        assert np.allclose(index.reconstruct(10_100), x[100], atol=1e-3)  # vector reuse needs this
        with pytest.raises(RuntimeError):
            index.reconstruct(10_010)


@pytest.mark.slow
def test_sync_with_approximate_builds_a_working_ivf_index_and_updates_it(tmp_path, index_copy, embedder):
    from bot.core import AskOptions, TranscriptBot
    from bot.settings import Settings

    corpus = copy_small_corpus(tmp_path / "c")
    # Switching an unchanged exact index to IVF reuses every vector: nothing is embedded.
    report = sync(corpus, index_copy, MINILM, lambda: embedder, progress=False, approximate=True)
    assert report.wrote and report.embedded == 0
    data = store.load(index_copy)
    assert data.manifest["vector_index"]["kind"] == "ivf"
    assert strip(data.passages) == strip(fresh_build(corpus, tmp_path / "ref").passages)
    assert_searchable(data)
    # Remove a transcript, then add it back: the IVF index is updated in place by id, and plain
    # runs (no flag) keep the kind chosen before.
    (corpus / "kremlin" / SMALLEST).unlink()
    sync(corpus, index_copy, MINILM, lambda: embedder, progress=False)
    shutil.copy(KREMLIN / SMALLEST, corpus / "kremlin")
    report = sync(corpus, index_copy, MINILM, lambda: embedder, progress=False)
    assert report.added == [f"kremlin/{SMALLEST}"] and report.embedded > 0
    data = store.load(index_copy)
    assert data.manifest["vector_index"]["kind"] == "ivf"
    assert strip(data.passages) == strip(fresh_build(corpus, tmp_path / "ref2").passages)
    assert_searchable(data)
    bot = TranscriptBot(Settings(corpus, index_copy, MINILM), embedder=embedder)
    answer = bot.ask("When was the Baksan hydroelectric power plant launched?", AskOptions(k=5))
    assert answer.hits and answer.hits[0].passage.transcript == f"kremlin/{SMALLEST}"
    # Its dense top-10 agrees with exact search over the same vectors.
    q = embedder.embed_query("gas prices and supplies to Europe")
    exact = store.new_vector_index(data.vectors.d)
    exact.add_with_ids(np.vstack([data.vectors.reconstruct(int(i)) for i in data.ids]), data.ids)
    assert len(set(exact.search(q.reshape(1, -1), 10)[1][0]) & set(data.vectors.search(q.reshape(1, -1), 10)[1][0])) >= 8
    # `index --exact` goes back to exact search, reusing every vector.
    done = cli("index", "--corpus", corpus, "--index", index_copy, "--exact", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["embedded"] == 0
    back = store.load(index_copy)
    assert back.manifest["vector_index"]["kind"] == "flat" and strip(back.passages) == strip(data.passages)
    assert cli("index", "--approximate", "--exact").returncode == 2  # one or the other


# -- index while serving ----------------------------------------------------------------------

@pytest.mark.slow
def test_bot_keeps_answering_while_the_index_changes_and_switches_between_questions(tmp_path, index_copy, embedder):
    from bot.core import AskOptions, TranscriptBot
    from bot.settings import Settings

    corpus = copy_small_corpus(tmp_path / "c")
    bot = TranscriptBot(Settings(corpus, index_copy, MINILM), embedder=embedder)
    questions = ["When was the Baksan hydroelectric power plant launched?", "What did Miller say about gas prices?",
                 "What did Guterres discuss with Putin?", "railway to Europe through Russia"]
    seen: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def serve() -> None:
        i = 0
        while not done.is_set() or i < 4:
            try:
                answer = bot.ask(questions[i % len(questions)], AskOptions(k=8))
                data = bot.data  # only this thread asks, so this is the generation the answer used
                if data.vectors.ntotal != len(data.passages):
                    errors.append(f"generation {data.generation}: {data.vectors.ntotal} vectors, {len(data.passages)} passages")
                known = set(data.manifest["transcripts"])
                for hit in answer.hits:  # a hit is a stored passage (a joined hit starts with its first window)
                    stored = data.passages[data.row_of[hit.passage.id]] if hit.passage.id in data.row_of else None
                    if hit.passage.transcript not in known or stored is None or stored.transcript != hit.passage.transcript \
                            or not hit.passage.text.startswith(stored.text):
                        errors.append(f"generation {data.generation}: hit from {hit.passage.transcript} not in it")
                seen.append(data.generation)
            except Exception as exc:  # noqa: BLE001 - any failure while serving is the finding
                errors.append(f"{type(exc).__name__}: {exc}")
            i += 1

    server = threading.Thread(target=serve)
    server.start()
    written = []
    try:
        steps = [lambda: (corpus / "kremlin" / SMALLEST).unlink(),
                 lambda: shutil.copy(KREMLIN / SMALLEST, corpus / "kremlin"),
                 lambda: (corpus / "kremlin" / SMALL_FILES[8]).unlink(),
                 lambda: shutil.copy(KREMLIN / NEW_FILE, corpus / "kremlin")]
        for step in steps:
            step()
            sync(corpus, index_copy, MINILM, lambda: embedder, progress=False)
            written.append(store.read_manifest(index_copy)["generation"])
            deadline = time.monotonic() + 60  # the bot switches at its next question
            while (not seen or seen[-1] != written[-1]) and time.monotonic() < deadline and server.is_alive():
                time.sleep(0.02)
            assert seen and seen[-1] == written[-1], (written, seen[-5:])
    finally:
        done.set()
        server.join(timeout=120)
    assert not errors, errors[:5]
    assert seen == sorted(seen)  # never back to an older generation
    assert set(written) <= set(seen)  # every generation was served, each switched to between questions
    final = store.load(index_copy)
    assert {p.transcript for p in final.passages} == {f"kremlin/{n}" for n in SMALL_FILES if n != SMALL_FILES[8]} | \
        {f"kremlin/{NEW_FILE}"}
    assert not bot.maybe_reload()  # already on the newest generation
    # The serving side memory-maps its vectors (page cache, shared) rather than copying them.
    vectors_file = final.manifest["files"]["vectors"]["path"]
    assert vectors_file in Path("/proc/self/maps").read_text()


def test_questions_during_a_reload_are_answered_from_the_loaded_index(tmp_path, index_copy, embedder):
    """While one question is loading a new generation, others do not load it again: they use the old one."""
    from bot.core import AskOptions, TranscriptBot
    from bot.settings import Settings

    corpus = copy_small_corpus(tmp_path / "c")
    bot = TranscriptBot(Settings(corpus, index_copy, MINILM), embedder=embedder)
    before = bot.data.generation
    (corpus / "kremlin" / SMALLEST).unlink()
    sync(corpus, index_copy, MINILM, lambda: embedder, progress=False)
    newer = store.read_manifest(index_copy)["generation"]
    assert newer > before
    bot._reloading.acquire()  # as if another question were loading it right now
    try:
        answer = bot.ask("When was the Baksan hydroelectric power plant launched?", AskOptions(k=3))
        assert bot.data.generation == before and answer.hits  # served from the loaded generation
        assert answer.hits[0].passage.transcript == f"kremlin/{SMALLEST}"  # still in it
    finally:
        bot._reloading.release()
    answer = bot.ask("When was the Baksan hydroelectric power plant launched?", AskOptions(k=3))
    assert bot.data.generation == newer
    assert all(h.passage.transcript != f"kremlin/{SMALLEST}" for h in answer.hits)
