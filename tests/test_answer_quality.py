"""Answer quality: what ranks first and what is quoted, through the real model, FAISS and CLI.

The corpus is two real excerpts (tests/fixtures/quality/): a Kremlin forum session in which
a content-free reply ("Russia can what?") sits between a question and its real answer, and
the first 111 turns of an AMI design meeting (QMSum's TS3010c) with QMSum's own questions;
and, for the quotes of a named role, 107 turns of an ICSI meeting (QMSum's Bmr026).
The logic pieces (joining windows, the short-reply factor, labels, the QMSum reader, event
words) are tested on their own below, without the model.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.answer import Hit, citation_line, ranked_labels
from bot.chunking import join_overlapping, passages_for
from bot.core import _names_event
from bot.evaluation import EvalQuestion, is_hit, load_questions, qmsum_evidence, quotes_evidence
from bot.formats import parse_text
from bot.records import Passage, word_count
from bot.retrieval import RetrievalConfig, ScoredPassage, content_factor, group_hits

from conftest import SMALL_FILES, copy_small_corpus
from test_cli import run

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "quality"
SPIEF = "kremlin_60707_spief_2019_excerpt.txt"
MEETING = "TS3010c_excerpt.txt"
CALL = "earnings21_conocophillips_q3_2020_excerpt.txt"  # CC BY-SA 4.0, see fixtures/quality/README.md


@pytest.fixture(scope="module")
def quality(tmp_path_factory):
    """The two excerpts indexed by ``transcript-bot index`` into a temporary folder."""
    root = tmp_path_factory.mktemp("quality")
    corpus = root / "corpus" / "quality"
    corpus.mkdir(parents=True)
    for name in (SPIEF, MEETING):
        shutil.copy(FIXTURES / name, corpus / name)
    out = run("index", "--corpus", str(root / "corpus"), "--index", str(root / "index"))
    assert out.returncode == 0, out.stderr
    return ["--corpus", str(root / "corpus"), "--index", str(root / "index")], root


def ask(paths, *args: str) -> list[dict]:
    out = run("ask", *args, "--json", *paths[0])
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_a_content_free_reply_never_outranks_the_answer_and_the_answer_quotes_the_named_speaker(quality, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join(json.dumps({"id": i, "question": q}) for i, q in enumerate([
        "Can trade with China take the place of Russia's economic relations with the West?",
        "What did Putin say about whether trade with China could replace economic ties with the West?",
    ])) + "\n", encoding="utf-8")
    plain, named = ask(quality, "--batch", str(batch), "-k", "5")
    for result in (plain, named):
        hits = result["hits"]
        texts = [h["text"] for h in hits]
        answer_rank = next(i for i, t in enumerate(texts) if t.startswith("You see, we are not creating military"))
        # The empty reply, which inherits the question's similarity through its context, ranks below.
        assert all(i > answer_rank for i, t in enumerate(texts) if t == "Russia can what?")
        assert hits[0]["speaker"] == "Vladimir Putin" and len(hits[0]["text"].split()) >= 12
        for h in hits:  # a short reply is never labelled better than weak; labels follow the ranking
            if len(h["text"].split()) < 12:
                assert h["relevance"] == "weak"
        order = ["strong", "good", "weak"]
        assert [order.index(h["relevance"]) for h in hits] == sorted(order.index(h["relevance"]) for h in hits)
    # Asked what Putin said: every quoted sentence is his, none is a question, each verbatim in its hit.
    by_rank = {h["rank"]: h for h in named["hits"]}
    quotes = re.findall(r"(.+?) \[(\d+)\]\s*", named["answer"])
    assert quotes
    for sentence, rank in quotes:
        hit = by_rank[int(rank)]
        assert hit["speaker"] == "Vladimir Putin"
        assert sentence.strip() in hit["text"] and not sentence.strip().endswith("?")


def test_a_meeting_is_cut_into_exchanges_that_cite_their_turns_and_stay_verbatim(quality):
    (result,) = ask(quality, "What did the Industrial Designer say about the customers' taste?", "-k", "5",
                    "--transcript", f"quality/{MEETING}")
    source = (FIXTURES / MEETING).read_text(encoding="utf-8")
    assert result["hits"]
    for h in result["hits"]:
        assert h["text"] in source  # "Label: text" lines joined as the source joins them
        if h.get("last_turn") is not None:
            assert f"turns {h['turn']}-{h['last_turn']}" in h["citation"]
            # The citation names every speaker of the exchange, not only the one with most words.
            labels = list(dict.fromkeys(re.findall(r"(?m)^([^:\n]{1,80}): ", h["text"])))
            assert h["speakers"] == labels and h["citation"].split(", “")[0].endswith(", ".join(labels))
            assert len(re.findall(r"(?m)^[^:\n]{1,80}: ", h["text"])) >= 2
    assert any(h.get("last_turn") is not None for h in result["hits"])


def test_the_answer_quotes_the_evidence_only_with_a_sentence_of_the_gold_transcript():
    """`answer_quotes`: a quoted sentence counts when it holds an evidence string or lies inside
    one (five words or more), and only from the gold transcript; a bare "Yes, right." inside a
    gold turn proves nothing."""
    text = "Yes, right. We keep 40 percent of our gold and currency reserves in the euro. Austria is a friend."
    evidence = ["keep 40 percent of our gold and currency reserves in the euro", "Yes, right. I agree with that fully."]
    q = EvalQuestion("q", "?", "a.txt", evidence, "number", None)

    def hit(transcript, sentence):
        h = Hit(rank=1, passage=Passage(1, transcript, "T", None, None, None, "Putin", 0, 0, text), score=1.0, similarity=0.5, keyword=0.0,
                relevance="good")
        start = text.index(sentence)
        h.highlights.append((start, start + len(sentence)))
        return h

    assert quotes_evidence(q, [hit("kremlin/a.txt", "We keep 40 percent of our gold and currency reserves in the euro.")])
    assert not quotes_evidence(q, [hit("kremlin/b.txt", "We keep 40 percent of our gold and currency reserves in the euro.")])
    assert not quotes_evidence(q, [hit("kremlin/a.txt", "Austria is a friend.")])
    assert not quotes_evidence(q, [hit("kremlin/a.txt", "Yes, right.")])  # inside a gold string, but too short
    unanswerable = EvalQuestion("u", "?", None, [], "unanswerable", None)
    assert not quotes_evidence(unanswerable, [hit("kremlin/a.txt", "Austria is a friend.")])


def test_eval_reads_qmsum_questions_and_applies_its_rule(quality):
    out = run("eval", str(FIXTURES / "TS3010c_questions.jsonl"), "--json", *quality[0])
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["overall"]["answerable"] == 5 and report["by_type"].keys() == {"Product"}
    assert any(r["rank"] for r in report["rows"])  # gold turns found inside exchanges
    # How often the answer itself quotes a gold turn, over the same questions.
    quoted = [r for r in report["rows"] if r["answer_quotes"]]
    assert quoted and all(r["rank"] for r in quoted)
    assert report["overall"]["answer_quotes"] == round(len(quoted) / 5, 3)
    assert not report["within_file"]
    # Within the gold meeting, as a user who picked it: every hit comes from that transcript.
    out = run("eval", str(FIXTURES / "TS3010c_questions.jsonl"), "--json", "--within-file", *quality[0])
    assert out.returncode == 0, out.stderr
    within = json.loads(out.stdout)
    assert within["within_file"] and {r["top_transcript"] for r in within["rows"]} == {f"quality/{MEETING}"}
    assert any(r["rank"] for r in within["rows"])
    assert "within its gold transcript" in run("eval", str(FIXTURES / "TS3010c_questions.jsonl"), "--within-file",
                                               *quality[0]).stdout


def test_an_acronym_the_meeting_spells_letter_by_letter_is_searched_and_not_abstained(quality):
    """The AMI meeting writes "L_C_D_"; asked about "the LCD", the bot finds those turns
    instead of saying the corpus never mentions LCD."""
    (result,) = ask(quality, "Would a remote control with an LCD sell better?", "-k", "5",
                    "--transcript", f"quality/{MEETING}")
    assert not result["abstained"], result.get("understood")
    assert any("L_C_D_" in h["text"] for h in result["hits"][:3])


def test_a_window_of_the_top_hits_turn_joins_it_wherever_it_ranks_and_stays_verbatim(quality):
    """The top hit's turn has a third window that ranks below the hits shown: it joins the hit
    (one contiguous span of the source, the same for every k); with the change switched off
    the hit stops at its second window."""
    question = "Why did Putin say the world economy is fragmenting?"
    (five,) = ask(quality, question, "-k", "5")
    (twenty,) = ask(quality, question, "-k", "20")
    (cut,) = ask(quality, question, "-k", "5", "--set", "merge_past_k=false")
    source = " ".join((FIXTURES / SPIEF).read_text(encoding="utf-8").split())
    top, before = five["hits"][0], cut["hits"][0]
    assert top["text"] == twenty["hits"][0]["text"] and " ".join(top["text"].split()) in source
    assert (top["turn"], before["turn"]) == (before["turn"], before["turn"])
    assert top["text"].startswith(before["text"]) and len(top["text"]) > len(before["text"])
    assert len(top["text"].split()) <= 400


def test_a_word_the_corpus_uses_in_another_form_is_answered_not_abstained(tmp_path):
    """The earnings call says "Alaska", never "Alaskans": asked about Alaskans, the bot answers
    with the executive's words instead of "the corpus never mentions Alaskans"."""
    corpus = tmp_path / "corpus" / "calls"
    corpus.mkdir(parents=True)
    shutil.copy(FIXTURES / CALL, corpus)
    paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    assert run("index", *paths).returncode == 0
    (result,) = ask((paths,), "What happens to drilling in the big fields if Alaskans vote for the ballot measure?", "-k", "3")
    assert not result["abstained"], result["understood"].get("abstention_reason")
    assert "if the measure passes, drilling in the big three fields" in result["answer"]
    assert result["hits"][0]["speaker"] == "Matt Fox"


