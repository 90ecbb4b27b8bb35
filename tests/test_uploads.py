"""Adding transcripts from outside (`bot.uploads`, `TranscriptBot.add_transcripts`): safe names, limits,
the same one-line problems as ``index --check``, no silent overwrite, metadata, removal, and the
background index update over a private copy of the small real index (real model, real FAISS)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.corpus import read_transcript, scan
from bot.errors import BadQuery, IndexBusy
from bot.settings import EDITOR, READER, Access, Login, NotAllowed
from bot.uploads import (UPLOADS, Incoming, JobStatus, UploadLimits, UploadMeta, remove_upload, sanitise_name,
                         save_uploads)

TALK = (
    "Harbour council meeting\n\nApril 2, 2022, Port Ellen\n\n"
    "Chair Ines Boyd: The harbour wall repairs will cost four hundred thousand pounds, paid over three years.\n\n"
    "Fisherman Tam Reid: Will the slipway stay open while the wall is repaired?\n\n"
    "Chair Ines Boyd: The slipway stays open; the work is done from barges on the seaward side.\n"
)
HARBOUR_Q = "Will the slipway stay open during the harbour wall repairs?"


def incoming(tmp_path: Path, name: str, data: bytes | str, meta: UploadMeta | None = None) -> Incoming:
    """A file as Gradio hands it over: its bytes stored server-side, the client's name beside them."""
    folder = tmp_path / "gradio-cache" / str(len(list((tmp_path).glob("gradio-cache/*"))))
    folder.mkdir(parents=True)
    path = folder / "payload"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Incoming(name, path, meta)


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("name, safe", [
    ("talk.txt", "talk.txt"),
    ("../../etc/cron.d/evil.txt", "evil.txt"),  # only the last component of any path counts
    ("C:\\Users\\me\\Desktop\\Notes.TXT", "Notes.txt"),
    (".hidden.md", "hidden.md"),  # never hidden (the scan would skip it)
    ("README.md", "upload-README.md"),  # never one of the names the corpus ignores
    ("manifest.jsonl", "upload-manifest.jsonl"),
    ("a b?*<script>.vtt", "a-b-script.vtt"),
    ("встреча 2020.srt", "встреча-2020.srt"),  # letters of any script stay
    ("x" * 300 + ".json", "x" * 115 + ".json"),
])
def test_sanitise_name(name, safe):
    assert sanitise_name(name) == safe


