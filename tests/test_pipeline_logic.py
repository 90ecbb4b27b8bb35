"""The question pipeline's logic on a tiny index with the fake embedder (conftest): parsing,
FAISS, BM25, fusion, filters, own-content discounts, the answer and its rendering, with no model.

These run without torch — `test_these_tests_need_no_torch` proves it by running this file in a
process where torch and sentence-transformers cannot be imported. Retrieval *quality* is judged
elsewhere, through the real model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.core import AskOptions
from bot.web_render import card_html

HERE = Path(__file__).resolve()


def test_the_passage_sharing_the_question_s_words_ranks_first(tiny):
    answer = tiny.ask("railway from Korea to Europe", AskOptions(k=3))
    top = answer.hits[0]
    assert top.passage.speaker == "Vladimir Putin" and "railway from Korea" in top.passage.text
    source = (tiny.settings.corpus / top.passage.transcript).read_text(encoding="utf-8")
    assert top.passage.text in source  # verbatim
    assert answer.answer.startswith("The railway from Korea through Russia to Europe") and answer.answer.endswith("[1]")


def test_filters_restrict_and_dates_come_from_the_transcripts(tiny):
    answer = tiny.ask("gas exports to Europe", AskOptions(k=5, speaker="Alexei Miller"))
    assert {h.passage.speaker for h in answer.hits} == {"Alexei Miller"}
    later = tiny.ask("teachers and schools", AskOptions(k=5, since="2020"))
    assert later.hits and {h.passage.date[:4] for h in later.hits} == {"2020"}


def test_a_content_free_reply_does_not_outrank_the_answer(tiny):
    answer = tiny.ask("Is the gas pipeline to Europe ready?", AskOptions(k=5))
    texts = [h.passage.text for h in answer.hits]
    assert "That is right." not in texts[:1]
    assert any("pipeline is ready" in t for t in texts[:2])


def test_a_reply_of_separators_is_labelled_as_short_as_its_words(tmp_path):
    """A reply whose text is a word and a separator ("Thank you. * * * * ...") has the asterisks'
    tokens but says nothing: its label counts words as the short-reply discount does (weak)."""
    from conftest import fake_bot

    stars = " ".join(["*"] * 14)
    bot = fake_bot(tmp_path, {"2019-03-01_forum.txt": (
        "Forum on shipbuilding\n\nMarch 1, 2019, Murmansk\n\n"
        "Question: Will the new shipyard in Murmansk build nuclear icebreakers for the northern sea route next year?\n\n"
        f"Vladimir Putin: Thank you. {stars}\n"
    )})
    answer = bot.ask("Will the new shipyard in Murmansk build nuclear icebreakers for the northern sea route next year?", AskOptions(k=5))
    reply = [h for h in answer.hits if h.passage.speaker == "Vladimir Putin"]
    assert reply and len(reply[0].passage.text.split()) >= 12  # whitespace tokens would call it long
    assert all(h.relevance == "weak" for h in reply)


def test_an_answer_renders_with_its_citation(tiny):
    answer = tiny.ask("village schools and teachers", AskOptions(k=2))
    hit = answer.to_json()["hits"][0]
    html = card_html(hit, "t1", answer.abstained, None)
    assert "Meeting on schools and teachers" in html and "June 15, 2020" in html
    assert hit["speaker"] in html and "[1]" in html


def test_dense_scores_read_in_place_equal_faiss_s_own_and_follow_updates():
    import numpy as np

    from bot import vector_index
    from bot.vectorstore import FaissStore

    rng = np.random.default_rng(3)
    v = rng.standard_normal((50, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ids = np.arange(1000, 1050, dtype=np.int64)[::-1].copy()  # ids not in storage order
    store = FaissStore(vector_index.build("flat", 16, v, ids))
    q, some = v[7], ids[[3, 0, 49, 7]]
    assert np.allclose(store.scores(q, some), store.index.reconstruct_batch(some) @ q, atol=0)
    assert store._stored_rows() is not None  # the in-place path was taken
    store.remove(ids[:10])
    store.add(v[:2] * -1, np.array([5, 6], dtype=np.int64))
    rest = np.array([ids[20], 5, 6, ids[49]], dtype=np.int64)
    assert np.allclose(store.scores(q, rest), store.index.reconstruct_batch(rest) @ q, atol=0)


def test_these_tests_need_no_torch():
    code = ("import sys; sys.modules['torch'] = None; sys.modules['sentence_transformers'] = None\n"
            "import pytest\n"
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {str(HERE)!r}, '-k', 'not need_no_torch']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE.parent.parent,
                          env=dict(os.environ), timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    others = sum(1 for name in globals() if name.startswith("test_")) - 1  # every test here but this one
    assert f"{others} passed" in done.stdout


def test_a_transcript_s_words_as_a_whole_are_the_sum_of_its_passages_counts(tiny):
    import numpy as np

    data = tiny.data
    whole = data.transcript_keyword()
    assert whole.n_docs == len(data.transcript_names) and whole.terms == data.keyword.terms
    for t in range(len(data.transcript_names)):
        rows = np.flatnonzero(data.row_transcript == t)
        assert (whole.counts[t].toarray() == data.keyword.counts[rows].sum(axis=0)).all()
    scores = whole.scores("teachers schools villages")
    assert data.transcript_names[int(np.argmax(scores))].endswith("meeting-on-schools.txt") and scores.min() == 0


MEETINGS = {
    # One passage of the first meeting matches both words; the second meeting discusses the
    # remote's budget across many turns, none of which has both words.
    "design-a.txt": ("Design meeting A\n\n" + "\n\n".join([
        "Anna: The remote budget is twelve euros.", "Ben: Lunch is at noon.", "Anna: The room is cold.",
        "Ben: The printer is broken.", "Anna: See you tomorrow."]) + "\n"),
    "design-b.txt": ("Design meeting B\n\n" + "\n\n".join([
        "Carl: The remote needs a case.", "Dora: The budget is tight.", "Carl: The remote should glow.",
        "Dora: The budget allows rubber.", "Carl: The remote buttons are big.", "Dora: The budget decides colours."]) + "\n"),
}


def test_a_meeting_whose_words_match_across_its_turns_gains_beside_one_with_a_single_matching_passage(tmp_path):
    """By its best passage alone meeting A is the transcript the question is about; mixed with
    each meeting's BM25 as a whole, meeting B (the budget discussed across many turns) gains."""
    from dataclasses import replace

    from bot.retrieval import RetrievalConfig
    from conftest import fake_bot

    def b_over_a(weight: float, keyword_weight: float = 1.0) -> float:
        config = replace(RetrievalConfig(), about_transcripts=1, about_document_weight=weight, title_boost=0,
                         keyword_weight=keyword_weight)
        bot = fake_bot(tmp_path, MEETINGS, config)
        hits = bot.search("remote budget", AskOptions(k=10))
        best = {}
        for h in hits:
            best.setdefault(h.passage.transcript, h.score)
        assert hits[0].passage.text == "The remote budget is twelve euros."  # the one passage with both words
        return best["design-b.txt"] / best["design-a.txt"]

    alone, mixed = b_over_a(0.0), b_over_a(1.5)
    assert mixed > alone * 1.1, (alone, mixed)
    # A keyword signal: where keywords are off (as in the multilingual space), so is it.
    assert b_over_a(0.0, keyword_weight=0.0) == b_over_a(1.5, keyword_weight=0.0)


