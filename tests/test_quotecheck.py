"""Checking quotes against the small real index: real passages of the Kremlin transcripts, real
edits of them (words left out, changed, added), the real model and the real hybrid search.

Every source sentence used here is asserted to be in the corpus file first, so the cases stay real.
"""

from __future__ import annotations

import pytest
from conftest import KREMLIN

from bot.core import MAX_QUOTE_CHARS, check_quote_request
from bot.errors import BadQuery
from bot.quotecheck import QuoteConfig, align, normalise_word, qualifies, tokens, units_of

GAZPROM = (KREMLIN / "2016-02-29_51406_meeting-with-gazprom-ceo-alexei-miller.txt").read_text(encoding="utf-8")
MILLER = ("There is therefore no doubt that the projects to build new gas transport routes to Europe, to northwest "
          "Europe, are economically justified and backed up by the growing demand that we see right now.")
PUTIN = ("I understand, of course, that this is not Gazprom’s job, but nonetheless, I ask you to give this your "
         "attention and work in coordination with the Government and the regional authorities.")
PRODUCED = "Gazprom produced 418.5 billion cubic metres of gas last year."


def test_the_sources_are_real():
    for sentence in (MILLER, PUTIN, PRODUCED):
        assert sentence in GAZPROM


def check(bot, quote, speaker=None):
    return bot.check_quote(quote, speaker).to_json()


def test_a_verbatim_quote_is_exact_with_its_citation_and_context(small_bot):
    result = check(small_bot, MILLER, "Alexei Miller")
    assert result["verdict"] == "exact" and result["closest"] == []
    hit = result["match"]
    assert hit["match"]["text"] == MILLER.rstrip(".")  # the matched span, verbatim (the final stop is no word)
    assert hit["text"][hit["match"]["start"]:hit["match"]["end"]] == hit["match"]["text"]
    assert hit["highlights"] == [[hit["match"]["start"], hit["match"]["end"]]]
    assert hit["text"] in GAZPROM  # the card's passage is verbatim source text
    assert hit["speaker"] in small_bot.directory.labels_for("Alexei Miller")
    assert hit["citation"].startswith("[1] ") and "February 29, 2016" in hit["citation"]
    assert hit["link"].startswith("http://en.kremlin.ru/") and hit["context_speaker"]  # the turn it replied to
    assert result["transcripts_searched"] == 9 and result["match"]["match"]["differences"] == []
    assert result["summary"].startswith("Exact:")


def test_case_punctuation_typographic_quotes_and_dashes_do_not_count(small_bot):
    edited = PUTIN.lower().replace("’", "'").replace(",", "").replace(" but ", " — but ")
    assert edited != PUTIN
    result = check(small_bot, f"“{edited}”", "Putin")
    assert result["verdict"] == "exact"
    assert result["match"]["match"]["text"] == PUTIN.rstrip(".")


def test_words_left_out_are_close_and_named(small_bot):
    quote = ("there is no doubt that the projects to build new gas routes to Europe are economically justified "
             "and backed up by the growing demand that we see right now")
    result = check(small_bot, quote, "Miller")
    assert result["verdict"] == "close"
    diffs = result["match"]["match"]["differences"]
    assert {d["kind"] for d in diffs} == {"left_out"}
    left_out = " ".join(d["source"] for d in diffs)
    for word in ("therefore", "transport", "northwest"):
        assert word in left_out
    for d in diffs:  # each names the exact source words, at their place in the passage
        a, b = d["source_span"]
        assert result["match"]["text"][a:b] == d["source"]


def test_changed_words_are_close_with_both_versions(small_bot):
    result = check(small_bot, "Gazprom produced 500 billion cubic metres of oil last year.")
    assert result["verdict"] == "close"
    changed = [(d["source"], d["quote"]) for d in result["match"]["match"]["differences"]]
    assert changed == [("418.5", "500"), ("gas", "oil")]


def test_added_words_are_close(small_bot):
    quote = ("I understand, of course, that this is not Gazprom's job, but nonetheless, I ask you personally to give "
             "this your full attention")
    result = check(small_bot, quote, "Vladimir Putin")
    assert result["verdict"] == "close"
    diffs = result["match"]["match"]["differences"]
    assert [(d["kind"], d["quote"]) for d in diffs] == [("added", "personally"), ("added", "full")]