ROSNEFT = ["2017-06-20_54830_meeting-with-rosneft-ceo-igor-sechin.txt", "2020-02-11_62763_meeting-with-rosneft-ceo-igor-sechin.txt"]


def test_a_date_the_question_names_chooses_the_event_among_transcripts_of_one_title(tmp_path):
    """Two real meetings share the title "Meeting with Rosneft CEO Igor Sechin" (2017 and 2020),
    among the small corpus's nine other transcripts.
    Asked about "the June 2017 meeting", the event stage ranks within the 2017 one alone, and
    the answer is its sentence; with the date rule off both titles match equally."""
    copy_small_corpus(tmp_path / "corpus", SMALL_FILES + ROSNEFT)
    paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    assert run("index", *paths).returncode == 0
    q = "At the June 2017 meeting with the Rosneft chief, from what depth was the core sample brought?"
    (result,) = ask((paths,), q, "-k", "3")
    assert result["understood"]["event"]["transcripts"] == ["kremlin/" + ROSNEFT[0]]
    assert result["hits"][0]["transcript"] == "kremlin/" + ROSNEFT[0]
    assert "We brought this core from a depth of 2,300 metres." in result["answer"]
    (off,) = ask((paths,), q, "-k", "3", "--set", "title_date_mismatch=1")
    assert sorted(off["understood"]["event"]["transcripts"]) == ["kremlin/" + name for name in ROSNEFT]


