"""The web chat's research tools: "Check a quote", "Over time", and links that ask a question.

A thin front end, as `bot.web`: the plain functions here turn form values into core calls
(`TranscriptBot.check_quote`, `TranscriptBot.who_over_time`) and their JSON into HTML through
`bot.web_tools_render`; `add_tabs`, `add_api` and `deep_link` attach them to the Blocks that
`web.build_demo` builds. Gradio is imported inside those functions only.

A link such as ``/?q=What+did+Putin+say+about+gas&speaker=Putin&since=2016&until=2019&k=3``
opens the chat with that question asked and those filters set (`link_request` reads it; the
core checks every value, as for a typed question). Every answer has a "Copy link" button that
makes such a link, and every card "Copy citation" and "Copy quote" (see `web_render.COPY_JS`).
"""


from typing import Any, Mapping, Sequence

from . import web_tools_render as T
from .core import TranscriptBot, check_k
from .errors import BadQuery, BotError

TIMELINE_POOL = 60  # passages counted: the same pool as "who said it" (web.WHO_POOL)
CSS = T.CSS  # the tabs' look, added to the page head by `web.build_demo`
NEIGHBOURS = 2  # turns either side shown with a quote's passage


# -- plain functions -------------------------------------------------------------------------------


def quote_result(bot: TranscriptBot, quote: Any, speaker: Any = "") -> dict[str, Any]:
    """The quote check as JSON (what ``transcript-bot check --json`` prints and ``/check`` returns)."""
    name = speaker.strip() if isinstance(speaker, str) else speaker
    return bot.check_quote(quote, name or None).to_json()


def quote_view(bot: TranscriptBot, quote: Any, speaker: Any = "") -> str:
    """The "Check a quote" tab's HTML: verdict, differences, the cited passage with its exchange."""
    result = quote_result(bot, quote, speaker)
    hits = [result["match"]] if result["match"] else result["closest"]
    neighbours = {str(h["rank"]): bot.neighbours(h["transcript"], h["turn"], before=NEIGHBOURS, after=NEIGHBOURS)
                  for h in hits}
    return T.check_html(result, neighbours)


def timeline_result(bot: TranscriptBot, topic: Any, by: Any, k: Any, filters: dict[str, Any]) -> dict[str, Any]:
    """The topic over time within the Ask tab's filters (speakers, dates, collections, transcripts)."""
    from .web import ask_options

    return bot.who_over_time(topic, by=by, k=k, pool=TIMELINE_POOL,
                             options=ask_options(bot, filters, (), infer=False))


def timeline_frame(result: dict[str, Any]):
    """The chart's data as a pandas DataFrame: period, speaker, passages."""
    import pandas as pd

    return pd.DataFrame(T.timeline_rows(result), columns=["period", "speaker", "passages"])


def picked_period(result: dict[str, Any] | None, value: Any) -> str | None:
    """The period a chart selection names: the plot sends the categories under the selection
    (a list) or one value; the first one with passages wins."""
    if not result:
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    have = {p["period"] for p in result["periods"] if p["total"]}
    for v in values:
        if str(v) in have:
            return str(v)
    return None


def link_request(bot: TranscriptBot, params: Mapping[str, Any] | Any) -> dict[str, Any] | None:
    """What a link asks: question, speakers (people of the index), since, until, k; None without
    ``q``. ``error`` says what is wrong with it (an unknown speaker, a bad k) for the page to show."""
    def values(key: str) -> list[str]:
        if hasattr(params, "getlist"):
            got = params.getlist(key)
        else:
            got = params.get(key)
            got = got if isinstance(got, list) else [got] if got is not None else []
        return [str(v) for v in got]

    question = " ".join(values("q")).strip()
    if not question:
        return None
    out: dict[str, Any] = {"question": question, "speakers": [], "since": (values("since") or [""])[0].strip(),
                           "until": (values("until") or [""])[0].strip(), "k": 5, "error": None}
    people = {label: p.key for p in bot.directory.people for label in p.labels}
    for raw in values("speaker"):
        for name in (n.strip() for n in raw.split(";")):
            if not name:
                continue
            keys = sorted({people[label] for label in bot.directory.labels_for(name) if label in people})
            if not keys:
                out["error"] = f"no speaker matches {name[:60]!r} in the index (from the link)"
            for key in keys:
                if key not in out["speakers"]:
                    out["speakers"].append(key)
    if values("k"):
        try:
            out["k"] = min(check_k(values("k")[0]), 20)  # the slider's range
        except BadQuery as exc:
            out["error"] = f"{exc} (from the link)"
    return out


# -- the Gradio parts --------------------------------------------------------------------------------


