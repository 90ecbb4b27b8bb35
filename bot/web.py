"""The web chat (Gradio): ask in plain words, read the answer quoted from the sources, check it.

A thin front end over `TranscriptBot`: it turns the form (question, filters, conversation)
into `AskOptions`, calls the core, and shows the answer JSON through `bot.web_render`,
which escapes everything that comes from a transcript. `chat` is plain Python so tests call
it directly; `build_demo(bot)` returns the Blocks; `serve` is what ``transcript-bot serve``
and ``python app.py`` run. Gradio is imported only inside the functions that need it, so
importing this module (for the chat function) stays cheap.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Sequence

from . import web_render as R
from . import web_json, web_tools
from .core import MAX_CONTEXT_QUESTIONS, AskOptions, TranscriptBot, check_request, check_topic, collection_of
from .errors import BadQuery, BotError
from .settings import DEFAULT_HOST, DEFAULT_PORT, Access, Settings

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home at launch
os.environ.setdefault("HF_HUB_OFFLINE", "1")

NEIGHBOURS_BEFORE, NEIGHBOURS_AFTER = 2, 2
WHO_POOL = 60
# Questions the bundled Kremlin corpus answers well; shown on first load.
KREMLIN_EXAMPLES = [
    "What did Putin say about the railway to Europe?",
    "What did Putin tell French journalists about Syria?",
    "What did Miller say about gas exports to Europe?",
    "What did Putin say about the Baksan hydroelectric plant?",
]


# -- the chat, as plain Python ------------------------------------------------------------------


def transcript_titles(bot: TranscriptBot) -> dict[str, str]:
    """Transcript path -> "Title (date, place)", to name transcripts in filters and chips."""
    out = {}
    for rel, t in bot.data.manifest.get("transcripts", {}).items():
        where = ", ".join(x for x in (t.get("date"), t.get("place")) if x)
        out[rel] = f"{t.get('title') or rel} ({where})" if where else (t.get("title") or rel)
    return out


def make_filters(
    speakers: Sequence[str] | None = None,
    since: str | None = "",
    until: str | None = "",
    collections: Sequence[str] | None = None,
    transcripts: Sequence[str] | None = None,
    k: Any = 5,
) -> dict[str, Any]:
    """The filter form as one plain dict (what a turn records and `filters_summary` describes).

    Values are kept as the form sent them (the core checks them when the question is asked).
    """
    return {
        "speakers": _as_list(speakers),
        "since": since.strip() if isinstance(since, str) else since,
        "until": until.strip() if isinstance(until, str) else until,
        "collections": _as_list(collections),
        "transcripts": _as_list(transcripts),
        "k": 5 if k is None or k == "" else k,
    }


def _as_list(value: Any) -> list[Any]:
    """A multiselect's value as a list: one string is one item, not its characters."""
    if not value:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def ask_options(bot: TranscriptBot, filters: dict[str, Any], context: Sequence[str], infer: bool) -> AskOptions:
    return AskOptions(
        k=filters.get("k", 5),
        speakers=filters.get("speakers") or None,
        since=filters.get("since") or None,
        until=filters.get("until") or None,
        transcripts=filters.get("transcripts") or None,
        collections=filters.get("collections") or None,
        context=list(context),
        infer=infer,
    )


def answer_turn(
    bot: TranscriptBot,
    question: str,
    history: Sequence[dict[str, Any]],
    filters: dict[str, Any],
    infer: bool = True,
    use_context: bool = True,
) -> dict[str, Any]:
    """Ask one question of the conversation; the turn records what was asked, how, and the answer.

    The earlier questions (oldest first, the last `MAX_CONTEXT_QUESTIONS` of a long chat) are
    the context that makes follow-ups work. The neighbouring turns of every hit are fetched now,
    so expanding a card needs no round trip.
    """
    context = [t["question"] for t in history][-MAX_CONTEXT_QUESTIONS:] if use_context else []
    options = ask_options(bot, filters, context, infer)
    result = bot.ask(question, options).to_json()  # the core picks up a newer index generation first
    neighbours = {
        str(h["rank"]): bot.neighbours(h["transcript"], h["turn"], before=NEIGHBOURS_BEFORE, after=NEIGHBOURS_AFTER)
        for h in result["hits"]
    }
    return {
        "question": result["question"],
        "result": result,
        "filters": filters,
        "infer": infer,
        "context": context,
        "neighbours": neighbours,
    }


