"""Reading dates as transcripts and people write them, and writing them as ISO 8601.

Transcripts print "July 19, 2000" or just "2020"; Russian ones (kremlin.ru) "19 июля 2000
года" or "19.07.2000"; users type "2019", "April 2013", "в июне 2018 года" or
"2013-04-25". Everything stored is ISO ("YYYY-MM-DD", or "YYYY" / "YYYY-MM" when that is
all that is known), which also sorts and compares as text.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9

_MONTH_RE = "|".join(sorted((m for m in MONTHS), key=len, reverse=True))
# "July 19, 2000" or "July 19, 2000, Pyongyang" (the place is everything after the year)
DATE_LINE = re.compile(
    rf"^(?P<month>{_MONTH_RE})\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})(?:\s*,\s*(?P<place>.+))?$",
    re.IGNORECASE,
)
# "19 July 2000"
DATE_LINE_DMY = re.compile(
    rf"^(?P<day>\d{{1,2}})\s+(?P<month>{_MONTH_RE})\.?\s+(?P<year>\d{{4}})(?:\s*,\s*(?P<place>.+))?$",
    re.IGNORECASE,
)
# Russian month names in the forms dates take: "19 июля" (genitive), "в июле" (prepositional),
# "июль 2000" (nominative). Kept apart from MONTHS, which English date lines and questions use.
RU_MONTHS = {
    form: number
    for number, stem, forms in (
        (1, "январ", "ь я е"), (2, "феврал", "ь я е"), (3, "март", "- а е"), (4, "апрел", "ь я е"),
        (5, "ма", "й я е"), (6, "июн", "ь я е"), (7, "июл", "ь я е"), (8, "август", "- а е"),
        (9, "сентябр", "ь я е"), (10, "октябр", "ь я е"), (11, "ноябр", "ь я е"), (12, "декабр", "ь я е"),
    )
    for form in (stem + ending.strip("-") for ending in forms.split())
}
RU_MONTH_RE = "|".join(sorted(RU_MONTHS, key=len, reverse=True))
_RU_YEAR_WORD = r"(?:\s*(?:года|год|г\.?)(?![^\W\d_]))?"  # "2000 года", "2000 г."
_TIME_OF_DAY = r"(?:\s*,?\s*\d{1,2}:\d{2})?"  # kremlin.ru prints the hour after the date
# "19 июля 2000 года", "19 июля 2000 года, Пхеньян", "19 июля 2000 года, 14:00"
DATE_LINE_RU = re.compile(
    rf"^(?P<day>\d{{1,2}})\s+(?P<month>{RU_MONTH_RE})\s+(?P<year>\d{{4}}){_RU_YEAR_WORD}{_TIME_OF_DAY}"
    r"(?:\s*,\s*(?P<place>.+))?$",
    re.IGNORECASE,
)
# "19.07.2000" (day first, as Russian and most European dates are written), "19.07.2000, Пхеньян"
DATE_LINE_DOTTED = re.compile(
    rf"^(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\.(?P<year>\d{{4}}){_RU_YEAR_WORD}{_TIME_OF_DAY}"
    r"(?:\s*,\s*(?P<place>.+))?$"
)
YEAR_LINE = re.compile(r"^(?P<year>(?:19|20)\d{2})$")
ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_date_line(line: str) -> tuple[str, str | None] | None:
    """Return (iso_date, place) if ``line`` is a transcript date line, else None."""
    line = " ".join(line.replace("\u00a0", " ").split())
    for pattern in (DATE_LINE, DATE_LINE_DMY, DATE_LINE_RU, DATE_LINE_DOTTED):
        m = pattern.match(line)
        if m:
            try:
                d = date(int(m["year"]), month_number(m["month"]), int(m["day"]))
            except (ValueError, KeyError):
                return None
            place = (m["place"] or "").strip() or None
            return d.isoformat(), place
    m = YEAR_LINE.match(line)
    if m:
        return m["year"], None
    return None


def month_number(name: str) -> int:
    """1..12 for an English or Russian month name ("July", "Jul.", "июля", "в июне"), or digits
    ("07"); KeyError or ValueError otherwise."""
    if name.isdigit():
        return int(name)
    low = name.lower().rstrip(".")
    return MONTHS[low] if low in MONTHS else RU_MONTHS[low.replace("ё", "е")]


def normalise_iso(value: str) -> str:
    """Validate a user-given ISO date ("2019", "2019-04", "2019-04-25"); raise ValueError."""
    m = ISO_DATE.match(value.strip())
    if not m:
        raise ValueError(f"not a date in YYYY, YYYY-MM or YYYY-MM-DD form: {value!r}")
    year, month, day = m.groups()
    if month:
        if not 1 <= int(month) <= 12:
            raise ValueError(f"no such month in {value!r}")
        if day:
            date(int(year), int(month), int(day))  # raises ValueError for 2019-02-30
    return value.strip()


def range_bounds(value: str) -> tuple[str, str]:
    """The first and last day covered by an ISO date of any precision, as YYYY-MM-DD."""
    value = normalise_iso(value)
    parts = value.split("-")
    year = int(parts[0])
    if len(parts) == 1:
        return f"{year:04d}-01-01", f"{year:04d}-12-31"
    month = int(parts[1])
    if len(parts) == 2:
        last = calendar.monthrange(year, month)[1]
        return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}"
    return value, value


def in_range(iso: str | None, since: str | None, until: str | None) -> bool:
    """Whether a stored date (any precision) can fall within [since, until] (inclusive)."""
    if since is None and until is None:
        return True
    if not iso:
        return False
    first, last = range_bounds(iso)
    if since is not None and last < range_bounds(since)[0]:
        return False
    if until is not None and first > range_bounds(until)[1]:
        return False
    return True
