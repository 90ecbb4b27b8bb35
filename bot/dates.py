"""Reading dates as transcripts and people write them, and writing them as ISO 8601.

Transcripts print "July 19, 2000" or just "2020"; users type "2019", "April 2013" or
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
YEAR_LINE = re.compile(r"^(?P<year>(?:19|20)\d{2})$")
ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_date_line(line: str) -> tuple[str, str | None] | None:
    """Return (iso_date, place) if ``line`` is a transcript date line, else None."""
    line = " ".join(line.replace("\u00a0", " ").split())
    for pattern in (DATE_LINE, DATE_LINE_DMY):
        m = pattern.match(line)
        if m:
            try:
                d = date(int(m["year"]), MONTHS[m["month"].lower().rstrip(".")], int(m["day"]))
            except ValueError:
                return None
            place = (m["place"] or "").strip() or None
            return d.isoformat(), place
    m = YEAR_LINE.match(line)
    if m:
        return m["year"], None
    return None


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