def test_a_quote_of_someone_else_is_said_by_someone_else(small_bot):
    result = check(small_bot, PUTIN, "Alexei Miller")
    assert result["verdict"] == "someone_else"
    assert result["match"]["speaker"] in small_bot.directory.labels_for("Putin")
    assert result["match"]["match"]["exact"] is True
    assert "not Alexei Miller" in result["summary"]
    # Attributed to the right person, the same quote is exact.
    assert check(small_bot, PUTIN, "Putin")["verdict"] == "exact"


def test_a_person_the_index_does_not_know_is_no_error(small_bot):
    result = check(small_bot, PRODUCED, "Angela Merkel")
    assert result["verdict"] == "someone_else" and result["speaker_labels"] == []
    assert result["match"]["speaker"] in small_bot.directory.labels_for("Alexei Miller")


def test_an_invented_quote_is_not_found_with_the_closest_passages(small_bot):
    result = check(small_bot, "We will never allow NATO to expand its missile defence into space.", "Putin")
    assert result["verdict"] == "not_found" and result["match"] is None
    assert result["summary"] == "Not found in 9 transcripts."
    assert 1 <= len(result["closest"]) <= QuoteConfig().closest
    assert [h["rank"] for h in result["closest"]] == list(range(1, len(result["closest"]) + 1))
    assert all(h["text"] in (KREMLIN / h["transcript"].split("/", 1)[1]).read_text(encoding="utf-8")
               for h in result["closest"])


def test_the_close_threshold_on_real_edits(small_bot):
    """Light edits stay close; rewriting most of a sentence, even keeping its topic words, is not found."""
    cfg = QuoteConfig()
    light = "There is no doubt that the projects to build gas routes to Europe are justified by the demand we see now."
    heavy = "Without doubt new gas routes to Europe make sense given what we are seeing in demand today."
    got_light, got_heavy = check(small_bot, light), check(small_bot, heavy)
    assert got_light["verdict"] == "close" and got_light["match"]["match"]["ratio"] >= cfg.close_min_ratio
    assert got_heavy["verdict"] == "not_found"
    assert max(h["match"]["ratio"] for h in got_heavy["closest"]) < cfg.close_min_ratio
    # A real sentence on the same topic from the same speaker is not "close" to another one.
    other = "These exports increased by 11.8 billion cubic metres."
    assert other in GAZPROM
    whole = align(other, MILLER, tokens(MILLER), cfg)
    assert whole is None or not qualifies(whole, cfg)


def test_a_quote_across_two_windows_of_a_long_turn_is_exact(small_bot):
    """A long turn is cut into overlapping windows; a quote over the cut is found whole."""
    data = small_bot.data
    by_turn: dict = {}
    for p in data.passages:
        if p.last_turn is None:
            by_turn.setdefault((p.transcript, p.turn), []).append(p)
    unit = next(u for parts in by_turn.values() if len(parts) >= 2 for u in units_of(parts) if len(u.passages) >= 2)
    cut = unit.offsets[1][0]  # where the second window starts: the shared sentence
    words = [t for t in tokens(unit.text) if cut - 120 < t.start < unit.offsets[0][1] + 120]
    quote = unit.text[words[0].start:words[-1].end]
    assert not any(quote in p.text for p in unit.passages)  # no single window holds it
    result = check(small_bot, quote)
    assert result["verdict"] == "exact"
    hit = result["match"]
    assert hit["match"]["text"] == quote and hit["last_part"] is not None and "parts" in hit["turns"]


def test_alignment_normalises_words():
    assert normalise_word("Don’t") == normalise_word("don't") == "don't"
    assert [t.word for t in tokens("“Gas—prices,” he said…")] == ["gas", "prices", "he", "said"]
    source = "We said: “the gas price will not rise”, and it did not."
    a = align("The gas price won't rise", source, tokens(source))
    assert a is not None and not a.exact
    assert [(s["kind"], s["quote"], s["source"]) for s in a.differences()] == [("changed", "won't", "will not")]


