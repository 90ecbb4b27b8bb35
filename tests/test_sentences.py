"""The sentence table (`bot.sentences`): every quotable sentence embedded once by `index`, looked up
by the answer, kept in step by incremental updates, checked on load.

Logic runs on the tiny index with the fake embedder; the last test goes through the real model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bot import store
from bot.core import AskOptions, TranscriptBot
from bot.errors import IndexCorrupt
from bot.indexer import sync
from bot.records import Passage
from bot.sentences import SentenceVectors, keys_of, quantize, quotable_spans, quotable_texts
from bot.settings import Settings
from conftest import TINY_TRANSCRIPTS, FakeEmbedder


def _build(tmp_path, fake=None):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir(exist_ok=True)
    for name, text in TINY_TRANSCRIPTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    fake = fake or FakeEmbedder()
    report = sync(corpus, index, fake.name, lambda: fake, progress=False)
    return corpus, index, fake, report


def test_quantised_rows_keep_their_direction():
    rng = np.random.default_rng(7)
    v = rng.standard_normal((500, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q, scales = quantize(v)
    back = q.astype(np.float32) * scales[:, None]
    cos = (back * v).sum(1) / np.linalg.norm(back, axis=1)
    assert q.dtype == np.int8 and cos.min() > 0.999


def test_quotable_sentences_leave_out_questions_and_fragments():
    p = Passage(id=1, transcript="t", title="T", date=None, place=None, url=None, speaker="A", turn=0, part=0,
                text="Yes. What do you mean by that? We built four new schools this year.")
    assert [p.text[s:e] for s, e in quotable_spans(p)] == ["We built four new schools this year."]


def test_the_index_holds_every_quotable_sentence_once(tmp_path):
    _, index, _, report = _build(tmp_path)
    data = store.load(index)
    wanted = quotable_texts(data.passages)
    assert data.sentences is not None and len(data.sentences) == len(set(wanted)) == report.sentences_embedded
    assert data.sentences.has(wanted).all()
    assert data.manifest["sentences"]["count"] == len(wanted)
    assert (index / data.manifest["files"]["sentences"]["path"] / "keys.npy").exists()


def test_an_answer_looks_its_sentences_up_instead_of_embedding_them(tmp_path):
    corpus, index, fake, _ = _build(tmp_path)
    bot = TranscriptBot(Settings(corpus, index, fake.name), embedder=fake)
    fake.embedded.clear()
    answer = bot.ask("railway from Korea to Europe", AskOptions(k=3))
    assert answer.answer.startswith("The railway from Korea through Russia to Europe")
    assert fake.embedded == []  # no sentence went through the encoder
    # The same answer as embedding the sentences on the spot (the table is only a cache).
    bot.data.sentences = None
    again = bot.ask("railway from Korea to Europe", AskOptions(k=3))
    assert again.answer == answer.answer and fake.embedded


def test_a_sentence_the_table_lacks_is_embedded_on_the_spot(tmp_path):
    corpus, index, fake, _ = _build(tmp_path)
    bot = TranscriptBot(Settings(corpus, index, fake.name), embedder=fake)
    bot.data.sentences = SentenceVectors.empty(fake.dimension)
    fake.embedded.clear()
    answer = bot.ask("railway from Korea to Europe", AskOptions(k=3))
    assert answer.answer.startswith("The railway from Korea") and fake.embedded


def test_an_update_embeds_only_new_sentences_and_drops_the_removed(tmp_path):
    corpus, index, fake, _ = _build(tmp_path)
    (corpus / "2020-06-15_meeting-on-schools.txt").unlink()
    (corpus / "2021-01-10_briefing.txt").write_text(
        "Briefing on roads\n\nJanuary 10, 2021, Moscow\n\nMarat Khusnullin: We repaired nine thousand kilometres "
        "of regional roads. Village schools must have good teachers and decent buildings.\n", encoding="utf-8")
    fake.embedded.clear()
    report = sync(corpus, index, fake.name, lambda: fake, progress=False)
    data = store.load(index)
    assert data.sentences.has(quotable_texts(data.passages)).all()
    # Only the new sentence was embedded: the other was the removed transcript's, and is kept.
    assert report.sentences_embedded == 1 and "We repaired nine thousand kilometres of regional roads." in fake.embedded
    assert "Village schools must have good teachers and decent buildings." not in fake.embedded
    gone = "Teachers' salaries in the regions rose again, and new schools opened in villages."
    assert not data.sentences.has([gone])[0]
    assert len(data.sentences) == len(set(quotable_texts(data.passages)))


def test_an_index_without_the_table_gets_it_without_re_embedding_passages(tmp_path):
    corpus, index, fake, _ = _build(tmp_path)
    manifest = store.read_manifest(index)
    shutil.rmtree(index / manifest["files"]["sentences"]["path"])
    del manifest["files"]["sentences"], manifest["sentences"]
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert store.load(index).sentences is None  # an older index still loads, answers embed
    report = sync(corpus, index, fake.name, lambda: fake, progress=False)
    assert report.wrote and report.embedded == 0 and report.sentences_embedded > 0
    assert store.load(index).sentences is not None
    again = sync(corpus, index, fake.name, lambda: fake, progress=False)
    assert not again.wrote  # and then nothing more to do


def test_a_damaged_table_is_reported_by_name(tmp_path):
    _, index, _, _ = _build(tmp_path)
    folder = index / store.read_manifest(index)["files"]["sentences"]["path"]
    np.save(folder / "scales.npy", np.zeros(3, np.float32))
    with pytest.raises(IndexCorrupt, match="sentences"):
        store.load(index)


def test_a_table_whose_parts_disagree_is_refused(tmp_path):
    table = SentenceVectors.of(["one two three", "four five six"], np.eye(2, 8, dtype=np.float32))
    table.save(tmp_path)
    np.save(tmp_path / "keys.npy", keys_of(["one two three"]))
    with pytest.raises(ValueError):
        SentenceVectors.load(tmp_path, 8)


def test_table_vectors_match_the_real_model(small_index, embedder):
    data = store.load(small_index)
    texts = quotable_texts(data.passages[:40])
    looked_up = data.sentences.vectors_for(texts, lambda t: pytest.fail("the table lacks a sentence"))
    fresh = embedder.embed_documents(texts)
    cos = (looked_up * fresh).sum(1) / np.linalg.norm(looked_up, axis=1)
    assert len(texts) > 50 and cos.min() > 0.999


def test_best_sentence_is_the_best_cosine_among_a_passage_s_sentences(tmp_path):
    _, index, fake, _ = _build(tmp_path)
    data = store.load(index)
    q = fake.embed_query("railway from Korea to Europe")
    rows = np.arange(len(data.passages))
    best = data.best_sentence(q, rows)
    for r in rows:
        p = data.passages[r]
        texts = [p.text[s:e] for s, e in quotable_spans(p)]
        want = max([float(v @ q) for v in data.sentences.vectors_for(texts, fake.embed_documents)], default=0.0)
        assert abs(best[r] - max(want, 0.0)) < 1e-3
    assert data.passages[int(np.argmax(best))].text.startswith("The railway from Korea")