# -- logic, without the model --------------------------------------------------------------

def _long_turn_passages() -> list[Passage]:
    text = (FIXTURES / SPIEF).read_text(encoding="utf-8")
    passages = passages_for("x.txt", parse_text(SPIEF, text), 0, max_tokens=100)
    by_turn: dict[int, list[Passage]] = {}
    for p in passages:
        by_turn.setdefault(p.turn, []).append(p)
    return max(by_turn.values(), key=len)


def test_overlapping_windows_of_one_turn_become_one_verbatim_contiguous_hit():
    parts = _long_turn_passages()
    assert len(parts) >= 3
    source = (FIXTURES / SPIEF).read_text(encoding="utf-8")
    ranked = [ScoredPassage(i, p, 1.0 - 0.1 * i, 0.5, 0.0) for i, p in enumerate([parts[1], parts[0], parts[2]])]
    hits = group_hits(ranked, 5, [], RetrievalConfig(merge_max_words=10_000))
    assert len(hits) == 1
    merged = hits[0].passage
    assert (merged.part, merged.last_part) == (0, 2) and hits[0].score == pytest.approx(1.0)
    assert merged.text in source and merged.text.startswith(parts[0].text) and merged.text.endswith(parts[2].text)
    # Too long to join: separate hits, each still a window of the source.
    apart = group_hits(ranked, 5, [], RetrievalConfig(merge_max_words=5))
    assert [h.passage.text for h in apart] == [parts[1].text, parts[0].text, parts[2].text]


