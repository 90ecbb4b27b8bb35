"""The on-disk index: incremental sync, verbatim passages, FAISS vs brute force, refusal and recovery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot import store
from bot.chunking import PASSAGE_RULES
from bot.errors import BotError, IndexBusy, IndexCorrupt, IndexMismatch, IndexMissing
from bot.indexer import sync
from bot.settings import MINILM
from conftest import copy_small_corpus


class CountingEmbedder:
    """Wraps the real embedder and records every text it embeds."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.dimension = inner.name, inner.dimension
        self.embedded: list[str] = []

    def embed_documents(self, texts, progress=None):
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts, progress)

    def embed_query(self, text):
        return self.inner.embed_query(text)


def _sync(corpus, index, embedder, **kw):
    return sync(corpus, index, MINILM, lambda: embedder, progress=False, **kw)


def test_index_files_are_plain_and_self_describing(small_index, small_corpus):
    manifest = json.loads((small_index / "manifest.json").read_text())
    assert manifest["format"] == "transcript-bot-index" and manifest["format_version"] == store.FORMAT_VERSION
    assert manifest["model"] == {"name": MINILM, "dimension": 384, "normalized": True, "metric": "inner_product"}
    assert len(manifest["transcripts"]) == 9 and all(len(t["fingerprint"]) == 32 for t in manifest["transcripts"].values())
    passages = [json.loads(line) for line in (small_index / manifest["files"]["passages"]["path"]).read_text().splitlines()]
    assert len(passages) == manifest["passages"]
    for p in passages:  # every stored passage is verbatim source text
        source = (small_corpus / p["transcript"]).read_text(encoding="utf-8")
        assert p["text"] in source
    assert not list(small_index.glob("*.pkl")) and not list(small_index.rglob("*.pickle"))


def test_faiss_top_k_equals_brute_force_over_freshly_embedded_passages(small_bot, embedder):
    """The oracle is independent of the index: every passage's text embedded again now, by the
    real model, and searched by brute force. FAISS must return the same top 10 with the same
    scores, so the stored vectors, their ids and the search all agree with the source."""
    from bot.chunking import embedding_text
    from bot.indexer import EMBEDDING_MODE

    data = small_bot.data
    fresh = embedder.embed_documents([embedding_text(p, EMBEDDING_MODE) for p in data.passages])
    assert np.allclose(np.linalg.norm(fresh, axis=1), 1.0, atol=2e-3)  # normalised: IP == cosine
    stored = np.vstack([data.vectors.reconstruct(int(i)) for i in data.ids])
    assert float((stored * fresh).sum(axis=1).min()) > 0.999  # each row is its passage's vector
    for question in ("railway to Europe through Russia", "unemployment rate", "refugees in Europe", "gas prices"):
        q = embedder.embed_query(question)
        scores, ids = data.vectors.search(q.reshape(1, -1), 10)
        brute = np.argsort(-(fresh @ q))[:10]
        assert list(ids[0]) == [int(data.ids[r]) for r in brute]
        assert np.allclose(scores[0], (fresh @ q)[brute], atol=1e-4)


