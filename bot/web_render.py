"""What the web chat shows and exports, built from the core's answer JSON; no Gradio here.

Transcript text is data, never markup. Every field that comes from a transcript, a manifest
or the user (passage text, speaker, title, place, question) goes through `esc` before it
enters HTML, links are emitted only for http(s) urls, and exports neutralise what their
readers would interpret: Markdown link and HTML syntax is backslash-escaped, CSV cells that
a spreadsheet would run as a formula are prefixed with a quote, and JSONL escapes ``<``,
``>`` and ``&``. The functions are pure so the chat function and its tests can use them
without a server.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any, Iterable, Sequence
from urllib.parse import urlparse

from .answer import NOT_FOUND, human_date

RELEVANCE = {
    "strong": ("Strong match", "The passage says nearly the same thing as the question."),
    "good": ("Good match", "The passage is clearly about the question."),
    "weak": ("Weak match", "The passage only touches on the question; check it before quoting."),
}
CLIP_CONTEXT = 240  # characters of the prompting turn shown on a card
CLIP_NEIGHBOUR = 900  # characters of each neighbouring turn in the expanded context


def esc(value: Any) -> str:
    """HTML-escape any value (None becomes empty), quotes included, for text and attributes."""
    return "" if value is None else html.escape(str(value), quote=True)


def safe_url(url: Any) -> str | None:
    """``url`` if it is a plain http(s) link, else None (no javascript:, data:, relative or odd urls)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or any(c.isspace() or ord(c) < 32 for c in url) or any(c in url for c in "<>\"'`\\"):
        return None
    try:
        parts = urlparse(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def clip(text: str | None, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis if cut."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def link(url: Any, label: str, cls: str = "") -> str:
    """An escaped link opening in a new tab, or the escaped label alone when the url is unsafe."""
    href = safe_url(url)
    if not href:
        return esc(label)
    klass = f' class="{esc(cls)}"' if cls else ""
    return f'<a{klass} href="{esc(href)}" target="_blank" rel="noopener noreferrer nofollow">{esc(label)}</a>'


def highlighted(text: str, spans: Iterable[Sequence[int]]) -> str:
    """Escaped ``text`` as paragraphs, with the character spans (the answer's sentences) in <mark>.

    Paragraphs are the source's blank-line breaks; a highlight never crosses one, because
    each paragraph is marked separately from the same character offsets.
    """
    marks = sorted((int(s), int(e)) for s, e in spans)
    paragraphs, at = [], 0
    for m in re.finditer(r"\n\s*\n", text):
        paragraphs.append((at, m.start()))
        at = m.end()
    paragraphs.append((at, len(text)))
    out = []
    for p_start, p_end in paragraphs:
        parts, pos = [], p_start
        for start, end in marks:
            start, end = max(start, pos), min(end, p_end)
            if start >= end:
                continue
            parts.append(esc(text[pos:start]))
            parts.append(f"<mark>{esc(text[start:end])}</mark>")
            pos = end
        parts.append(esc(text[pos:p_end]))
        body = "".join(parts).strip()
        if body:
            out.append(f"<p>{body}</p>")
    return "".join(out)


def answer_html(answer: str, n_hits: int, anchor: str) -> str:
    """The extractive answer with each [n] turned into a link to card n of this turn."""

    def cite(m: re.Match) -> str:
        n = int(m.group(1))
        if 1 <= n <= n_hits:
            return f'<a class="tb-cite" href="#{anchor}-h{n}" title="passage {n}">[{n}]</a>'
        return m.group(0)

    return re.sub(r"\[(\d{1,3})\]", cite, esc(answer))


def speaker_names(hit: dict[str, Any]) -> str:
    """Who speaks in a hit: its speaker, or every speaker of an exchange."""
    if hit.get("last_turn") is not None and hit.get("speakers"):
        return ", ".join(hit["speakers"])
    return hit.get("speaker") or "(no speaker label)"


def meta_line(hit: dict[str, Any]) -> str:
    """Title (linked), date, place, turn: what tells repeated titles apart."""
    bits = [
        link(hit.get("link") or hit.get("url"), hit.get("title") or hit.get("transcript") or "untitled", "tb-title"),
        esc(human_date(hit.get("date"))),
    ]
    if hit.get("place"):
        bits.append(esc(hit["place"]))
    turn = hit.get("turns") or f"turn {hit.get('turn')}" + (f", part {hit['part'] + 1}" if hit.get("part") else "")
    if hit.get("timestamp"):
        turn += f", at {hit['timestamp']}"
    bits.append(esc(turn))
    return " · ".join(bits)


def relevance_badge(hit: dict[str, Any], abstained: bool) -> str:
    level = hit.get("relevance") or "weak"
    label, meaning = RELEVANCE.get(level, RELEVANCE["weak"])
    if abstained:
        label, meaning, level = (
            "Closest passage",
            "Nothing in the corpus answers the question well; this is only the nearest text.",
            "closest",
        )
    sim = hit.get("similarity")
    tip = (
        f"{meaning} Similarity {sim:.2f} (cosine of question and passage)."
        if isinstance(sim, (int, float))
        else meaning
    )
    bars = {"strong": 3, "good": 2, "weak": 1, "closest": 0}[level]
    meter = "".join(f'<i class="{"on" if i < bars else ""}"></i>' for i in range(3))
    return (
        f'<span class="tb-rel tb-rel-{level}" title="{esc(tip)}">'
        f'<span class="tb-meter" aria-hidden="true">{meter}</span>{esc(label)}</span>'
    )


def context_html(hit: dict[str, Any], neighbours: Sequence[dict[str, Any]] | None) -> str:
    """The expandable exchange around a passage: neighbouring turns, this one marked."""
    if not neighbours:
        return ""
    rows = []
    for n in neighbours:
        current = n.get("turn") == hit.get("turn")
        who = esc(n.get("speaker") or "(no speaker label)")
        text = esc(clip(n.get("text"), CLIP_NEIGHBOUR * (2 if current else 1)))
        mark = ' <span class="tb-here">this passage</span>' if current else ""
        rows.append(
            f'<div class="tb-nb{" tb-nb-current" if current else ""}"><div class="tb-nb-head">'
            f'<span class="tb-nb-turn">turn {esc(n.get("turn"))}</span> <b>{who}</b>{mark}</div>'
            f'<div class="tb-nb-text">{text}</div></div>'
        )
    first, last = neighbours[0].get("turn"), neighbours[-1].get("turn")
    return (
        f'<details class="tb-context"><summary>Show the exchange (turns {esc(first)}–{esc(last)})</summary>'
        f'<div class="tb-nbs">{"".join(rows)}</div>'
        f'<div class="tb-citation"><span>Cite as</span> {esc(hit.get("citation"))}</div></details>'
    )


def card_html(hit: dict[str, Any], anchor: str, abstained: bool, neighbours: Sequence[dict[str, Any]] | None) -> str:
    """One cited passage: [n], speaker, relevance, title/date/place/turn, verbatim text, source link."""
    rank = int(hit.get("rank") or 0)
    reply = ""
    if hit.get("context"):
        who = f"In reply to <b>{esc(hit['context_speaker'])}</b>" if hit.get("context_speaker") else "Preceded by"
        reply = f'<div class="tb-reply">{who}: “{esc(clip(hit["context"], CLIP_CONTEXT))}”</div>'
    source = link(hit.get("link") or hit.get("url"), "Open source ↗", "tb-source")
    if not safe_url(hit.get("link") or hit.get("url")):
        source = f'<span class="tb-source tb-nolink">file {esc(hit.get("transcript"))}</span>'
    elif hit.get("sources"):  # a Kremlin transcript: its own link, then the other language's version
        first, *others = hit["sources"]
        source = " · ".join([link(hit.get("link") or hit.get("url"), f"{first.get('label')} ↗", "tb-source"),
                             *(link(o.get("url"), f"{o.get('label')} ↗", "tb-source-other") for o in others)])
    return (
        f'<article class="tb-card" id="{anchor}-h{rank}">'
        f'<div class="tb-card-head"><span class="tb-num">[{rank}]</span>'
        f'<span class="tb-speaker">{esc(speaker_names(hit))}</span>'
        f"{relevance_badge(hit, abstained)}</div>"
        f'<div class="tb-meta">{meta_line(hit)} · {source}</div>'
        f"{reply}"
        f'<blockquote class="tb-text">{highlighted(hit.get("text") or "", hit.get("highlights") or [])}</blockquote>'
        f"{context_html(hit, neighbours)}{copy_buttons(hit)}"
        f"</article>"
    )


def plain_citation(hit: dict[str, Any]) -> str:
    """The hit's one-line citation without its "[n] " (it ends with the source link)."""
    return re.sub(r"^\[\d+\] ", "", hit.get("citation") or "")


def quoted_passage(hit: dict[str, Any]) -> str:
    """The passage, verbatim, in quotation marks, followed by its citation: what "copy quote" copies."""
    return f"“{hit.get('text') or ''}” — {plain_citation(hit)}"


def copy_buttons(hit: dict[str, Any]) -> str:
    """"Copy citation" and "copy quote" for a card; the page's script (`COPY_JS`) puts the
    attribute's text on the clipboard, so nothing from the transcript becomes code."""
    return (
        '<div class="tb-copies">'
        f'<button type="button" class="tb-copy tb-copy-cite" data-tb-copy="{esc(plain_citation(hit))}">Copy citation</button>'
        f'<button type="button" class="tb-copy tb-copy-quote" data-tb-copy="{esc(quoted_passage(hit))}">Copy quote</button>'
        "</div>"
    )


def link_query(question: str, filters: dict[str, Any] | None) -> str:
    """The query string of a link that asks ``question`` with these filters again (``?q=...``)."""
    from urllib.parse import urlencode

    filters = filters or {}
    params: list[tuple[str, str]] = [("q", question)]
    params += [("speaker", str(s)) for s in filters.get("speakers") or []]
    for key in ("since", "until"):
        if filters.get(key):
            params.append((key, str(filters[key])))
    if filters.get("k") not in (None, "", 5):
        params.append(("k", str(filters["k"])))
    return "?" + urlencode(params)


COPY_JS = """
document.addEventListener('click', (e) => {
  const b = e.target.closest && e.target.closest('[data-tb-copy], [data-tb-link]');
  if (!b) return;
  e.preventDefault();
  const text = b.hasAttribute('data-tb-link')
    ? new URL(b.getAttribute('data-tb-link'), location.origin + location.pathname).href
    : b.getAttribute('data-tb-copy');
  const done = () => { const was = b.textContent; b.textContent = 'Copied'; b.classList.add('tb-copied');
    setTimeout(() => { b.textContent = was; b.classList.remove('tb-copied'); }, 1500); };
  const fallback = () => { const t = document.createElement('textarea'); t.value = text; document.body.appendChild(t);
    t.select(); try { document.execCommand('copy'); done(); } finally { t.remove(); } };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
  else fallback();
});
"""


def filters_summary(filters: dict[str, Any] | None, titles: dict[str, str] | None = None) -> str:
    """Plain words for the filters the user set on a question ("" when none)."""
    if not filters:
        return ""
    bits = []
    if filters.get("speakers"):
        bits.append("speaker " + " or ".join(filters["speakers"]))
    if filters.get("since") and filters.get("until"):
        bits.append(f"{filters['since']} to {filters['until']}")
    elif filters.get("since"):
        bits.append(f"from {filters['since']}")
    elif filters.get("until"):
        bits.append(f"until {filters['until']}")
    if filters.get("collections"):
        bits.append("collection " + ", ".join(filters["collections"]))
    chosen = filters.get("transcripts") or []
    if chosen:
        names = [(titles or {}).get(t, t) for t in chosen]
        bits.append(names[0] if len(names) == 1 else f"{len(names)} transcripts")
    return "; ".join(bits)


def understood_html(understood: dict[str, Any], titles: dict[str, str]) -> str:
    """Chips for what the bot inferred from the question (it ranks by these; it does not filter)."""
    chips = []
    for s in understood.get("speakers") or []:
        what = "what they said" if s.get("asks_what_they_said") else "mentioned"
        if s.get("labelled") is False:  # no speaker label names them: their anonymous turns rank higher
            what = f"no label names them; turns labelled {', '.join(s.get('may_speak_as') or [])} ranked higher"
        chips.append(f'<span class="tb-chip">Speaker: {esc(s.get("person"))} <small>({what})</small></span>')
    for d in understood.get("dates") or []:
        chips.append(
            f'<span class="tb-chip">Date: {esc(d.get("text"))} '
            f"<small>({esc(d.get('since'))} – {esc(d.get('until'))})</small></span>"
        )
    if understood.get("follow_up"):
        cont = [clip(titles.get(t, t), 70) for t in understood.get("continues") or []]
        extra = f" <small>(continuing {esc('; '.join(cont))})</small>" if cont else ""
        chips.append(f'<span class="tb-chip">Follow-up of the previous question{extra}</span>')
    if not chips:
        return ""
    label = '<span class="tb-understood-label">Understood, ranked higher:</span>'
    return f'<div class="tb-understood">{label} {"".join(chips)}</div>'


def inferred_labels(understood: dict[str, Any]) -> list[str]:
    """Short names of the inferred preferences, for the "ask again without them" button."""
    out = [s.get("person", "") for s in understood.get("speakers") or []]
    out += [d.get("text", "") for d in understood.get("dates") or []]
    if understood.get("follow_up"):
        out.append("follow-up")
    return [o for o in out if o]


def turn_html(index: int, turn: dict[str, Any], titles: dict[str, str]) -> str:
    """One question and its answer: the question, inferred/explicit filters, answer, passage cards."""
    anchor = f"tb-t{index}"
    result = turn["result"]
    hits = result.get("hits") or []
    abstained = bool(result.get("abstained"))
    parts = [
        f'<section class="tb-turn" id="{anchor}">',
        '<div class="tb-q"><span class="tb-q-label">Question</span>'
        f'<div class="tb-q-text">{esc(result.get("question"))}</div>'
        f'<button type="button" class="tb-copy tb-copy-link" title="A link that asks this question again" '
        f'data-tb-link="{esc(link_query(result.get("question") or "", turn.get("filters")))}">Copy link</button></div>',
    ]
    used = filters_summary(turn.get("filters"), titles)
    if used:
        parts.append(f'<div class="tb-used">Filtered to {esc(used)}</div>')
    if not turn.get("infer", True):
        parts.append('<div class="tb-used">Asked without inferred speakers, dates or follow-up.</div>')
    parts.append(understood_html(result.get("understood") or {}, titles))
    if result.get("language"):
        from .multilingual import language_name, space_description

        parts.append(f'<div class="tb-lang">Language: {esc(language_name(result["language"]))} · searched in: '
                     f'{esc(space_description(result.get("space")))}</div>')
    if abstained:
        reason = (result.get("understood") or {}).get("abstention_reason")
        why = f'<div class="tb-why">Why: {esc(reason)}.</div>' if isinstance(reason, str) and reason else ""
        parts.append(f'<div class="tb-notfound" role="status"><b>Not found.</b> {esc(NOT_FOUND)}{why}</div>')
    elif result.get("answer"):
        parts.append(
            f'<div class="tb-answer"><span class="tb-answer-label">Answer, quoted from the sources</span>'
            f"<p>{answer_html(result['answer'], len(hits), anchor)}</p></div>"
        )
    if hits:
        heading = "Closest passages" if abstained else f"{len(hits)} cited passage{'s' if len(hits) != 1 else ''}"
        neighbours = turn.get("neighbours") or {}
        cards = "".join(card_html(h, anchor, abstained, neighbours.get(str(h.get("rank")))) for h in hits)
        parts.append(f'<div class="tb-cards-head">{heading}</div><div class="tb-cards">{cards}</div>')
    elif not abstained:
        parts.append('<div class="tb-notfound">No passage matches these filters.</div>')
    parts.append("</section>")
    return "".join(parts)


def pending_html(question: str) -> str:
    """A placeholder turn while the answer is computed: same shape as an answer, so nothing jumps."""
    skeleton = "".join(
        '<div class="tb-card tb-skeleton" aria-hidden="true"><i></i><i></i><i></i></div>' for _ in range(2)
    )
    return (
        f'<section class="tb-turn tb-pending" aria-busy="true">'
        f'<div class="tb-q"><span class="tb-q-label">Question</span><div class="tb-q-text">{esc(question)}</div></div>'
        '<div class="tb-answer tb-searching" role="status">'
        '<span class="tb-spinner"></span> Searching the transcripts…</div>'
        f"{skeleton}</section>"
    )


def welcome_html(stats: dict[str, Any]) -> str:
    span = ""
    if stats.get("date_range"):
        a, b = stats["date_range"]
        span = f", {esc(a[:4])}–{esc(b[:4])}"
    return (
        '<div class="tb-welcome">'
        "<h2>Ask the transcripts</h2>"
        f"<p>{stats.get('transcripts', 0):,} transcripts, {stats.get('passages', 0):,} passages, "
        f"{stats.get('speakers', 0):,} speakers{span}. Answers are quoted word for word from the sources, "
        "every quote is numbered and linked to the original, and follow-up questions keep the conversation.</p>"
        '<p class="tb-hint">Type a question below and press Enter (press / to jump to the question box), '
        "or try one of these:</p>"
        "</div>"
    )


def conversation_html(
    turns: Sequence[dict[str, Any]], titles: dict[str, str], stats: dict[str, Any], pending: str | None = None
) -> str:
    """The whole chat as HTML: the welcome text when empty, then every turn, then a pending one."""
    if not turns and pending is None:
        return welcome_html(stats)
    body = "".join(turn_html(i, t, titles) for i, t in enumerate(turns))
    if pending is not None:
        body += pending_html(pending)
    return f'<div class="tb-conversation">{body}</div>'


# -- "who said it" and the corpus panel -------------------------------------------------------


def who_html(topic: str, rows: Sequence[dict[str, Any]], pool: int, filters: str = "") -> str:
    within = f" (filters: {esc(filters)})" if filters else ""
    if not rows:
        return f'<div class="tb-notfound">No speaker found for “{esc(topic)}”{within}.</div>'
    items = []
    top = max(r["passages"] for r in rows)
    for i, r in enumerate(rows, 1):
        best = r.get("best") or {}
        span = "undated"
        if r.get("date_range"):
            a, b = r["date_range"]
            span = esc(human_date(a)) if a == b else f"{esc(human_date(a))} – {esc(human_date(b))}"
        width = max(4, round(100 * r["passages"] / top))
        quote = esc(clip(best.get("text"), 420))
        items.append(
            f'<article class="tb-who-row"><div class="tb-who-head"><span class="tb-who-rank">{i}</span>'
            f'<span class="tb-who-name">{esc(r["person"])}</span>'
            f'<span class="tb-who-count">{r["passages"]} passage{"s" if r["passages"] != 1 else ""}</span>'
            f'<span class="tb-who-span">{span}</span></div>'
            f'<div class="tb-who-bar"><i style="width:{width}%"></i></div>'
            f'<blockquote class="tb-text">{quote}</blockquote>'
            f'<div class="tb-meta">Best passage: {meta_line(best)}</div></article>'
        )
    return (
        f'<div class="tb-who"><p class="tb-who-note">Among the {pool} passages closest in meaning to '
        f"“{esc(topic)}”{within}, these people spoke the most (ranked by count and closeness).</p>{''.join(items)}</div>"
    )


def corpus_html(
    stats: dict[str, Any],
    freshness: str,
    stale: bool,
    transcripts: dict[str, dict[str, Any]],
    speakers: Sequence[dict[str, Any]],
) -> str:
    """Corpus panel: counts, dates, model, freshness (with a warning when stale), transcript list."""
    warn = ""
    if stale:
        warn = (
            f'<div class="tb-stale" role="alert"><b>The index is out of date with the corpus</b> ({esc(freshness)}). '
            "Answers come from the loaded index. Run <code>transcript-bot index</code>, then press "
            "<i>Reload index</i>.</div>"
        )
    span = "–"
    if stats.get("date_range"):
        span = f"{esc(human_date(stats['date_range'][0]))} – {esc(human_date(stats['date_range'][1]))}"
    tiles = [
        ("Transcripts", f"{stats.get('transcripts', 0):,}"),
        ("Passages", f"{stats.get('passages', 0):,}"),
        ("Speakers", f"{stats.get('speakers', 0):,}"),
        ("Languages", esc(", ".join(f"{code} {n:,}" for code, n in (stats.get("languages") or {}).items()) or "–")),
        ("Dates", span),
        ("Model", f"{esc(stats.get('model'))} ({esc(stats.get('dimension'))} dims)"),
        ("Index", f"{(stats.get('index_bytes') or 0) / 1e6:.1f} MB, generation {esc(stats.get('generation'))}"),
        ("Last update", esc(stats.get("updated_at") or stats.get("built_at") or "unknown")),
        ("Freshness", esc(freshness)),
    ]
    tile_html = "".join(f'<div class="tb-tile"><span>{k}</span><b>{v}</b></div>' for k, v in tiles)
    people = "".join(
        f"<li><b>{esc(s['person'])}</b> <span>{s['turns']:,} turns"
        f"{'' if len(s['labels']) < 2 else ' · ' + str(len(s['labels'])) + ' labels'}</span></li>"
        for s in speakers[:12]
    )
    rows = []
    for rel, t in sorted(transcripts.items(), key=lambda kv: (kv[1].get("date") or "", kv[0]), reverse=True):
        rows.append(
            f'<tr><td class="tb-nowrap">{esc(t.get("date") or "undated")}</td>'
            f"<td>{link(t.get('url'), t.get('title') or rel)}</td><td>{esc(t.get('place') or '')}</td>"
            f"<td>{esc(t.get('language') or '')}</td>"
            f'<td class="tb-num-cell">{esc(t.get("turns", ""))}</td>'
            f'<td class="tb-num-cell">{esc(t.get("passages", ""))}</td></tr>'
        )
    table = (
        '<div class="tb-table-wrap"><table class="tb-table"><thead><tr><th>Date</th><th>Title</th><th>Place</th>'
        f"<th>Language</th><th>Turns</th><th>Passages</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    return (
        f'<div class="tb-corpus">{warn}<div class="tb-tiles">{tile_html}</div>'
        f'<h3>Speakers with the most turns</h3><ul class="tb-people">{people}</ul>'
        f"<h3>Transcripts</h3>{table}</div>"
    )


# -- exports ------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def md_escape(text: str | None) -> str:
    """Text that Markdown shows as itself: no links, images, HTML, emphasis or headings.

    Escaping the brackets is what defuses ``[x](javascript:...)`` and ``![](...)``; escaping
    ``<``/``>``/``&`` defuses HTML, autolinks and entities; a leading ``#`` would be a heading.
    """
    out = _MD_SPECIAL.sub(r"\\\1", text or "")
    return "\\" + out if out.startswith("#") else out


def answer_markdown(turn: dict[str, Any]) -> str:
    """An answer with its citations as Markdown, safe to paste into a renderer."""
    result = turn["result"]
    hits = result.get("hits") or []
    lines = [f"## {md_escape(result.get('question'))}", ""]
    if result.get("abstained"):
        lines += [f"*{md_escape(NOT_FOUND)}*", ""]
    elif result.get("answer"):
        pieces = re.split(r"(\s?\[\d{1,3}\])", result["answer"])
        quoted = "".join(p if re.fullmatch(r"\s?\[\d{1,3}\]", p) else md_escape(p) for p in pieces)
        lines += [f"> {quoted}", ""]
    lines += ["**Closest passages**" if result.get("abstained") else "**Sources**", ""]
    for h in hits:
        url = safe_url(h.get("link") or h.get("url"))
        cite = h.get("citation", "").rsplit(", ", 1)[0] if url else h.get("citation", "")
        head = f"[{h.get('rank')}] "
        # "[n] " alone is no link (nothing follows in brackets or parentheses), so it stays readable.
        cite = head + md_escape(cite[len(head) :]) if cite.startswith(head) else md_escape(cite)
        lines.append(f"{cite}, <{url}>" if url else cite)
        lines.append("")
        for para in (h.get("text") or "").split("\n"):
            if para.strip():
                lines.append(f"> {md_escape(para.strip())}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


CSV_FIELDS = [
    "question",
    "rank",
    "relevance",
    "similarity",
    "speaker",
    "title",
    "date",
    "place",
    "turn",
    "url",
    "citation",
    "text",
    "context_speaker",
    "context",
]


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with = + - @ (or tab/CR) gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def passages_csv(turn: dict[str, Any]) -> str:
    result = turn["result"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for h in result.get("hits") or []:
        row = {**h, "question": result.get("question"), "url": h.get("link") or h.get("url")}
        writer.writerow({k: csv_cell(row.get(k)) for k in CSV_FIELDS})
    return out.getvalue()


def safe_json(obj: Any) -> str:
    """JSON whose strings cannot open a tag if the file is ever shown as HTML."""
    return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def passages_jsonl(turn: dict[str, Any]) -> str:
    result = turn["result"]
    lines = [
        safe_json({"question": result.get("question"), "abstained": result.get("abstained"), **h})
        for h in result.get("hits") or []
    ]
    return "\n".join(lines) + ("\n" if lines else "")


# -- the look -----------------------------------------------------------------------------------
# Plain CSS files in bot/static/, injected once into the page head by the web app. Colours come
# from Gradio's theme variables where one fits, so the chat also reads well in dark mode.


def static_text(name: str) -> str:
    """A file of ``bot/static/`` (the stylesheets), read once at import."""
    from importlib.resources import files

    return (files("bot") / "static" / name).read_text(encoding="utf-8")


CSS = static_text("chat.css")  # bot/static/chat.css
