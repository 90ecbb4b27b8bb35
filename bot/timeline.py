"""A topic over time: how many of the passages closest to a topic fall in each year or month, by speaker.

Built on the "who said it" search (`TranscriptBot.who`): the same pool of passages closest in
meaning to the topic, the same grouping of speaker labels into people. The top people of that
ranking get their own series; everyone else, and passages with no speaker label, are counted as
`OTHERS`. Dates are the transcripts' own (the manifest's or the file's date line); a passage
whose transcript has no date, or (by month) only a year, is counted as undated rather than
guessed. Periods between the first and the last are listed even when empty, so a chart shows
the gaps as gaps.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

BY = ("year", "month")
OTHERS = "others"


def period_of(date: str | None, by: str) -> str | None:
    """The year (``YYYY``) or month (``YYYY-MM``) of an ISO date; None when the date does not say."""
    if not date:
        return None
    if by == "year":
        return date[:4] if len(date) >= 4 and date[:4].isdigit() else None
    return date[:7] if len(date) >= 7 and date[:4].isdigit() and date[5:7].isdigit() else None


def periods_between(first: str, last: str, by: str) -> list[str]:
    """Every period from ``first`` to ``last`` (both included), in order."""
    if by == "year":
        return [f"{y:04d}" for y in range(int(first), int(last) + 1)]
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while (y, m) <= (int(last[:4]), int(last[5:7])):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def build(topic: str, by: str, found: Sequence[Any], person_of: Callable[[str | None], str | None],
          people: Sequence[str], hit_json: Callable[[int, Any], dict[str, Any]], pool: int) -> dict[str, Any]:
    """The timeline of ``found`` (scored passages, best first): per period, the count of each of
    ``people`` (the top of the ranking) and of `OTHERS`, with the passages themselves (as hit
    JSON, best first) so that a front end can list the passages of a bar."""
    top = list(people)
    periods: dict[str, dict[str, Any]] = {}
    undated = 0
    for rank, s in enumerate(found, 1):
        period = period_of(s.passage.date, by)
        if period is None:
            undated += 1
            continue
        person = person_of(s.passage.speaker)
        series = person if person in top else OTHERS
        row = periods.setdefault(period, {"period": period, "total": 0, "counts": {}, "hits": []})
        row["total"] += 1
        row["counts"][series] = row["counts"].get(series, 0) + 1
        row["hits"].append({**hit_json(rank, s), "series": series, "person": person})
    listed = []
    if periods:
        for period in periods_between(min(periods), max(periods), by):
            row = periods.get(period, {"period": period, "total": 0, "counts": {}, "hits": []})
            order = [*top, OTHERS]
            row["counts"] = {name: row["counts"][name] for name in order if name in row["counts"]}
            listed.append(row)
    return {"topic": topic, "by": by, "pool": pool, "speakers": top, "others": OTHERS,
            "passages": sum(r["total"] for r in listed), "undated": undated, "periods": listed}
