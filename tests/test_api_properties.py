"""Property-based tests of the API's input handling: any value for any parameter, nothing escapes.

For every parameter of `/ask` and `/who` (and the core's request check behind them), random
strings, numbers, None and nested JSON-like values either give an answer or are refused with the
project's own one-line error (BadQuery; `gr.Error`/`AppError` carrying it through Gradio), never
an exception of another kind or a traceback. Most examples go straight to the core and the web
handler functions; a few go through a real Gradio server with `gradio_client`.

Bounded by the hypothesis profile in conftest.py: "ci" (default, few examples) or
HYPOTHESIS_PROFILE=thorough.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from conftest import free_port

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bot import core, web  # noqa: E402
from bot.core import AskOptions, check_k, check_request, check_topic  # noqa: E402
from bot.errors import BotError  # noqa: E402

ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

# -- values ----------------------------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
JSON_LIKE = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
SPECIAL_TEXT = st.sampled_from([
    "", " ", "\n", "gas prices", "What did Putin say about gas prices?", "Putin", "Putin; Miller", "Nobody Atall",
    "2019", "2019-06", "2019-06-31", "2019-13-01", "0000", "9999-12-31", "[", "[]", '["gas"]', "[1, 2]", '[["a"]]',
    '{"a": 1}', "null", "5", "-1", "1e3", "kremlin/none.txt", "<script>alert(1)</script>", "\x00", "\ud800 gas",
    "a\u2028b", "ü" * 999,
])
LONG_TEXT = st.builds(lambda n, c: c * n, st.sampled_from([199, 200, 201, 999, 1000, 1001, 5000]),
                      st.sampled_from(["a", "é", " ", "ab "]))
TEXT = st.one_of(st.text(max_size=40), SPECIAL_TEXT, LONG_TEXT)
ANY = st.one_of(TEXT, JSON_LIKE, st.lists(TEXT, max_size=60))
COUNT = st.one_of(st.integers(-3, 110), st.integers(), st.floats(), st.sampled_from(["5", " 3 ", "0", "abc", "2.0"]),
                  JSON_LIKE)


def one_line_refusal(exc: BaseException) -> None:
    """The project's own error: one short line (naming the value, not echoing a huge one)."""
    assert isinstance(exc, BotError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message and len(message) < 400, message
    assert "Traceback" not in message


# -- the core's request check (no index, so many examples are cheap) ----------------------------


@given(question=ANY, k=COUNT, speaker=ANY, speakers=ANY, since=ANY, until=ANY, transcripts=ANY, context=ANY,
       infer=st.one_of(st.booleans(), JSON_LIKE))
def test_check_request_normalises_or_refuses_in_one_line(question, k, speaker, speakers, since, until, transcripts,
                                                        context, infer):
    options = AskOptions(k=k, speaker=speaker, speakers=speakers, since=since, until=until, transcripts=transcripts,
                         context=context, infer=infer)
    try:
        text, opts = check_request(question, options)
    except Exception as exc:  # noqa: BLE001 - the property is what kind of exception it is
        one_line_refusal(exc)
        return
    assert isinstance(text, str) and 0 < len(text) <= core.MAX_QUESTION_CHARS and text == text.strip()
    assert type(opts.k) is int and 1 <= opts.k <= core.MAX_K
    assert isinstance(opts.context, tuple) and len(opts.context) <= core.MAX_CONTEXT_QUESTIONS
    assert all(isinstance(c, str) and 0 < len(c) <= core.MAX_QUESTION_CHARS for c in opts.context)
    for value in (opts.since, opts.until):
        assert value is None or ISO.match(value)
    assert opts.speaker is None or (isinstance(opts.speaker, str) and len(opts.speaker) <= core.MAX_NAME_CHARS)
    assert opts.speakers is None or all(isinstance(n, str) and n for n in opts.speakers)
    assert opts.transcripts is None or all(isinstance(t, str) and t for t in opts.transcripts)
    assert isinstance(opts.infer, bool)
    assert check_request(text, opts) == (text, opts)  # normalised values pass again, unchanged


@given(topic=ANY, k=COUNT)
def test_check_topic_and_k_accept_or_refuse_in_one_line(topic, k):
    for check, value in ((check_topic, topic), (check_k, k)):
        try:
            result = check(value)
        except Exception as exc:  # noqa: BLE001
            one_line_refusal(exc)
            continue
        if check is check_k:
            assert type(result) is int and 1 <= result <= core.MAX_K
            assert not isinstance(k, bool) and (not isinstance(k, float) or (math.isfinite(k) and k == result))
        else:
            assert isinstance(result, str) and 0 < len(result) <= core.MAX_TOPIC_CHARS


# -- the web handlers over the small real index --------------------------------------------------


def answered_or_refused(call) -> dict | None:
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001
        one_line_refusal(exc)
        return None
    json.dumps(result)  # what the endpoint returns is JSON
    return result


@given(question=ANY, k=COUNT, speaker=ANY, since=ANY, until=ANY, context=ANY, transcripts=ANY)
def test_ask_handler_answers_or_refuses_in_one_line(small_bot, question, k, speaker, since, until, context,
                                                    transcripts):
    result = answered_or_refused(lambda: web.api_answer(small_bot, question, k, speaker, since, until, context,
                                                        transcripts))
    if result is not None:
        assert isinstance(question, str) and result["question"] == question.strip()
        assert len(result["hits"]) <= core.MAX_K


@given(topic=ANY, k=COUNT, since=ANY, until=ANY, transcripts=ANY)
def test_who_handler_answers_or_refuses_in_one_line(small_bot, topic, k, since, until, transcripts):
    result = answered_or_refused(lambda: web.api_ranking(small_bot, topic, k, since, until, transcripts))
    if result is not None:
        assert result["topic"] == topic.strip() and len(result["speakers"]) <= check_k(k)


@given(question=ANY, since=ANY, until=ANY, k=COUNT)
def test_chat_answers_or_refuses_in_one_line(small_bot, question, since, until, k):
    answered_or_refused(lambda: web.chat(small_bot, question, since=since, until=until, k=k)[1][-1]["result"])


# -- through a real Gradio server ----------------------------------------------------------------

def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# What gradio_client can send as JSON: no NaN or infinities (JSON has no words for them), no lone
# surrogates (its HTTP library cannot encode them; the handler tests above cover them).
WIRE_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False,
                         allow_infinity=False), TEXT.filter(_utf8))