def test_sync_add_change_remove_reembeds_only_what_changed(tmp_path, embedder):
    corpus = copy_small_corpus(tmp_path / "c", files=__import__("conftest").SMALL_FILES[:4])
    index = tmp_path / "ix"
    counting = CountingEmbedder(embedder)
    first = _sync(corpus, index, counting)
    assert len(first.added) == 4 and first.embedded == first.passages
    # nothing changed: nothing embedded, nothing written
    counting.embedded.clear()
    again = _sync(corpus, index, counting)
    assert again.embedded == 0 and not again.wrote and len(again.unchanged) == 4
    # change one paragraph of one transcript: only that transcript's changed passages are embedded
    target = sorted((corpus / "kremlin").glob("2010-10-11*.txt"))[0]
    text = target.read_text(encoding="utf-8")
    paragraph = next(p for p in text.split("\n\n")[4:] if len(p) > 200)
    target.write_text(text.replace(paragraph, paragraph + " We will also build new roads."), encoding="utf-8")
    changed = _sync(corpus, index, counting)
    assert changed.changed == [f"kremlin/{target.name}"] and len(changed.unchanged) == 3
    assert 0 < changed.embedded <= 3 and changed.reused > 0
    assert all("We will also build new roads." in t for t in counting.embedded)
    # add and remove
    shutil.copy(__import__("conftest").KREMLIN / __import__("conftest").SMALL_FILES[4], corpus / "kremlin")
    (corpus / "kremlin" / __import__("conftest").SMALL_FILES[1]).unlink()
    counting.embedded.clear()
    report = _sync(corpus, index, counting)
    assert report.added == [f"kremlin/{__import__('conftest').SMALL_FILES[4]}"]
    assert report.removed == [f"kremlin/{__import__('conftest').SMALL_FILES[1]}"]
    data = store.load(index)
    assert {p.transcript for p in data.passages} == {f"kremlin/{f.name}" for f in (corpus / "kremlin").glob("*.txt")}
    assert data.vectors.ntotal == len(data.passages)
    # the incremental result equals a fresh full build: same passages, same top-k
    fresh = tmp_path / "fresh"
    _sync(corpus, fresh, embedder, full=True)
    full = store.load(fresh)
    strip = lambda ps: [(p.transcript, p.turn, p.part, p.text, p.context) for p in ps]  # noqa: E731
    assert strip(data.passages) == strip(full.passages)
    for question in ("road construction", "Kyrgyz security forces", "hydroelectric power"):
        q = embedder.embed_query(question)
        a = [data.passages[data.row_of[int(i)]].text for i in data.vectors.search(q.reshape(1, -1), 5)[1][0]]
        b = [full.passages[full.row_of[int(i)]].text for i in full.vectors.search(q.reshape(1, -1), 5)[1][0]]
        assert a == b
        # the keyword side was updated row by row, not rebuilt, and scores exactly as a fresh build
        assert np.allclose(data.keyword.scores(question), full.keyword.scores(question), atol=1e-5)
    assert set(data.keyword.vocabulary) == set(full.keyword.vocabulary)


def test_format_1_index_is_upgraded_without_embedding(tmp_path, index_copy, small_corpus, small_index):
    """An index written by the previous format (bm25s keyword files) is upgraded by a plain sync."""
    manifest = json.loads((index_copy / "manifest.json").read_text())
    manifest["format_version"] = 1
    (index_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="upgrade it .no re-embedding. with: transcript-bot index"):
        store.load(index_copy)

    def no_model():
        raise AssertionError("an upgrade must not load the model")

    report = sync(small_corpus, index_copy, MINILM, no_model, progress=False)
    assert report.wrote and report.embedded == 0
    upgraded, original = store.load(index_copy), store.load(small_index)
    assert upgraded.manifest["format_version"] == store.FORMAT_VERSION
    assert [p.id for p in upgraded.passages] == [p.id for p in original.passages]
    for question in ("gas prices", "refugees in Europe"):
        assert np.allclose(upgraded.keyword.scores(question), original.keyword.scores(question))


def test_mismatched_model_or_format_is_refused(small_index, tmp_path):
    with pytest.raises(IndexMismatch, match="built with model 'all-MiniLM-L6-v2', not 'other-model'; name no model to use its own, or switch it with: .*--model other-model"):
        store.load(small_index, model="other-model")
    copy = tmp_path / "ix"
    shutil.copytree(small_index, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 999
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="format 999"):
        store.load(copy, model=MINILM, passage_rules=PASSAGE_RULES)


def test_missing_index_and_corrupt_files_are_named(tmp_path, index_copy):
    with pytest.raises(IndexMissing, match="no index at"):
        store.load(tmp_path / "nothing")
    manifest = json.loads((index_copy / "manifest.json").read_text())
    vectors = index_copy / manifest["files"]["vectors"]["path"]
    vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    with pytest.raises(IndexCorrupt, match=f"{vectors.name}.*truncated or altered.*index --full"):
        store.load(index_copy)
    (index_copy / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="manifest.json"):
        store.load(index_copy)