PODCASTS = {
    "episode-7.txt": ("Episode 7: Banks\n\n" + "\n\n".join([
        "Host Name: Welcome. I am talking with Vivek Kaul about the banks and their debt.",
        "Guest 1: The debt of the banks doubled in five years.",
        "Host Name: So the debt of the banks doubled, you say."]) + "\n"),
    "episode-8.txt": ("Episode 8: Farms\n\n" + "\n\n".join([
        "Host Name: Welcome. Today we talk about farms.",
        "Guest 1: The debt of the banks doubled for farmers too."]) + "\n"),
}


def test_a_person_no_label_names_is_looked_for_in_the_anonymous_turns_of_the_transcripts_mentioning_them(tmp_path):
    """Vivek Kaul speaks as "Guest 1" in episode 7, which mentions him; the host is labelled by
    name. Asked what Vivek Kaul said, episode 7's guest turn gains and is what the answer quotes;
    episode 8's guest (who never mentions him) does not gain; with the boost off, nothing does."""
    from dataclasses import replace

    from bot.retrieval import RetrievalConfig
    from conftest import fake_bot

    question = "What did Vivek Kaul say about the debt of the banks?"
    scores, answers = {}, {}
    for boost in (0.0, 0.25):
        bot = fake_bot(tmp_path, PODCASTS, replace(RetrievalConfig(), unlabelled_boost=boost, title_boost=0,
                                                    about_transcripts=0))
        answer = bot.ask(question, AskOptions(k=5))
        scores[boost] = {(h.passage.transcript, h.passage.speaker, h.passage.turn): h.score for h in answer.hits}
        answers[boost] = answer
    guest7, guest8 = ("episode-7.txt", "Guest 1", 1), ("episode-8.txt", "Guest 1", 1)
    assert scores[0.25][guest7] > scores[0.0][guest7] * 1.2
    assert scores[0.25][guest8] == scores[0.0][guest8]
    assert answers[0.25].understood["speakers"] == [{"person": "Vivek Kaul", "asks_what_they_said": True,
                                                    "labelled": False, "may_speak_as": ["Guest 1"]}]
    assert answers[0.0].understood["speakers"] == []
    assert answers[0.25].answer == "The debt of the banks doubled in five years. [1]"
    assert answers[0.25].hits[0].passage.transcript == "episode-7.txt"
    from bot.web_render import understood_html

    chip = understood_html(answers[0.25].understood, {})
    assert "Vivek Kaul" in chip and "no label names them; turns labelled Guest 1 ranked higher" in chip
    # A follow-up keeps asking about him ("And what did he add?" names nobody).
    bot = fake_bot(tmp_path, PODCASTS, replace(RetrievalConfig(), title_boost=0, about_transcripts=0))
    follow = bot.ask("And what did he say about the debt of the banks?", AskOptions(k=5, context=[question]))
    assert follow.understood["follow_up"] and follow.answer == "The debt of the banks doubled in five years. [1]"
