"""A query encoder that needs no torch: the sentence-transformers model exported to ONNX on
this machine, run with onnxruntime and the model's own `tokenizers` tokenizer.

Why: importing torch and sentence-transformers costs 5-15 s here, so a cold `transcript-bot
ask` spent most of its time before the question was read. onnxruntime and tokenizers import in
about half a second, and per question the exported graph is faster than the torch module.

How it stays safe:
- The export is made locally from the model the index was built with (`export`), never
  downloaded; nothing derived from the weights is committed.
- It is used only if verified: at export, probe texts of several lengths and scripts, batched
  and alone, are embedded by both; the vectors must agree to cosine >= `MIN_COSINE`. The result
  is written to `encoder.json` beside the graph, and `load` refuses a folder without a passing
  record. In practice the fp32 graph agrees to 1e-6 (no quantisation: that moved vectors).
- The folder is named for the model and a fingerprint of its files (names, sizes, mtimes), so
  an upgraded model never meets a stale export. An export is written to a temporary folder and
  renamed into place: two processes exporting at once cannot leave half a folder.

Only the shapes sentence-transformers models of this kind have are supported: a transformer
followed by mean or CLS pooling and an optional normalisation. Anything else raises `BotError`
and the caller keeps the torch encoder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import BotError

MIN_COSINE = 0.999
FORMAT = 1
BATCH = 16
META = "encoder.json"

# Probe texts for the verification: short and long questions, a passage past the model's token
# limit (truncation must agree), non-ASCII punctuation and another script.
PROBES = (
    "Why?",
    "What did Putin say about the railway to Europe?",
    "In the June 2018 interview with Austria's ORF, what share of Russia's reserves did Putin say is held in euros?",
    "Vladimir Putin: Good afternoon, colleagues. Let us begin — we have a lot to discuss today, don’t we?",
    "Что Путин сказал о железной дороге в Европу?",
    "Thank you.",
    " ".join(["The Government will continue to support small and medium-sized businesses, "
              "lower the tax burden and improve the investment climate in every region."] * 12),
)


def _fingerprint(folder: Path) -> str:
    """A digest of the model folder's files (relative name, size, mtime): changes with the model."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def export_dir(model: str, model_path: str, cache: Path) -> Path | None:
    """Where the export of `model` (loaded from `model_path`) lives; None if it is not a local folder."""
    folder = Path(model_path)
    if not folder.is_dir():
        return None
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-")[:60] or "model"
    return cache / f"{safe}-{_fingerprint(folder)}"


def is_verified(folder: Path | None) -> bool:
    """True when `folder` holds a complete export whose verification passed."""
    if folder is None:
        return False
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    check = meta.get("verification") or {}
    return (meta.get("format") == FORMAT and (folder / "model.onnx").is_file()
            and (folder / "tokenizer.json").is_file() and check.get("min_cosine", 0) >= MIN_COSINE)


class OnnxEmbedder:
    """The `Embedder` interface over an exported model: L2-normalised float32 rows, like torch's."""

    def __init__(self, folder: Path, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        self.folder = folder
        self.name = meta["model"]
        self.dimension = int(meta["dimension"])
        self.max_tokens = int(meta["max_tokens"])
        self._pooling = meta["pooling"]
        self._normalize = bool(meta["normalize"])
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=meta["pad_token"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or 0)  # 0: onnxruntime's default (all cores)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        hidden = self._session.run(None, {k: feeds[k] for k in self._inputs})[0]
        if self._pooling == "cls":
            vectors = hidden[:, 0]
        else:
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            vectors = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        if self._normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed `texts` in batches sorted by length (less padding), calling `progress(n)`."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        for at in range(0, len(order), BATCH):
            chunk = order[at:at + BATCH]
            out[chunk] = self._encode([texts[i] for i in chunk])
            if progress:
                progress(len(chunk))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text).ids)