def test_corrupt_index_is_rebuilt_by_the_next_sync(tmp_path, embedder):
    """A damaged index is rebuilt from the corpus by a plain sync. Over the two shortest small-corpus
    transcripts (the rebuild re-embeds everything, whatever the size, so a small corpus suffices)."""
    from conftest import SMALL_FILES

    corpus = copy_small_corpus(tmp_path / "c", files=[SMALL_FILES[4], SMALL_FILES[7]])
    index = tmp_path / "ix"
    built = _sync(corpus, index, embedder)
    manifest = json.loads((index / "manifest.json").read_text())
    passages = index / manifest["files"]["passages"]["path"]
    passages.write_text("garbage")
    report = _sync(corpus, index, embedder)
    assert report.rebuilt_because and "passages" in report.rebuilt_because
    assert report.passages == built.passages and store.load(index).vectors.ntotal == report.passages


def test_second_writer_is_refused(index_copy):
    with store.locked(index_copy):
        with pytest.raises(IndexBusy, match="another transcript-bot index run"):
            with store.locked(index_copy):
                pass


def test_empty_corpus_never_wipes_the_index(tmp_path, index_copy, embedder):
    empty = tmp_path / "empty"
    empty.mkdir()
    before = json.loads((index_copy / "manifest.json").read_text())
    with pytest.raises(BotError, match="no transcripts found"):
        _sync(empty, index_copy, embedder)
    assert json.loads((index_copy / "manifest.json").read_text()) == before


def test_unreadable_file_keeps_its_previous_version(tmp_path, embedder):
    files = __import__("conftest").SMALL_FILES[:2]
    corpus = copy_small_corpus(tmp_path / "c", files=files)
    index = tmp_path / "ix"
    _sync(corpus, index, embedder)
    before = [p.text for p in store.load(index).passages if files[0] in p.transcript]
    (corpus / "kremlin" / files[0]).write_bytes(b"\x00\x01binary now\x00")
    (corpus / "kremlin" / "empty.txt").write_text("")
    report = _sync(corpus, index, embedder)
    assert any(files[0] in p and "previously indexed version is kept" in p for p in report.problems)
    assert any("empty.txt: empty file" in p for p in report.problems)
    assert [p.text for p in store.load(index).passages if files[0] in p.transcript] == before
    from bot.indexer import freshness  # the kept version is known to be outdated, not "changed" forever

    fresh = freshness(corpus, store.read_manifest(index))
    assert not fresh.stale and f"kremlin/{files[0]}" in fresh.skipped


def test_old_generation_is_kept_for_readers_and_older_removed(tmp_path, embedder):
    corpus = copy_small_corpus(tmp_path / "c", files=__import__("conftest").SMALL_FILES[:2])
    index = tmp_path / "ix"
    _sync(corpus, index, embedder)
    for i in range(3):
        (corpus / "kremlin" / f"extra{i}.txt").write_text(f"Extra {i}\n\nJohn Smith: Note number {i} about fishing quotas.\n")
        _sync(corpus, index, embedder)
    gens = sorted({p.name.split(".")[1] for p in index.iterdir() if p.name.startswith(("passages.", "vectors."))})
    assert gens == ["000003", "000004"]


def test_skipped_files_do_not_leave_the_index_stale(tmp_path, embedder):
    """A file `index` cannot read is recorded with its fingerprint: known, not "new", until edited."""
    from bot.indexer import freshness

    corpus = copy_small_corpus(tmp_path / "c", files=__import__("conftest").SMALL_FILES[:1])
    (corpus / "kremlin" / "empty.txt").write_text("")
    (corpus / "kremlin" / "binary.txt").write_bytes(b"\x00\x01\x02 not text \x00")
    index = tmp_path / "ix"
    _sync(corpus, index, embedder)
    manifest = store.read_manifest(index)
    fresh = freshness(corpus, manifest)
    assert not fresh.stale, fresh.describe()
    assert set(fresh.skipped) == {"kremlin/empty.txt", "kremlin/binary.txt"}
    assert "2 unreadable files skipped" in fresh.describe()
    generation = manifest["files"]
    # A second update has nothing to do and writes nothing.
    again = _sync(corpus, index, embedder)
    assert not again.wrote and store.read_manifest(index)["files"] == generation
    # Adding only an unreadable file is recorded too (a new manifest, no passage touched).
    (corpus / "kremlin" / "later.txt").write_text("   \n")
    report = _sync(corpus, index, embedder)
    assert report.wrote and report.embedded == 0
    assert not freshness(corpus, store.read_manifest(index)).stale
    # Fixed, the file is new again and gets indexed.
    (corpus / "kremlin" / "empty.txt").write_text("Fixed\n\nJohn Smith: The fishing quota is now 40 tonnes.\n")
    assert freshness(corpus, store.read_manifest(index)).added == ["kremlin/empty.txt"]
    report = _sync(corpus, index, embedder)
    assert report.added == ["kremlin/empty.txt"]
    assert set(freshness(corpus, store.read_manifest(index)).skipped) == {"kremlin/binary.txt", "kremlin/later.txt"}