def test_a_window_ranked_below_the_kth_hit_still_joins_its_turns_hit_so_the_text_does_not_depend_on_k():
    """The rank-1 hit of k=1 is the same text as the rank-1 hit of k=3: the next window of its
    turn joins it even when it ranks below the last hit shown; a window of another turn
    ranked there is not shown."""
    parts = _long_turn_passages()
    other = Passage(99, "x.txt", "T", None, None, None, "Someone", parts[0].turn + 1, 0, "Another turn entirely.")
    ranked = [ScoredPassage(0, parts[0], 0.9, 0.5, 0.0), ScoredPassage(1, other, 0.8, 0.5, 0.0),
              ScoredPassage(2, parts[1], 0.3, 0.5, 0.0)]
    cfg = RetrievalConfig(merge_max_words=10_000)
    one, three = group_hits(ranked, 1, [], cfg), group_hits(ranked, 3, [], cfg)
    assert [h.passage.text for h in one] == [three[0].passage.text]
    assert one[0].passage.text.startswith(parts[0].text) and one[0].passage.text.endswith(parts[1].text)
    assert [h.passage.speaker for h in three] == [parts[0].speaker, "Someone"]
    # As before the change: the hit is cut at k.
    assert group_hits(ranked, 1, [], replace(cfg, merge_past_k=False))[0].passage.text == parts[0].text