def _structure(model) -> tuple[str, bool]:
    """(pooling, normalize) of a sentence-transformers model, or BotError if not exportable."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if len(modules) < 2 or names[0] != "Transformer" or names[1] != "Pooling" or \
            any(n != "Normalize" for n in names[2:]):
        raise BotError(f"model {names} is not a transformer + pooling model; it is not exported to ONNX")
    config = modules[1].get_config_dict() if hasattr(modules[1], "get_config_dict") else {}
    mode = config.get("pooling_mode") or ("mean" if config.get("pooling_mode_mean_tokens") else
                                          "cls" if config.get("pooling_mode_cls_token") else None)
    if mode not in ("mean", "cls"):
        raise BotError(f"pooling {mode!r} is not supported by the ONNX export (mean or cls)")
    return mode, len(modules) > 2


def export(model, name: str, model_path: str, target: Path) -> Path:
    """Export the loaded sentence-transformers `model` to `target`, verify it, rename into place.

    Needs torch (the caller has it loaded). Returns `target`; BotError when the model's shape is
    not supported or the verification fails (the folder is then not created).
    """
    import torch

    pooling, normalize = _structure(model)
    transformer = model[0].auto_model if hasattr(model[0], "auto_model") else model[0].model
    tokenizer_file = Path(model_path) / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise BotError(f"model folder {model_path} has no tokenizer.json; it is not exported to ONNX")

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state from the inputs its tokenizer gives, by name
        (MPNet has no token_type_ids; BERT has)."""

        def __init__(self, inner, names):
            super().__init__()
            self.inner, self.names = inner, names

        def forward(self, *inputs):
            return self.inner(**dict(zip(self.names, inputs))).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        sample = model.tokenizer(["a b", "c d e"], padding=True, return_tensors="pt")
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
        axes = {n: {0: "batch", 1: "tokens"} for n in names + ["last_hidden_state"]}
        was_training = transformer.training
        transformer.eval()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Hidden(transformer, names), tuple(sample[n] for n in names), str(tmp / "model.onnx"),
                              input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                              opset_version=17, dynamo=False)
        transformer.train(was_training)
        shutil.copyfile(tokenizer_file, tmp / "tokenizer.json")
        pad = model.tokenizer.pad_token or "[PAD]"
        meta: dict[str, Any] = {
            "format": FORMAT, "model": name, "source": str(model_path),
            "dimension": int(model.get_embedding_dimension()),
            "max_tokens": int(model.max_seq_length or 256), "pooling": pooling, "normalize": normalize,
            "pad_id": int(model.tokenizer.pad_token_id or 0), "pad_token": pad,
        }
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        meta["verification"] = verify(model, OnnxEmbedder(tmp, threads=1))
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if meta["verification"]["min_cosine"] < MIN_COSINE:
            raise BotError(f"the ONNX export of {name} disagrees with torch (cosine "
                           f"{meta['verification']['min_cosine']:.4f} < {MIN_COSINE}); keeping torch")
        os.chmod(tmp, 0o755)
        if target.exists() and not is_verified(target):
            shutil.rmtree(target, ignore_errors=True)  # a broken or unverified export: replaced
        try:
            os.replace(tmp, target)
        except OSError:  # another process put its verified export there first
            if not is_verified(target):
                raise
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def verify(model, onnx: OnnxEmbedder, texts: Sequence[str] = PROBES) -> dict[str, Any]:
    """Cosine between torch's and the export's vectors for `texts`, batched and one by one."""
    reference = model.encode(list(texts), normalize_embeddings=onnx._normalize, convert_to_numpy=True,
                             show_progress_bar=False, batch_size=BATCH)
    batched = onnx.embed_documents(list(texts))
    alone = np.vstack([onnx.embed_query(t) for t in texts])
    cosines = np.concatenate([_cos(reference, batched), _cos(reference, alone)])
    return {"texts": len(texts), "min_cosine": round(float(cosines.min()), 6)}


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