def test_symlinks_never_read_outside_the_corpus(tmp_path, embedder):
    import os

    corpus = copy_small_corpus(tmp_path / "c", files=__import__("conftest").SMALL_FILES[:1])
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\n\nJohn Smith: The password is swordfish.\n")
    inside = corpus / "kremlin" / __import__("conftest").SMALL_FILES[0]
    os.symlink(outside, corpus / "kremlin" / "passwd.txt")
    os.symlink("/etc/hostname", corpus / "kremlin" / "hostname.txt")
    os.symlink(tmp_path / "nowhere.txt", corpus / "kremlin" / "dangling.txt")
    os.symlink(corpus / "kremlin" / "loop-b.txt", corpus / "kremlin" / "loop-a.txt")
    os.symlink(corpus / "kremlin" / "loop-a.txt", corpus / "kremlin" / "loop-b.txt")
    os.symlink(tmp_path, corpus / "up")  # a folder link (here: a way back out of the corpus)
    os.symlink(inside, corpus / "alias.txt")  # a link to a transcript inside the corpus is fine
    report = _sync(corpus, tmp_path / "ix", embedder)
    texts = " ".join(p.text for p in store.load(tmp_path / "ix").passages)
    assert "swordfish" not in texts
    names = {p.transcript for p in store.load(tmp_path / "ix").passages}
    assert names == {f"kremlin/{inside.name}", "alias.txt"}
    problems = "\n".join(report.problems)
    assert "kremlin/passwd.txt: symbolic link to a file outside the corpus; skipped" in problems
    assert "kremlin/hostname.txt: symbolic link to a file outside the corpus; skipped" in problems
    assert "kremlin/dangling.txt: symbolic link to nothing (dangling); skipped" in problems
    assert "kremlin/loop-a.txt: symbolic link loop; skipped" in problems
    assert "up: symbolic link to a folder (not followed); skipped" in problems


def test_freshness_rereads_only_files_changed_since_the_last_check(tmp_path, monkeypatch, small_index, small_corpus):
    """A server's freshness check hashes a file again only when its size, mtime or inode moved."""
    import os

    from bot import corpus as corpus_module
    from bot.indexer import freshness

    corpus = tmp_path / "c"
    shutil.copytree(small_corpus, corpus)
    manifest = store.read_manifest(small_index)
    hashed: list[str] = []
    real = corpus_module._hash_file
    monkeypatch.setattr(corpus_module, "_hash_file", lambda path: hashed.append(path.name) or real(path))
    cache: dict = {}
    assert not freshness(corpus, manifest, cache).stale
    first = len(hashed)
    assert first == 9
    assert not freshness(corpus, manifest, cache).stale and len(hashed) == first  # nothing re-read
    target = sorted((corpus / "kremlin").glob("*.txt"))[0]
    stat = target.stat()
    target.write_bytes(target.read_bytes().replace(b"the", b"THE", 1))  # same size
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    fresh = freshness(corpus, manifest, cache)
    assert hashed[first:] == [target.name] and fresh.changed == [f"kremlin/{target.name}"]


