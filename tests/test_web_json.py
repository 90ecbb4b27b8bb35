"""The plain JSON API of `transcript-bot serve` (`bot.web_json`): ``POST /api/ask``, ``/api/who``,
``/api/check`` — the request checks as logic, then through a real server started the way ``serve``
starts it (``bot.web.launch``), with and without logins, over the real model and index."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

from bot.settings import resolve_access
from bot.web_json import MAX_BODY, Refused, credentials_ok, parse_request

from conftest import free_port

QUESTION = "What did Putin say about gas supplies to Europe?"


# -- the request checks (logic) ---------------------------------------------------------------------


def test_a_good_request_is_returned_as_its_fields():
    """The fields a route takes are its call's parameters; their values are left to the core."""
    assert parse_request("ask", b'{"question": "gas", "k": 3, "speaker": "Putin"}') == {
        "question": "gas", "k": 3, "speaker": "Putin"}
    assert parse_request("who", '{"topic": "газ"}'.encode()) == {"topic": "газ"}
    assert parse_request("check", b'{"quote": "We keep 40 percent"}') == {"quote": "We keep 40 percent"}


@pytest.mark.parametrize("body, status, says", [
    (b"", 400, 'must be a JSON object such as {"question"'),
    (b"question=gas", 400, "is not JSON"),
    (b"\xff\xfe{}", 400, "is not JSON"),
    (b'["gas"]', 400, "must be a JSON object"),
    (b'{"k": 3}', 400, "question is missing"),
    (b'{"question": "gas", "password": "x"}', 400, "unknown field 'password' for /api/ask; it takes question, k"),
    (b'{"question": "' + b"a" * MAX_BODY + b'"}', 413, "at most 262,144 are accepted"),
])
def test_a_bad_request_is_refused_with_its_status_and_one_line(body, status, says):
    with pytest.raises(Refused) as refused:
        parse_request("ask", body)
    assert refused.value.status == status
    assert says in str(refused.value) and "\n" not in str(refused.value)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_are_checked_only_when_the_server_has_logins():
    open_access = resolve_access("127.0.0.1")
    assert credentials_ok(None, None) and credentials_ok(open_access, None)
    access = resolve_access("127.0.0.1", ["ana:s3cret:pass"])
    assert credentials_ok(access, basic("ana", "s3cret:pass"))  # a colon inside the password
    for header in [None, "", basic("ana", "wrong"), basic("bob", "s3cret:pass"), "Bearer s3cret",
                   "Basic !!not-base64!!", "Basic " + base64.b64encode(b"\xff\xfe").decode()]:
        assert not credentials_ok(access, header), header


# -- a real server ------------------------------------------------------------------------------------


def post(url: str, body: bytes | dict, auth: str | None = None, method: str = "POST") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data if method == "POST" else None, method=method,
                                     headers={"Content-Type": "application/json", **({"Authorization": auth} if auth else {})})
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, (json.loads(text) if text.startswith(b"{") else {"raw": text.decode(errors="replace")})


@pytest.fixture(scope="module")
def server(small_bot):
    """A server started as ``serve`` starts it, with no logins (the person at the machine)."""
    from bot.web import build_demo, launch

    demo = build_demo(small_bot)
    port = free_port()
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True, access=resolve_access("127.0.0.1"))
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_ask_answers_with_exactly_what_the_cli_prints(server, small_bot):
    from bot.core import AskOptions

    status, reply = post(server + "api/ask", {"question": QUESTION, "k": 3})
    assert status == 200
    assert reply == small_bot.ask(QUESTION, AskOptions(k=3)).to_json()
    assert len(reply["hits"]) == 3 and not reply["abstained"]
    # every quote is the source's own text
    for hit in reply["hits"]:
        assert hit["text"] in small_bot.neighbours(hit["transcript"], hit["turn"], 0, 0)[0]["text"]


def test_ask_takes_filters_and_a_conversation(server, small_bot):
    from bot.core import AskOptions

    status, reply = post(server + "api/ask", {"question": "And oil?", "k": 4, "speaker": "Vladimir Putin",
                                              "context": [QUESTION]})
    assert status == 200
    assert reply == small_bot.ask("And oil?", AskOptions(k=4, speaker="Vladimir Putin", context=[QUESTION])).to_json()
    assert reply["hits"] and all("Putin" in h["speaker"] for h in reply["hits"])


