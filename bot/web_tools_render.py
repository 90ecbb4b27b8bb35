"""What the "Check a quote" and "Over time" tabs show, built from the core's JSON; no Gradio here.

As in `bot.web_render`, every text from a transcript or the user goes through `esc`; the
passage cards are the chat's own (`web_render.card_html`, with their copy buttons).
"""

from __future__ import annotations

from typing import Any, Sequence

from . import web_render as R

VERDICT_LABELS = {
    "exact": "Exact quote",
    "close": "Close, not exact",
    "someone_else": "Said by someone else",
    "not_found": "Not found",
}
DIFF_TITLES = {
    "left_out": "in the source, left out by the quote",
    "changed": "the quote changed these words",
    "added": "added by the quote, not in the source",
}
# Series colours of the timeline: the top speakers in this order, the rest grey.
PALETTE = ["#2f5fd0", "#e07b39", "#2f9e63", "#b8457a", "#7b5ea7", "#c9a03c", "#3a9fb0", "#a3523b",
           "#5d7f2e", "#d15a5a"]
OTHERS_COLOUR = "#9aa1ab"


def diff_html(match: dict[str, Any], source: str) -> str:
    """The source span with the quote's word-level differences marked: words the quote left out
    (``<del>``-like), words it changed (the quote's words struck, the source's after them) and
    words it added (struck, where they were put)."""
    pos, out = match["start"], []
    for seg in match.get("segments") or []:
        kind = seg["kind"]
        if seg.get("source_span"):
            a, b = seg["source_span"]
            out.append(R.esc(source[pos:a]))
            words = R.esc(source[a:b])
            if kind == "same":
                out.append(words)
            elif kind == "left_out":
                out.append(f'<span class="tb-d tb-d-left_out" title="{DIFF_TITLES[kind]}">{words}</span>')
            else:
                out.append(f'<span class="tb-d tb-d-changed" title="{DIFF_TITLES[kind]}">'
                           f'<s class="tb-d-quote">{R.esc(seg["quote"])}</s> {words}</span>')
            pos = b
        else:
            at = max(pos, int(seg.get("at") or pos))
            out.append(R.esc(source[pos:at]))
            out.append(f'<span class="tb-d tb-d-added" title="{DIFF_TITLES["added"]}">'
                       f'<s class="tb-d-quote">{R.esc(seg["quote"])}</s></span> ')
            pos = at
    out.append(R.esc(source[pos:match["end"]]))
    return "".join(out).strip()


def differences_list(match: dict[str, Any]) -> str:
    """The differences in words, one item each (also what a screen reader reads)."""
    items = []
    for d in match.get("differences") or []:
        if d["kind"] == "left_out":
            items.append(f'<li class="tb-diff-left_out">Left out: “{R.esc(d["source"])}”</li>')
        elif d["kind"] == "added":
            items.append(f'<li class="tb-diff-added">Added: “{R.esc(d["quote"])}”</li>')
        else:
            items.append(f'<li class="tb-diff-changed">Changed: the source says “{R.esc(d["source"])}”, '
                         f'the quote “{R.esc(d["quote"])}”</li>')
    return f'<ul class="tb-diffs">{"".join(items)}</ul>' if items else ""


def check_html(result: dict[str, Any], neighbours: dict[str, Sequence[dict[str, Any]]] | None = None) -> str:
    """A quote check: the verdict, the source with the differences, and the cited passage card(s)."""
    neighbours = neighbours or {}
    verdict = result["verdict"]
    head = (f'<div class="tb-verdict tb-verdict-{R.esc(verdict)}" role="status">'
            f'<b class="tb-verdict-label">{R.esc(VERDICT_LABELS.get(verdict, verdict))}</b> '
            f'<span class="tb-verdict-summary">{R.esc(result["summary"])}</span></div>')
    parts = [head]
    if result.get("speaker") and not result.get("speaker_labels"):
        parts.append(f'<div class="tb-used">No speaker named “{R.esc(result["speaker"])}” in the index; '
                     "the verdict says who said it, if anyone.</div>")
    hit = result.get("match")
    if hit:
        m = hit["match"]
        if m["differences"]:
            parts.append(
                '<div class="tb-diff-box"><div class="tb-cards-head">What the source says, with the quote\'s '
                'differences</div>'
                f'<p class="tb-diff-text">{diff_html(m, hit["text"])}</p>{differences_list(m)}'
                '<div class="tb-diff-legend"><span class="tb-d tb-d-left_out">left out</span> '
                '<span class="tb-d tb-d-changed"><s class="tb-d-quote">quote</s> source</span> '
                '<span class="tb-d tb-d-added"><s class="tb-d-quote">added</s></span></div></div>'
            )
        parts.append('<div class="tb-cards-head">Where it was said</div>')
        parts.append(R.card_html(hit, "tb-check", False, neighbours.get("1")))
    elif result.get("closest"):
        parts.append('<div class="tb-cards-head">Closest passages</div><div class="tb-cards">')
        parts += [R.card_html(h, "tb-check", True, neighbours.get(str(h["rank"]))) for h in result["closest"]]
        parts.append("</div>")
    return f'<div class="tb-check">{"".join(parts)}</div>'


def colour_map(speakers: Sequence[str], others: str) -> dict[str, str]:
    """One colour per top speaker (in ranking order) and grey for the rest."""
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(speakers)}
    colours[others] = OTHERS_COLOUR
    return colours


def timeline_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's rows: one per period and series (a period with nothing gets a zero row, so
    that it keeps its place on the axis)."""
    rows = []
    for period in result["periods"]:
        if not period["counts"]:
            rows.append({"period": period["period"], "speaker": result["others"], "passages": 0})
        rows += [{"period": period["period"], "speaker": name, "passages": n} for name, n in period["counts"].items()]
    return rows


def timeline_note(result: dict[str, Any], filters: str = "") -> str:
    within = f" (filters: {R.esc(filters)})" if filters else ""
    undated = f"; {result['undated']} undated passages are not shown" if result.get("undated") else ""
    if not result["periods"]:
        return f'<div class="tb-notfound">No dated passage found for “{R.esc(result["topic"])}”{within}.</div>'
    return (f'<p class="tb-who-note">Of the {result["pool"]} passages closest in meaning to “{R.esc(result["topic"])}”'
            f"{within}: {result['passages']} dated passages, counted per {R.esc(result['by'])}{undated}. Pick a bar "
            "(drag across it) or a period below to read its passages.</p>")


def period_choices(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, period) for the periods that have passages."""
    return [(f"{p['period']} ({p['total']} passage{'s' if p['total'] != 1 else ''})", p["period"])
            for p in result["periods"] if p["total"]]


def period_html(result: dict[str, Any], period: str | None, series: str | None = None) -> str:
    """The passages of one bar: a period, optionally one speaker's part of it."""
    row = next((p for p in result.get("periods") or [] if p["period"] == period), None)
    if row is None:
        return ""
    hits = [h for h in row["hits"] if series is None or h.get("series") == series]
    who = f" by {R.esc(series)}" if series else ""
    cards = "".join(R.card_html(h, f"tb-tl-{R.esc(period)}-{i}", False, None) for i, h in enumerate(hits))
    return (f'<div class="tb-period" data-period="{R.esc(period)}"><div class="tb-cards-head">{R.esc(period)}: '
            f'{len(hits)} passage{"s" if len(hits) != 1 else ""}{who}</div><div class="tb-cards">{cards}</div></div>')


CSS = R.static_text("tools.css")  # bot/static/tools.css
