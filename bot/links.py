"""The other language's version of a source: Kremlin transcripts in English and in Russian.

The Kremlin publishes each transcript twice, in Russian on kremlin.ru and in English on
en.kremlin.ru, under the same path and numeric id
(``http://en.kremlin.ru/events/president/transcripts/54149`` is the English version of
``http://kremlin.ru/events/president/transcripts/54149``). A reader of an English passage may
want the original wording, and a reader of a Russian passage the official translation, so a
citation of either offers both. No other site is guessed at: for any other url there is only
the transcript's own link.
"""

from __future__ import annotations

import re
from typing import Any

# The pages that exist in both languages under one id: events (transcripts, news, speeches).
_KREMLIN = re.compile(
    r"^(?P<scheme>https?)://(?P<host>(?:www\.)?(?:en\.)?kremlin\.ru)(?P<path>/events/[a-z_-]+(?:/[a-z_-]+)*/\d+)/?$",
    re.IGNORECASE,
)
ENGLISH_LABEL = "English source"
RUSSIAN_LABEL = "Russian original"


def kremlin_versions(url: str | None) -> dict[str, str] | None:
    """{"en": url, "ru": url} of a Kremlin event page in either language, or None for any other url."""
    m = _KREMLIN.match((url or "").strip())
    if not m:
        return None
    scheme, path = m["scheme"].lower(), m["path"]
    return {"en": f"{scheme}://en.kremlin.ru{path}", "ru": f"{scheme}://kremlin.ru{path}"}


def sources(url: str | None) -> list[dict[str, Any]]:
    """The links a citation of a Kremlin transcript offers: both language versions, each
    ``{"label", "language", "url"}``, the one ``url`` points to first (the English source for an
    en.kremlin.ru transcript, the Russian original for a kremlin.ru one); empty for other urls."""
    versions = kremlin_versions(url)
    if versions is None:
        return []
    both = [{"label": ENGLISH_LABEL, "language": "en", "url": versions["en"]},
            {"label": RUSSIAN_LABEL, "language": "ru", "url": versions["ru"]}]
    english_first = (url or "").strip().lower().split("//", 1)[-1].startswith("en.")
    return both if english_first else both[::-1]