def render(bot: TranscriptBot, history: Sequence[dict[str, Any]], pending: str | None = None) -> str:
    """The conversation as HTML (the welcome text when it is empty)."""
    stats = bot.stats() if not history and pending is None else {}
    return R.conversation_html(history, transcript_titles(bot), stats, pending)


def chat(
    bot: TranscriptBot,
    question: str,
    history: Sequence[dict[str, Any]] | None = None,
    *,
    speakers: Sequence[str] = (),
    since: str = "",
    until: str = "",
    collections: Sequence[str] = (),
    transcripts: Sequence[str] = (),
    k: int = 5,
    infer: bool = True,
    use_context: bool = True,
) -> tuple[str, list[dict[str, Any]]]:
    """Answer one chat message: returns the conversation HTML and the new history.

    Raises `BotError` (BadQuery for an empty or too long question, a bad date, an unknown
    speaker) for the caller to show as a message.
    """
    history = list(history or [])
    filters = make_filters(speakers, since, until, collections, transcripts, k)
    turn = answer_turn(bot, question, history, filters, infer=infer, use_context=use_context)
    history.append(turn)
    return render(bot, history), history


def write_exports(turn: dict[str, Any], folder: Path) -> tuple[str, Path, Path, Path]:
    """The answer as Markdown (returned and written) and its passages as CSV and JSONL files."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown = R.answer_markdown(turn)
    md, csv_path, jsonl = folder / "answer.md", folder / "passages.csv", folder / "passages.jsonl"
    md.write_text(markdown, encoding="utf-8")
    csv_path.write_text(R.passages_csv(turn), encoding="utf-8-sig", newline="")  # BOM: Excel reads UTF-8
    jsonl.write_text(R.passages_jsonl(turn), encoding="utf-8")
    return markdown, md, csv_path, jsonl


def speaker_choices(bot: TranscriptBot) -> list[tuple[str, str]]:
    """(label, person) pairs for the speaker filter: every label of a person grouped, with turn counts."""
    out = []
    for s in bot.speakers():
        labels = len(s["labels"])
        extra = f", {labels} labels" if labels > 1 else ""
        out.append((f"{s['person']} ({s['turns']:,} turns{extra})", s["person"]))
    return out


def transcript_choices(bot: TranscriptBot) -> list[tuple[str, str]]:
    items = bot.data.manifest.get("transcripts", {}).items()
    ordered = sorted(items, key=lambda kv: (kv[1].get("date") or "", kv[0]))
    return [
        (
            f"{t.get('date') or 'undated'} · {t.get('title') or rel}" + (f" ({t['place']})" if t.get("place") else ""),
            rel,
        )
        for rel, t in ordered
    ]


def collection_choices(bot: TranscriptBot) -> list[tuple[str, str]]:
    counts: dict[str, int] = {}
    for rel in bot.data.manifest.get("transcripts", {}):
        counts[collection_of(rel)] = counts.get(collection_of(rel), 0) + 1
    return [(f"{name} ({n} transcripts)", name) for name, n in sorted(counts.items())]


def default_examples(bot: TranscriptBot) -> list[str]:
    """Example questions for the first screen: the Kremlin ones when that corpus is loaded."""
    titles = bot.data.manifest.get("transcripts", {})
    if any(rel.startswith("kremlin/") for rel in titles):
        return KREMLIN_EXAMPLES
    people = [s["person"] for s in bot.speakers()[:2]]
    return [f"What did {p} say about the economy?" for p in people] or ["What was discussed?"]


def corpus_panel(bot: TranscriptBot) -> tuple[str, str]:
    """The corpus panel HTML and the header's stale warning ("" when the index is fresh)."""
    try:
        fresh = bot.freshness()
        describe, stale = fresh.describe(), fresh.stale
    except BotError as exc:  # the corpus folder is gone or unreadable: say so, keep serving
        describe, stale = str(exc), True
    html = R.corpus_html(bot.stats(), describe, stale, bot.data.manifest.get("transcripts", {}), bot.speakers())
    banner = ""
    if stale:
        banner = (
            f'<div class="tb-stale" role="alert">The index is out of date with the corpus ({R.esc(describe)}); '
            "answers come from the loaded index. See the Corpus tab.</div>"
        )
    return html, banner


def parse_list(value: Any, name: str) -> Any:
    """An API list parameter: a list, a JSON list string, or one plain value (None when empty).

    Only the JSON is parsed here; the items go to the core as they are, which checks them.
    """
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    if not isinstance(value, str):
        return value  # the core says what it should have been
    text = value.strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            items = json.loads(text)
        except (ValueError, RecursionError):
            raise BadQuery(f"{name} looks like a JSON list but does not parse") from None
        return items or None
    return [text]


