"""The ONNX query encoder (bot/onnx_encoder.py): made from the real model, verified against torch,
used without importing torch, and never used when it is not verified."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import onnx_encoder
from bot.embedding import load_query_embedder, resolve_model_path
from bot.settings import MINILM, Settings

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [json.loads(line)["question"] for line in (REPO / "eval" / "dev-questions.jsonl").open(encoding="utf-8")]

pytestmark = pytest.mark.slow


def test_export_agrees_with_torch_on_questions_and_passages(onnx_export, embedder, small_bot):
    onnx = onnx_encoder.OnnxEmbedder(onnx_export, threads=1)
    passages = [p.text for p in small_bot.data.passages[:120]]
    for texts in (QUESTIONS, passages):
        ours, torch_vectors = onnx.embed_documents(texts), embedder.embed_documents(texts)
        assert ours.dtype == np.float32 and ours.shape == torch_vectors.shape
        assert float((ours * torch_vectors).sum(axis=1).min()) >= onnx_encoder.MIN_COSINE
    assert onnx.count_tokens("What did Putin say?") == embedder.count_tokens("What did Putin say?")


def test_export_finds_the_same_top_ten(onnx_export, embedder, small_bot):
    onnx = onnx_encoder.OnnxEmbedder(onnx_export, threads=1)
    index = small_bot.data.vectors
    for question in QUESTIONS[:30]:
        _, ours = index.search(onnx.embed_query(question)[None, :], 10)
        _, theirs = index.search(embedder.embed_query(question)[None, :], 10)
        assert ours[0].tolist() == theirs[0].tolist(), question


def test_auto_uses_a_verified_export_and_replaces_a_broken_one(tmp_path, embedder, small_corpus, small_index):
    settings = Settings(small_corpus, small_index, MINILM, encoder="auto", cache=tmp_path)
    target = onnx_encoder.export_dir(MINILM, resolve_model_path(MINILM), tmp_path / "encoders")
    target.mkdir(parents=True)
    (target / "encoder.json").write_text("{not json", encoding="utf-8")  # a broken export
    assert not onnx_encoder.is_verified(target)
    chosen = load_query_embedder(settings, threads=1, loaded=embedder)
    assert isinstance(chosen, onnx_encoder.OnnxEmbedder)
    assert onnx_encoder.is_verified(target)
    assert json.loads((target / "encoder.json").read_text())["verification"]["min_cosine"] >= onnx_encoder.MIN_COSINE


def test_torch_setting_never_uses_the_export(tmp_path, onnx_export, embedder, small_corpus, small_index):
    settings = Settings(small_corpus, small_index, MINILM, encoder="torch", cache=onnx_export.parent.parent)
    assert load_query_embedder(settings, loaded=embedder) is embedder


def test_an_unverified_export_is_not_used(tmp_path, onnx_export, small_corpus, small_index, embedder):
    copy = tmp_path / "encoders" / onnx_export.name
    shutil.copytree(onnx_export, copy)
    meta = json.loads((copy / "encoder.json").read_text())
    meta["verification"]["min_cosine"] = 0.5  # as if torch and the export had disagreed
    (copy / "encoder.json").write_text(json.dumps(meta))
    assert not onnx_encoder.is_verified(copy)
    settings = Settings(small_corpus, small_index, MINILM, encoder="auto", cache=tmp_path)
    chosen = load_query_embedder(settings, loaded=embedder)  # re-exports from the loaded model
    assert isinstance(chosen, onnx_encoder.OnnxEmbedder) and onnx_encoder.is_verified(copy)


def test_a_model_that_is_not_a_folder_has_no_export(tmp_path):
    assert onnx_encoder.export_dir("some/hub-name", "some/hub-name", tmp_path) is None


def test_cold_ask_answers_without_importing_torch(onnx_export, small_corpus, small_index, small_bot):
    """The command line with a verified export: torch and sentence-transformers cannot even be
    imported in this process, and the answer is the one the torch-embedding bot gives."""
    question = "What did Putin say about the railway to Europe?"
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['sentence_transformers'] = None\n"
        "from bot.cli import main\n"
        f"sys.exit(main(['ask', {question!r}, '--json', '-k', '5', '--corpus', {str(small_corpus)!r}, "
        f"'--index', {str(small_index)!r}]))"
    )
    env = dict(os.environ, TRANSCRIPT_BOT_CACHE=str(onnx_export.parent.parent))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    expected = small_bot.ask(question).to_json()
    assert [(h["citation"], h["text"]) for h in answer["hits"]] == [(h["citation"], h["text"]) for h in expected["hits"]]
    assert answer["answer"] == expected["answer"]
    assert "railway" in answer["hits"][0]["text"]


def test_bad_encoder_setting_is_a_usage_error(small_corpus, small_index):
    env = dict(os.environ, TRANSCRIPT_BOT_ENCODER="gpu")
    done = subprocess.run([sys.executable, "-m", "bot", "stats", "--index", str(small_index), "--corpus", str(small_corpus)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["transcript-bot stats: TRANSCRIPT_BOT_ENCODER must be one of auto, torch, onnx, not 'gpu'"]


def test_a_model_whose_tokenizer_gives_no_token_type_ids_is_exported_too(tmp_path):
    """MPNet (all-mpnet-base-v2) takes input ids and the attention mask only: the export feeds the
    transformer the inputs its tokenizer gives. A tiny random MPNet with the default model's
    vocabulary stands in for the 420 MB one, which CI does not install."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    folder = tmp_path / "tiny-mpnet"
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(MINILM),
                                              model_input_names=["input_ids", "attention_mask"])
    assert "token_type_ids" not in tokenizer("a b")
    MPNetModel(MPNetConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=130)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    transformer = models.Transformer(str(folder), max_seq_length=128)
    model = SentenceTransformer(modules=[transformer, models.Pooling(32, "mean"), models.Normalize()], device="cpu")
    target = onnx_encoder.export(model, "tiny-mpnet", str(folder), tmp_path / "export")
    assert onnx_encoder.is_verified(target)
    onnx = onnx_encoder.OnnxEmbedder(target, threads=1)
    ours = onnx.embed_documents(QUESTIONS[:8])
    theirs = model.encode(QUESTIONS[:8], normalize_embeddings=True, convert_to_numpy=True)
    assert float((ours * theirs).sum(axis=1).min()) >= onnx_encoder.MIN_COSINE
