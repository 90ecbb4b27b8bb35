"""`transcript-bot check` and `transcript-bot who --by` through the real entry point (the real
model over the small real index), JSON contracts and exit codes."""

from __future__ import annotations

import json

import pytest
from test_cli import run, run_process

PUTIN = ("I understand, of course, that this is not Gazprom’s job, but nonetheless, I ask you to give this your "
         "attention")


@pytest.fixture(scope="module")
def paths(small_corpus, small_index):
    return ["--corpus", str(small_corpus), "--index", str(small_index)]


def test_check_json_exact_and_someone_else(paths, small_bot):
    out = run_process("check", PUTIN, "--speaker", "Putin", "--json", *paths)  # the smoke test of `check`
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result == small_bot.check_quote(PUTIN, "Putin").to_json()
    assert result["verdict"] == "exact" and result["match"]["match"]["text"] == PUTIN
    out = run("check", PUTIN, "--speaker", "Alexei Miller", "--json", *paths)
    assert out.returncode == 0 and json.loads(out.stdout)["verdict"] == "someone_else"


def test_check_text_shows_the_differences_and_the_citation(paths):
    out = run("check", "Gazprom produced 500 billion cubic metres of oil last year.", *paths)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Close: said by Gazprom CEO Alexei Miller")
    assert any(line.startswith("[1] Gazprom CEO Alexei Miller, “Meeting with Gazprom CEO Alexei Miller”") for line in lines)
    assert "    changed:  “418.5” -> “500”" in lines and "    changed:  “gas” -> “oil”" in lines


def test_check_not_found_names_the_transcripts_searched(paths):
    out = run("check", "We will never allow NATO to expand its missile defence into space.", *paths)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Not found in 9 transcripts.\n\nClosest passages:")


@pytest.mark.parametrize("args, code, message", [
    (["check", ""], 2, "transcript-bot check: empty quote"),
    (["check", "two words"], 2, "transcript-bot check: quote too short to check (2 words; at least 3)"),
    (["check", "x" * 1001], 2, "transcript-bot check: quote too long (1,001 characters, limit 1,000)"),
    (["who", "gas", "--by", "week"], 2, "transcript-bot who: argument --by: invalid choice: 'week'"),
])
def test_check_and_who_by_usage_errors(paths, args, code, message):
    out = run(*args, *paths)
    assert out.returncode == code
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_check_without_an_index_is_a_runtime_error(tmp_path):
    out = run("check", PUTIN, "--corpus", str(tmp_path), "--index", str(tmp_path / "none"))
    assert out.returncode == 1 and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1


def test_who_by_year_json_counts_per_year(paths, small_bot):
    out = run("who", "gas supplies to Europe", "--by", "year", "-k", "3", "--json", *paths)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result == small_bot.who_over_time("gas supplies to Europe", by="year", k=3)
    assert result["by"] == "year" and len(result["speakers"]) == 3
    assert all(len(p["period"]) == 4 for p in result["periods"])
    text = run("who", "gas supplies to Europe", "--by", "month", "-k", "2", *paths)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("“gas supplies to Europe” over time:")
    assert any(line.startswith("2016-02 ") for line in text.stdout.splitlines())
