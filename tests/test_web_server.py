"""The web chat as a real Gradio server on 127.0.0.1, queried through `gradio_client`.

One server per module over the small real index; the `/ask` endpoint must return exactly
what the core (and so ``transcript-bot ask --json``) returns.
"""

from __future__ import annotations

import json

import pytest
from conftest import free_port

from bot.core import AskOptions

pytestmark = pytest.mark.slow

RAILWAY = "What did Kim Jong-il say about the railway?"
FOLLOW_UP = "And what about missiles?"


@pytest.fixture(scope="module")
def server(small_server):
    return small_server


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def test_ask_endpoint_returns_the_ask_json(client, small_bot):
    got = client.predict(RAILWAY, 3, "", "", "", "", api_name="/ask")
    assert got == small_bot.ask(RAILWAY, AskOptions(k=3)).to_json()
    assert got["hits"][0]["citation"].startswith("[1] ") and got["hits"][0]["url"].startswith("http")


def test_ask_endpoint_takes_filters_and_context(client, small_bot):
    got = client.predict(FOLLOW_UP, 4, "Putin", "2000", "2000-12-31", json.dumps([RAILWAY]), api_name="/ask")
    expected = small_bot.ask(
        FOLLOW_UP, AskOptions(k=4, speaker="Putin", since="2000", until="2000-12-31", context=[RAILWAY])
    ).to_json()
    assert got == expected and got["understood"]["follow_up"]
    assert {h["speaker"] for h in got["hits"]} <= small_bot.directory.labels_for("Putin")
    # Keyword arguments by name, and one earlier question given as plain text.
    assert (
        client.predict(question=FOLLOW_UP, context=RAILWAY, api_name="/ask")
        == small_bot.ask(FOLLOW_UP, AskOptions(context=[RAILWAY])).to_json()
    )


def test_ask_endpoint_takes_several_speakers_and_transcripts(client, small_bot):
    got = client.predict("gas supplies to Europe", 10, "Alexei Miller; Vladimir Putin", "", "", "", "", api_name="/ask")
    assert got == small_bot.ask("gas supplies to Europe",
                                AskOptions(k=10, speakers=["Alexei Miller", "Vladimir Putin"])).to_json()
    labels = small_bot.directory.labels_for("Alexei Miller") | small_bot.directory.labels_for("Vladimir Putin")
    assert {h["speaker"] for h in got["hits"]} <= labels
    guterres = next(r for r in small_bot.data.manifest["transcripts"] if "guterres" in r)
    got = client.predict(question="cooperation", transcripts=json.dumps([guterres]), api_name="/ask")
    assert got["hits"] and {h["transcript"] for h in got["hits"]} == {guterres}
    assert client.predict(question="cooperation", transcripts=guterres, api_name="/ask") == got  # one plain path
    within = client.predict(question="cooperation", collections="kremlin", api_name="/ask")
    assert within["hits"] and all(h["transcript"].startswith("kremlin/") for h in within["hits"])


def test_ask_endpoint_reports_errors_in_one_line(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="(?i)empty question"):
        client.predict("  ", api_name="/ask")
    with pytest.raises(AppError, match="(?i)bad date"):
        client.predict("gas", 5, "", "someday", api_name="/ask")


def test_who_endpoint_and_only_public_endpoints(client, small_bot):
    got = client.predict("gas supplies", 3, api_name="/who")
    assert got == {"topic": "gas supplies", "speakers": small_bot.who("gas supplies", k=3, pool=60)}
    dated = client.predict("gas supplies", 5, "2016", "", "", api_name="/who")
    assert dated["speakers"] == small_bot.who("gas supplies", k=5, pool=60, options=AskOptions(since="2016"))
    assert dated["speakers"] and all(r["date_range"][0] >= "2016" for r in dated["speakers"] if r["date_range"])
    one = sorted(small_bot.data.manifest["transcripts"])[0]
    within = client.predict("cooperation", 5, "", "", json.dumps([one]), api_name="/who")
    assert within["speakers"] == small_bot.who("cooperation", k=5, pool=60, options=AskOptions(transcripts=[one]))
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {"/ask", "/who", "/check"}  # the UI's own events are private


def test_server_listens_on_localhost_only(server):
    assert server.startswith("http://127.0.0.1:")


def test_serve_brings_a_stale_index_up_to_date_first(tmp_path, small_corpus, index_copy, embedder, capsys):
    import shutil
    import urllib.request

    from bot.settings import MINILM, Settings
    from bot.web import serve

    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus, corpus)
    gone = sorted((corpus / "kremlin").glob("2010-10-15_*.txt"))[0]
    gone.unlink()
    demo = serve(
        Settings(corpus, index_copy, MINILM), port=free_port(), prevent_thread_lock=True, embedder=embedder
    )
    try:
        out = capsys.readouterr().out
        assert "Updating the index" in out and "1 removed" in out and "web chat: http://127.0.0.1:" in out
        url = out.split("web chat: ")[1].split()[0]
        assert urllib.request.urlopen(url, timeout=10).status == 200
    finally:
        demo.close()
    demo = serve(
        Settings(corpus, index_copy, MINILM), port=free_port(), prevent_thread_lock=True, embedder=embedder
    )
    demo.close()
    assert "is up to date" in capsys.readouterr().out


