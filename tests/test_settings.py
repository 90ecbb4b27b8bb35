"""The one configuration (bot/settings.py): flag > environment > config file > default, for paths,
address and every retrieval knob; malformed values refused in one line."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from bot.retrieval import RetrievalConfig
from bot.settings import DEFAULT_PORT, Settings

ENV = ("TRANSCRIPT_BOT_CORPUS", "TRANSCRIPT_BOT_INDEX", "TRANSCRIPT_BOT_MODEL", "TRANSCRIPT_BOT_STORE",
       "TRANSCRIPT_BOT_ENCODER", "TRANSCRIPT_BOT_HOST", "TRANSCRIPT_BOT_PORT", "TRANSCRIPT_BOT_CONFIG",
       "TRANSCRIPT_BOT_SET")


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_config_file(clean):
    s = Settings.resolve()
    assert (s.corpus, s.index, s.host, s.port, s.encoder) == (Path("corpus"), Path("index"), "127.0.0.1", DEFAULT_PORT, "auto")
    assert s.retrieval == RetrievalConfig() and s.config_file is None


def test_a_model_no_one_names_is_the_index_s_own_else_the_default(clean, tmp_path, small_index):
    """The model is part of the index: an existing index is asked and updated with the model it
    was built with, so a new default never turns it into a mismatch; a new one gets the default."""
    from bot.settings import DEFAULT_MODEL, MINILM

    assert DEFAULT_MODEL == "all-mpnet-base-v2"
    assert Settings.resolve().model == DEFAULT_MODEL  # no index here yet
    assert Settings.resolve(index=str(small_index)).model == MINILM  # the real index's manifest says so
    clean.setenv("TRANSCRIPT_BOT_INDEX", str(small_index))
    assert Settings.resolve().model == MINILM
    assert Settings.resolve(model="other-model").model == "other-model"  # a named model still wins
    clean.setenv("TRANSCRIPT_BOT_MODEL", "from-env")
    assert Settings.resolve().model == "from-env"
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    write(damaged / "manifest.json", '{"model": ')
    assert Settings.resolve(index=str(damaged), model=None).model == "from-env"
    clean.delenv("TRANSCRIPT_BOT_MODEL")
    assert Settings.resolve(index=str(damaged)).model == DEFAULT_MODEL  # loading it reports the damage


def test_flag_beats_environment_beats_file(clean, tmp_path):
    write(tmp_path / "transcript-bot.toml", 'index = "from-file"\nport = 8001\nhost = "0.0.0.0"\n'
          '[retrieval]\ncandidates = 300\nanswer_margin = 1\n')
    s = Settings.resolve()
    assert (s.index, s.port, s.host) == (Path("from-file"), 8001, "0.0.0.0")
    assert s.retrieval.candidates == 300 and s.retrieval.answer_margin == 1.0
    assert s.config_file == Path("transcript-bot.toml")
    clean.setenv("TRANSCRIPT_BOT_INDEX", "from-env")
    clean.setenv("TRANSCRIPT_BOT_PORT", "8002")
    clean.setenv("TRANSCRIPT_BOT_SET", "candidates=250; short_words=10")
    s = Settings.resolve()
    assert (s.index, s.port, s.retrieval.candidates, s.retrieval.short_words) == (Path("from-env"), 8002, 250, 10)
    s = Settings.resolve(index="from-flag", port=8003, sets=["candidates=111", "retrieval.fusion=rrf"])
    assert (s.index, s.port, s.retrieval.candidates, s.retrieval.fusion) == (Path("from-flag"), 8003, 111, "rrf")
    assert s.retrieval.short_words == 10  # the environment's, not overridden by a flag


def test_describe_records_every_setting_as_json(clean):
    s = Settings.resolve(sets=["candidates=123"])
    described = json.loads(json.dumps(s.describe()))
    assert described["retrieval"] == {**asdict(RetrievalConfig()), "candidates": 123}
    assert {"corpus", "index", "model", "encoder", "host", "port", "threads", "config_file"} <= set(described)


@pytest.mark.parametrize("text, message", [
    ('indx = "x"\n', "unknown setting 'indx'"),
    ("[retrieval]\ncandidats = 3\n", "unknown retrieval setting 'candidats'"),
    ('[retrieval]\ncandidates = "many"\n', "candidates must be int, not 'many'"),
    ("[retrieval]\nmerge_windows = 1\n", "merge_windows must be bool, not 1"),
    ("port = 70000\n", "port must be a port number from 1 to 65535"),
    ("threads = 0\n", "threads must be a whole number from 1 to 256"),
    ("retrieval = 3\n", "retrieval must be a table"),
    ("port = \n", "is not valid TOML"),
])
def test_a_bad_config_file_is_refused_in_one_line_naming_it(clean, tmp_path, text, message):
    path = write(tmp_path / "settings.toml", text)
    with pytest.raises(ValueError) as caught:
        Settings.resolve(config=path)
    assert message in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_bad_knobs_from_flag_or_environment(clean):
    with pytest.raises(ValueError, match=r"^--set takes NAME=VALUE, not 'candidates'$"):
        Settings.resolve(sets=["candidates"])
    with pytest.raises(ValueError, match="^--set: candidates must be int, not 2.5$"):
        Settings.resolve(sets=["candidates=2.5"])
    clean.setenv("TRANSCRIPT_BOT_SET", "nonsense=1")
    with pytest.raises(ValueError, match="^TRANSCRIPT_BOT_SET: unknown retrieval setting 'nonsense'$"):
        Settings.resolve()
    clean.delenv("TRANSCRIPT_BOT_SET")
    with pytest.raises(ValueError, match="config file missing.toml not found"):
        Settings.resolve(config="missing.toml")


def test_knobs_reach_the_core_through_the_command_line(small_corpus, small_index, onnx_export, capsys, monkeypatch,
                                                       tmp_path):
    """`ask --set` changes the search (here: the answer quotes one sentence), `eval --json`
    records the settings that produced its numbers, and a bad knob is a usage error (exit 2)."""
    from bot.cli import main

    monkeypatch.delenv("TRANSCRIPT_BOT_SET", raising=False)
    paths = ["--corpus", str(small_corpus), "--index", str(small_index)]
    assert main(["ask", "What did Putin say about the railway to Europe?", "--json", *paths,
                 "--set", "answer_sentences=1", "--set", "answer_margin=0"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["answer"].count(" [") == 1  # one quoted sentence, one [n] marker

    assert main(["ask", "railway", *paths, "--set", "answer_hits=x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "transcript-bot ask: --set: answer_hits must be int, not 'x'"

    questions = tmp_path / "one.jsonl"
    first = (Path(__file__).resolve().parent.parent / "eval" / "dev-questions.jsonl").read_text(encoding="utf-8").splitlines()[0]
    questions.write_text(first + "\n", encoding="utf-8")
    assert main(["eval", str(questions), "--json", *paths, "--set", "candidates=150"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["retrieval"]["candidates"] == 150
    assert report["settings"]["index"] == str(small_index) and report["settings"]["encoder"] == "auto"


def test_collection_filter_is_the_core_s(small_corpus, small_index, onnx_export, capsys):
    """`--collection` (the web's collection filter) is resolved by the core for every front end."""
    from bot.cli import main

    paths = ["--corpus", str(small_corpus), "--index", str(small_index)]
    assert main(["ask", "cooperation with Austria", "--collection", "kremlin", "--json", *paths]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits and all(h["transcript"].startswith("kremlin/") for h in hits)
    assert main(["ask", "cooperation", "--collection", "nowhere", *paths]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("transcript-bot ask: no collection 'nowhere' in the index") and "\n" not in err
