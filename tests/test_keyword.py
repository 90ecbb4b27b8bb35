"""The keyword index: BM25 that equals bm25s's scores and updates by rows, not by a rebuild."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bot.keyword import _SPLIT, KeywordIndex, _stemmer, _stopwords
from conftest import KREMLIN, SMALL_FILES

QUESTIONS = ("gas prices in Ukraine", "what did Merkel say about sanctions sanctions", "railway to Europe",
             "unemployment rate 5 percent", "$100 million", "no such wordzzz")


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    """Real text: the paragraphs of the small test corpus's transcripts."""
    out = []
    for name in SMALL_FILES:
        out.extend(p for p in (KREMLIN / name).read_text(encoding="utf-8").split("\n\n") if p.strip())
    return out


def test_scores_equal_bm25s_lucene(paragraphs):
    import bm25s

    stem, stop = _stemmer().stemWords, _stopwords()
    docs = [stem([w for w in re.findall(_SPLIT, t.lower()) if w not in stop]) or ["∅"] for t in paragraphs]
    reference = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    reference.index(docs, show_progress=False)
    ours = KeywordIndex.build(paragraphs)
    assert set(ours.vocabulary) == set(reference.vocab_dict) - {""}  # bm25s always adds ""
    for q in QUESTIONS:
        known = [t for t in ours.tokens(q) if t in reference.vocab_dict]
        expected = np.asarray(reference.get_scores(known)) if known else np.zeros(len(paragraphs))
        assert np.allclose(ours.scores(q), expected, atol=1e-5), q
    assert ours.scores("gas prices in Ukraine").max() > 0


def test_appending_and_dropping_rows_equals_a_fresh_build(paragraphs):
    """Remove every third paragraph, add new text, reorder: the same index as building from scratch."""
    rng = np.random.default_rng(1)
    extra = ["The Pyongyang talks covered missile technology.", "", "Gas gas gas prices."]
    start = KeywordIndex.build(paragraphs)
    keep = [i for i in range(len(paragraphs)) if i % 3]
    grown = start.extended(extra)
    order = rng.permutation(len(keep) + len(extra))
    rows = np.array(keep + list(range(len(paragraphs), len(paragraphs) + len(extra))))[order]
    updated = grown.take(rows)
    texts = (paragraphs + extra)
    fresh = KeywordIndex.build([texts[r] for r in rows])
    assert set(updated.vocabulary) == set(fresh.vocabulary)  # words only the dropped rows had are gone
    assert updated.n_docs == fresh.n_docs == len(rows)
    for q in QUESTIONS + ("Pyongyang missile",):
        assert np.allclose(updated.scores(q), fresh.scores(q), atol=1e-5), q
    assert updated.scores("Pyongyang missile").argmax() == int(np.flatnonzero(rows == len(paragraphs))[0])


def test_save_and_load_round_trip_and_mismatched_files_are_refused(tmp_path, paragraphs):
    index = KeywordIndex.build(paragraphs)
    index.save(tmp_path / "kw")
    assert json.loads((tmp_path / "kw" / "vocabulary.json").read_text())[0] in index.vocabulary
    loaded = KeywordIndex.load(tmp_path / "kw", len(paragraphs))
    for q in QUESTIONS:
        assert np.array_equal(loaded.scores(q), index.scores(q))
    with pytest.raises(ValueError, match="keyword rows for"):
        KeywordIndex.load(tmp_path / "kw", len(paragraphs) + 1)


def test_an_empty_index_scores_nothing():
    empty = KeywordIndex.build([])
    assert empty.n_docs == 0 and empty.scores("anything").shape == (0,)
    one = empty.extended(["the and of"])  # only stop words: one row with the placeholder token
    assert one.n_docs == 1 and one.scores("the").tolist() == [0.0]


def test_a_word_the_corpus_spells_letter_by_letter_is_found_and_known():
    """Meeting transcripts write acronyms letter by letter ("L_C_D_"): a question's "LCD" is
    searched for in that spelling too, and is not a word the corpus never uses."""
    from bot.abstention import unknown_terms

    index = KeywordIndex.build(["we want an L_C_D_ screen on the T_V_ remote", "the D_V_D_ player", "an lcd panel",
                                "a red case"])
    assert index.tokens("The LCD, the TV and a DVD") == ["lcd", "l_c_d_", "t_v_", "d_v_d_"]
    scores = index.scores("TV")
    assert scores[0] > 0 and not scores[1:].any()
    assert index.scores("LCD")[[0, 2]].min() > 0  # both spellings
    assert unknown_terms("Want an LCD on the TV?", index) == ([], [])
    assert unknown_terms("Want a VCR?", index) == (["VCR"], [])
    assert index.tokens("a red case") == ["red", "case"]  # nothing else changes


def test_a_word_the_corpus_uses_only_in_another_form_is_searched_in_that_form():
    """Stems keep "Alaskans" ("alaskan") and "Alaska" ("alaska") apart, and machine transcripts
    say one where a question says the other: a word the corpus never uses is searched as the
    corpus's form that drops or adds one or two letters, and is not unknown to it. Short
    words and words the corpus uses keep their own form."""
    from bot.abstention import unknown_terms

    index = KeywordIndex.build(["the tax in Alaska", "the Ukrainians voted", "the rain fell", "Juli und August"])
    assert index.tokens("Alaskans") == ["alaska"]  # one letter dropped
    assert index.variant("ukrainia") == "ukrainian"  # one letter added
    assert index.variant("ukrain") is None  # "Ukraine": three letters short of "ukrainian"
    assert index.variant("raini") is None  # "rainy": too short to stand for "rain"
    assert index.variant("julian") is None  # "juli" would keep four letters
    scores = index.scores("What do Alaskans pay?")
    assert scores[0] > 0 and not scores[1:].any()
    assert unknown_terms("The tax of Alaskans?", index) == ([], [])
    assert unknown_terms("The tax of Assange?", index) == (["Assange"], [])
    assert index.tokens("the tax in Alaska") == ["tax", "alaska"]  # known words: unchanged