def test_an_index_cut_by_older_passage_rules_is_recut_and_only_changed_passages_embedded(tmp_path, monkeypatch):
    """An index from before the 300-token exchanges (rules turn-windows-v1) is refused by readers
    with the command that updates it; that update cuts every transcript anew and embeds only the
    passages that come out differently (the meeting's), and ends equal to a fresh build."""
    from bot import chunking, indexer
    from bot.chunking import UPGRADABLE_PASSAGE_RULES, embedding_text
    from conftest import TINY_TRANSCRIPTS, FakeEmbedder

    meeting = Path(__file__).resolve().parent / "fixtures" / "quality" / "TS3010c_excerpt.txt"
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name, text in TINY_TRANSCRIPTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    shutil.copy(meeting, corpus / meeting.name)
    fake = FakeEmbedder()
    with monkeypatch.context() as old_rules:  # the indexer as it was: 200-token exchanges, rules v1
        old_rules.setattr(indexer, "PASSAGE_RULES", UPGRADABLE_PASSAGE_RULES[0])
        old_rules.setattr(indexer, "passages_for", lambda *a, **k: chunking.passages_for(*a, **k, exchange_tokens=200))
        sync(corpus, index, fake.name, lambda: fake, progress=False)
    before = store.load(index)
    assert before.manifest["passage_rules"] == "turn-windows-v1"
    with pytest.raises(IndexMismatch, match=r"cut into passages by rules 'turn-windows-v1', this version uses "
                                            r"'turn-windows-v2'; update it .only passages now cut differently are "
                                            r"re-embedded. with: transcript-bot index"):
        store.load(index, passage_rules=PASSAGE_RULES)

    fake.embedded.clear()
    report = sync(corpus, index, fake.name, lambda: fake, progress=False)
    assert report.recut_from == "turn-windows-v1" and report.wrote
    assert report.changed == [meeting.name] and sorted(report.unchanged) == sorted(TINY_TRANSCRIPTS)
    assert "passages cut by 'turn-windows-v2', not 'turn-windows-v1'" in report.summary()
    after = store.load(index, passage_rules=PASSAGE_RULES)
    exchanges = lambda data: [p for p in data.passages if p.transcript == meeting.name]  # noqa: E731
    assert len(exchanges(after)) < len(exchanges(before))  # fewer, longer exchanges
    # the meeting's new exchanges (and any quotable sentence of theirs the table lacked), nothing else
    assert fake.embedded and all(any(t == embedding_text(p) or t in p.text for p in exchanges(after))
                                 for t in fake.embedded)
    assert report.embedded == len(exchanges(after)) - report.reused
    interviews = lambda data: [(p.id, p.text) for p in data.passages if p.transcript != meeting.name]  # noqa: E731
    assert interviews(after) == interviews(before)  # kept row for row, ids and all
    fresh = tmp_path / "fresh"
    sync(corpus, fresh, fake.name, lambda: FakeEmbedder(), progress=False)
    strip = lambda data: [(p.transcript, p.turn, p.last_turn, p.part, p.text) for p in data.passages]  # noqa: E731
    assert strip(after) == strip(store.load(fresh))
    assert not sync(corpus, index, fake.name, lambda: fake, progress=False).wrote  # now up to date

    # interviews alone cut as before: nothing embedded, but the manifest records today's rules
    plain = tmp_path / "plain"
    (plain / "corpus").mkdir(parents=True)
    for name, text in TINY_TRANSCRIPTS.items():
        (plain / "corpus" / name).write_text(text, encoding="utf-8")
    with monkeypatch.context() as old_rules:
        old_rules.setattr(indexer, "PASSAGE_RULES", UPGRADABLE_PASSAGE_RULES[0])
        sync(plain / "corpus", plain / "index", fake.name, lambda: fake, progress=False)
    damaged = plain / "damaged"
    shutil.copytree(plain / "index", damaged)
    next(damaged.glob("passages.*.jsonl")).write_text("", encoding="utf-8")
    fake.embedded.clear()
    report = sync(plain / "corpus", plain / "index", fake.name, lambda: fake, progress=False)
    assert report.recut_from == "turn-windows-v1" and report.wrote and report.embedded == 0 and not fake.embedded
    # a damaged one is rebuilt whole, which is not called a re-cut
    rebuilt = sync(plain / "corpus", damaged, fake.name, lambda: fake, progress=False)
    assert rebuilt.rebuilt_because and rebuilt.recut_from is None and rebuilt.embedded == rebuilt.passages
    assert store.load(plain / "index", passage_rules=PASSAGE_RULES).manifest["passage_rules"] == PASSAGE_RULES
