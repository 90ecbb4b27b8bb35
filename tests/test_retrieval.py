"""Retrieval: fusion, speaker and date understanding, follow-ups, abstention, the eval command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.core import AskOptions
from bot.evaluation import EvalQuestion, is_hit, load_questions, evaluate
from bot.query import SpeakerDirectory, find_dates, is_anonymous, is_follow_up, person_name
from bot.retrieval import Filters, RetrievalConfig, Retriever

REPO = Path(__file__).resolve().parent.parent
LABELS = ["President of Russia Vladimir Putin", "Vladimir Putin", "Putin", "Question", "Remark",
          "President of the People's Republic of China Xi Jinping (retranslated)", "Xi Jinping",
          "President of Russia Dmitry Medvedev", "Dmitry Medvedev", "Alexander Medvedev", "THE PRESIDENT", "Q"]


def test_person_names_from_labels():
    assert person_name("President of Russia Vladimir Putin") == ("putin", "vladimir")
    assert person_name("Xi Jinping (retranslated)") == ("jinping", "xi")
    assert person_name("Question") is None and person_name("Q") is None and person_name("Speaker 2") is None


def test_speaker_directory_groups_labels_of_one_person():
    d = SpeakerDirectory(LABELS)
    assert d.labels_for("Putin") == {"President of Russia Vladimir Putin", "Vladimir Putin", "Putin"}
    assert d.labels_for("Vladimir Putin") == {"President of Russia Vladimir Putin", "Vladimir Putin", "Putin"}
    assert d.labels_for("Dmitry Medvedev") == {"President of Russia Dmitry Medvedev", "Dmitry Medvedev"}
    assert d.labels_for("Alexander Medvedev") == {"Alexander Medvedev"}
    assert d.labels_for("Question") == {"Question"}
    assert d.labels_for("Nobody") == set()


def test_speakers_recognised_in_questions():
    d = SpeakerDirectory(LABELS)
    found = {p.key: says for p, says in d.mentioned("What did Xi Jinping say about the Belt and Road?")}
    assert found == {"Xi Jinping": True}
    found = {p.key: says for p, says in d.mentioned("How did Putin answer the NBC journalist?")}
    assert found == {"Vladimir Putin": True}
    found = {p.key: says for p, says in d.mentioned("Did the strike come as a surprise to Putin?")}
    assert found == {"Vladimir Putin": False}
    assert d.mentioned("What did Alexander Medvedev say about hockey?")[0][0].key == "Alexander Medvedev"
    assert d.mentioned("What happened in May 2018?") == []


def test_a_label_that_names_the_person_before_a_comma_is_that_person_not_the_description():
    """Kremlin labels describe a person after a comma ("Alexei Kudrin, Chairman of the Accounts
    Chamber") and Direct Line callers by town ("Dmitry, Moscow"): the name is the part before the
    comma, so "Moscow" in a question is not a person. A label whose titles come first keeps its
    last words as the name."""
    assert person_name("Alexei Kudrin, Chairman of the Accounts Chamber") == ("kudrin", "alexei")
    assert person_name("Dmitry, Moscow") == ("dmitry", None)
    assert person_name("Minister of Civil Defence, Emergencies and Disaster Relief Vladimir Puchkov") == ("puchkov", "vladimir")
    assert person_name("Panel moderator, NBC host Megyn Kelly") == ("kelly", "megyn")
    d = SpeakerDirectory([*LABELS, "Dmitry, Moscow", "Alexei Kudrin, Chairman of the Accounts Chamber"])
    assert d.mentioned("Has Moscow formed a police reserve for Minsk?") == []
    assert [p.key for p, _ in d.mentioned("What did Kudrin say about the budget?")] == ["Alexei Kudrin"]


def test_a_name_followed_by_a_surname_is_a_first_name_not_the_person_of_that_surname():
    """"Kirill Serebrennikov" is not Patriarch Kirill (labelled "Patriarch Kirill"); the
    Patriarch named alone or with his title still is."""
    d = SpeakerDirectory([*LABELS, "Patriarch Kirill", "Kirill Dmitriev"])
    assert [p.key for p, _ in d.mentioned("Has Putin ever met theatre director Kirill Serebrennikov?")] == ["Vladimir Putin"]
    assert [p.key for p, _ in d.mentioned("What did Patriarch Kirill say about Easter?")] == ["Patriarch Kirill"]
    assert [p.key for p, _ in d.mentioned("What did Kirill Dmitriev say about capital flight?")] == ["Kirill Dmitriev"]
    assert [p.key for p, _ in d.mentioned("How did Putin's Russia vote?")] == ["Vladimir Putin"]


def test_role_labels_named_word_for_word_are_recognised_and_generic_roles_never():
    """Meeting transcripts label turns by role ("Grad E", "PhD A", "Speaker 1"); a question that
    names one asks about that role's turns. Generic roles ("Question", "THE PRESIDENT", "Q") are
    words of any question and are never taken for a speaker."""
    d = SpeakerDirectory([*LABELS, "Grad E", "Grad A", "PhD A", "Professor C", "Speaker 1"])
    found = {p.key: (sorted(p.labels), says) for p, says in d.mentioned("What did Grad E contribute to the storage disks?")}
    assert found == {"Grad E": (["Grad E"], True)}
    found = {p.key: says for p, says in d.mentioned("Did PhD A and Professor C agree with speaker 1 about the results?")}
    assert found == {"PhD A": True, "Professor C": False, "Speaker 1": False}
    assert d.mentioned("What did the president say about the question of gas? Q2 results?") == []
    assert d.mentioned("Was Grad Evans there?") == [] and d.mentioned("What did the professor say?") == []


def test_a_full_name_asked_about_as_a_speaker_that_no_label_names_is_unlabelled():
    """Machine transcripts label guests "Guest 1": a question asking what someone said whom no
    label names is recognised (so their transcripts' anonymous turns can be preferred). The name
    must be the one speaking, not the object of a labelled speaker's verb, and a known speaker
    is never unlabelled."""
    d = SpeakerDirectory([*LABELS, "Amit Varma", "Guest 1", "Guest"])
    assert d.unlabelled("By how much did leverage rise, according to Vivek Kaul?") == ["Vivek Kaul"]
    assert d.unlabelled("Which decision by Indira Gandhi does Milan Vaishnav see as harmful?") == ["Milan Vaishnav"]
    assert d.unlabelled("How did Nehru react in Patna, as Gyan Prakash tells it?") == ["Gyan Prakash"]
    assert d.unlabelled("Which figures did Putin rank Hugo Chavez alongside?") == []  # Putin speaks
    assert d.unlabelled("What did Putin say he would tell Vladimir Zelensky?") == []
    assert d.unlabelled("What did Amit Varma say about banks?") == []  # labelled
    assert d.unlabelled("Did Vladimir Putin say anything?") == []
    assert [is_anonymous(x) for x in ("Guest", "Guest 1", "Speaker 2", "Unknown")] == [True] * 4
    # A journalist's "Question" citing someone is not that person speaking; roles are roles.
    assert [is_anonymous(x) for x in ("Amit Varma", "PhD A", "Operator", "Grad E", "Question")] == [False] * 5


def test_dates_recognised_in_questions():
    dates = find_dates("In the April 2013 Direct Line, and later in 2019, what about the 2019-2020 fires?")
    assert [(m.since, m.until) for m in dates] == [("2013-04-01", "2013-04-30"), ("2019-01-01", "2019-12-31")]


@pytest.mark.parametrize("question,expected", [
    ("And what about gas prices?", True), ("Were they written by hand?", True), ("Why?", True),
    ("What did Putin say about gas prices in Europe?", False),
    ("How much trade is there between Russia and North Korea?", False),
])
def test_follow_up_detection(question, expected):
    assert is_follow_up(question) is expected


def test_evidence_matching_ignores_spacing_and_punctuation():
    q = EvalQuestion("x", "q", "a.txt", ["does not top the $100 million mark"], "number", None)
    assert is_hit(q, "kremlin/a.txt", "today it does not\u00a0top the\u00a0$100\u00a0million mark.")
    assert not is_hit(q, "kremlin/b.txt", "today it does not top the $100 million mark.")


def test_fusion_modes_rank_by_their_signal(small_bot):
    retriever: Retriever = small_bot._retriever
    q = small_bot.embedder.embed_query("trade between Russia and North Korea")
    for mode in ("dense", "keyword", "rrf", "weighted"):
        hits = retriever.search(q, "trade North Korea $100 million", k=5, config=RetrievalConfig(fusion=mode))
        assert hits, mode
        assert any("Pyongyang" == (h.passage.place or "") for h in hits[:3]), mode
    # The signal alone: no later stage, discount or joining of windows.
    signal = RetrievalConfig(fusion="dense", short_penalty=0, question_penalty=0, about_transcripts=0,
                             merge_windows=False)
    dense = retriever.search(q, "", k=5, config=signal)
    assert [h.dense for h in dense] == sorted([h.dense for h in dense], reverse=True)


def test_rare_terms_are_found_by_keywords(small_bot):
    result = small_bot.ask("the $100 million mark", AskOptions(k=3))
    from bot.evaluation import words

    assert "100 million mark" in words(result.hits[0].passage.text)
    result = small_bot.ask("What is the Poseidon project?", AskOptions(k=3))
    assert "Poseidon" in result.hits[0].passage.text


def test_speaker_filter_matches_every_label_of_the_person(small_bot):
    result = small_bot.ask("What was said about refugees?", AskOptions(k=10, speaker="Putin"))
    labels = {h.passage.speaker for h in result.hits}
    assert labels and labels <= small_bot.directory.labels_for("Putin")


def test_inferred_speaker_prefers_their_passages(small_bot):
    result = small_bot.ask("What did Alexei Miller say about gas exports?", AskOptions(k=3))
    assert result.understood["speakers"][0]["person"] == "Alexei Miller"
    assert "Miller" in result.hits[0].passage.speaker


def test_date_filters(small_bot):
    result = small_bot.ask("economy", AskOptions(k=10, since="2016", until="2017-12"))
    assert result.hits and all("2016" <= h.passage.date[:4] <= "2017" for h in result.hits)


def test_filter_rows_are_exactly_the_passages_the_filter_allows(small_bot):
    """Filters select rows by column (numpy); the result is the per-passage rule, row for row."""
    data = small_bot.data
    retriever = Retriever(data)
    speaker = next(p.speaker for p in data.passages if p.speaker)
    transcripts = set(data.transcript_names[:3])
    for f in (Filters(speakers={speaker}), Filters(since="2015-01-01"), Filters(until="2012-06"),
              Filters(transcripts=transcripts, since="2010"), Filters(speakers={speaker, "Nobody"}, until="2019-12-31"),
              Filters(speakers=set()), Filters(transcripts={"no/such.txt"})):
        expected = [row for row, p in enumerate(data.passages) if f.allows(p)]
        assert retriever._allowed_rows(f).tolist() == expected, f
    preferred = retriever._preferred_rows([speaker], {data.transcript_names[0]: 0.3}, None)
    assert preferred.tolist() == [row for row, p in enumerate(data.passages)
                                  if p.speaker == speaker or p.transcript == data.transcript_names[0]]


def test_follow_up_is_resolved_against_the_conversation(small_bot):
    first = "How did Putin answer Western accusations of war crimes over the Aleppo airstrikes in his interview with TF1?"
    alone = small_bot.ask("And did he accept any blame for the refugee crisis?", AskOptions(k=5))
    follow = small_bot.ask("And did he accept any blame for the refugee crisis?", AskOptions(k=5, context=[first]))
    assert follow.understood["follow_up"] and follow.understood["continues"]
    tf1 = "2016-10-12_53081"
    assert tf1 in follow.hits[0].passage.transcript
    assert sum(tf1 in h.passage.transcript for h in follow.hits) >= sum(tf1 in h.passage.transcript for h in alone.hits)


def test_abstains_when_the_corpus_never_mentions_it(small_bot):
    result = small_bot.ask("What did Putin say about the arrest of Julian Assange in London?")
    assert result.abstained and result.hits  # closest passages still shown
    assert "Assange" in result.understood["abstention_reason"]
    answered = small_bot.ask("How much trade is there between Russia and North Korea?")
    assert not answered.abstained and "[" in answered.answer


def test_extractive_answer_is_verbatim_and_highlighted(small_bot):
    result = small_bot.ask("What did Putin say about building a railway from Korea to Europe?", AskOptions(k=5))
    assert not result.abstained
    for hit in result.hits:
        for s, e in hit.highlights:
            assert hit.passage.text[s:e] in result.answer
    sentence = result.answer.split(" [")[0]
    assert any(sentence in h.passage.text for h in result.hits)


def test_eval_on_a_small_real_question_set(small_bot):
    report = evaluate(small_bot, load_questions(REPO / "tests" / "data" / "small-questions.jsonl"), k=10)
    o = report["overall"]
    assert o["answerable"] == 9 and o["unanswerable"] == 2
    assert o["hit@10"] >= 0.7 and o["abstained_unanswerable"] == 2 and o["false_abstentions"] <= 1
    assert set(report["by_type"]) >= {"paraphrase", "followup", "unanswerable"}


def test_eval_command(small_corpus, small_index):
    out = subprocess.run([sys.executable, "-m", "bot", "eval", str(REPO / "tests" / "data" / "small-questions.jsonl"),
                          "--json", "--corpus", str(small_corpus), "--index", str(small_index)],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert {"hit@1", "hit@5", "hit@10", "mrr@10"} <= set(report["overall"]) and "misses" in report


def test_a_question_that_names_an_event_is_ranked_within_it_by_its_detail(small_bot):
    """Two stages: the talks are found by their title; the detail (trade growth) ranks within them."""
    from bot.core import AskOptions

    q = "At the May 2019 talks in Sochi with the Austrian president, by how much did trade grow last year?"
    result = small_bot.ask(q, AskOptions(k=5))
    event = result.understood["event"]
    assert any("60526" in t for t in event["transcripts"])
    detail = event["detail_question"].lower().split()
    assert not {"may", "2019", "talks", "sochi", "austrian", "president"} & set(detail)
    assert {"trade", "grow"} <= set(detail)
    ranks = [h.rank for h in result.hits if "60526" in h.passage.transcript and "42 percent" in h.passage.text]
    assert ranks and ranks[0] <= 5


@pytest.mark.parametrize("since, until", [("2010", None), (None, "2012-12"), ("2016-02-29", "2017-06-02"),
                                          ("2019-05-16", None), ("2011", "2011")])
def test_date_columns_follow_the_date_rule(small_bot, since, until):
    """`IndexData.dated_within` (numpy, per transcript) decides as `dates.in_range` does."""
    from bot.dates import in_range

    data = small_bot.data
    entries = data.manifest["transcripts"]
    expected = [in_range(entries[rel].get("date"), since, until) for rel in data.transcript_names]
    assert data.dated_within(since, until).tolist() == expected