def test_neighbouring_exchanges_of_a_meeting_join_into_one_verbatim_hit_citing_every_turn():
    """Two exchanges of a meeting share a turn (the last of one is the first of the next):
    when both rank, wherever the second ranks, they are one hit, a contiguous span of the
    source whose citation spans both and names every speaker."""
    text = (FIXTURES / MEETING).read_text(encoding="utf-8")
    # short exchanges, so that three in a row stay under the 400 words a joined hit may have
    exchanges = [p for p in passages_for(MEETING, parse_text(MEETING, text), 0, exchange_tokens=120)
                 if p.last_turn is not None]
    a, b = next((x, y) for x, y in zip(exchanges, exchanges[1:]) if x.last_turn == y.turn
                and len((x.text + y.text).split()) < 400)
    other = next(p for p in exchanges if p.turn > b.last_turn + 2)
    ranked = [ScoredPassage(0, a, 0.9, 0.5, 0.0), ScoredPassage(1, other, 0.8, 0.5, 0.0), ScoredPassage(2, b, 0.3, 0.5, 0.0)]
    hits = group_hits(ranked, 2, [], RetrievalConfig())
    assert [h.passage.turn for h in hits] == [a.turn, other.turn]
    joined = hits[0].passage
    assert (joined.turn, joined.last_turn) == (a.turn, b.last_turn) and joined.text in text
    assert joined.text.startswith(a.text) and joined.text.endswith(b.text)
    assert joined.speakers == list(dict.fromkeys([*a.speakers, *b.speakers]))
    assert "turns %d-%d" % (a.turn, b.last_turn) in citation_line(joined, 1)
    # Exchanges that do not share a turn stay apart; so do they with the change switched off.
    assert len(group_hits([ScoredPassage(0, a, 0.9, 0.5, 0.0), ScoredPassage(1, other, 0.8, 0.5, 0.0)], 5, [],
                          RetrievalConfig())) == 2
    assert len(group_hits(ranked, 5, [], RetrievalConfig(merge_exchanges=False))) == 3
    # A hit grown by a join keeps growing from its new end, past k too: three exchanges in a row.
    x, y, z = next((x, y, z) for x, y, z in zip(exchanges, exchanges[1:], exchanges[2:])
                   if x.last_turn == y.turn and y.last_turn == z.turn and len((x.text + y.text + z.text).split()) < 400)
    (chain,) = group_hits([ScoredPassage(0, x, 0.9, 0.5, 0.0), ScoredPassage(1, y, 0.3, 0.5, 0.0),
                           ScoredPassage(2, z, 0.2, 0.5, 0.0)], 1, [], RetrievalConfig())
    assert (chain.passage.turn, chain.passage.last_turn) == (x.turn, z.last_turn) and chain.passage.text in text


def test_texts_that_share_nothing_are_never_joined():
    assert join_overlapping("We met in May.", "Then we left.") is None
    assert join_overlapping("One. Two sentences here.", "Two sentences here. Three.") == "One. Two sentences here. Three."


def test_a_question_is_not_a_hit_beside_its_reply():
    q = Passage(1, "t", "T", None, None, None, "Question", 4, 0, "Will prices fall?")
    a = Passage(2, "t", "T", None, None, None, "Putin", 5, 0, "They will not fall this year.",
                context="Will prices fall?", context_speaker="Question")
    cfg = RetrievalConfig(drop_prompts=True)
    hits = group_hits([ScoredPassage(0, q, 0.9, 0.8, 0), ScoredPassage(1, a, 0.5, 0.4, 0)], 5, [], cfg)
    assert [h.passage.speaker for h in hits] == ["Putin"] and hits[0].score == pytest.approx(0.9)
    statement = Passage(3, "t", "T", None, None, None, "Question", 4, 0, "Prices fell.")
    reply = Passage(4, "t", "T", None, None, None, "Putin", 5, 0, "They did.", context="Prices fell.",
                    context_speaker="Question")
    kept = group_hits([ScoredPassage(0, statement, 0.9, 0.8, 0), ScoredPassage(1, reply, 0.5, 0.4, 0)], 5, [], cfg)
    assert len(kept) == 2  # only a question gives its place to the reply


def test_separators_are_not_words():
    """A transcript's "* * *" between parts says nothing: the short-reply discount counts words."""
    assert word_count("Thank you. * * * Part 2, Kaliningrad, March 2, 2018") == 8
    assert word_count("– … ! 42") == 1 and word_count("") == 0


def test_short_reply_factor():
    cfg = RetrievalConfig(short_words=12, short_penalty=0.4)
    f = content_factor(np.array([0, 3, 6, 12, 40]), cfg)
    assert f[0] == pytest.approx(0.6) and f[3] == f[4] == 1.0
    assert list(f) == sorted(f)


def test_labels_follow_the_ranking_and_short_replies_are_weak():
    assert ranked_labels([0.3, 0.6, 0.5], [30, 30, 30], 0.55, 0.4, 12) == ["weak", "weak", "weak"]
    assert ranked_labels([0.7, 0.6, 0.45], [30, 3, 30], 0.55, 0.4, 12) == ["strong", "weak", "weak"]
    assert ranked_labels([0.7, 0.45], [30, 30], 0.55, 0.4, 12) == ["strong", "good"]


