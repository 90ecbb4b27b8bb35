"""Adding and removing transcripts from the browser, behind Gradio's login, with reader and editor roles.

One real Gradio server per module, with two logins (an editor and a reader), over a private
copy of the small real corpus and its index (the real model); driven through plain HTTP,
`gradio_client` and Debian's Chromium (playwright). The uploaded transcript is a short
realistic one with speaker labels that no other transcript resembles, so a question about it
is answered from it only once its generation is loaded.
"""

from __future__ import annotations

import http.cookiejar
import json
import shutil
import urllib.parse
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import CHROMIUM, free_port, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EDITOR, READER = ("ed", "ed-pass:with-colon"), ("rd", "rd-pass")
DOLPHINS = (
    "Lecture on river dolphins\n\nMarch 3, 2021, Manaus\n\n"
    "Dr Mira Okafor: River dolphins in the Amazon are nearly blind. They find fish by echolocation in muddy "
    "water, clicking and listening for the echo from the flooded forest.\n\n"
    "Student: How many river dolphins are left in the Amazon?\n\n"
    "Dr Mira Okafor: Perhaps a few tens of thousands. Dams are cutting their rivers into pieces, and fishermen "
    "use them as bait for catfish, which is the worst of it.\n"
)
DOLPHIN_Q = "How do river dolphins find fish in muddy water?"

require_chromium()


@pytest.fixture(scope="module")
def served(tmp_path_factory, small_corpus, small_index, embedder):
    """The bot and the url of a server with an editor and a reader login, over a private corpus+index copy."""
    from bot.core import TranscriptBot
    from bot.settings import MINILM, Settings, resolve_access
    from bot.web import build_demo, launch

    root = tmp_path_factory.mktemp("desk")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(small_corpus, corpus)
    shutil.copytree(small_index, index)
    bot = TranscriptBot(Settings(corpus, index, MINILM), embedder=embedder)
    access = resolve_access("127.0.0.1", [f"{EDITOR[0]}:{EDITOR[1]}:editor", f"{READER[0]}:{READER[1]}"])
    demo = build_demo(bot, access=access)
    port = free_port()
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True, access=access)
    try:
        yield bot, f"http://127.0.0.1:{port}/", root
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """A real transcript and a binary file pretending to be one (a PNG header and NUL bytes)."""
    dolphins = tmp_path / "river dolphins.txt"
    dolphins.write_text(DOLPHINS, encoding="utf-8")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    return {"dolphins": dolphins, "binary": binary}