def test_who_and_check_answer_like_their_cli_commands(server, small_bot):
    status, who = post(server + "api/who", {"topic": "gas supplies", "k": 3})
    assert status == 200 and who["topic"] == "gas supplies" and 0 < len(who["speakers"]) <= 3
    hit = small_bot.ask(QUESTION).to_json()["hits"][0]
    status, check = post(server + "api/check", {"quote": hit["text"][:200], "speaker": hit["speaker"]})
    assert status == 200
    assert (check["match"]["transcript"], check["match"]["turn"]) == (hit["transcript"], hit["turn"])


@pytest.mark.parametrize("route, body, status, says", [
    ("api/ask", {"question": ""}, 400, "empty"),
    ("api/ask", {"question": QUESTION, "k": 0}, 400, "k"),
    ("api/ask", {"question": QUESTION, "since": "yesterday"}, 400, "yesterday"),
    # values are checked by the core, as for every front end (core.check_request)
    ("api/ask", {"question": 5}, 400, "question must be text, not a number"),
    ("api/ask", {"question": "gas", "k": "five"}, 400, "must be a whole number between 1 and 100, not 'five'"),
    ("api/ask", {"question": "gas", "k": True}, 400, "must be a whole number between 1 and 100, not True"),
    ("api/ask", {"question": "gas", "k": 2.5}, 400, "must be a whole number between 1 and 100, not 2.5"),
    ("api/ask", {"question": "gas", "context": {"a": 1}}, 400, "context (earlier questions) must be a list, not an object"),
    ("api/ask", b"{not json", 400, "is not JSON"),
    ("api/ask", b"x" * (MAX_BODY + 1), 413, "at most 262,144"),
    ("api/nothing", {"question": QUESTION}, 404, "no route /api/nothing; there are /api/ask, /api/who, /api/check"),
    ("api/who", {"question": QUESTION}, 400, "unknown field 'question' for /api/who"),
])
def test_a_bad_call_gets_its_status_and_a_one_line_error(server, route, body, status, says):
    got, reply = post(server + route, body)
    assert got == status, reply
    assert set(reply) == {"error"} and says in reply["error"] and "\n" not in reply["error"]


def test_only_post_is_served(server):
    status, _ = post(server + "api/ask", b"", method="GET")
    assert status == 405


def test_the_server_goes_on_answering_after_bad_calls(server):
    for body in [b"\x00" * 1000, b'{"question": ' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"question": "\\ud800"}']:
        status, reply = post(server + "api/ask", body)
        assert status == 400 and "error" in reply
    assert post(server + "api/ask", {"question": QUESTION})[0] == 200


def test_with_logins_a_caller_needs_a_user_and_password(small_bot):
    from bot.web import build_demo, launch

    access = resolve_access("127.0.0.1", ["ana:s3cret", "ed:pw2:editor"])
    demo = build_demo(small_bot, access=access)
    port = free_port()
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True, access=access)
    url = f"http://127.0.0.1:{port}/api/ask"
    try:
        for auth in [None, basic("ana", "wrong"), basic("mallory", "s3cret")]:
            status, reply = post(url, {"question": QUESTION}, auth=auth)
            assert status == 401 and "send a user and password" in reply["error"]
        status, reply = post(url, {"question": QUESTION}, auth=basic("ana", "s3cret"))
        assert status == 200 and reply["hits"]
    finally:
        demo.close()


def test_questions_at_once_each_get_their_own_answer(server, small_bot):
    """Sixteen calls in parallel (more than the server's workers): every one succeeds and gets
    exactly the answer its question gets alone, never a neighbour's."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.core import AskOptions

    questions = ["What did Putin say about gas supplies to Europe?", "How much did trade with Austria grow?",
                 "What did Guterres discuss with Putin?", "When was the Baksan hydroelectric plant launched?"] * 4
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda q: post(server + "api/ask", {"question": q, "k": 3}), questions))
    for question, (status, reply) in zip(questions, replies):
        assert status == 200 and reply == small_bot.ask(question, AskOptions(k=3)).to_json()