def test_qmsum_gold_turns_become_evidence_and_long_passages_never_count():
    evidence = qmsum_evidence(["Marketing: Yeah .\n\nIndustrial Designer: i think the {vocalsound} customers like fancy things"])
    assert evidence == ["i think the {vocalsound} customers like fancy things"]
    q = EvalQuestion("q", "?", "m.txt", evidence, "Product", None)
    assert is_hit(q, "meetings/m.txt", "Industrial Designer: I think the customers like fancy things .")
    assert not is_hit(q, "meetings/other.txt", "I think the customers like fancy things")
    assert not is_hit(q, "meetings/m.txt", "I think the customers like fancy things " + "word " * 400)


def test_qmsum_file_loads(tmp_path):
    qs = load_questions(FIXTURES / "TS3010c_questions.jsonl")
    assert len(qs) == 5 and all(q.evidence and q.type == "Product" for q in qs)


def test_event_words_allow_for_inflection():
    words = {"interview", "austrian", "orf", "television", "channel", "june", "2018"}
    assert _names_event("austria's", words) and _names_event("orf", words) and _names_event("interview", words)
    assert not _names_event("reserves", words) and not _names_event("euros", words)


def test_a_named_role_is_understood_and_the_answer_quotes_only_its_lines(tmp_path):
    """An ICSI meeting excerpt (QMSum's Bmr026, turns 194-300; MIT, ICSI meeting corpus), cut into
    exchanges of several speakers: asked what Grad E said, the bot recognises the role label, finds
    Grad E's offer of a disk, and quotes only Grad E's lines, never another speaker's line that
    stands in the same exchange."""
    corpus = tmp_path / "corpus" / "meetings"
    corpus.mkdir(parents=True)
    shutil.copy(FIXTURES / "Bmr026_excerpt.txt", corpus)
    paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    assert run("index", *paths).returncode == 0
    (result,) = ask([paths], "What did Grad E offer for storing the meetings?", "-k", "3")
    assert result["understood"]["speakers"] == [{"person": "Grad E", "asks_what_they_said": True}]
    assert any("I have an eighteen gig drive hanging off of my computer" in h["text"] for h in result["hits"])
    assert any(len(h["speakers"]) > 1 for h in result["hits"])  # exchanges, so other speakers' lines stand beside
    by_rank = {h["rank"]: h for h in result["hits"]}
    quotes = re.findall(r"(.+?) \[(\d+)\]\s*", result["answer"])
    assert quotes
    for sentence, rank in quotes:
        assert sentence.startswith("Grad E: ")
        assert sentence.strip()[len("Grad E: "):] in by_rank[int(rank)]["text"]


def test_a_person_no_label_names_is_looked_for_in_anonymous_turns_and_never_quoted_from_the_host(tmp_path):
    """The first 92 turns of a machine-transcribed podcast (Seen and the Unseen episode 91; MIT),
    whose guests speak as "Guest 1" and "Guest 2" and whose host is labelled by name. Asked what
    Vivek Kaul said, the bot says that no label names him and which labels may be his, and it
    quotes his answer from a guest's turn: without that (``unlabelled_boost=0``) it quoted the
    host's introduction of the episode, words the named host said, not the guest."""
    corpus = tmp_path / "corpus" / "podcast"
    corpus.mkdir(parents=True)
    shutil.copy(FIXTURES / "seenunseen_E091_excerpt.txt", corpus)
    paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
    assert run("index", *paths).returncode == 0
    question = "By how much did the leverage of IL&FS go up, according to Vivek Kaul?"
    (result,) = ask([paths], question)
    assert result["understood"]["speakers"] == [{"person": "Vivek Kaul", "asks_what_they_said": True,
                                                 "labelled": False, "may_speak_as": ["Guest 1", "Guest 2", "Unknown"]}]
    by_rank = {h["rank"]: h for h in result["hits"]}
    quoted = [int(r) for r in re.findall(r"\[(\d+)\]", result["answer"])]
    assert quoted and all(by_rank[r]["speaker"] != "Amit Varma" for r in quoted)
    assert "from around 7.7 in 2013-14 to around 16.8 in 2017-18" in result["answer"]
    (before,) = ask([paths], question, "--set", "unlabelled_boost=0")
    assert before["understood"]["speakers"] == []
    assert any({h["rank"]: h for h in before["hits"]}[int(r)]["speaker"] == "Amit Varma"
               for r in re.findall(r"\[(\d+)\]", before["answer"]))