@pytest.mark.parametrize("quote, message", [
    ("", "empty quote"),
    ("   ", "empty quote"),
    ("two words", "quote too short to check (2 words; at least 3)"),
    ("x" * (MAX_QUOTE_CHARS + 1), f"quote too long ({MAX_QUOTE_CHARS + 1:,} characters, limit {MAX_QUOTE_CHARS:,})"),
    ("bad \ud800 text here", "quote is not valid text (character 5 is not Unicode)"),
    (["a", "list"], "quote must be text, not a list"),
])
def test_quotes_are_checked_in_the_core(small_bot, quote, message):
    with pytest.raises(BadQuery, match="^" + __import__("re").escape(message)):
        check_quote_request(quote)
    with pytest.raises(BadQuery):
        small_bot.check_quote(quote)


def test_a_speaker_of_the_wrong_type_is_refused(small_bot):
    with pytest.raises(BadQuery, match="speaker must be text"):
        small_bot.check_quote(PRODUCED, ["Miller"])


# -- a topic over time ------------------------------------------------------------------------------


def test_timeline_counts_the_who_ranking_passages_per_year(small_bot):
    from bot.core import AskOptions

    result = small_bot.who_over_time("gas supplies to Europe", by="year", k=3, pool=60)
    ranking = small_bot.who("gas supplies to Europe", k=3, pool=60)
    assert result["speakers"] == [r["person"] for r in ranking]
    periods = [p["period"] for p in result["periods"]]
    assert periods == [str(y) for y in range(int(periods[0]), int(periods[-1]) + 1)]  # gaps kept, in order
    assert result["passages"] + result["undated"] == 60
    for p in result["periods"]:
        assert sum(p["counts"].values()) == p["total"] == len(p["hits"])
        assert set(p["counts"]) <= {*result["speakers"], "others"}
        for h in p["hits"]:
            assert h["date"].startswith(p["period"])
            assert (h["series"] == h["person"]) == (h["person"] in result["speakers"])
    # A top speaker's counts add up to their passages in the ranking.
    top = ranking[0]
    assert sum(p["counts"].get(top["person"], 0) for p in result["periods"]) == top["passages"]
    # Filters apply as for "who said it".
    since = small_bot.who_over_time("gas supplies to Europe", by="month", k=3, options=AskOptions(since="2016"))
    assert since["periods"][0]["period"] >= "2016-01" and len(since["periods"][0]["period"]) == 7


def test_timeline_refuses_an_unknown_period(small_bot):
    with pytest.raises(BadQuery, match="by must be one of year, month, not 'week'"):
        small_bot.who_over_time("gas", by="week")


def test_an_exchange_attributes_the_span_to_the_line_that_says_it():
    """In a meeting's exchange (``Label: text`` lines), labels are not words of what was said, and
    the span belongs to the speaker whose line it is."""
    from bot.quotecheck import check_quote
    from bot.records import Passage

    text = ("Grad A: I think we should start with the remote control design today.\n\n"
            "Project Manager: Okay, but the budget for the remote control is twelve euros fifty.")
    exchange = Passage(id=7, transcript="meet/a.json", title="Design meeting", date="2005-03-01", place=None, url=None,
                       speaker="Project Manager", turn=3, part=0, text=text, last_turn=4,
                       speakers=["Grad A", "Project Manager"])

    class Found:
        passage, score, dense, keyword = exchange, 1.0, 0.8, 1.0

    class Data:
        manifest, generation = {"transcripts": {"meet/a.json": {}}}, 1

    got = check_quote("the budget for the remote control is 12.50 euros", "Grad A", {"Grad A"}, [Found()], Data())
    assert got.verdict == "someone_else" and got.match.alignment.speaker == "Project Manager"
    said = got.match.to_json()["match"]["text"]
    assert said == "the budget for the remote control is twelve euros" and said in text  # "fifty": beyond the quote
    got = check_quote("Project Manager: Okay, but the budget", "Project Manager", {"Project Manager"}, [Found()], Data())
    assert got.verdict == "close"  # the label is not part of what was said: "project manager" counts as added
    assert [d["quote"] for d in got.match.alignment.differences()] == ["Project Manager"]
