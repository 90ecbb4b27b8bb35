"""The command line: output contracts, filters, batch, exit codes.

Most tests run `bot.cli.main(argv)` in this process (`run`); each command also has a smoke test
as a real process (`run_process`: ask, index, stats, serve, who here; check in test_cli_tools,
eval in test_retrieval)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from bot.cli import build_parser, main

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Done:
    """What a command left: its exit code and output (the fields of `subprocess.CompletedProcess`)."""

    returncode: int
    stdout: str
    stderr: str


def run(*args: str, env_extra: dict | None = None, timeout: int = 300) -> Done:
    """The command line in this process, through ``bot.cli.main(argv)``: what a user types,
    parsed and run by the real code, without a new interpreter importing torch each time.
    (`run_process` runs it as a real command, for one smoke test per command.)"""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, {"HF_HUB_OFFLINE": "1", **(env_extra or {})}), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own --help
            code = exc.code if isinstance(exc.code, int) else 0
    return Done(code, out.getvalue(), err.getvalue())


def run_process(*args: str, env_extra: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m bot ARGS`` as a separate process (the real entry point, exit code and streams)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


@pytest.fixture(scope="module")
def paths(small_corpus, small_index):
    return ["--corpus", str(small_corpus), "--index", str(small_index)]


def test_every_command_has_help_with_an_example():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        assert p.format_help().strip() and "example:" in p.format_help(), name


def test_help_is_instant_and_imports_nothing_heavy():
    out = run_process("--help")
    assert out.returncode == 0 and "transcript-bot" in out.stdout
    code = "import sys, bot.cli; bot.cli.build_parser(); print(any(m in sys.modules for m in ('torch', 'gradio', 'faiss')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO).stdout.strip() == "False"


def test_ask_json_contract(paths):
    out = run_process("ask", "How much trade is there between Russia and North Korea?", "-k", "3", "--json", *paths)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) >= {"question", "answer", "abstained", "hits"}
    assert len(result["hits"]) == 3
    hit = result["hits"][0]
    assert set(hit) >= {"rank", "score", "transcript", "title", "date", "place", "url", "speaker", "turn", "text", "context", "citation"}
    assert hit["rank"] == 1 and isinstance(hit["turn"], int)
    top = [h for h in result["hits"] if "Pyongyang" == h["place"]]
    assert top and "$100" in top[0]["text"] and top[0]["url"].startswith("http://en.kremlin.ru/")
    assert "[1]" in result["answer"] or "[2]" in result["answer"] or "[3]" in result["answer"]


def test_ask_text_output_has_citations(paths):
    out = run("ask", "How much trade is there between Russia and North Korea?", "-k", "2", *paths)
    assert out.returncode == 0
    assert "[1] " in out.stdout and "Pyongyang" in out.stdout and "turn " in out.stdout


def test_filters_and_batch(tmp_path, paths):
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join(json.dumps(x) for x in [
        {"id": "a", "question": "What did they say about refugees?", "speaker": "Putin"},
        {"id": "b", "question": "unemployment", "since": "2010-01-01", "until": "2010-12-31"},
        {"id": "c", "question": "And what about Syria?", "context": ["What did Putin say about refugees in Europe?"]},
    ]) + "\n")
    out = run("ask", "--batch", str(batch), "--json", "-k", "4", *paths)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert all("Putin" in h["speaker"] for h in rows[0]["hits"])
    assert all(h["date"].startswith("2010") for h in rows[1]["hits"])
    assert rows[2]["understood"]["follow_up"] is True


# Exit 2 for anything wrong with what was typed (bad flag values included), 1 for runtime errors.
@pytest.mark.parametrize("args,code,message", [
    (["ask", ""], 2, "empty question"),
    (["ask", "x", "--since", "2019-13-01"], 2, "bad date for since: no such month in '2019-13-01'"),
    (["ask", "x", "--until", "2019-02-30"], 2, "'2019-02-30'"),
    (["ask", "x", "--since", "2020", "--until", "2019"], 2, "since 2020 is after until 2019"),
    (["ask", "x", "--speaker", "Nobody Atall"], 2, "no speaker matches 'Nobody Atall'"),
    (["ask", "x", "--transcript", "kremlin/none.txt"], 2, "no transcript 'kremlin/none.txt'"),
    (["ask", "x", "-k", "0"], 2, "k (number of passages) must be between 1 and 100, not 0"),
    (["ask", "x", "-k", "101"], 2, "not 101"),
    (["ask", "x" * 1001], 2, "question too long (1,001 characters, limit 1,000)"),
    (["ask", "gas", "--context", "y" * 1001], 2, "earlier question 1 of the context too long"),
    (["ask"], 2, "question is required"),
    (["ask", "x", "-k", "many"], 2, "invalid int"),
    (["who", "gas", "-k", "0"], 2, "k (number of speakers) must be between 1 and 100, not 0"),
    (["who", "gas", "-k", "-1"], 2, "not -1"),
    (["who", ""], 2, "empty topic"),
    (["who", "   "], 2, "empty topic"),
    (["who", "t" * 201], 2, "topic too long (201 characters, limit 200)"),
    (["eval", "tests/data/small-questions.jsonl", "-k", "0"], 2, "k (number of passages) must be between"),
    (["serve", "--port", "99999"], 2, "--port: a port number from 1 to 65535, not '99999'"),
    (["serve", "--port", "0"], 2, "not '0'"),
    (["index", "--max-file-mb", "inf"], 2, "--max-file-mb: a size in MB above 0 and below 1,000,000, not 'inf'"),
    (["frobnicate"], 2, "invalid choice"),
])
def test_errors_are_one_line_with_exit_codes(paths, args, code, message):
    out = run(*args, *paths)
    assert out.returncode == code, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


def test_port_from_the_environment_is_checked_before_anything_loads(paths):
    out = run_process("serve", *paths, env_extra={"TRANSCRIPT_BOT_PORT": "http"})
    assert out.returncode == 2 and out.stderr.strip() == (
        "transcript-bot serve: TRANSCRIPT_BOT_PORT must be a port number from 1 to 65535, not 'http'")
    assert run("--help", env_extra={"TRANSCRIPT_BOT_PORT": "http"}).returncode == 0  # parsing never reads it


def test_serve_on_a_port_in_use_says_so_in_one_line(paths):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_process("serve", "--port", str(port), "--no-sync", *paths, timeout=120)
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip() == (f"error: port {port} on 127.0.0.1 is already in use (another server?); "
                                  "choose another with --port")
    out = run_process("serve", "--host", "no-such-host.invalid", "--port", str(port), "--no-sync", "--public", *paths,
              timeout=120)  # --public: not loopback, and no login
    assert out.returncode == 1 and out.stderr.startswith(f"error: cannot listen on no-such-host.invalid:{port}: ")
    assert len(out.stderr.strip().splitlines()) == 1


def test_an_index_path_that_is_a_file_is_named(tmp_path, small_corpus):
    not_a_folder = tmp_path / "index.txt"
    not_a_folder.write_text("not an index")
    for command in (["index"], ["ask", "gas"], ["stats"]):
        out = run(*command, "--index", str(not_a_folder), "--corpus", str(small_corpus))
        assert out.returncode == 1, (command, out.stderr)
        assert out.stderr.strip() == (f"error: index path {not_a_folder} is a file, not a folder; "
                                      "give an index folder with --index"), command
    assert not_a_folder.read_text() == "not an index"


def test_a_reader_that_goes_away_ends_the_command_quietly(paths):
    """``ask ... | head``: stdout is a pipe nobody reads any more; no BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written: deterministic
    try:
        out = subprocess.run([sys.executable, "-m", "bot", "ask", "gas prices", "-k", "10", *paths], stdout=write_end,
                             stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=300,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    finally:
        os.close(write_end)
    assert out.returncode == 141 and out.stderr == ""


def test_batch_lines_are_checked_by_the_core_one_line_each(tmp_path, paths):
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join([
        json.dumps({"id": "ok", "question": "gas supplies to Europe"}),
        json.dumps({"id": "k", "question": "gas", "k": "many"}),
        json.dumps({"id": "ctx", "question": "gas", "context": 5}),
        json.dumps({"id": "speaker", "question": "gas", "speaker": ["Putin"]}),
        json.dumps({"id": "date", "question": "gas", "since": "2019-13"}),
        json.dumps({"id": "long", "question": "gas", "context": ["q"] * 51}),
        "[1, 2]",
    ]) + "\n")
    out = run("ask", "--batch", str(batch), "--json", *paths)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    rows = {r["id"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert rows["ok"]["hits"]
    assert rows["k"]["error"] == "k (number of passages) must be a whole number between 1 and 100, not 'many'"
    assert rows["ctx"]["error"] == "context (earlier questions) must be a list, not a number"
    assert rows["speaker"]["error"] == "speaker must be text, not a list"
    assert rows["date"]["error"] == "bad date for since: no such month in '2019-13'"
    assert rows["long"]["error"] == "context (earlier questions): too many (51, limit 50)"
    assert out.stderr.strip().splitlines() == [f"error: {batch}:7: not a question line (needs a \"question\" string)"]
    flags = run("ask", "--batch", str(batch), "-k", "0", *paths)  # a bad flag is a usage error, before any line
    assert flags.returncode == 2 and flags.stdout == "" and "k (number of passages)" in flags.stderr


def test_who_command_ranks_people_and_takes_filters(paths):
    done = run_process("who", "gas supplies to Europe", "-k", "4", "--json", *paths)
    assert done.returncode == 0, done.stderr
    everyone = json.loads(done.stdout)["speakers"]
    assert everyone and all(r["passages"] >= 1 and r["best"]["citation"] for r in everyone)
    assert any(r["person"] == "Alexei Miller" for r in everyone)
    done = run("who", "gas supplies to Europe", "--since", "2016", "--until", "2017-12-31", "--json", *paths)
    assert done.returncode == 0, done.stderr
    dated = json.loads(done.stdout)["speakers"]
    assert dated and all("2016" <= r["date_range"][0] and r["date_range"][1] <= "2017-12-31" for r in dated)
    assert dated != everyone
    text = run("who", "gas supplies", "--until", "not-a-date", *paths)
    assert text.returncode == 2 and "not-a-date" in text.stderr and len(text.stderr.strip().splitlines()) == 1


def test_missing_index_and_unknown_corpus(tmp_path):
    out = run("ask", "hello", "--index", str(tmp_path / "none"))
    assert out.returncode == 1 and "no index at" in out.stderr
    out = run("index", "--corpus", str(tmp_path / "nowhere"), "--index", str(tmp_path / "ix"))
    assert out.returncode == 1 and "corpus folder not found" in out.stderr


def test_environment_variables_set_paths(small_corpus, small_index):
    out = run_process("stats", "--json", env_extra={"TRANSCRIPT_BOT_INDEX": str(small_index), "TRANSCRIPT_BOT_CORPUS": str(small_corpus)})
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats["transcripts"] == 9 and stats["model"] == "all-MiniLM-L6-v2" and stats["freshness"] == "up to date"


def test_index_check_and_summary(tmp_path, small_corpus):
    (small_corpus / "kremlin" / "broken.txt").write_bytes(b"\x00\x00\x00")
    try:
        out = run("index", "--check", "--corpus", str(small_corpus), "--index", str(tmp_path / "ix"))
    finally:
        (small_corpus / "kremlin" / "broken.txt").unlink()
    assert out.returncode == 0
    assert "kremlin/broken.txt: binary file" in out.stdout and "text, " in out.stdout
    assert not (tmp_path / "ix").exists()


def test_index_command_end_to_end(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "talk.txt").write_text("Fishing Talks\n\nMarch 3, 2015, Oslo\n\nJohn Smith: Cod quotas will rise by ten percent next year.\n")
    out = run_process("index", "--corpus", str(corpus), "--index", str(tmp_path / "ix"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == ["talk.txt"]
    out = run("ask", "Will cod quotas go up?", "--json", "--corpus", str(corpus), "--index", str(tmp_path / "ix"))
    hit = json.loads(out.stdout)["hits"][0]
    assert hit["speaker"] == "John Smith" and hit["place"] == "Oslo" and hit["date"] == "2015-03-03" and hit["turn"] == 0


def test_stats_after_index_with_unreadable_files_is_up_to_date(tmp_path):
    """Files `index` skips are reported by `stats`, and never make the index look stale."""
    from conftest import SMALL_FILES, copy_small_corpus

    corpus = copy_small_corpus(tmp_path / "c", files=SMALL_FILES[:1])
    (corpus / "kremlin" / "empty.txt").write_text("")
    paths = ("--corpus", str(corpus), "--index", str(tmp_path / "ix"))
    built = run("index", *paths)
    assert built.returncode == 0, built.stderr
    out = run("stats", *paths)
    assert out.returncode == 0, out.stderr
    assert "(up to date; 1 unreadable file skipped)" in out.stdout
    assert "skipped:    kremlin/empty.txt: empty file; skipped" in out.stdout
    again = run("index", *paths, "--json")
    assert json.loads(again.stdout)["added"] == []