WIRE = st.one_of(WIRE_SCALARS, st.lists(WIRE_SCALARS, max_size=4), st.dictionaries(st.text(max_size=5), WIRE_SCALARS,
                                                                                     max_size=3))
FEW = max(4, settings().max_examples // 6)  # a server round trip is slow: a sixth of the profile's examples


@pytest.fixture(scope="module")
def client(small_bot):
    from gradio_client import Client

    demo = web.build_demo(small_bot)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def through_server(client, capfd, endpoint: str, *args) -> None:
    from gradio_client.exceptions import AppError

    try:
        result = client.predict(*args, api_name=endpoint)
    except AppError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 400, message
    else:
        assert isinstance(result, dict)
    log = capfd.readouterr().err
    assert "Traceback" not in log, log
    assert all(line.startswith("transcript-bot serve: ") for line in log.splitlines() if line.strip()), log


@pytest.mark.slow
@settings(max_examples=FEW)
@given(question=WIRE, k=WIRE, speaker=WIRE, since=WIRE, until=WIRE, context=WIRE, transcripts=WIRE)
def test_ask_endpoint_answers_or_refuses_in_one_line(client, capfd, question, k, speaker, since, until, context,
                                                     transcripts):
    through_server(client, capfd, "/ask", question, k, speaker, since, until, context, transcripts)


@pytest.mark.slow
@settings(max_examples=FEW)
@given(topic=WIRE, k=WIRE, since=WIRE, until=WIRE, transcripts=WIRE)
def test_who_endpoint_answers_or_refuses_in_one_line(client, capfd, topic, k, since, until, transcripts):
    through_server(client, capfd, "/who", topic, k, since, until, transcripts)
