"""Saved HTML pages: en.kremlin.ru transcripts and generic article pages.

A saved page is mostly not the transcript: menus, search forms, photo sliders, share
buttons, tag lists and footers surround one article. This parser finds the article body
(en.kremlin.ru: the ``itemprop=articleBody`` / ``.entry-content`` block plus the lead above
it; elsewhere ``<article>``, ``<main>`` or the element holding the most paragraph text),
drops the page furniture, and lays the text out as the plain-text transcript layout: one
paragraph per block element, paragraphs separated by a blank line, a bold label staying in
front of its text ("Vladimir Putin: Good afternoon."). That layout goes to
`plaintext.parse`, so speaker labels and continuation paragraphs are read exactly as in
.txt transcripts, and every turn's text is an exact substring of the extracted layout.

Title, date, place and url come from the page itself: ``<h1>`` (else og:title or
``<title>``), ``<time datetime>`` (else article:published_time or a date line at the top of
the body), en.kremlin.ru's ``.read__place``, and ``<link rel=canonical>`` (else og:url).
"""

from __future__ import annotations

import re
from typing import Iterator

# bs4's classes, imported by the first `parse` (`_need_bs4`): importing bs4 costs ~0.1 s, which
# every command would pay at start-up (the format table is built on import) for pages it may
# never read.
BeautifulSoup = CData = NavigableString = Tag = None


def _need_bs4() -> None:
    global BeautifulSoup, CData, NavigableString, Tag
    if BeautifulSoup is None:
        from bs4 import BeautifulSoup, CData, NavigableString, Tag  # noqa: F811


from ..dates import parse_date_line
from ..records import ParsedTranscript
from . import Format, plaintext
from .webvtt import to_iso_date

# Elements that never hold transcript text.
DROP_TAGS = {
    "script", "style", "noscript", "template", "head", "svg", "iframe", "video", "audio",
    "picture", "img", "object", "embed", "canvas", "map", "select", "input", "textarea",
    "button",
}
# Page structure that is furniture on most pages; dropped unless it holds most of the text
# (some sites put the whole page in one <form> or the transcript in a <figure>).
FURNITURE_TAGS = {"nav", "header", "footer", "aside", "figure", "menu", "dialog"}
# Class or id words of page furniture: photo/video blocks, sharing, tags, related links,
# menus. en.kremlin.ru marks everything that is not article text "masha-ignore" (the text
# selection widget skips it) and keeps tags and publication details in "read__bottommeta".
NOISE = re.compile(
    r"(?:^|[\s_-])(?:masha-ignore|read__bottommeta|read__cut|slider|gallery|photos?|videos?|"
    r"carousel|share|sharing|social|tags|taglist|breadcrumbs?|menu|nav|navbar|sidebar|"
    r"related|banner|advert|ads|promo|cookies?|subscribe|comments?|print_link|footer|header)"
    r"(?:$|[\s_-])",
    re.IGNORECASE,
)
# Where the article text is, most specific first.
BODY_SELECTORS = ("[itemprop=articleBody]", ".entry-content", ".read__content", "article", "main", "[role=main]")
LEAD_SELECTORS = (".read__lead", ".entry-summary", "[itemprop=description]")
BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
    "li", "dl", "dt", "dd", "blockquote", "pre", "table", "thead", "tbody", "tfoot", "tr", "td",
    "th", "caption", "hr", "address", "details", "summary", "fieldset", "center", "header",
    "footer", "figure", "figcaption", "body", "html", "form", "nav", "aside", "menu", "dialog",
}
HTML_SPACE = re.compile(r"[ \t\n\r\f]+")  # not U+00A0: a non-breaking space is text
SIGNATURE = re.compile(r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html)", re.I | re.S)
TITLE_SUFFIX = re.compile(r"\s+[•|]\s+[^•|]+$")  # "Meeting with X • President of Russia"