def parse_context(context: Any) -> list[str]:
    """The API's context: a list, a JSON list string, or one earlier question as plain text."""
    return parse_list(context, "context (earlier questions, oldest first)") or []


def api_answer(
    bot: TranscriptBot,
    question: str,
    k: int = 5,
    speaker: str = "",
    since: str = "",
    until: str = "",
    context: Any = "",
    transcripts: Any = "",
    collections: Any = "",
) -> dict[str, Any]:
    """What the /ask endpoint returns: exactly ``transcript-bot ask --json``.

    The parameters are parsed here (``speaker`` split on ";", JSON lists read) and checked by
    the core; anything wrong raises BadQuery with a one-line message.
    """
    options = AskOptions(
        k=k, since=since, until=until, context=parse_context(context), transcripts=parse_list(transcripts, "transcripts"),
        collections=parse_list(collections, "collections"),
    )
    if isinstance(speaker, str):
        people = [s.strip() for s in speaker.split(";") if s.strip()]
        options.speaker = people[0] if len(people) == 1 else None
        options.speakers = people if len(people) > 1 else None
    else:
        options.speaker = speaker
    return bot.ask(question, options).to_json()


def api_ranking(bot: TranscriptBot, topic: str, k: int = 10, since: str = "", until: str = "",
                transcripts: Any = "") -> dict[str, Any]:
    """What the /who endpoint returns: the "who said it" ranking (``transcript-bot who --json``)."""
    options = AskOptions(since=since, until=until, transcripts=parse_list(transcripts, "transcripts"))
    return {"topic": check_topic(topic), "speakers": bot.who(topic, k=k, pool=WHO_POOL, options=options)}


# -- the Gradio app -------------------------------------------------------------------------------


KEYS_JS = """
document.addEventListener('keydown', (e) => {
  const t = e.target; const typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
  if (e.key === '/' && !typing) { const q = document.querySelector('#tb-question textarea, #tb-question input');
    if (q) { e.preventDefault(); q.focus(); } }
});
"""
SCROLL_JS = """() => { const turns = document.querySelectorAll('#tb-conversation .tb-turn');
  const t = turns[turns.length - 1]; if (t) t.scrollIntoView({behavior: 'smooth', block: 'start'}); }"""

API_DOC = """
### Plain JSON: `POST /api/ask`, `/api/who`, `/api/check`

Every answer the chat shows is also available as JSON, exactly what `transcript-bot ask --json` prints
(`question`, `answer`, `abstained`, `understood`, `hits` with citations, highlights and source links).
One request, one reply; the fastest way in for scripts and other programs:

```bash
curl -s http://127.0.0.1:7860/api/ask -H 'Content-Type: application/json' \\
  -d '{"question": "And what about missile defence?", "k": 5, "speaker": "Putin", "since": "2000",
       "context": ["What did Putin say about the railway to Europe?"]}'
curl -s http://127.0.0.1:7860/api/who -d '{"topic": "gas prices", "k": 10}'
curl -s http://127.0.0.1:7860/api/check -d '{"quote": "We keep 40 percent of our reserves in euros", "speaker": "Putin"}'
```

`/api/ask` takes `question` (required), `k`, `speaker`, `since`, `until`, `context` (a list of earlier
questions, oldest first), `transcripts` and `collections` (lists); `/api/who` takes `topic`, `k`, `since`, `until`,
`transcripts`; `/api/check` takes `quote` and `speaker`. A mistake comes back as `{"error": "..."}`, one line, with
status 400 (a bad or unknown field, an empty question, a bad date ...), 404 (an unknown route) or 413 (a body over
256 KB). When the server has logins, send one of them with HTTP Basic (`curl -u user:password ...`); without, 401.

### The Gradio `/ask` endpoint

The same answers through Gradio's queue (what the page itself calls), for `gradio_client`:

```python
from gradio_client import Client

client = Client("http://127.0.0.1:7860/")
result = client.predict(
    "And what about missile defence?",  # question
    5,                                  # k: number of passages
    "Putin",                            # speaker ("" for anyone; "Putin; Merkel" for either)
    "2000",                             # since: YYYY[-MM[-DD]] or ""
    "",                                 # until
    '["What did Putin say about the railway to Europe?"]',  # context: earlier questions, oldest first
    "",                                 # transcripts: "" for all, or a JSON list of corpus paths
    api_name="/ask",
)
print(result["answer"])
for hit in result["hits"]:
    print(hit["citation"])
```

`context` is a JSON list of the earlier questions (or one earlier question as plain text), at most 50 of at most
1,000 characters each. Errors (an empty or too long question, k outside 1-100, a bad date, an unknown speaker, a
value of the wrong type) come back as an error with a one-line message.
`/who` takes a topic, a number of speakers and optionally since, until and transcripts, and returns the
"who said it" ranking. `/check` takes a quote and the speaker it is attributed to ("" for nobody) and returns
the verdict (exact, close, someone_else, not_found) with the passage and the word-level differences.
"""


