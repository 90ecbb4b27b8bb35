"""Soak: ten clients ask the real server while a writer changes the corpus and indexes.

Bounded (``SOAK_SECONDS``, 20 by default: about six index updates, one every 3 s, each switching
the generation the clients are answered from), loopback only; it stops by itself. The corpus it
starts from is four real transcripts of the bundled corpus (``SOAK_TRANSCRIPTS``): its size is
not what is tested, and it is embedded twice (the first build and the final fresh build). The
longer run is ``make bench`` (bench/soak.py: 60 s, twelve transcripts). The checks are those of
bench/soak.py: no failed request, every answer from one complete generation, and the final
index equal to a fresh full build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from soak import _from_generation, run_soak  # noqa: E402


def test_a_hit_is_checked_against_its_generation():
    snapshot = {"a.txt": ["First window of the turn", "of the turn, and its end."], "b.txt": ["Other"]}
    assert _from_generation(("a.txt", "First window of the turn"), snapshot)
    assert _from_generation(("a.txt", "First window of the turn, and its end."), snapshot)  # joined windows
    assert not _from_generation(("a.txt", "First window of the turn, edited since."), snapshot)
    assert not _from_generation(("c.txt", "Other"), snapshot)  # a transcript this generation does not have


@pytest.mark.slow
def test_soak_ten_clients_while_indexing(tmp_path, embedder):
    seconds = float(os.environ.get("SOAK_SECONDS", "20"))
    transcripts = int(os.environ.get("SOAK_TRANSCRIPTS", "4"))
    result = run_soak(tmp_path, embedder, seconds=seconds, clients=10, every=3.0, transcripts=transcripts)
    assert result["errors"] == 0, result["error_examples"]
    assert result["index_errors"] == []
    assert result["questions_answered"] >= 10
    assert result["index_updates"] >= 3 and len(result["generations_seen"]) >= 2, result
    assert result["answers_not_from_one_complete_generation"] == 0
    assert result["server_log_tracebacks"] == 0
    assert result["final_index_differs_from_fresh_build"] == []