def parse(text: str) -> ParsedTranscript:
    """Parse a saved HTML page into metadata and turns (via the plain-text layout)."""
    _need_bs4()
    soup = BeautifulSoup(text, "html.parser")
    title, title_tag = _title(soup)
    date = _date(soup)
    place = _text_of(soup.select_one(".read__place, .p-location"))
    url = _url(soup)

    body = _body(soup)
    lead = _lead(soup, body)
    if title_tag is not None and body is not None and _inside(title_tag, body):
        title_tag.decompose()  # the title is metadata, not the first paragraph of the body
    paragraphs: list[str] = []
    for element in (lead, body):
        if element is not None:
            _drop_noise(element)
            paragraphs.extend(_paragraphs(element))
    # The first paragraph of the layout is the title line, which plaintext.parse takes as
    # the title; a title that plaintext would read as a speaker label, a date or a menu line
    # is replaced by a neutral line, since the real title is set from the page below.
    header = title if _safe_title_line(title) else "Transcript"
    layout = "\n\n".join([header, *paragraphs])
    parsed = plaintext.parse(layout)
    parsed.format = "html"
    meta = parsed.meta
    meta.title = title
    if date:
        meta.date = date
    if place:
        meta.place = place
    if url:
        meta.url = url
    if not paragraphs:
        parsed.warnings.append("no article text found in the page")
    return parsed


def _text_of(tag: Tag | None) -> str:
    return " ".join(tag.get_text(" ").split()) if tag is not None else ""


def _meta_content(soup: BeautifulSoup, *names: str) -> str:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if isinstance(tag, Tag) and isinstance(tag.get("content"), str) and tag["content"].strip():
            return " ".join(str(tag["content"]).split())
    return ""


def _title(soup: BeautifulSoup) -> tuple[str, Tag | None]:
    """The page title and the <h1> it came from (None when taken from the head).

    The article's own <h1> comes first; og:title before a stray <h1>, which on many sites
    is the site's logo; <title> last, without its " • Site name" suffix.
    """
    h1 = soup.select_one("article h1")
    if isinstance(h1, Tag) and _text_of(h1):
        return _text_of(h1), h1
    og = _meta_content(soup, "og:title", "twitter:title")
    if og:
        return og, None
    h1 = soup.find("h1")
    if isinstance(h1, Tag) and _text_of(h1):
        return _text_of(h1), h1
    head_title = _text_of(soup.title) if soup.title else ""
    stripped = TITLE_SUFFIX.sub("", head_title)
    return (stripped or head_title), None


def _date(soup: BeautifulSoup) -> str | None:
    """ISO date of the event: the article's <time>, else the published-time meta tag."""
    candidates = [
        soup.select_one("time.read__published"), soup.select_one("[itemprop=datePublished][datetime]"),
        soup.select_one("article time[datetime]"), soup.select_one("time[datetime]"),
    ]
    for tag in candidates:
        if isinstance(tag, Tag):
            iso = to_iso_date(tag.get("datetime") or "") or to_iso_date(_text_of(tag))
            if iso:
                return iso
    return to_iso_date(_meta_content(soup, "article:published_time", "date", "dc.date"))


def _url(soup: BeautifulSoup) -> str | None:
    for link in soup.find_all("link", href=True):
        rel = link.get("rel") or []
        if "canonical" in (rel if isinstance(rel, list) else [rel]):
            return str(link["href"]).strip() or None
    return _meta_content(soup, "og:url") or None


def _body(soup: BeautifulSoup) -> Tag | None:
    for selector in BODY_SELECTORS:
        found = soup.select_one(selector)
        if isinstance(found, Tag) and _text_of(found):
            return found
    return _largest_text_block(soup)


def _largest_text_block(soup: BeautifulSoup) -> Tag | None:
    """The element whose own <p> children hold the most text; the <body> if there are none."""
    totals: dict[int, tuple[int, Tag]] = {}
    for p in soup.find_all("p"):
        parent = p.parent
        if isinstance(parent, Tag) and not _in_dropped(p):
            size = len(p.get_text(strip=True))
            before = totals.get(id(parent), (0, parent))[0]
            totals[id(parent)] = (before + size, parent)
    if totals:
        return max(totals.values(), key=lambda item: item[0])[1]
    return soup.body or soup


def _in_dropped(tag: Tag) -> bool:
    return any(
        parent.name in DROP_TAGS or parent.name in FURNITURE_TAGS or _is_noise(parent)
        for parent in tag.parents if isinstance(parent, Tag)
    )


def _lead(soup: BeautifulSoup, body: Tag | None) -> Tag | None:
    """The article's lead paragraph when it sits outside the body, as on en.kremlin.ru.

    The plain-text transcripts keep it as their first paragraph. Only the article holding
    the body is searched, so that summaries of other articles on the page are never taken.
    """
    scope = body.find_parent("article") if body is not None else None
    if scope is None:
        return None
    for selector in LEAD_SELECTORS:
        found = scope.select_one(selector)
        if isinstance(found, Tag) and found.name != "meta" and _text_of(found):
            if not (_inside(found, body) or _inside(body, found)):  # type: ignore[arg-type]
                return found
    return None