def add_tabs(bot: TranscriptBot, refused, filter_inputs: Sequence[Any]) -> None:
    """The "Check a quote" and "Over time" tabs (call inside ``gr.Tabs``). ``refused`` turns a
    BotError into the chat's `gr.Error`; ``filter_inputs`` are the Ask tab's filters (speakers,
    since, until, collections, transcripts, k), which the timeline uses as "who said it" does."""
    import gradio as gr

    from .web import make_filters, speaker_choices, transcript_titles
    from .web_render import filters_summary

    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Tab("Check a quote", id="check"):
        gr.Markdown(
            "Paste a sentence someone attributes to a speaker: the bot finds where it was said and says whether "
            "it is **exact** (word for word), **close** (the differences are marked), **said by someone else**, "
            "or **not found** in the transcripts. Case, punctuation and typographic quotes do not count."
        )
        quote = gr.Textbox(label="Quote", lines=3, max_lines=8, elem_id="tb-check-quote",
                           placeholder="e.g. Gazprom produced 418.5 billion cubic metres of gas last year.")
        with gr.Row(equal_height=True):
            speaker = gr.Dropdown(speaker_choices(bot), value=None,
                                  allow_custom_value=True, filterable=True, label="Attributed to (optional)",
                                  elem_id="tb-check-speaker", scale=3)
            check_btn = gr.Button("Check the quote", variant="primary", elem_id="tb-check-go", scale=0, min_width=160)
        check_out = gr.HTML("", js_on_load=None, elem_id="tb-check-out", min_height=60)

    with gr.Tab("Over time", id="timeline"):
        gr.Markdown(
            f"How many of the {TIMELINE_POOL} passages closest in meaning to a topic fall in each year or month, by "
            "speaker (the top speakers coloured, the rest as \"others\"). The Ask tab's filters apply here too."
        )
        with gr.Row(equal_height=True):
            tl_topic = gr.Textbox(show_label=False, placeholder="A topic, e.g. gas supplies to Europe",
                                  elem_id="tb-tl-topic", scale=4, container=False)
            tl_by = gr.Radio(["year", "month"], value="year", label="Per", elem_id="tb-tl-by", scale=1, min_width=140)
            tl_k = gr.Slider(1, 10, value=5, step=1, label="Speakers coloured", elem_id="tb-tl-k", scale=2,
                             min_width=160)
            tl_btn = gr.Button("Show", variant="primary", elem_id="tb-tl-go", scale=0, min_width=100)
        tl_note = gr.HTML("", js_on_load=None, elem_id="tb-tl-note")
        tl_plot = gr.BarPlot(None, x="period", y="passages", color="speaker", y_aggregate="sum", sort="x",
                             x_title="Period", y_title="Passages", color_title="Speaker", height=340,
                             elem_id="tb-tl-plot", show_label=False, x_label_angle=-45, visible=False)
        tl_period = gr.Dropdown([], value=None, label="Passages of", elem_id="tb-tl-period", interactive=True)
        tl_passages = gr.HTML("", js_on_load=None, elem_id="tb-tl-passages")
        tl_state = gr.State(None)

    def show_check(text, who):
        try:
            return quote_view(bot, text, who)
        except BotError as exc:
            raise refused(exc, "check a quote") from None

    def show_timeline(topic, by, k, speakers, since, until, collections, transcripts, _k):
        filters = make_filters(speakers, since, until, collections, transcripts, 5)
        try:
            result = timeline_result(bot, topic, by, k, filters)
        except BotError as exc:
            raise refused(exc, "over time") from None
        note = T.timeline_note(result, filters_summary(filters, transcript_titles(bot)))
        plot = gr.update(value=timeline_frame(result), visible=bool(result["periods"]),
                         color_map=T.colour_map(result["speakers"], result["others"]))
        choices = T.period_choices(result)
        return note, plot, gr.update(choices=choices, value=None), "", result

    def show_period(result, period):
        return T.period_html(result or {}, period) if period else ""

    def pick_bar(result, evt: gr.SelectData):
        period = picked_period(result, evt.value if evt.value is not None else evt.index)
        return gr.update(value=period) if period else gr.update()

    for trigger in (quote.submit, check_btn.click):
        trigger(show_check, [quote, speaker], check_out, show_progress="minimal", **private)
    for trigger in (tl_topic.submit, tl_btn.click):
        trigger(show_timeline, [tl_topic, tl_by, tl_k, *filter_inputs],
                [tl_note, tl_plot, tl_period, tl_passages, tl_state], show_progress="minimal", **private)
    tl_period.change(show_period, [tl_state, tl_period], tl_passages, show_progress="hidden", **private)
    tl_plot.select(pick_bar, [tl_state], tl_period, show_progress="hidden", **private)


def add_api(bot: TranscriptBot, refused) -> None:
    """The ``/check`` endpoint (call inside the Blocks, beside ``/ask`` and ``/who``)."""
    import gradio as gr

    def api_check(quote: str, speaker: str = "") -> dict:
        """Check a quote: exact, close (with word-level differences), said by someone else, or not found.

        speaker: the person the quote is attributed to ("" for nobody in particular).
        """
        try:
            return quote_result(bot, quote, speaker)
        except BotError as exc:
            raise refused(exc, "/check") from None

    gr.api(api_check, api_name="check")


def deep_link(demo, bot: TranscriptBot, start, finish, history, filters: Sequence[Any], start_outputs: Sequence[Any],
              finish_outputs: Sequence[Any]) -> None:
    """Ask the question of a ``/?q=...`` link when the page loads: the filters are set first (so the
    answer and the filter panel agree), then the chat's own ``start`` and ``finish`` run."""
    import gradio as gr

    speakers, since, until, k = filters[0], filters[1], filters[2], filters[5]
    private: dict[str, Any] = {"api_visibility": "private"}

    def from_link(past, request: gr.Request):
        asked = link_request(bot, getattr(request, "query_params", {}) or {})
        keep = (gr.update(),) * (len(start_outputs) + 4)
        if asked is None:
            return (*keep, None)
        shown = start(asked["question"], past)
        pending = {"error": asked["error"]} if asked["error"] else shown[2]
        return (*shown[:2], pending, *shown[3:], asked["speakers"], asked["since"], asked["until"], asked["k"],
                pending)

    def finish_link(pending, past, *values):
        if pending is None:
            return (gr.update(),) * len(finish_outputs)
        return finish(pending, past, *values)

    link_pending = gr.State(None)
    demo.load(from_link, [history], [*start_outputs, speakers, since, until, k, link_pending], queue=False,
              show_progress="hidden", **private).then(
        finish_link, [link_pending, history, *filters], list(finish_outputs), show_progress="hidden", **private)