def build_demo(bot: TranscriptBot, examples: Sequence[str] | None = None, access: Access | None = None):
    """The web chat as a `gr.Blocks` (not launched): Ask, Who said it, Check a quote, Over time (`web_tools`),
    Corpus and API tabs; a `/?q=...` link asks its question on load.

    ``access`` says who may add and remove transcripts (default: everyone, as on loopback).
    """
    import gradio as gr

    from .web_corpus import build_corpus_controls

    examples = list(examples) if examples is not None else default_examples(bot)
    export_root = Path(tempfile.mkdtemp(prefix="transcript-bot-exports-"))
    stats = bot.stats()
    span = (
        f"{stats['date_range'][0]} to {stats['date_range'][1]}" if stats.get("date_range") else "no dated transcripts"
    )
    corpus_html, banner = corpus_panel(bot)

    def refused(exc: BotError | str, where: str):
        """A user's mistake as a `gr.Error` carrying the core's one-line message unchanged.

        Logged here as one line: Gradio prints the full traceback of every gr.Error raised
        in a handler unless it is made with ``print_exception=False``.
        """
        print(f"transcript-bot serve: {where} refused: {exc}", file=sys.stderr, flush=True)
        return gr.Error(str(exc), print_exception=False)

    def question_problem(question: Any) -> str | None:
        """Why a question cannot be asked (the core's own check and message), or None."""
        try:
            check_request(question)
        except BadQuery as exc:
            return str(exc)
        return None

    # -- handlers (thin: check input, call the plain functions above, turn errors into messages) --
    # `start` runs unqueued so the question shows at once; Gradio only shows errors of queued
    # events, so it hands a problem on to `finish` (queued), which reports it.

    def start(question, history):
        problem = question_problem(question)
        if problem:
            return gr.update(), gr.update(), {"error": problem}, gr.update()
        q = question.strip()
        return render(bot, history, pending=q), "", {"question": q, "mode": "ask"}, gr.update(visible=False)

    def start_relax(history):
        if not history:
            return gr.update(), {"error": "Ask a question first."}
        last = history[-1]
        return render(bot, history[:-1], pending=last["question"]), {"question": last["question"], "mode": "relax"}

    def finish(pending, history, speakers, since, until, collections, transcripts, k):
        if not pending or pending.get("error"):
            raise refused((pending or {}).get("error") or "empty question", "question")
        question, mode = pending["question"], pending["mode"]
        history = list(history or [])
        if mode == "relax":
            filters, earlier = history[-1]["filters"], history[:-1]
        else:
            filters, earlier = make_filters(speakers, since, until, collections, transcripts, k), history
        try:
            turn = answer_turn(bot, question, earlier, filters, infer=(mode != "relax"), use_context=(mode != "relax"))
        except BotError as exc:
            print(f"transcript-bot serve: question refused: {exc}", file=sys.stderr, flush=True)
            gr.Warning(str(exc))
            restore = question if mode == "ask" else gr.update()
            return (
                render(bot, history),
                history,
                gr.update(),
                gr.update(),
                gr.update(),
                gr.update(),
                gr.update(),
                restore,
                gr.update(visible=not history),
            )
        history = [*earlier, turn]
        markdown, md, csv_path, jsonl = write_exports(turn, export_root / uuid.uuid4().hex)
        inferred = R.inferred_labels(turn["result"].get("understood") or {}) if turn["infer"] else []
        relax = gr.update(visible=bool(inferred), value=f"Ask again without: {', '.join(inferred)}")
        return (
            render(bot, history),
            history,
            markdown,
            gr.update(value=str(md), interactive=True),
            gr.update(value=str(csv_path), interactive=True),
            gr.update(value=str(jsonl), interactive=True),
            relax,
            gr.update(),
            gr.update(visible=False),
        )

    def new_chat():
        """Forget the conversation (not what is being typed, nor the filters)."""
        return (
            render(bot, []),
            [],
            "",
            gr.update(value=None, interactive=False),
            gr.update(value=None, interactive=False),
            gr.update(value=None, interactive=False),
            gr.update(visible=False),
            gr.update(visible=True),
        )

    def filters_label(speakers, since, until, collections, transcripts, k):
        summary = R.filters_summary(make_filters(speakers, since, until, collections, transcripts, k))
        return gr.update(label=f"Filters: {summary}" if summary else "Filters (none: searching everything)")

    def clear_filters():
        return [], "", "", [], [], 5, gr.update(label="Filters (none: searching everything)")

    def show_who(topic, k, speakers, since, until, collections, transcripts, _k):
        filters = make_filters(speakers, since, until, collections, transcripts, 5)
        try:
            t = check_topic(topic)
            rows = bot.who(t, k=k, pool=WHO_POOL, options=ask_options(bot, filters, (), infer=False))
        except BotError as exc:
            raise refused(exc, "who said it") from None
        return R.who_html(t, rows, WHO_POOL, R.filters_summary(filters, transcript_titles(bot)))

    def refresh():
        html, new_banner = corpus_panel(bot)
        return html, gr.update(value=new_banner, visible=bool(new_banner))

    def reload_index():
        try:
            changed = bot.reload()
        except BotError as exc:
            raise refused(exc, "reload") from None
        gr.Info(f"Loaded index generation {bot.data.generation}." if changed else "The index is unchanged.")
        html, new_banner = corpus_panel(bot)
        return (
            html,
            gr.update(value=new_banner, visible=bool(new_banner)),
            gr.update(choices=speaker_choices(bot)),
            gr.update(choices=transcript_choices(bot)),
            gr.update(choices=collection_choices(bot)),
        )

    def api_ask(
        question: str, k: int = 5, speaker: str = "", since: str = "", until: str = "", context: str = "",
        transcripts: str = "", collections: str = "",
    ) -> dict:
        """Answer a question with cited passages; the same JSON as `transcript-bot ask --json`.

        speaker: one person, or several separated by ";" (passages by any of them).
        context: earlier questions of the conversation, oldest first, as a JSON list string
        (or one earlier question as plain text).
        transcripts: only these transcripts: a JSON list of corpus paths, or one path.
        collections: only transcripts in these top-level corpus folders (a JSON list, or one).
        """
        try:
            return api_answer(bot, question, k, speaker, since, until, context, transcripts, collections)
        except BotError as exc:
            raise refused(exc, "/ask") from None

    def api_who(topic: str, k: int = 10, since: str = "", until: str = "", transcripts: str = "") -> dict:
        """Who spoke to a topic most: people with passage counts, date range and best passage.

        since/until: YYYY[-MM[-DD]] or ""; transcripts: a JSON list of corpus paths, or one path.
        """
        try:
            return api_ranking(bot, topic, k, since, until, transcripts)
        except BotError as exc:
            raise refused(exc, "/who") from None

    # -- layout -----------------------------------------------------------------------------------

    with gr.Blocks(title="transcript-bot", analytics_enabled=False) as demo:
        gr.HTML(
            f'<header class="tb-header"><div><h1>transcript-bot</h1><p>Ask {stats["transcripts"]:,} transcripts '
            f"({R.esc(span)}); every answer is quoted from the source, with citations.</p></div></header>",
            head=f"<style>{R.CSS}{web_tools.CSS}</style><script>{KEYS_JS}{R.COPY_JS}</script>",
            js_on_load=None,
            elem_id="tb-header-html",
        )
        banner_html = gr.HTML(banner, js_on_load=None, elem_id="tb-banner", visible=bool(banner))
        history = gr.State([])
        pending = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Accordion(
                    "Filters (none: searching everything)", open=False, elem_id="tb-filters"
                ) as filters_box:
                    with gr.Row():
                        f_speakers = gr.Dropdown(
                            speaker_choices(bot),
                            multiselect=True,
                            filterable=True,
                            label="Speakers",
                            info="All labels of one person are grouped; counts are turns.",
                            elem_id="tb-speakers",
                            scale=2,
                            min_width=240,
                        )
                        f_since = gr.Textbox(
                            label="From",
                            placeholder="e.g. 2016 or 2016-05-31",
                            info=f"Corpus: {span}",
                            elem_id="tb-since",
                            min_width=150,
                        )
                        f_until = gr.Textbox(
                            label="To",
                            placeholder="e.g. 2017-12",
                            info="Year, month or day",
                            elem_id="tb-until",
                            min_width=150,
                        )
                    with gr.Row():
                        f_collections = gr.Dropdown(
                            collection_choices(bot),
                            multiselect=True,
                            label="Collections",
                            elem_id="tb-collections",
                            min_width=200,
                        )
                        f_transcripts = gr.Dropdown(
                            transcript_choices(bot),
                            multiselect=True,
                            filterable=True,
                            label="Transcripts",
                            elem_id="tb-transcripts",
                            scale=2,
                            min_width=240,
                        )
                        f_k = gr.Slider(
                            1, 20, value=5, step=1, label="Passages per answer", elem_id="tb-k", min_width=180
                        )
                    clear_btn = gr.Button("Clear filters", size="sm", variant="secondary", elem_id="tb-clear-filters")
                conversation = gr.HTML(render(bot, []), js_on_load=None, elem_id="tb-conversation", min_height=160)
                with gr.Row(visible=True, elem_id="tb-examples") as examples_row:
                    example_btns = [
                        gr.Button(ex, size="sm", variant="secondary", elem_classes=["tb-example"]) for ex in examples
                    ]
                with gr.Group(elem_id="tb-askbar"):
                    with gr.Row(equal_height=True):
                        question = gr.Textbox(
                            show_label=False,
                            placeholder="Ask a question…",
                            elem_id="tb-question",
                            scale=6,
                            min_width=200,
                            autofocus=True,
                            lines=1,
                            max_lines=4,
                            container=False,
                        )
                        ask_btn = gr.Button("Ask", variant="primary", elem_id="tb-ask", scale=0, min_width=80)
                with gr.Row(elem_id="tb-actions"):
                    new_btn = gr.Button(
                        "New chat", size="sm", variant="secondary", elem_id="tb-new", scale=0, min_width=110
                    )
                    relax_btn = gr.Button(
                        "Ask again without inferred filters",
                        size="sm",
                        visible=False,
                        elem_id="tb-relax",
                        scale=0,
                        min_width=340,
                    )
                with gr.Accordion("Export this answer", open=False, elem_id="tb-export"):
                    export_md = gr.Textbox(
                        label="Answer with citations (Markdown)",
                        lines=6,
                        max_lines=14,
                        interactive=False,
                        buttons=["copy"],
                        elem_id="tb-export-md",
                    )
                    with gr.Row():
                        dl_md = gr.DownloadButton("Markdown (.md)", interactive=False, size="sm", elem_id="tb-dl-md")
                        dl_csv = gr.DownloadButton("Passages (.csv)", interactive=False, size="sm", elem_id="tb-dl-csv")
                        dl_jsonl = gr.DownloadButton(
                            "Passages (.jsonl)", interactive=False, size="sm", elem_id="tb-dl-jsonl"
                        )
            with gr.Tab("Who said it", id="who"):
                gr.Markdown(
                    "Who spoke to a topic most, by meaning rather than exact words: each person's share of the "
                    f"{WHO_POOL} closest passages, their dates and their best passage. The filters set on the "
                    "Ask tab (speakers, dates, collection, transcripts) apply here too."
                )
                with gr.Row(equal_height=True):
                    who_topic = gr.Textbox(
                        show_label=False,
                        placeholder="A topic, e.g. gas prices",
                        elem_id="tb-who-topic",
                        scale=5,
                        container=False,
                    )
                    who_k = gr.Slider(
                        3, 20, value=8, step=1, label="Speakers", scale=2, min_width=160, elem_id="tb-who-k"
                    )
                    who_btn = gr.Button("Find speakers", variant="primary", scale=0, min_width=130, elem_id="tb-who-go")
                who_out = gr.HTML("", js_on_load=None, elem_id="tb-who-out", min_height=80)
            web_tools.add_tabs(bot, refused, [f_speakers, f_since, f_until, f_collections, f_transcripts, f_k])
            with gr.Tab("Corpus", id="corpus"):
                with gr.Row():
                    reload_btn = gr.Button(
                        "Reload index", size="sm", variant="secondary", elem_id="tb-reload", scale=0, min_width=140
                    )
                corpus_controls = build_corpus_controls(bot, access or Access(), lambda: corpus_panel(bot)[0])
                corpus_out = gr.HTML(corpus_html, js_on_load=None, elem_id="tb-corpus")
            with gr.Tab("API", id="api"):
                gr.Markdown(API_DOC)

        # -- events ---------------------------------------------------------------------------------
        filter_inputs = [f_speakers, f_since, f_until, f_collections, f_transcripts, f_k]
        finish_outputs = [conversation, history, export_md, dl_md, dl_csv, dl_jsonl, relax_btn, question, examples_row]
        private: dict[str, Any] = {"api_visibility": "private"}

        def ask_chain(event):
            """After the pending turn is shown: scroll to it, compute the answer, scroll again."""
            event.then(None, js=SCROLL_JS, **private)
            (
                event.success(
                    finish, [pending, history, *filter_inputs], finish_outputs, show_progress="hidden", **private
                ).then(None, js=SCROLL_JS, **private)
            )

        for trigger in (question.submit, ask_btn.click):
            ask_chain(
                trigger(
                    start,
                    [question, history],
                    [conversation, question, pending, examples_row],
                    queue=False,
                    show_progress="hidden",
                    trigger_mode="once",
                    **private,
                )
            )
        for btn, text in zip(example_btns, examples):
            ask_chain(
                btn.click(
                    lambda h, t=text: start(t, h),
                    [history],
                    [conversation, question, pending, examples_row],
                    queue=False,
                    show_progress="hidden",
                    **private,
                )
            )
        ask_chain(
            relax_btn.click(
                start_relax, [history], [conversation, pending], queue=False, show_progress="hidden", **private
            )
        )
        new_btn.click(
            new_chat,
            None,
            [conversation, history, export_md, dl_md, dl_csv, dl_jsonl, relax_btn, examples_row],
            queue=False,
            **private,
        )
        for comp in filter_inputs:
            comp.change(filters_label, filter_inputs, filters_box, queue=False, show_progress="hidden", **private)
        clear_btn.click(clear_filters, None, [*filter_inputs, filters_box], queue=False, **private)
        for trigger in (who_topic.submit, who_btn.click):
            trigger(show_who, [who_topic, who_k, *filter_inputs], who_out, show_progress="minimal", **private)
        reload_btn.click(
            reload_index, None, [corpus_out, banner_html, f_speakers, f_transcripts, f_collections], **private
        )
        demo.load(refresh, None, [corpus_out, banner_html], queue=False, show_progress="hidden", **private)
        corpus_controls(demo, corpus_out, [f_speakers, f_transcripts, f_collections], lambda: (
            gr.update(choices=speaker_choices(bot)), gr.update(choices=transcript_choices(bot)),
            gr.update(choices=collection_choices(bot))))
        web_tools.deep_link(demo, bot, start, finish, history, filter_inputs,
                            [conversation, question, pending, examples_row], finish_outputs)

        gr.api(api_ask, api_name="ask")
        gr.api(api_who, api_name="who")
        web_tools.add_api(bot, refused)
    demo.queue(default_concurrency_limit=2)
    demo.json_routes = web_json.routes(bot, access)  # /api/ask, /api/who, /api/check: given to the app at launch
    return demo