def test_the_answer_quotes_the_named_speakers_line_of_an_exchange():
    from bot.answer import Hit, choose_sentences

    text = "A: The disks are full and we must buy more.\n\nB: I have a spare drive on my machine."
    p = Passage(0, "m.txt", "Meeting", None, None, None, "A", 3, 0, text, last_turn=4, speakers=["A", "B"])
    hit = Hit(1, p, 1.0, 0.9, 0.0, "strong")
    question = np.array([1.0, 0.0], dtype=np.float32)
    embed = lambda texts: np.array([[1.0, 0.0] if "disks" in s else [0.6, 0.8] for s in texts], dtype=np.float32)
    assert choose_sentences(question, [hit], embed)[0].startswith("A: The disks are full")  # the closest sentence
    hit.highlights.clear()
    text, best = choose_sentences(question, [hit], embed, speakers={"B"})
    assert text == "B: I have a spare drive on my machine. [1]" and best == pytest.approx(0.6)  # B's line's cosine


def test_an_exchange_names_all_its_speakers_and_quotes_with_the_right_label():
    from bot.answer import _attributed, citation_line
    from bot.web_render import speaker_names

    text = "A: Hello there. Next one.\n\nB: Fine: thanks. Really.\n\nSecond paragraph of B. Yes indeed."
    p = Passage(0, "m.txt", "Meeting", None, None, None, "B", 3, 0, text, last_turn=4, speakers=["A", "B"])
    assert citation_line(p, 1).startswith("[1] A, B, “Meeting”") and "turns 3-4" in citation_line(p, 1)
    assert speaker_names({"last_turn": 4, "speakers": ["A", "B"], "speaker": "B"}) == "A, B"

    def quote(s: str) -> str:
        i = text.index(s)
        return _attributed(p, i, i + len(s))

    assert quote("A: Hello there.") == "A: Hello there." and quote("Next one.") == "A: Next one."
    assert quote("Really.") == "B: Really." and quote("Yes indeed.") == "B: Yes indeed."  # "Fine:" is no speaker


def test_an_index_cut_by_older_rules_is_refused_by_ask_and_updated_by_index(quality, tmp_path):
    """Through the command line, with the real model: `ask` on an index whose manifest names the
    previous passage rules says in one line how to update it; `index` then cuts every transcript
    anew (the meeting included), embeds nothing that comes out as before, and `ask` answers."""
    paths, root = quality
    index = tmp_path / "index"
    shutil.copytree(root / "index", index)
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    manifest["passage_rules"] = "turn-windows-v1"
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    args = ["--corpus", str(root / "corpus"), "--index", str(index)]
    refused = run("ask", "What did the Industrial Designer say about the customers' taste?", *args)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert "cut into passages by rules 'turn-windows-v1'" in line and f"transcript-bot index --index {index}" in line
    updated = run("index", *args, "--json")
    assert updated.returncode == 0, updated.stderr
    report = json.loads(updated.stdout)
    assert report["recut_from"] == "turn-windows-v1" and report["embedded"] == 0 and report["changed"] == []
    assert json.loads((index / "manifest.json").read_text(encoding="utf-8"))["passage_rules"] == "turn-windows-v2"
    (result,) = ask([args], "What did the Industrial Designer say about the customers' taste?", "-k", "3")
    assert result["hits"] and result["hits"][0]["text"] in (FIXTURES / MEETING).read_text(encoding="utf-8")
