"""Which language a question or a transcript is written in.

The English encoder cannot serve a question in another language: without knowing the
language the bot would answer a Russian question with confident junk. Detection uses the
`lingua` detector (low-accuracy mode, a fixed set of languages, models loaded lazily: about
60 MB and a fraction of a millisecond per question once loaded) and two rules that make short
texts safe:

- the dominant script decides when it names one language family's alphabet clearly (Cyrillic
  text is never English; Latin text is never Russian);
- a short Latin-script text (under four words, or when the detector is not confident) counts as
  English, the language of the default index: "Putin on Ukraine" is not French.

`is_english` decides which vector space a question goes to: detected English, or Latin-script
text with two or more English function words (the low-accuracy mode calls a few English
questions something else).

`detect` returns a `Detected` value (ISO 639-1 code, confidence, script); `UNDETERMINED` when
there is nothing to judge (digits, punctuation, an empty string).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass

UNDETERMINED = "und"

# The languages the detector chooses among: those of the corpora people bring here, plus the
# neighbours each is most often confused with (Ukrainian/Belarusian/Bulgarian/Serbian beside
# Russian), so that a confident answer means something.
LANGUAGES = (
    "ENGLISH", "RUSSIAN", "UKRAINIAN", "BELARUSIAN", "BULGARIAN", "SERBIAN", "KAZAKH",
    "GERMAN", "FRENCH", "SPANISH", "ITALIAN", "PORTUGUESE", "DUTCH", "POLISH", "CZECH",
    "SWEDISH", "TURKISH", "ARABIC", "PERSIAN", "HEBREW", "HINDI", "CHINESE", "JAPANESE",
    "KOREAN",
)

# Below this the detector's first choice is not trusted for Latin-script text.
CONFIDENCE = 0.9
# Latin-script texts shorter than this many words are taken as English.
SHORT_WORDS = 4

_SCRIPT_LANGUAGE = {"HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "HEBREW": "he",
                    "DEVANAGARI": "hi", "GREEK": "el", "ARMENIAN": "hy", "GEORGIAN": "ka",
                    "THAI": "th"}

_detector = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Detected:
    """A detection: `code` (ISO 639-1 or "und"), the detector's `confidence`, the `script`."""

    code: str
    confidence: float
    script: str

    @property
    def english(self) -> bool:
        return self.code == "en"


def script_of(text: str) -> str:
    """The script most letters of `text` are written in ("LATIN", "CYRILLIC", "CJK", ...)."""
    counts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            counts[name.split(" ", 1)[0] if name else "UNKNOWN"] += 1
    return counts.most_common(1)[0][0] if counts else ""


def _get_detector():
    global _detector
    with _lock:
        if _detector is None:
            from lingua import Language, LanguageDetectorBuilder

            languages = [getattr(Language, name) for name in LANGUAGES]
            _detector = (LanguageDetectorBuilder.from_languages(*languages)
                         .with_low_accuracy_mode().build())
        return _detector


def _lingua(text: str) -> tuple[str, float]:
    values = _get_detector().compute_language_confidence_values(text)
    if not values:
        return UNDETERMINED, 0.0
    best = values[0]
    return best.language.iso_code_639_1.name.lower(), float(best.value)


def detect(text: str, *, sample: int = 2000) -> Detected:
    """The language of `text` (its first `sample` characters), safe for short questions."""
    text = (text or "")[:sample]
    script = script_of(text)
    if not script:
        return Detected(UNDETERMINED, 0.0, "")
    if script in _SCRIPT_LANGUAGE:
        return Detected(_SCRIPT_LANGUAGE[script], 1.0, script)
    if script == "LATIN" and sum(w.lower() in ENGLISH_WORDS for w in _WORD.findall(text)) >= 3:
        # Three function words only English has among lingua's languages here: English without
        # asking lingua (whose models take ~0.2 s to load in a fresh process, ~1 ms a question).
        return Detected("en", 1.0, script)
    code, confidence = _lingua(text)
    if script == "LATIN":
        words = len(text.split())
        if code in ("ru", "uk", "be", "bg", "sr", "kk", "ar", "fa", "he", "hi", "zh", "ja", "ko"):
            code, confidence = "en", 0.0
        if words < SHORT_WORDS or confidence < CONFIDENCE:
            return Detected("en", confidence if code == "en" else 0.0, script)
    elif script == "CYRILLIC" and code not in ("ru", "uk", "be", "bg", "sr", "kk"):
        code = "ru"
    elif script == "CJK" and code not in ("zh", "ja", "ko"):
        code = "zh"
    return Detected(code, confidence, script)


# English function words no language lingua chooses among here uses as a word of its own
# ("is", "of", "was", "die", "do", "over", "had" are left out: Dutch, German, Portuguese).
ENGLISH_WORDS = frozenset("""the did does what which who whom whose how have has about ever with would should
could and from when why are were been their there this that they them said tell told than into after before
any anyone where while much many""".split())
_WORD = re.compile(r"[A-Za-z]+")


def is_english(question: str, detected: Detected) -> bool:
    """Whether the English space serves ``question``: detected English (or nothing to tell),
    or Latin-script text with two or more English function words. The detector's low-accuracy
    mode calls a few English questions something else ("Has Putin ever met theatre director
    Kirill Serebrennikov in person?": Spanish, 0.99); those must not leave the English space."""
    if detected.code in ("en", "und"):
        return True
    if detected.script != "LATIN":
        return False
    return sum(1 for w in _WORD.findall(question) if w.lower() in ENGLISH_WORDS) >= 2
