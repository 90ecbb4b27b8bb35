"""The Corpus tab's controls for adding and removing transcripts (the web front end of `bot.uploads`).

Thin, as every front end: the handlers check the caller's role (`settings.Access`, from the
login Gradio verified: ``gr.Request.username``), turn the form into `uploads.Incoming` items,
call the core (`TranscriptBot.add_transcripts`, `remove_transcript`, `indexing_job`) and
render what it returns. The role is checked in every handler, so an API call is refused
the same way as a click; hiding the controls from readers is only a courtesy. The progress
of the background index update is polled by a `gr.Timer` while it runs, so the chat goes on
answering (its events do not wait for this tab's).
"""

# No `from __future__ import annotations`: Gradio finds the `gr.Request` parameter by its evaluated annotation.
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from . import web_render as R
from .errors import BadQuery, BotError
from .settings import Access
from .uploads import UPLOADS, FileResult, Incoming, JobStatus, UploadMeta, uploaded

DETAIL_HEADERS = ["file", "title", "date (YYYY-MM-DD)", "place", "url", "speaker of unlabelled turns"]
POLL_SECONDS = 1.0


# -- the handlers, as plain Python ----------------------------------------------------------------


def detail_rows(paths: Sequence[Any] | None) -> list[list[str]]:
    """One empty details row per chosen file (name first), for the uploader to fill in or not."""
    return [[Path(str(p)).name, "", "", "", "", ""] for p in (paths or [])]


def add_files(bot, access: Access, user: str | None, paths: Sequence[Any] | None, rows: Any = None,
              replace_existing: bool = False, upload_folder: Path | None = None) -> list[FileResult]:
    """Save the uploaded files (Gradio's own copies of them) and start indexing; one result per file.

    ``rows`` are the details table's rows (file, title, date, place, url, speaker), matched to
    the files by name. With ``upload_folder`` (Gradio's), a path outside it is refused, as
    Gradio itself refuses one: only what a client uploaded is read. NotAllowed unless ``user``
    is an editor; BadQuery/IndexBusy for the request as a whole.
    """
    access.require_editor(user, "add transcripts")
    if upload_folder is not None:
        top = Path(upload_folder).resolve()
        for p in paths or []:
            if top not in Path(str(p)).resolve().parents:
                raise BadQuery(f"{Path(str(p)).name}: not a file uploaded to this server; refused")
    details = {}
    for row in _rows(rows):
        cells = [("" if c is None else str(c)) for c in list(row)[:6]] + [""] * 6
        if cells[0].strip():
            details[cells[0].strip()] = UploadMeta(*[c or None for c in cells[1:6]])
    items = [Incoming(Path(str(p)).name, Path(str(p)), details.get(Path(str(p)).name)) for p in (paths or [])]
    return bot.add_transcripts(items, replace_existing=bool(replace_existing))


def remove_file(bot, access: Access, user: str | None, rel: Any) -> str:
    """Remove an uploaded transcript from the corpus and start the index update; a one-line message."""
    access.require_editor(user, "remove transcripts")
    return bot.remove_transcript(rel)


def index_now(bot, access: Access, user: str | None) -> JobStatus:
    """Start an index update by hand (after one was refused because another run held the lock)."""
    access.require_editor(user, "start an index update")
    job = bot.indexing_job()
    job.check_free()
    return job.start()


def removable(bot) -> list[str]:
    """The uploaded transcripts of the loaded index (what the remove menu offers)."""
    return uploaded(bot.data.manifest.get("transcripts", {}))


def status_html(results: Sequence[dict[str, Any]], job: JobStatus) -> str:
    """Each file of the last upload with its one-line outcome, then the index update's progress."""
    items = []
    problems = job.problems if job.state != "running" else []
    for r in results:
        status, rel = r.get("status"), r.get("rel")
        extra = [w for w in r.get("warnings") or []]
        if rel and job.state == "done" and r.get("status") in ("added", "replaced") and rel in job.files:
            extra += [p for p in problems if p.startswith(f"{rel}:") and p not in extra]
            status_word = "indexed"
        else:
            status_word = {"added": "saved", "replaced": "saved", "unchanged": "unchanged", "sidecar": "sidecar",
                           "removed": "removed"}.get(status, "not added")
        kind = "problem" if status == "refused" else "ok"
        notes = "".join(f'<div class="tb-up-note">{R.esc(w)}</div>' for w in extra)
        items.append(
            f'<li class="tb-up tb-up-{kind}" data-status="{R.esc(status or "")}"'
            f' data-name="{R.esc(r.get("name", ""))}">'
            f'<b>{R.esc(r.get("name", ""))}</b> <span class="tb-up-state">{R.esc(status_word)}</span>'
            f'<div class="tb-up-msg">{R.esc(r.get("message", ""))}</div>{notes}</li>'
        )
    files = f'<ul class="tb-up-list" id="tb-upload-files">{"".join(items)}</ul>' if items else ""
    return files + progress_html(job)