def test_api_errors_arrive_unchanged_and_log_one_line_each(client, capfd):
    """A user's mistake comes back as the core's message, as is, and the server logs one line for it
    (Gradio prints a full traceback for a gr.Error unless told not to)."""
    from gradio_client.exceptions import AppError

    capfd.readouterr()
    cases = [
        (("gas", 0), "/ask", "k (number of passages) must be between 1 and 100, not 0"),
        (("gas", 5, "", "", "", "[" + ", ".join(['"q"'] * 51) + "]"), "/ask",
         "context (earlier questions): too many (51, limit 50)"),
        (("gas", 5, "", "", "", "c" * 1_000_000), "/ask",
         "earlier question 1 of the context too long (1,000,000 characters, limit 1,000)"),
        (("t" * 100_000, 5), "/who", "topic too long (100,000 characters, limit 200)"),
        (("gas", 100_000), "/who", "k (number of speakers) must be between 1 and 100, not 100000"),
    ]
    for args, endpoint, message in cases:
        with pytest.raises(AppError) as caught:
            client.predict(*args, api_name=endpoint)
        assert str(caught.value) == message
    log = capfd.readouterr().err
    assert "Traceback" not in log
    refusals = [line for line in log.splitlines() if "refused" in line]
    assert refusals == [f"transcript-bot serve: {endpoint} refused: {message}" for _, endpoint, message in cases]


def _serve(args: list[str], log) -> "subprocess.Popen[str]":
    import os
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.Popen([sys.executable, "-m", "bot", "serve", *args], stdout=subprocess.PIPE, stderr=log, text=True,
                            cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def _until_serving(proc: "subprocess.Popen[str]", log_path) -> list[str]:
    """The server's output lines up to the one that gives the chat's address. The rest of its
    output is read on by a thread into the same list, so a full pipe never stalls the server."""
    import threading

    lines: list[str] = []
    while not any("web chat:" in line for line in lines):
        line = proc.stdout.readline()
        assert line, f"server ended: {lines} {log_path.read_text()}"
        lines.append(line)
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    return lines


def test_transcript_bot_serve_logs_a_refused_request_in_one_line(tmp_path, small_corpus, small_index):
    import signal

    from gradio_client import Client
    from gradio_client.exceptions import AppError

    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = _serve(["--port", str(port), "--corpus", str(small_corpus), "--index", str(small_index)], log)
        try:
            assert any("is up to date" in line for line in _until_serving(proc, log_path))
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            with pytest.raises(AppError, match=r"^k \(number of passages\) must be between 1 and 100, not 0$"):
                client.predict("gas prices", 0, api_name="/ask")
            assert client.predict("gas prices", 2, api_name="/ask")["hits"]
        finally:
            proc.send_signal(signal.SIGINT)  # with the client still connected: Ctrl+C must not wait for it
            proc.wait(timeout=60)
    log = log_path.read_text()
    assert "Traceback" not in log, log
    assert [line for line in log.splitlines() if "refused" in line] == [
        "transcript-bot serve: /ask refused: k (number of passages) must be between 1 and 100, not 0"]


def test_serve_on_a_damaged_index_reports_the_damage_only(tmp_path, small_corpus, index_copy):
    import json

    manifest = json.loads((index_copy / "manifest.json").read_text())
    vectors = index_copy / manifest["files"]["vectors"]["path"]
    vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    with (tmp_path / "server.log").open("w") as log:
        proc = _serve(["--port", str(free_port()), "--corpus", str(small_corpus), "--index", str(index_copy)], log)
        out, _ = proc.communicate(timeout=300)
    err = (tmp_path / "server.log").read_text()
    assert proc.returncode == 1 and out == ""  # nothing claims the index is up to date
    assert err.strip() == (f"error: {vectors}: index file is truncated or altered (checksum mismatch); rebuild with: "
                           f"transcript-bot index --full --index {index_copy} --corpus {small_corpus}")


def test_make_run_serves_the_bundled_corpus_with_the_default_model(tmp_path):
    """`make run`'s command, as a newcomer runs it: `python app.py` in the repository, no model,
    corpus or index named. The committed index is verified up to date (not rebuilt), asked with
    the model it was built with (the default, all-mpnet-base-v2), and answers with a citation."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from gradio_client import Client

    from bot.settings import DEFAULT_MODEL

    repo = Path(__file__).resolve().parent.parent
    manifest = json.loads((repo / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["name"] == DEFAULT_MODEL
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSCRIPT_BOT_") or k == "TRANSCRIPT_BOT_CACHE"}
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], stdout=subprocess.PIPE, stderr=log,
                                text=True, cwd=repo, env={**env, "HF_HUB_OFFLINE": "1"})
        try:
            lines = _until_serving(proc, log_path)
            assert any("is up to date" in line for line in lines), lines
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            got = client.predict("What did Putin say about a railway from Korea to Europe?", 3, api_name="/ask")
        finally:
            proc.send_signal(signal.SIGINT)  # with the client still connected, as a browser tab would be
            proc.wait(timeout=60)
    assert not got["abstained"] and got["space"] == "english"
    top = got["hits"][0]
    assert top["transcript"].endswith("24172_replies-to-russian-journalists-questions-about-talks-with-kim-jong-il.txt")
    assert "railway" in top["text"].lower() and top["url"] == "http://en.kremlin.ru/events/president/transcripts/24172"
    assert "Traceback" not in log_path.read_text()


def test_serve_stops_on_ctrl_c_even_when_started_with_it_ignored(tmp_path, small_corpus, small_index):
    """A server started as a non-interactive shell starts a background job (`serve &`: SIGINT
    ignored, inherited through exec) still stops on SIGINT, at once, with a client connected."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from gradio_client import Client

    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port), "--corpus", str(small_corpus),
                                 "--index", str(small_index), "--no-sync"], stdout=subprocess.PIPE, stderr=log,
                                text=True, cwd=Path(__file__).resolve().parent.parent,
                                env={**os.environ, "HF_HUB_OFFLINE": "1"},
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        try:
            _until_serving(proc, log_path)
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            assert client.predict("gas prices", 2, api_name="/ask")["hits"]
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in log_path.read_text()
