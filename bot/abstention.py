"""Deciding when the corpus does not answer a question, and saying why.

Two signals, both cheap and both explainable to a user:
- the question names something the corpus never mentions: a capitalised name (not the
  question's first word) none of whose stemmed words occurs in any passage or title. If
  nobody in the corpus ever says "Christchurch", no passage can be about it;
- nothing is close: the best passage's cosine similarity to the question is low (and
  lower still is tolerated when every word of the question is known to the corpus).
In the multilingual space a third: no sentence of the closest passages is close (e5 cannot
tell answering passages from passages about the same people by their similarity).
The thresholds are calibrated on the development question set (see README, "Retrieval").
The closest passages are always returned anyway, labelled as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .dates import MONTHS
from .keyword import KeywordIndex

CALENDAR_WORDS = set(MONTHS) | {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


@dataclass
class Abstention:
    abstained: bool
    reason: str | None = None
    unknown_names: tuple[str, ...] = ()
    unknown_words: tuple[str, ...] = ()


def unknown_terms(question: str, *indexes: KeywordIndex) -> tuple[list[str], list[str]]:
    """(names, other words) of ``question`` that no passage or title of the corpus contains."""
    names, other = [], []
    for i, m in enumerate(re.finditer(r"[A-Za-zÀ-ÿ][\w'’\-]*", question)):
        word = re.sub(r"['’]s$", "", m.group())
        stems = [t for idx in indexes[:1] for t in idx.tokens(word)]
        if not stems:
            continue  # a stop word
        if all(any(stem in idx.vocabulary for idx in indexes) for stem in stems):
            continue
        if word.lower() in CALENDAR_WORDS:
            continue  # dates are matched against transcript dates, not words
        if i > 0 and word[0].isupper():
            names.append(word)
        else:
            other.append(word)
    return names, other


def decide(question: str, top_similarity: float, indexes: tuple[KeywordIndex, ...],
           below: float, below_if_unknown: float, context_text: str = "") -> Abstention:
    names, other = unknown_terms(question, *indexes)
    if context_text:  # a follow-up may repeat a name from the conversation; that is not new
        names = [n for n in names if n.lower() not in context_text.lower()]
    if names:
        return Abstention(True, f"the corpus never mentions {', '.join(dict.fromkeys(names))}", tuple(names), tuple(other))
    if top_similarity < below:
        return Abstention(True, f"no passage is close to the question (best similarity {top_similarity:.2f})", (), tuple(other))
    if other and top_similarity < below_if_unknown:
        return Abstention(True, f"the corpus never uses the word(s) {', '.join(other)} and no passage is close "
                          f"(best similarity {top_similarity:.2f})", (), tuple(other))
    return Abstention(False, None, (), tuple(other))


def decide_by_sentence(best_sentence: float, below: float) -> Abstention:
    """The verdict on an answer in the multilingual space, once its candidate sentences are
    scored: e5 rates passages about the right people and topics alike whether or not they
    answer, so the closest sentence that could be quoted has to be close too."""
    if best_sentence < below:
        return Abstention(True, f"no sentence of the closest passages is close to the question "
                                f"(best sentence similarity {best_sentence:.2f})")
    return Abstention(False)


def decide_by_words(question: str, index: KeywordIndex) -> Abstention:
    """The verdict when a question is ranked by its words alone (no vector space serves its
    language, but some transcripts are in it): it is answered when most of its content words
    occur in the corpus, since a passage sharing one common word ("сказал") answers nothing."""
    words = [w for w in re.findall(r"[^\W_]+", question) if index.tokens(w)]  # stop words have no tokens
    unknown = [w for w in words if not all(t in index.vocabulary for t in index.tokens(w))]
    if words and len(unknown) * 2 <= len(words):
        return Abstention(False, None, (), tuple(unknown))
    if not words:
        return Abstention(True, "the question has no words to look for", (), ())
    return Abstention(True, f"the transcripts in the question's language never use most of its words "
                            f"({', '.join(dict.fromkeys(unknown))})", (), tuple(unknown))