def progress_html(job: JobStatus) -> str:
    """The background index update as a progress bar (running), or its one-line outcome."""
    if job.state == "idle":
        return ""
    if job.running:
        count = f" {job.done:,}/{job.total:,}" if job.total else ""
        pct = round(100 * job.fraction)
        return (
            f'<div id="tb-index-progress" class="tb-index-progress" data-state="running">'
            f'<progress max="100" value="{pct}" aria-label="indexing">{pct}%</progress> '
            f'<span class="tb-index-stage">Indexing: {R.esc(job.stage)}{count} ({pct}%). '
            "The chat keeps answering from the current index meanwhile.</span></div>"
        )
    gen = f" Index generation {job.generation} is loaded." if job.state == "done" and job.generation else ""
    role = "status" if job.state == "done" else "alert"
    return (f'<div id="tb-index-progress" class="tb-index-progress" data-state="{job.state}" role="{role}">'
            f'<progress max="100" value="{100 if job.state == "done" else 0}"></progress> '
            f'<span class="tb-index-stage">{"Indexed" if job.state == "done" else "Not indexed"}: '
            f"{R.esc(job.message)}.{gen}</span></div>")


def _rows(rows: Any) -> list[Any]:
    """The details table's value as a list of rows (Gradio sends a list, a dict or a DataFrame)."""
    if rows is None:
        return []
    if isinstance(rows, dict):
        return list(rows.get("data") or [])
    if hasattr(rows, "values") and hasattr(rows, "columns"):  # a pandas DataFrame
        return rows.values.tolist()
    return list(rows) if isinstance(rows, (list, tuple)) else []


# -- the Gradio layout and events ------------------------------------------------------------------