def signed_in(browser, url: str, login: tuple[str, str]):
    """A fresh page, signed in through Gradio's login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator("input[type=text], input[name=username]").first.fill(login[0])
    page.locator("input[type=password]").first.fill(login[1])
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#tb-question textarea, #tb-question input")
    return page


def ask_in_page(page, question: str):
    box = page.locator("#tb-question textarea, #tb-question input").first
    done = page.locator("#tb-conversation .tb-turn:not(.tb-pending)").count()
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#tb-conversation .tb-turn:not(.tb-pending)').length > {done}"
        " && !document.querySelector('#tb-conversation .tb-pending')"
    )
    return page.locator(f"#tb-t{done}")


def http_status(url: str, data: bytes | None = None, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_without_credentials_the_page_the_api_and_uploads_are_refused(served, browser, files):
    bot, url, root = served
    assert http_status(url + "config") == 401  # the app itself (what the page loads) needs a login
    assert http_status(url + "gradio_api/info") == 401
    boundary = "tbboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n{DOLPHINS}\r\n--{boundary}--\r\n").encode()
    assert http_status(url + "gradio_api/upload", body,
                       {"Content-Type": f"multipart/form-data; boundary={boundary}"}) == 401
    from gradio_client import Client

    with pytest.raises(Exception, match="credentials|login|401"):
        Client(url, verbose=False)  # /ask is not reachable without signing in
    with pytest.raises(Exception, match="credentials|login|401|[Ii]ncorrect"):
        Client(url, auth=(READER[0], "wrong password"), verbose=False)
    # In a browser: the login form, and nothing of the chat.
    page = browser.new_context().new_page()
    page.goto(url)
    page.wait_for_selector("input[type=password]")
    assert page.locator("#tb-question").count() == 0
    page.context.close()
    assert not (root / "corpus" / "uploads").exists()


def test_a_reader_may_ask_but_not_upload_or_remove(served, browser, files):
    from gradio_client import Client, handle_file

    bot, url, root = served
    reader = Client(url, auth=READER, verbose=False)
    got = reader.predict("What did Kim Jong-il say about the railway?", 3, "", "", "", "", api_name="/ask")
    assert got["hits"] and got["hits"][0]["citation"].startswith("[1] ")
    # The server refuses the upload itself, whatever the page shows.
    with pytest.raises(Exception, match="only an editor may add transcripts; user 'rd' has the role reader"):
        reader.predict([handle_file(str(files["dolphins"]))], {"headers": [], "data": []}, False, api_name="/upload")
    with pytest.raises(Exception, match="only an editor may remove transcripts"):
        reader.predict("uploads/river-dolphins.txt", api_name="/remove")
    assert not (root / "corpus" / "uploads").exists()
    # And the page shows a reader no upload controls, only what the role allows.
    page = signed_in(browser, url, READER)
    page.get_by_role("tab", name="Corpus").click()
    page.wait_for_selector("#tb-reader-note", state="visible")
    assert not page.locator("#tb-upload").is_visible()
    page.context.close()


def test_an_editor_uploads_watches_it_index_asks_about_it_and_removes_it(served, browser, files):
    bot, url, root = served
    before = bot.data.generation
    kept = set(bot.data.manifest["transcripts"])
    page = signed_in(browser, url, EDITOR)
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#tb-upload input[type=file]").set_input_files([str(files["dolphins"]), str(files["binary"])])
    page.wait_for_function("document.querySelector('#tb-upload-details').innerText.includes('photo.txt')")
    page.evaluate("""() => { window.__states = [];
        new MutationObserver(() => { const p = document.querySelector('#tb-index-progress');
          const last = window.__states[window.__states.length - 1];
          if (p && last !== p.dataset.state) window.__states.push(p.dataset.state); })
          .observe(document.body, {subtree: true, childList: true, attributes: true}); }""")
    page.locator("#tb-upload-go").click()
    # Each file gets its one-line outcome; the binary one says why it was not added.
    page.wait_for_selector("#tb-upload-files li[data-name='photo.txt']")
    problem = page.locator("#tb-upload-files li[data-name='photo.txt']")
    assert problem.get_attribute("data-status") == "refused"
    assert "uploads/photo.txt: binary file (contains NUL bytes); not added" in problem.inner_text()
    ok = page.locator("#tb-upload-files li[data-name='river dolphins.txt']")
    assert "uploads/river-dolphins.txt: saved (text, 3 turns, 2 speakers" in ok.inner_text()
    # The progress bar is in the page while the background update runs, then says it is done.
    page.wait_for_function("window.__states.includes('done')", timeout=120_000)
    assert page.evaluate("window.__states") == ["running", "done"]
    assert "Indexed: 1 added" in page.locator("#tb-index-progress").inner_text()
    assert ok.get_attribute("data-status") == "added" and ok.locator(".tb-up-state").text_content() == "indexed"
    assert (root / "corpus" / "uploads" / "river-dolphins.txt").read_text(encoding="utf-8") == DOLPHINS
    assert not (root / "corpus" / "uploads" / "photo.txt").exists()
    # Nothing that was indexed is lost, and the new generation is the one answering.
    assert bot.data.generation > before and kept < set(bot.data.manifest["transcripts"])
    page.get_by_role("tab", name="Ask").click()
    # The Ask tab's transcript filter offers the new transcript without a reload.
    page.locator("#tb-filters").get_by_text("Filters").first.click()
    page.locator("#tb-transcripts input").first.click()
    page.locator("#tb-transcripts input").first.fill("river dolphins")
    from playwright.sync_api import expect

    expect(page.locator('[role=option][aria-label*="Lecture on river dolphins"]')).to_have_count(1)
    page.keyboard.press("Escape")
    turn = ask_in_page(page, DOLPHIN_Q)
    first = turn.locator(".tb-card").first
    assert first.locator(".tb-speaker").inner_text() == "Dr Mira Okafor"
    assert "echolocation in muddy water" in first.inner_text()
    assert "uploads/river-dolphins.txt" in bot.ask(DOLPHIN_Q).to_json()["hits"][0]["transcript"]
    # Remove it from the same tab: it leaves the corpus and then the index.
    page.get_by_role("tab", name="Corpus").click()
    choice = page.locator("#tb-remove input").first
    choice.click()
    page.locator('[role=option][aria-label="uploads/river-dolphins.txt"]').click()
    page.locator("#tb-remove-go").click()
    page.wait_for_function("document.querySelector('#tb-upload-files li[data-status=removed]') !== null")
    page.wait_for_function(
        "document.querySelector('#tb-index-progress') &&"
        " document.querySelector('#tb-index-progress').dataset.state === 'done'", timeout=120_000)
    assert "1 removed" in page.locator("#tb-index-progress").inner_text()
    assert not (root / "corpus" / "uploads" / "river-dolphins.txt").exists()
    assert set(bot.data.manifest["transcripts"]) == kept
    assert all(h["transcript"] != "uploads/river-dolphins.txt" for h in bot.ask(DOLPHIN_Q).to_json()["hits"])
    page.context.close()


def test_a_path_on_the_server_is_never_read_as_an_upload(served, tmp_path):
    """An editor's raw API call naming a server file (not one it uploaded) is refused, by Gradio and by
    us, and nothing enters the corpus; the file name in a real upload is reduced to a safe one."""
    bot, url, root = served
    secret = tmp_path / "server-secret.txt"
    secret.write_text("Admin: the server's own file, never to be indexed.\n", encoding="utf-8")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({"username": EDITOR[0], "password": EDITOR[1]}).encode()
    assert opener.open(url + "login", form, timeout=30).status == 200

    def call(name: str, data: list) -> str:
        request = urllib.request.Request(url + f"gradio_api/call/{name}", json.dumps({"data": data}).encode(),
                                         {"Content-Type": "application/json"})
        event = json.loads(opener.open(request, timeout=30).read())["event_id"]
        return opener.open(url + f"gradio_api/call/{name}/{event}", timeout=120).read().decode()

    file_data = {"path": str(secret), "orig_name": "secret.txt", "meta": {"_type": "gradio.FileData"}}
    stream = call("upload", [[file_data], {"headers": [], "data": []}, False])
    assert "event: error" in stream and "was not uploaded by a user" in stream and "event: complete" not in stream
    assert not (root / "corpus" / "uploads" / "secret.txt").exists()
    assert not (root / "corpus" / "uploads" / "server-secret.txt").exists()
