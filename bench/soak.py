"""Soak: clients ask through the real server while a writer keeps changing the corpus and indexing.

For ``seconds`` (60 by default), ``clients`` threads ask the `/ask` API of a real
`transcript-bot serve` process on loopback, each its own questions in turn, while a writer
adds, changes and removes transcripts and brings the index up to date every few seconds (in
this process, as `transcript-bot index` would from another one). Then it checks what a user
relies on:

- no request failed;
- every answer came from one complete generation: each hit's transcript is in the
  generation the answer names (``index_generation``) and its verbatim text starts with one
  of that transcript's passages there and ends with one (a hit may join overlapping windows);
- the final index equals a fresh full build of the final corpus (same passages in the same
  order, vectors equal within float16 rounding, same fingerprints).

It stops by itself. ``run_soak`` is used by the test suite (tests/test_soak.py) and by
``make bench`` (``python bench/soak.py``, which prints the result as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "What did Putin say about gas supplies to Europe?",
    "What was said about the railway to Europe?",
    "What did the President say about terrorism?",
    "How do Russia and Austria cooperate on energy?",
    "What did Putin say about the United Nations?",
    "What was said about sanctions?",
    "What did they say about investment?",
    "What did Putin say about Syria?",
    "What was said about the economy growing?",
    "What about the fishing quota?",  # the writer's transcripts answer this one
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


Snapshot = dict[str, list[str]]  # transcript -> its passages' verbatim texts, in one generation


def _generation_passages(index: Path) -> tuple[int, Snapshot]:
    """The current generation's number and its passages' texts by transcript."""
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    path = index / manifest["files"]["passages"]["path"]
    texts: Snapshot = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        texts.setdefault(p["transcript"], []).append(p["text"])
    return int(manifest["generation"]), texts


def _from_generation(hit: tuple[str, str], snapshot: Snapshot) -> bool:
    """Whether a hit (transcript, text) is made of passages of this generation's transcript."""
    transcript, text = hit
    texts = snapshot.get(transcript, [])
    return any(text.startswith(t) for t in texts) and any(text.endswith(t[-80:]) for t in texts)


def _start_server(corpus: Path, index: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GRADIO_ANALYTICS_ENABLED="False",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--corpus", str(corpus), "--index", str(index),
                             "--port", str(port), "--no-sync"], stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if "web chat:" in log.read_text():
            return proc
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not start within 180 s")


class _Writer(threading.Thread):
    """Adds, changes and removes transcripts and syncs the index, every ``every`` seconds."""

    def __init__(self, corpus: Path, index: Path, embedder, deadline: float, every: float,
                 snapshots: dict[int, Snapshot]):
        super().__init__(daemon=True)
        self.corpus, self.index, self.embedder = corpus, index, embedder
        self.deadline, self.every, self.snapshots = deadline, every, snapshots
        self.syncs, self.errors, self.sync_seconds = 0, [], []
        self.folder = corpus / "soak"
        self.folder.mkdir(exist_ok=True)

    def _step(self, n: int) -> None:
        added = sorted(self.folder.glob("*.txt"))
        op = n % 3
        if op == 0 or len(added) < 2:
            (self.folder / f"soak-{n:04d}.txt").write_text(
                f"Soak meeting number {n}\n\nJanuary {1 + n % 28}, 2021, Moscow\n\n"
                f"Question: What is the fishing quota for zone {n}?\n\n"
                f"John Smith: The fishing quota for zone {n} is {10 + n} thousand tonnes this year.\n",
                encoding="utf-8")
        elif op == 1:
            target = added[n % len(added)]
            target.write_text(target.read_text(encoding="utf-8")
                              + f"\nJane Doe: And the river quota rose by {n} percent.\n\n", encoding="utf-8")
        else:
            added[0].unlink()

    def run(self) -> None:
        from bot.indexer import sync

        n = 0
        while time.monotonic() < self.deadline:
            started = time.perf_counter()
            try:
                self._step(n)
                sync(self.corpus, self.index, self.embedder.name, lambda: self.embedder, progress=False, warn=lambda _: None)
                generation, pairs = _generation_passages(self.index)
                self.snapshots[generation] = pairs
                self.syncs += 1
                self.sync_seconds.append(time.perf_counter() - started)
            except Exception as exc:  # recorded and reported: the soak's verdict, not a crash
                self.errors.append(f"sync {n}: {type(exc).__name__}: {exc}")
            n += 1
            time.sleep(max(0.0, self.every - (time.perf_counter() - started)))


def _client(url: str, questions: list[str], deadline: float, out: list[dict[str, Any]], errors: list[str]) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as exc:
        errors.append(f"connect: {type(exc).__name__}: {exc}")
        return
    i = 0
    while time.monotonic() < deadline:
        question = questions[i % len(questions)]
        i += 1
        started = time.perf_counter()
        try:
            result = client.predict(question, 5, "", "", "", "[]", api_name="/ask")
        except Exception as exc:
            errors.append(f"{question!r}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        out.append({"seconds": time.perf_counter() - started, "generation": result.get("index_generation"),
                    "hits": [(h["transcript"], h["text"]) for h in result.get("hits", [])]})