def check_address(host: str, port: int) -> None:
    """BotError, naming the address, if nothing can listen on ``host``:``port`` (a port in use,
    no such address); said at once, before the index and the model load."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise BotError(f"port {port} on {host} is already in use (another server?); choose another with --port") from None
        raise BotError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except (UnicodeError, OverflowError, ValueError) as exc:  # a host name no resolver takes, a port out of range
        raise BotError(f"cannot listen on {host}:{port}: {exc}") from None


def launch(demo, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, prevent_thread_lock: bool = False,
           access: Access | None = None):
    """Start the server bound to ``host`` (127.0.0.1 unless told otherwise) and print the url.

    With logins in ``access``, Gradio's own login page guards the page, the API and uploads.
    BotError when it cannot listen there (the port was taken meanwhile, say).
    """
    check_address(host, port)
    if not prevent_thread_lock:
        _take_sigint()
    try:
        _launch(demo, host, port, access)
    except OSError as exc:  # Gradio's 20-line "Cannot find empty port": one line instead
        raise BotError(f"cannot start the web server on {host}:{port}: {str(exc).split('.')[0]}; "
                       "choose another port with --port") from None
    url = f"http://{host}:{demo.server_port}/"
    print(f"transcript-bot web chat: {url}  (Ctrl+C stops it)", flush=True)
    if not prevent_thread_lock:
        _serve_until_interrupted(demo)
    return url


def _take_sigint() -> None:
    """Handle SIGINT whatever this process inherited: a process started in the background by a
    non-interactive shell (`serve &` in a script), or by a parent that ignores or blocks SIGINT,
    would otherwise never see it (Python does not handle a signal ignored at its start)."""
    import signal

    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: the caller owns the signals
        pass


def _serve_until_interrupted(demo) -> None:
    """Block until Ctrl+C (SIGINT), then stop the server at once. uvicorn's graceful shutdown
    waits for every open connection to close, and an open chat page or API client holds one
    (its event stream) for as long as it lives, so Ctrl+C alone could leave the process waiting.

    SIGINT is taken before the address is printed (`_take_sigint`)."""
    import time

    try:
        while demo.is_running:
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("Stopping the web chat.", flush=True)
    server = getattr(demo, "server", None)
    if server is not None:
        import logging

        # The streams cut here end in CancelledError, which uvicorn would log as a traceback.
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        server.force_exit = True  # do not wait for open streams
        server.close()


def _launch(demo, host: str, port: int, access: Access | None = None) -> None:
    from .uploads import UploadLimits

    # The CSS also travels in the page head (see build_demo); given here too, it is there from the first paint.
    demo.launch(
        auth=access.check_password if access is not None and access.required else None,
        auth_message="Sign in to ask the transcripts." if access is not None and access.required else None,
        max_file_size=UploadLimits().file_bytes,  # Gradio refuses a larger upload before it reaches us
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        show_error=True,
        quiet=True,
        inbrowser=False,
        share=False,
        footer_links=["api"],
        run_history=False,
        css=R.CSS,
        app_kwargs={"routes": list(getattr(demo, "json_routes", []))},
    )


def ensure_index(settings: Settings, embedder_holder: dict[str, Any]) -> None:
    """Verify the index against the corpus; build or update it first when it is missing or stale.

    A damaged index (a data file truncated or altered) is reported, as IndexCorrupt with the
    command that rebuilds it, and not called up to date: rebuilding it is the user's call.
    """
    from . import store
    from .chunking import PASSAGE_RULES
    from .embedding import load_embedder
    from .errors import IndexMismatch, IndexMissing
    from .indexer import freshness, sync

    reason = None
    try:
        manifest = store.read_manifest(settings.index, settings.corpus)
        store.check_compatible(manifest, settings.index, settings.model, PASSAGE_RULES, corpus=settings.corpus)
        store.verify(settings.index, manifest, settings.corpus)  # checksums: "up to date" only if intact
        if not Path(settings.corpus).exists():
            print(f"warning: corpus folder {settings.corpus} not found; serving the index as it is", file=sys.stderr)
            return
        fresh = freshness(settings.corpus, manifest)
        if fresh.stale:
            reason = fresh.describe()
    except IndexMissing:
        reason = "no index yet"
    except IndexMismatch as exc:
        reason = str(exc)
    if reason is None:
        print(
            f"Index {settings.index}/ is up to date with {settings.corpus}/ "
            f"({len(manifest.get('transcripts', {}))} transcripts, {manifest.get('passages')} passages).",
            flush=True,
        )
        return

    def factory():
        if "embedder" not in embedder_holder:
            embedder_holder["embedder"] = load_embedder(settings.model)
        return embedder_holder["embedder"]

    print(f"Updating the index {settings.index}/ ({reason}) ...", flush=True)
    report = sync(settings.corpus, settings.index, settings.model, factory, progress=True,
                  vector_store=settings.vector_store())
    for line in report.problems:
        print(f"warning: {line}", file=sys.stderr)
    print(report.summary(), flush=True)


def serve(
    settings: Settings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    sync_first: bool = True,
    prevent_thread_lock: bool = False,
    embedder: Any = None,
    access: Access | None = None,
):
    """``transcript-bot serve``: bring the index up to date, load index and model once, start the chat.

    Returns the running Blocks (only reached with ``prevent_thread_lock``, as tests use it).
    An address nothing can listen on is refused (BotError) before anything loads, and so is a
    non-loopback one without logins when ``access`` is not given (see `settings.resolve_access`).
    """
    from .embedding import load_query_embedder
    from .settings import resolve_access

    check_address(host, port)
    if access is None:
        try:
            access = resolve_access(host, config_auth_file=settings.auth_file)
        except ValueError as exc:
            raise BotError(str(exc)) from None

    holder: dict[str, Any] = {"embedder": embedder} if embedder is not None else {}
    if sync_first:
        ensure_index(settings, holder)
    # One thread per question: a serving process answers faster under competing load (see
    # MODELS.md), and concurrent questions run side by side. A test's embedder is used as given.
    model = embedder or load_query_embedder(settings, threads=1, loaded=holder.get("embedder"),
                                            warn=lambda line: print(line, file=sys.stderr))
    bot = TranscriptBot(settings, embedder=model)
    demo = build_demo(bot, access=access)
    launch(demo, host, port, prevent_thread_lock=prevent_thread_lock, access=access)
    return demo
