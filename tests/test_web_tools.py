"""The research tools of the web chat as plain functions and through a real Gradio server:
the `/check` endpoint, links that ask a question, the copy buttons' texts, the quote and
timeline views (escaped like the chat)."""

from __future__ import annotations

import pytest

from bot import web_render as R
from bot import web_tools as W
from bot import web_tools_render as T
from bot.web import chat

PRODUCED = "Gazprom produced 418.5 billion cubic metres of gas last year."


@pytest.fixture(scope="module")
def client(small_server):
    from gradio_client import Client

    return Client(small_server, verbose=False)


@pytest.mark.slow
def test_check_endpoint_returns_the_check_json(client, small_bot):
    got = client.predict(PRODUCED, "Alexei Miller", api_name="/check")
    assert got == small_bot.check_quote(PRODUCED, "Alexei Miller").to_json()
    assert got["verdict"] == "exact"
    assert client.predict(PRODUCED, "", api_name="/check")["speaker"] is None


@pytest.mark.slow
def test_check_endpoint_refuses_bad_quotes_with_the_core_message(client):
    from gradio_client.exceptions import AppError

    for quote, message in (("", "empty quote"), ("x" * 1001, "quote too long (1,001 characters, limit 1,000)"),
                           ("too short", "quote too short to check (2 words; at least 3)")):
        with pytest.raises(AppError, match=message.replace("(", r"\(").replace(")", r"\)")):
            client.predict(quote, "", api_name="/check")


def test_a_link_is_read_as_question_and_filters(small_bot):
    asked = W.link_request(small_bot, {"q": "What did Miller say about gas?", "speaker": "Miller", "since": "2016",
                                       "until": "2019-06", "k": "3"})
    assert asked == {"question": "What did Miller say about gas?", "speakers": ["Alexei Miller"], "since": "2016",
                     "until": "2019-06", "k": 3, "error": None}
    assert W.link_request(small_bot, {}) is None and W.link_request(small_bot, {"q": "  "}) is None
    assert "no speaker matches 'Nobody Atall'" in W.link_request(small_bot, {"q": "x", "speaker": "Nobody Atall"})["error"]
    assert "must be a whole number" in W.link_request(small_bot, {"q": "x", "k": "many"})["error"]
    both = W.link_request(small_bot, {"q": "gas", "speaker": "Putin;Miller"})
    assert both["speakers"] == ["Vladimir Putin", "Alexei Miller"]


def test_an_answer_links_to_itself_and_cards_copy_citation_and_quote(small_bot):
    from urllib.parse import parse_qs

    html, history = chat(small_bot, "What did Miller say about gas exports?", speakers=["Alexei Miller"], since="2016", k=3)
    turn = history[0]
    query = R.link_query(turn["question"], turn["filters"])
    assert parse_qs(query[1:]) == {"q": ["What did Miller say about gas exports?"], "speaker": ["Alexei Miller"],
                                   "since": ["2016"], "k": ["3"]}
    assert f'data-tb-link="{R.esc(query)}"' in html
    # The link asks the same again.
    again = W.link_request(small_bot, {k: v if len(v) > 1 else v[0] for k, v in parse_qs(query[1:]).items()})
    assert (again["question"], again["speakers"], again["since"], again["k"]) == (
        turn["question"], ["Alexei Miller"], "2016", 3)
    hit = turn["result"]["hits"][0]
    assert R.plain_citation(hit) == hit["citation"].removeprefix("[1] ") and R.plain_citation(hit).endswith(hit["link"])
    assert R.quoted_passage(hit) == f"“{hit['text']}” — {R.plain_citation(hit)}"
    assert f'data-tb-copy="{R.esc(R.quoted_passage(hit))}"' in html


def test_the_check_view_marks_differences(small_bot):
    html = W.quote_view(small_bot, "Gazprom produced 500 billion cubic metres of oil last year.")
    assert 'class="tb-verdict tb-verdict-close"' in html
    assert '<s class="tb-d-quote">500</s> 418.5</span>' in html
    assert "Changed: the source says “gas”, the quote “oil”" in html
    assert "Show the exchange" in html and "Copy citation" in html  # the context and buttons, as in the chat
    exact = W.quote_view(small_bot, PRODUCED, "Putin")
    assert "tb-verdict-someone_else" in exact and "tb-diff-box" not in exact


def test_the_differences_are_shown_as_text():
    source = "We said <b>no</b> to the plan."
    match = {"start": 0, "end": len(source), "segments": [
        {"kind": "same", "quote": "We said", "source": "We said", "source_span": [0, 7], "at": 0},
        {"kind": "changed", "quote": "<img src=x onerror=alert(1)>", "source": "<b>no</b>", "source_span": [8, 17],
         "at": 8},
        {"kind": "added", "quote": "<script>x</script>", "source": "", "source_span": None, "at": 18},
        {"kind": "same", "quote": "to the plan", "source": "to the plan", "source_span": [18, 29], "at": 18},
    ]}
    html = T.diff_html(match, source)
    assert "<b>" not in html and "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;b&gt;no&lt;/b&gt;" in html


def test_timeline_view_data(small_bot):
    result = W.timeline_result(small_bot, "gas supplies to Europe", "year", 3, {})
    frame = W.timeline_frame(result)
    assert list(frame.columns) == ["period", "speaker", "passages"]
    assert int(frame["passages"].sum()) == result["passages"]
    assert set(frame["period"]) == {p["period"] for p in result["periods"]}  # empty years keep their place
    colours = T.colour_map(result["speakers"], result["others"])
    assert set(frame["speaker"]) <= set(colours) and len(set(colours.values())) == len(colours)
    busiest = max(result["periods"], key=lambda p: p["total"])
    assert W.picked_period(result, [busiest["period"]]) == busiest["period"]
    assert W.picked_period(result, ["1999"]) is None
    listed = T.period_html(result, busiest["period"])
    assert listed.count('class="tb-card"') == busiest["total"]