def _equal_to_fresh_build(corpus: Path, index: Path, fresh: Path, embedder) -> list[str]:
    """Differences between ``index`` and a full build of ``corpus`` into ``fresh`` (none: equal)."""
    from bot import store
    from bot.indexer import sync

    sync(corpus, fresh, embedder.name, lambda: embedder, full=True, progress=False, warn=lambda _: None)
    a, b = store.load(index), store.load(fresh)
    problems = []
    key = lambda p: (p.transcript, p.turn, p.part, p.speaker, p.text, p.context)  # noqa: E731
    if [key(p) for p in a.passages] != [key(p) for p in b.passages]:
        problems.append(f"passages differ ({len(a.passages)} incremental, {len(b.passages)} fresh)")
    else:
        va = np.vstack([a.vectors.reconstruct(int(p.id)) for p in a.passages])
        vb = np.vstack([b.vectors.reconstruct(int(p.id)) for p in b.passages])
        drift = float(np.abs(va - vb).max()) if len(va) else 0.0
        if drift > 2e-3:  # float16 storage and batch composition: a few 1e-4
            problems.append(f"vectors differ by up to {drift:.4f}")
    fingerprints = lambda d: {r: e["fingerprint"] for r, e in d.manifest["transcripts"].items()}  # noqa: E731
    if fingerprints(a) != fingerprints(b):
        problems.append("transcript fingerprints differ")
    return problems


def run_soak(work: Path, embedder, seconds: float = 60, clients: int = 10, every: float = 3.0,
             transcripts: int = 12) -> dict[str, Any]:
    """Run the soak in ``work`` (a fresh folder) and return its counts and verdicts."""
    from bot.indexer import sync

    corpus, index = work / "corpus", work / "index"
    source = sorted((REPO / "corpus" / "kremlin").glob("*.txt"))[:transcripts]
    (corpus / "kremlin").mkdir(parents=True)
    for path in source:
        shutil.copy(path, corpus / "kremlin" / path.name)
    sync(corpus, index, embedder.name, lambda: embedder, progress=False, warn=lambda _: None)
    snapshots: dict[int, Snapshot] = {}
    generation, pairs = _generation_passages(index)
    snapshots[generation] = pairs

    port = _free_port()
    server = _start_server(corpus, index, port, work / "server.log")
    answers: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        deadline = time.monotonic() + seconds
        writer = _Writer(corpus, index, embedder, deadline, every, snapshots)
        threads = [threading.Thread(target=_client, daemon=True,
                                    args=(f"http://127.0.0.1:{port}/", QUESTIONS[i % len(QUESTIONS):] + QUESTIONS[:i % len(QUESTIONS)],
                                          deadline, answers, errors)) for i in range(clients)]
        writer.start()
        for t in threads:
            t.start()
        for t in [*threads, writer]:
            t.join(timeout=seconds + 120)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    log = (work / "server.log").read_text(errors="replace")
    tracebacks = len(re.findall(r"^Traceback", log, flags=re.M))

    mixed = [a for a in answers if a["generation"] not in snapshots
             or not all(_from_generation(hit, snapshots[a["generation"]]) for hit in a["hits"])]
    differences = _equal_to_fresh_build(corpus, index, work / "fresh", embedder)
    latencies = sorted(a["seconds"] for a in answers)
    pct = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None  # noqa: E731
    return {
        "seconds": seconds, "clients": clients, "questions_answered": len(answers), "errors": len(errors),
        "error_examples": errors[:5], "p50_ms": pct(0.50), "p95_ms": pct(0.95),
        "index_updates": writer.syncs, "index_errors": writer.errors[:5],
        "generations_seen": sorted({a["generation"] for a in answers if a["generation"] is not None}),
        "answers_not_from_one_complete_generation": len(mixed),
        "server_log_tracebacks": tracebacks,
        "final_index_differs_from_fresh_build": differences,
        "sync_p50_s": round(sorted(writer.sync_seconds)[len(writer.sync_seconds) // 2], 2) if writer.sync_seconds else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="example: python bench/soak.py --seconds 60")
    p.add_argument("--seconds", type=float, default=60, help="how long clients ask (default 60)")
    p.add_argument("--clients", type=int, default=10, help="concurrent clients (default 10)")
    p.add_argument("--every", type=float, default=3.0, help="seconds between index updates (default 3)")
    p.add_argument("--result", help="also write the JSON result to this file")
    a = p.parse_args(argv)
    import tempfile

    from bot.embedding import load_embedder

    work = Path(tempfile.mkdtemp(prefix="tb-soak-"))
    try:
        result = run_soak(work, load_embedder(), a.seconds, a.clients, a.every)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=1)
    print(text)
    if a.result:
        Path(a.result).write_text(text + "\n")
    ok = (result["errors"] == 0 and not result["index_errors"] and result["answers_not_from_one_complete_generation"] == 0
          and not result["final_index_differs_from_fresh_build"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