def gr_upload_folder() -> Path:
    """Where Gradio keeps what clients upload (GRADIO_TEMP_DIR, else its temporary folder)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


CSS = R.static_text("corpus.css")  # bot/static/corpus.css


def build_corpus_controls(bot, access: Access, refresh_panel: Callable[[], str]) -> Callable[[Any, Any], None]:
    """Add the upload and remove controls to the Corpus tab being built.

    Call inside ``with gr.Tab("Corpus"):`` of `bot.web.build_demo`, where they should appear;
    it returns what to call once the Blocks are complete, with the Blocks and the tab's corpus
    panel (which ``refresh_panel`` renders again after an update is loaded): that wires the
    events, and shows each visitor the controls of their role when the page loads.
    """
    import gradio as gr

    def say(exc: BotError, where: str):
        print(f"transcript-bot serve: {where} refused: {exc}", file=sys.stderr, flush=True)
        return gr.Error(str(exc), print_exception=False)

    gr.HTML("", head=f"<style>{CSS}</style>", js_on_load=None, padding=False, elem_id="tb-editor-css")
    with gr.Group(visible=False, elem_id="tb-editor") as editor_box:
        gr.Markdown(
            f"**Add transcripts** ({', '.join(('txt', 'md', 'vtt', 'srt', 'json', 'jsonl', 'html'))}): drop files "
            f"here; they are saved under `{UPLOADS}/` in the corpus and indexed in the background. Details are "
            "optional (a same-name `.json` sidecar works too)."
        )
        up_files = gr.File(file_count="multiple", type="filepath", label="Transcripts to add",
                           elem_id="tb-upload")
        up_details = gr.Dataframe(headers=DETAIL_HEADERS, value=[], type="array", interactive=True,
                                  label="Details per file (optional)", elem_id="tb-upload-details",
                                  column_count=len(DETAIL_HEADERS))
        with gr.Row():
            up_replace = gr.Checkbox(label="Replace files of the same name", value=False, elem_id="tb-upload-replace")
            up_btn = gr.Button("Add to corpus", variant="primary", elem_id="tb-upload-go", scale=0, min_width=160)
            index_btn = gr.Button("Index now", variant="secondary", size="sm", elem_id="tb-index-now", scale=0,
                                  min_width=120)
        up_status = gr.HTML("", elem_id="tb-upload-status")
        with gr.Row(equal_height=False):
            # Custom values pass Gradio's own check: the core decides what may be removed.
            rm_choice = gr.Dropdown(removable(bot), label="Remove an added transcript", elem_id="tb-remove",
                                    allow_custom_value=True, scale=3, min_width=240)
            rm_btn = gr.Button("Remove", variant="stop", elem_id="tb-remove-go", scale=0, min_width=120)
    reader_note = gr.Markdown("You can ask questions here; adding or removing transcripts needs the editor role.",
                              visible=False, elem_id="tb-reader-note")
    batch = gr.State([])
    timer = gr.Timer(POLL_SECONDS, active=False)
    own = {"concurrency_id": "corpus-tab", "concurrency_limit": 2}  # never waits behind the chat's questions

    def show_role(request: gr.Request):
        """On page load: the controls of the visitor's role, and an update already running."""
        can = access.can_edit(getattr(request, "username", None))
        job = bot.indexing_job().status()
        running = can and job.running
        return (gr.update(visible=can), gr.update(visible=not can),
                status_html([], job) if running else gr.update(), gr.Timer(active=running))

    def on_add(paths, rows, replace_existing, request: gr.Request):
        try:
            results = add_files(bot, access, getattr(request, "username", None), paths, rows, replace_existing,
                                upload_folder=gr_upload_folder())
        except BotError as exc:
            raise say(exc, "upload") from None
        shown = [r.to_json() for r in results]
        job = bot.indexing_job().status()
        return status_html(shown, job), shown, gr.Timer(active=job.running), None, []

    def on_remove(rel, request: gr.Request):
        try:
            message = remove_file(bot, access, getattr(request, "username", None), rel)
        except BotError as exc:
            raise say(exc, "remove") from None
        shown = [{"name": rel, "status": "removed", "message": message, "rel": rel}]
        job = bot.indexing_job().status()
        return status_html(shown, job), shown, gr.Timer(active=job.running)

    def on_index(shown, request: gr.Request):
        try:
            job = index_now(bot, access, getattr(request, "username", None))
        except BotError as exc:
            raise say(exc, "index") from None
        return status_html(shown or [], job), gr.Timer(active=job.running)

    refreshed: tuple[list[Any], Callable[[], Sequence[Any]] | None] = ([], None)

    def on_tick(shown):
        job = bot.indexing_job().status()
        html = status_html(shown or [], job)
        menus, choices = refreshed
        if job.running:
            return html, gr.Timer(active=True), gr.update(), gr.update(), *[gr.update() for _ in menus]
        return (html, gr.Timer(active=False), refresh_panel(), gr.update(choices=removable(bot), value=None),
                *(choices() if choices else []))

    def wire(demo, corpus_out, filters: Sequence[Any] = (), filter_choices: Callable[[], Sequence[Any]] | None = None):
        """Wire the events; ``filters`` (the Ask tab's menus) get ``filter_choices()`` once an update is loaded."""
        nonlocal refreshed
        refreshed = (list(filters), filter_choices)
        up_files.change(detail_rows, up_files, up_details, queue=False, show_progress="hidden",
                        api_visibility="private")
        up_btn.click(on_add, [up_files, up_details, up_replace], [up_status, batch, timer, up_files, up_details],
                     api_name="upload", api_visibility="undocumented", **own)
        rm_btn.click(on_remove, rm_choice, [up_status, batch, timer], api_name="remove", api_visibility="undocumented",
                     **own)
        index_btn.click(on_index, batch, [up_status, timer], api_visibility="private", **own)
        timer.tick(on_tick, batch, [up_status, timer, corpus_out, rm_choice, *refreshed[0]], show_progress="hidden",
                   api_visibility="private", **own)
        demo.load(show_role, None, [editor_box, reader_note, up_status, timer], queue=False, show_progress="hidden",
                  api_visibility="private")

    return wire