@pytest.mark.parametrize("name, message", [
    ("scan.pdf", "scan.pdf: unknown format (.pdf); supported: .htm, .html, .json"),
    ("notes", "notes: unknown format (no extension)"),
    ("...txt", "no usable file name"),
    ("", "a file without a name"),
])
def test_unusable_names_are_refused(name, message):
    with pytest.raises(BadQuery, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        sanitise_name(name)


def test_readable_files_are_saved_and_each_problem_is_one_line(tmp_path, corpus):
    results = save_uploads(corpus, [
        incoming(tmp_path, "harbour council.txt", TALK),
        incoming(tmp_path, "photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
        incoming(tmp_path, "blank.md", "   \n\n"),
        incoming(tmp_path, "slides.pptx", b"PK\x03\x04"),
        incoming(tmp_path, "essay.txt", "An essay with no speaker labels at all.\n\nJust paragraphs of prose.\n"),
    ], limits=UploadLimits())
    by_name = {r.name: r for r in results}
    ok = by_name["harbour council.txt"]
    assert ok.status == "added" and ok.rel == "uploads/harbour-council.txt"
    assert ok.message == "uploads/harbour-council.txt: saved (text, 3 turns, 2 speakers, “Harbour council meeting”)"
    assert (corpus / UPLOADS / "harbour-council.txt").read_text(encoding="utf-8") == TALK  # the bytes as sent
    assert by_name["photo.txt"].message == "uploads/photo.txt: binary file (contains NUL bytes); not added"
    assert by_name["blank.md"].message == "uploads/blank.md: empty file; not added"
    assert by_name["slides.pptx"].message.startswith("slides.pptx: unknown format (.pptx)")
    essay = by_name["essay.txt"]  # readable, so added, with the indexer's own warning beside it
    assert essay.status == "added"
    assert essay.warnings == ["uploads/essay.txt: no speaker labels found; indexed without speaker names"]
    assert all(r.status == "refused" for n, r in by_name.items() if n in ("photo.txt", "blank.md", "slides.pptx"))
    # Only the readable files are in the corpus, and nothing half-written is left behind.
    assert sorted(p.name for p in (corpus / UPLOADS).iterdir()) == ["essay.txt", "harbour-council.txt"]
    assert [f.rel for f in scan(corpus).files] == ["uploads/essay.txt", "uploads/harbour-council.txt"]


def test_size_and_count_limits(tmp_path, corpus):
    limits = UploadLimits(file_bytes=1000, request_bytes=3000, files=3)
    big = incoming(tmp_path, "long.txt", "Speaker: " + "word " * 400)
    (result,) = save_uploads(corpus, [big], limits=limits)
    assert result.status == "refused" and result.message == "uploads/long.txt: too large (2 KB, limit 1 KB per file)"
    with pytest.raises(BadQuery, match=r"this upload is too large \(4 KB, limit 3 KB per upload\); send fewer files"):
        save_uploads(corpus, [incoming(tmp_path, f"t{i}.txt", "A: " + "x" * 997) for i in range(4)],
                     limits=UploadLimits(file_bytes=1000, request_bytes=3000, files=10))
    with pytest.raises(BadQuery, match=r"too many files at once \(4, limit 3\)"):
        save_uploads(corpus, [incoming(tmp_path, f"s{i}.txt", "A: hi") for i in range(4)], limits=limits)
    with pytest.raises(BadQuery, match="no files to add"):
        save_uploads(corpus, [], limits=limits)
    assert not (corpus / UPLOADS).exists() or not any((corpus / UPLOADS).iterdir())  # nothing saved


def test_no_overwrite_without_saying_so(tmp_path, corpus):
    save_uploads(corpus, [incoming(tmp_path, "talk.txt", TALK)])
    (same,) = save_uploads(corpus, [incoming(tmp_path, "talk.txt", TALK)])
    assert same.status == "unchanged" and same.message == "uploads/talk.txt: already in the corpus, identical"
    other = TALK.replace("four hundred", "five hundred")
    (refused,) = save_uploads(corpus, [incoming(tmp_path, "talk.txt", other)])
    assert refused.status == "refused"
    assert "a different file of this name is already in the corpus; tick" in refused.message
    assert (corpus / UPLOADS / "talk.txt").read_text(encoding="utf-8") == TALK
    (replaced,) = save_uploads(corpus, [incoming(tmp_path, "talk.txt", other)], replace_existing=True)
    assert replaced.status == "replaced" and replaced.message.startswith("uploads/talk.txt: replaced (")
    assert (corpus / UPLOADS / "talk.txt").read_text(encoding="utf-8") == other
    # Two files of one upload that come out as the same safe name: the second is refused.
    first, second = save_uploads(corpus, [incoming(tmp_path, "a?.txt", TALK), incoming(tmp_path, "a*.txt", TALK)])
    assert first.rel == "uploads/a.txt" and second.status == "refused" and "same name" in second.message


def test_metadata_from_the_form_and_a_sidecar(tmp_path, corpus):
    sidecar = incoming(tmp_path, "harbour.json", json.dumps({"title": "Sidecar title", "place": "Islay",
                                                             "url": "https://example.org/harbour"}))
    form = UploadMeta(title="  Harbour   council, April  ", date="2022-04-02")
    results = save_uploads(corpus, [incoming(tmp_path, "harbour.txt", TALK, form), sidecar])
    assert [r.status for r in results] == ["added", "sidecar"]
    lines = (corpus / UPLOADS / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [{"file": "harbour.txt", "title": "Harbour council, April",
                                                     "date": "2022-04-02", "place": "Islay",
                                                     "url": "https://example.org/harbour"}]
    assert not (corpus / UPLOADS / "harbour.json").exists()  # a sidecar is metadata, not a transcript
    (item,) = scan(corpus).files
    parsed = read_transcript(item)
    assert (parsed.meta.title, parsed.meta.date, parsed.meta.place) == ("Harbour council, April", "2022-04-02", "Islay")
    for bad, message in [(UploadMeta(date="2022-02-30"), "uploads/x.txt: bad date"),
                         (UploadMeta(url="javascript:alert(1)"), "the url must start with http:// or https://"),
                         (UploadMeta(title="t" * 301), "title too long (301 characters, limit 300)")]:
        (r,) = save_uploads(corpus, [incoming(tmp_path, "x.txt", TALK, bad)])
        assert r.status == "refused" and message in r.message
    assert not (corpus / UPLOADS / "x.txt").exists()


def test_a_json_transcript_is_never_taken_for_a_sidecar(tmp_path, corpus):
    whisper = json.dumps({"segments": [{"speaker": "Ana", "text": "Hello and welcome.", "start": 0, "end": 2}]})
    assert save_uploads(corpus, [incoming(tmp_path, "talk.txt", TALK)])[0].status == "added"
    (r,) = save_uploads(corpus, [incoming(tmp_path, "talk.json", whisper)])
    assert r.status == "refused" and "uploads/talk.txt has the same name before the extension" in r.message
    assert [f.rel for f in scan(corpus).files] == ["uploads/talk.txt"]


def test_a_speaker_for_unlabelled_turns(tmp_path, corpus):
    lecture = "On tides\n\nMay 5, 2023\n\nThe moon pulls the sea.\n\nTwice a day the water rises.\n"
    (r,) = save_uploads(corpus, [incoming(tmp_path, "tides.txt", lecture, UploadMeta(speaker="Prof. Ada Lune"))])
    assert r.status == "added" and "1 speaker" in r.message and not r.warnings
    parsed = read_transcript(scan(corpus).files[0])
    assert {t.speaker for t in parsed.turns} == {"Prof. Ada Lune"}


def test_remove_takes_only_uploads(tmp_path, corpus):
    (corpus / "kremlin").mkdir()
    (corpus / "kremlin" / "keep.txt").write_text(TALK, encoding="utf-8")
    save_uploads(corpus, [incoming(tmp_path, "talk.txt", TALK, UploadMeta(title="A talk"))])
    for rel in ("kremlin/keep.txt", "uploads/../kremlin/keep.txt", "uploads/.hidden", "uploads/", "", None, 3):
        with pytest.raises(BadQuery):
            remove_upload(corpus, rel)
    with pytest.raises(BadQuery, match="uploads/nothing.txt: not in the corpus"):
        remove_upload(corpus, "uploads/nothing.txt")
    assert remove_upload(corpus, "uploads/talk.txt") == "uploads/talk.txt: removed from the corpus"
    assert not (corpus / UPLOADS / "talk.txt").exists() and not (corpus / UPLOADS / "manifest.jsonl").exists()
    assert (corpus / "kremlin" / "keep.txt").exists()


def test_an_uploads_folder_that_is_a_link_is_refused(tmp_path, corpus):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (corpus / UPLOADS).symlink_to(outside)
    from bot.errors import BotError

    with pytest.raises(BotError, match="is not a plain folder"):
        save_uploads(corpus, [incoming(tmp_path, "talk.txt", TALK)])
    assert not any(outside.iterdir())


def test_only_an_editor_may_add_or_remove(tmp_path, small_bot):
    from bot import web_corpus

    access = Access((Login("ed", "1", EDITOR), Login("rd", "2", READER)), anonymous=None)
    item = incoming(tmp_path, "talk.txt", TALK)
    for user in ("rd", None, "stranger"):
        with pytest.raises(NotAllowed, match="only an editor may add transcripts"):
            web_corpus.add_files(small_bot, access, user, [item.path])
        with pytest.raises(NotAllowed, match="only an editor may remove transcripts"):
            web_corpus.remove_file(small_bot, access, user, "uploads/talk.txt")
    assert not (small_bot.settings.corpus / UPLOADS).exists()


def test_only_files_in_the_upload_folder_are_read(tmp_path, small_bot):
    """Behind Gradio's own check, the handler refuses a path outside Gradio's upload folder."""
    from bot import web_corpus

    secret = tmp_path / "etc" / "passwd.txt"
    secret.parent.mkdir()
    secret.write_text("root: x\n", encoding="utf-8")
    folder = tmp_path / "gradio-uploads"
    folder.mkdir()
    for path in (secret, folder / ".." / "etc" / "passwd.txt"):
        with pytest.raises(BadQuery, match="passwd.txt: not a file uploaded to this server; refused"):
            web_corpus.add_files(small_bot, Access(), None, [str(path)], upload_folder=folder)
    assert not (small_bot.settings.corpus / UPLOADS).exists()


def test_status_html_escapes_names_and_shows_progress():
    from bot.web_corpus import status_html

    shown = [{"name": "<img src=x onerror=alert(1)>.txt", "status": "refused", "message": "x: <b>bad</b>",
              "rel": None}]
    html = status_html(shown, JobStatus(state="running", stage="embedding passages", done=16, total=40,
                                        fraction=0.4))
    assert "<img" not in html and "&lt;img" in html and "<b>bad" not in html
    assert '<progress max="100" value="40"' in html and "embedding passages 16/40 (40%)" in html


@pytest.fixture
def desk_bot(tmp_path, small_corpus, index_copy, embedder):
    """A bot over private copies of the small corpus and index (uploads change both)."""
    from bot.core import TranscriptBot
    from bot.settings import MINILM, Settings

    corpus = tmp_path / "desk-corpus"
    shutil.copytree(small_corpus, corpus)
    return TranscriptBot(Settings(corpus, index_copy, MINILM), embedder=embedder)


def test_added_transcripts_are_indexed_in_the_background_and_answered(tmp_path, desk_bot):
    from bot import web_corpus

    bot = desk_bot
    before, kept = bot.data.generation, dict(bot.data.manifest["transcripts"])
    # As the Corpus tab sends them: Gradio's stored copies (named as the client named them) and
    # the details table, one row per file.
    cache = tmp_path / "gradio" / "0f3a"
    cache.mkdir(parents=True)
    (cache / "harbour.txt").write_text(TALK, encoding="utf-8")
    (cache / "junk.txt").write_bytes(b"\x00" * 500)
    rows = [["harbour.txt", "Harbour council (April)", "2022-04-02", "Port Ellen", "https://example.org/harbour", ""],
            ["junk.txt", "", "", "", "", ""]]
    results = web_corpus.add_files(bot, Access(), None, [str(cache / "harbour.txt"), str(cache / "junk.txt")], rows)
    assert [r.status for r in results] == ["added", "refused"]
    status = bot.indexing_job().wait(timeout=300)
    assert status.state == "done" and status.files == ["uploads/harbour.txt"], status
    assert status.message.startswith("1 added, 0 changed, 0 removed, 9 unchanged transcripts")
    assert status.fraction == 1.0 and status.generation == before + 1
    assert bot.data.generation == before + 1  # the bot loaded the new generation itself
    manifest = bot.data.manifest["transcripts"]
    assert {rel: manifest[rel] for rel in kept} == kept  # nothing already indexed is lost or changed
    top = bot.ask(HARBOUR_Q).to_json()["hits"][0]
    assert top["transcript"] == "uploads/harbour.txt" and top["speaker"] == "Chair Ines Boyd"
    assert (top["title"], top["date"], top["place"], top["url"]) == (
        "Harbour council (April)", "2022-04-02", "Port Ellen", "https://example.org/harbour")
    assert "The slipway stays open" in top["text"] and top["text"] in TALK  # verbatim
    # Removal: out of the corpus, then out of the index; the rest stays.
    assert bot.remove_transcript("uploads/harbour.txt") == "uploads/harbour.txt: removed from the corpus"
    status = bot.indexing_job().wait(timeout=300)
    assert status.state == "done" and "1 removed" in status.message
    assert bot.data.manifest["transcripts"] == kept
    assert all(h["transcript"] != "uploads/harbour.txt" for h in bot.ask(HARBOUR_Q).to_json()["hits"])


def test_uploads_are_refused_while_another_index_run_holds_the_lock(tmp_path, desk_bot):
    from bot import store

    bot = desk_bot
    with store.locked(bot.settings.index):  # what a running `transcript-bot index` holds
        with pytest.raises(IndexBusy, match="being updated by another transcript-bot index run; nothing was "
                                            "changed: try again when it has finished"):
            bot.add_transcripts([incoming(tmp_path, "harbour.txt", TALK)])
        with pytest.raises(IndexBusy):
            bot.remove_transcript("uploads/harbour.txt")
    assert not (bot.settings.corpus / UPLOADS).exists()  # nothing was saved
    assert bot.indexing_job().status().state == "idle"
    # Once the other run has finished, the same upload goes through.
    assert [r.status for r in bot.add_transcripts([incoming(tmp_path, "harbour.txt", TALK)])] == ["added"]
    assert bot.indexing_job().wait(timeout=300).state == "done"


class GatedEmbedder:
    """The real encoder, except that embedding documents waits until the test opens the gate, so a
    background update can be held in mid-embedding (questions pass straight through)."""

    def __init__(self, inner):
        import threading

        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.gate, self.waiting = threading.Event(), threading.Event()

    def embed_documents(self, texts, progress=None):
        self.waiting.set()
        assert self.gate.wait(timeout=300), "the test never opened the gate"
        return self.inner.embed_documents(texts, progress=progress)

    def embed_query(self, text):
        return self.inner.embed_query(text)


def test_the_chat_answers_from_the_loaded_index_while_an_upload_is_indexed(tmp_path, small_corpus, index_copy,
                                                                           embedder):
    from bot.core import TranscriptBot
    from bot.settings import MINILM, Settings

    corpus = tmp_path / "desk-corpus"
    shutil.copytree(small_corpus, corpus)
    gated = GatedEmbedder(embedder)
    bot = TranscriptBot(Settings(corpus, index_copy, MINILM), embedder=gated)
    before = bot.data.generation
    bot.add_transcripts([incoming(tmp_path, "harbour.txt", TALK)])
    assert gated.waiting.wait(timeout=300)  # the update is embedding the new passages now
    status = bot.indexing_job().status()
    assert status.running and status.stage == "embedding passages" and status.total == 3 and status.done == 0
    # Meanwhile questions are answered, from the generation that was loaded.
    during = bot.ask(HARBOUR_Q).to_json()
    assert during["index_generation"] == before and during["hits"]
    assert all(h["transcript"] != "uploads/harbour.txt" for h in during["hits"])
    gated.gate.set()
    status = bot.indexing_job().wait(timeout=300)
    assert status.state == "done" and status.generation == before + 1
    after = bot.ask(HARBOUR_Q).to_json()
    assert after["index_generation"] == before + 1 and after["hits"][0]["transcript"] == "uploads/harbour.txt"