def _inside(tag: Tag, container: Tag) -> bool:
    return tag is container or any(parent is container for parent in tag.parents)


def _is_noise(tag: Tag) -> bool:
    if tag.attrs is None:
        return False
    if tag.get("aria-hidden") == "true" or tag.has_attr("hidden"):
        return True
    classes = tag.get("class") or []
    words = " ".join([*(classes if isinstance(classes, list) else [classes]), str(tag.get("id") or "")])
    return bool(words.strip()) and bool(NOISE.search(words))


def _drop_noise(container: Tag) -> None:
    """Remove furniture inside the article, but never a block holding most of its text."""
    total = len(container.get_text(strip=True)) or 1
    for tag in list(container.find_all(True)):
        if tag.decomposed or tag.attrs is None:
            continue
        if tag.name in DROP_TAGS:
            tag.decompose()
        elif (tag.name in FURNITURE_TAGS or _is_noise(tag)) and len(tag.get_text(strip=True)) < total / 2:
            if tag.name in BLOCK_TAGS:
                # An empty block (a line break inside <pre>) stays in its place, so that the
                # text before and after it stays apart instead of running together ("ends.Next").
                tag.clear(decompose=True)
                tag.name, tag.attrs = "div", {}
                tag.append(NavigableString("\n"))
            else:
                tag.decompose()


def _paragraphs(container: Tag) -> list[str]:
    """The container's text as paragraphs: one per block element, <br> kept as a newline.

    Runs of HTML white space collapse to one space (as a browser shows them); two <br> in a
    row end a paragraph.
    """
    paragraphs: list[str] = []
    lines: list[str] = []  # finished lines of the paragraph being collected
    buffer: list[str] = []  # text of the line being collected

    def end_line(at_break: bool) -> None:
        line = HTML_SPACE.sub(" ", "".join(buffer)).strip()
        buffer.clear()
        if line:
            lines.append(line)
        elif at_break and lines:
            end_paragraph()

    def end_paragraph() -> None:
        end_line(False)
        if lines:
            paragraphs.append("\n".join(lines))
            lines.clear()

    for event, value in _walk(container):
        if event == "text":
            buffer.append(value)
        elif event == "br":
            end_line(True)
        elif event == "pre":  # preformatted text keeps its lines; blank lines part paragraphs
            end_paragraph()
            paragraphs.extend(chunk.strip() for chunk in re.split(r"\n[ \t]*\n", value) if chunk.strip())
        else:
            end_paragraph()
    end_paragraph()
    return paragraphs


def _walk(root: Tag) -> Iterator[tuple[str, str]]:
    """("text", s), ("pre", s), ("br", "") and ("block", "") events of a depth-first walk.

    Iterative rather than recursive, since saved pages can nest deeper than Python's
    recursion limit. A bold label written as ``<b>Name:</b>Text`` gets a space after it, so
    that the layout reads "Name: Text" as the plain-text transcripts do.
    """
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):  # not comments, scripts, doctypes
                yield "text", str(node)
            continue
        if not isinstance(node, Tag):
            continue
        if node.name == "br":
            yield "br", ""
            continue
        if node.name == "pre" and not leaving:
            yield "pre", node.get_text().replace("\r\n", "\n")
            continue
        block = node.name in BLOCK_TAGS
        if leaving:
            if block:
                yield "block", ""
            elif node.name in ("b", "strong") and node.get_text().rstrip().endswith(":"):
                yield "text", " "
            continue
        if block:
            yield "block", ""
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))


def _safe_title_line(title: str) -> bool:
    """Whether plaintext.parse will take ``title`` as the title line of the layout."""
    if not title or "\n" in title or len(title) > 300 or parse_date_line(title):
        return False
    if plaintext._is_menu(title):
        return False
    return plaintext.read_label(title) is None


def sniff(text: str) -> bool:
    """An HTML document: "<!doctype html" or "<html" at the start (after a BOM or comments)."""
    return bool(SIGNATURE.match(text[:8192].lstrip("\ufeff")))


FORMAT = Format(name="html", extensions=(".html", ".htm"), sniff=sniff, parse=parse)
