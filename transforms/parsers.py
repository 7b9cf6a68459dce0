"""Parsers for each input kind: plain text, web page, RSS/Atom/RDF feed, JSON Feed, OPML.

Pure functions from bytes to parsed items (dicts: item, url, canonical_url, source, title,
authors, text with one paragraph per line, published_at, categories), or an ``InputError`` whose
reason becomes the reject's. No Beam here: ``transforms/read.py`` wraps them, and the page
extraction child (``HtmlExtractor``) imports only this module, not the pipeline.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import os
import posixpath
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import unquote, urlsplit

import charset_normalizer
import feedparser
import lxml.etree

from transforms.plain_rss import plain_rss
from transforms.text import (
    byline,
    clean_line,
    html_to_text,
    is_furniture,
    looks_like_html,
    unwrap_paragraphs,
)
from transforms.urls import is_http

EXTENSION_KINDS = {
    ".txt": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
    ".rdf": "feed",
    ".json": "feed",
    ".opml": "opml",
}

_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\x1f\x8b", b"PK\x03\x04", b"\xff\xd8\xff", b"GIF8", b"BZh")
_SNIFF_BYTES = 4096
_STRAY_BYTES = re.compile("[\udc80-\udcff]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([\w.:-]+)["']""")
_MAX_TITLE_CHARS = 200
# Fewer words than this is navigation or a cookie banner, not an article.
_MIN_PAGE_WORDS = 5
# Seconds an extraction child waits for the next page before it is stopped: an idle child holds
# ~85 MB, and Beam keeps a finished stage's DoFns, extractor and all, for a minute (a streaming
# run's, for good). The next page starts a new child (~0.5 s).
EXTRACTOR_IDLE_SECONDS = 5.0


class InputError(ValueError):
    """An input that cannot become an article; ``reason`` is the reject reason."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# --- sniffing and decoding -------------------------------------------------------------------


def sniff(data: bytes) -> str:
    """What the first bytes say the file is: empty, binary, feed, opml, json, html or text."""
    head = data[:_SNIFF_BYTES]
    if not head.strip():
        return "empty"
    if head.startswith(_BINARY_MAGIC):
        return "binary"
    if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and b"\x00" in head:
        return "binary"
    text = decode_lenient(head).lstrip("\ufeff \t\r\n").lower()
    if text.startswith(("{", "[")):
        return "json"
    if "<opml" in text:
        return "opml"
    if any(tag in text for tag in ("<rss", "<feed", "<rdf:rdf", "<channel")):
        return "feed"
    if any(tag in text for tag in ("<!doctype html", "<html", "<head", "<body")):
        return "html"
    if text.startswith("<?xml"):
        return "feed"
    return "text"


def resolve_kind(path: str, sniffed: str) -> str:
    """The kind to read a file as: the extension's, unless the bytes clearly say otherwise."""
    if sniffed in ("empty", "binary"):
        raise InputError(f"{sniffed}_file")
    by_extension = EXTENSION_KINDS.get(posixpath.splitext(path.lower())[1])
    if by_extension == "opml" or sniffed == "opml":
        return "opml"
    # A JSON document is a feed under a feed extension or under none (a URL such as .../feed).
    if by_extension in ("feed", None) and sniffed == "json":
        return "json_feed"
    if sniffed in ("feed", "html") and by_extension in ("feed", "html", "text", None):
        return sniffed
    if by_extension is None:
        raise InputError("unsupported_kind", f"no reader for {posixpath.basename(path)!r}")
    if by_extension == "feed":
        raise InputError("not_a_feed", f"content looks like {sniffed}")
    return by_extension


def decode_lenient(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def decode_text(data: bytes) -> str:
    """Bytes to text: BOM, UTF-8 (line by line for mixed files), else the likeliest legacy one."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                raise InputError("undecodable", str(error)) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        mixed = _decode_mostly_utf8(data)
        if mixed is not None:
            return mixed
        best = charset_normalizer.from_bytes(data).best()
        if best is None:
            raise InputError("undecodable", "no text encoding fits these bytes") from None
        return str(best)


def _decode_mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with stretches of Windows-1252 (text pasted together from two sources), each stretch
    read in its own encoding.

    None unless UTF-8 characters outnumber the stray bytes: a legacy file as a whole is better
    served by charset detection, which would garble the UTF-8 of a mixed one.
    """
    text = data.decode("utf-8", errors="surrogateescape")  # stray bytes become U+DC80-U+DCFF
    stray = len(text) - len(text.encode("utf-8", errors="ignore").decode("utf-8"))
    utf8 = len(text) - len(text.encode("ascii", errors="ignore")) - stray
    if utf8 < stray:
        return None
    return _STRAY_BYTES.sub(
        lambda run: run.group().encode("utf-8", "surrogateescape").decode("cp1252", "replace"), text
    )


# --- the parsers -----------------------------------------------------------------------------


def parse_text_document(text: str) -> dict:
    """A scraped plain-text article: title, authors, section label and body paragraphs.

    The title is the first line when it is short and followed by a blank line; a leading one- or
    two-word line followed by a blank line is a section label ("World") and becomes a category.
    Site furniture lines are dropped, bylines become authors, a repeated title is dropped.
    """
    lines = [
        clean_line(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    authors: list[str] = []
    kept: list[str] = []
    for line in lines:
        name = byline(line) if line else None
        if name:
            authors.append(name)
        elif not (line and is_furniture(line)):
            kept.append(line)

    categories: list[str] = []
    title: str | None = None
    position = _next_content(kept, 0)
    if position is not None and _stands_alone(kept, position) and len(kept[position].split()) <= 2:
        categories.append(kept[position].strip(":"))
        position = _next_content(kept, position + 1)
    if position is not None and _stands_alone(kept, position) and _is_title(kept[position]):
        title = kept[position]
        position += 1
    body = (
        [line for line in kept[position or 0 :] if line and line != title]
        if position is not None
        else []
    )
    return {
        "title": title,
        "authors": sorted(set(authors), key=authors.index),
        "categories": categories,
        "text": unwrap_paragraphs("\n".join(body)) if body else "",
    }


def _next_content(lines: list[str], start: int) -> int | None:
    return next((i for i in range(start, len(lines)) if lines[i]), None)


def _stands_alone(lines: list[str], index: int) -> bool:
    return index + 1 < len(lines) and not lines[index + 1]


def _is_title(line: str) -> bool:
    return len(line) <= _MAX_TITLE_CHARS and len(line.split()) >= 3 and not line.endswith(".")


def parse_html_page(data: bytes) -> dict:
    """Main text and metadata of a web page, via trafilatura."""
    import trafilatura  # heavy import, kept off the module import path of the other readers

    try:
        document = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            deduplicate=False,
        )
    except Exception as error:  # trafilatura, htmldate and lxml assert on some broken trees
        raise InputError("malformed_page", f"{type(error).__name__}: {error}") from error
    text = document.text if document is not None else None
    if not text or len(text.split()) < _MIN_PAGE_WORDS:
        raise InputError("no_text", "no main text found in the page")
    url = document.url if is_http(document.url) else None
    return {
        "title": document.title or None,
        "authors": [name.strip() for name in (document.author or "").split(";") if name.strip()],
        "categories": list(dict.fromkeys([*(document.categories or []), *(document.tags or [])])),
        "text": text,
        "published_at": _parse_iso(document.date),
        "canonical_url": url,
        "source": document.sitename or document.hostname or None,
    }


class HtmlExtractor:
    """``parse_html_page`` in a child process, given up on after ``time_limit`` seconds.

    trafilatura spends minutes on some hostile pages and a thread cannot be stopped, so pages are
    parsed in a process that is killed at the limit; a fresh one serves the next page. The child
    starts with the first page, so runs without web pages never pay for it, and stops once it has
    waited ``idle_seconds`` for the next one. A ``time_limit`` of 0 means no limit: pages are then
    parsed in this process.
    """

    def __init__(self, time_limit: float, idle_seconds: float = EXTRACTOR_IDLE_SECONDS) -> None:
        self._time_limit = time_limit
        self._idle_seconds = idle_seconds
        self._process: subprocess.Popen | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None
        # The idle timer's thread stops the child: the lock keeps it off a page being parsed.
        self._lock = threading.Lock()
        self._pages = 0
        self.idle_timer: threading.Timer | None = None

    @property
    def running(self) -> bool:
        return self._process is not None

    def __call__(self, data: bytes) -> dict:
        if self._time_limit <= 0:
            return parse_html_page(data)
        with self._lock:
            if self.idle_timer is not None:
                self.idle_timer.cancel()
            self._pages += 1
            try:
                return self._extract(data)
            finally:
                if self._process is not None:
                    self.idle_timer = threading.Timer(
                        self._idle_seconds, self._stop_if_idle, args=(self._pages,)
                    )
                    self.idle_timer.daemon = True
                    self.idle_timer.start()

    def close(self) -> None:
        with self._lock:
            if self.idle_timer is not None:
                self.idle_timer.cancel()
            self._stop()

    def _extract(self, data: bytes) -> dict:
        if self._process is None:
            self._start()
        self._requests.send_bytes(data)
        if not self._replies.poll(self._time_limit):
            self._stop()
            raise InputError("extraction_timeout", f"no result within {self._time_limit:g} s")
        try:
            outcome, value = self._replies.recv()
        except EOFError:  # the child died (out of memory, say): the next page gets a new one
            self._stop()
            raise InputError("extraction_failed", "the extracting process died") from None
        if outcome == "rejected":
            raise InputError(*value)
        if outcome == "error":
            raise RuntimeError(value)
        return value

    def _stop_if_idle(self, pages: int) -> None:
        with self._lock:
            if self._pages == pages:  # no page came since this timer was set
                self._stop()

    def _start(self) -> None:
        # A fresh interpreter, not multiprocessing: spawn re-runs the caller's __main__ and fork
        # is unsafe in a threaded Beam worker. The child sees this process's import path.
        requests_in, requests_out = os.pipe()
        replies_in, replies_out = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from transforms.parsers import serve_extractions as s; s()"],
            stdin=requests_in,
            stdout=replies_out,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        os.close(requests_in)
        os.close(replies_out)
        self._requests = Connection(requests_out, readable=False)
        self._replies = Connection(replies_in, writable=False)
        # Start-up (imports) is not extraction time: wait for the child to say it is ready.
        try:
            self._replies.recv()
        except EOFError:
            self._stop()
            raise RuntimeError("the page extraction process did not start") from None

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._requests.close()
            self._replies.close()
            self._process = self._requests = self._replies = None


def serve_extractions() -> None:
    """The extractor's child: "ready" once, then page bytes in on stdin; ("page", item),
    ("rejected", (reason, detail)) or ("error", message) out on stdout, until stdin closes."""
    # Start-up is not extraction time: trafilatura sets itself up on its first page.
    with contextlib.suppress(InputError):
        parse_html_page(b"<html><body><p>Warming up.</p></body></html>")
    requests = Connection(os.dup(0), writable=False)
    replies = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # a stray print must not corrupt the replies
    replies.send("ready")
    while True:
        try:
            data = requests.recv_bytes()
        except EOFError:
            return
        try:
            outcome = ("page", parse_html_page(data))
        except InputError as error:
            outcome = ("rejected", (error.reason, error.detail))
        except Exception as error:
            outcome = ("error", f"{type(error).__name__}: {error}")
        replies.send(outcome)


def parse_feed(data: bytes) -> tuple[str | None, list[dict]]:
    """RSS 0.9x/1.0/2.0, RDF or Atom bytes to (feed title, entries) as feedparser reads them.

    An entry dict has item, title, authors, text, published_at, canonical_url, categories; its text
    is empty when the entry carries none.
    """
    data = _replace_impossible_char_refs(_repair_mixed_utf8(data))
    plain = plain_rss(data)  # feedparser's result for plain RSS 2.0, read faster
    title, raw_entries, broken = (*plain, None) if plain is not None else _read_feed(data)
    entries = [_feed_entry(entry, index) for index, entry in enumerate(raw_entries)]
    if broken is not None and not any(entry["text"] or entry["title"] for entry in entries):
        # feedparser salvages empty shells from broken XML: the file is the problem, not its items.
        raise InputError("malformed_feed", broken or None)
    return clean_line(title or "") or None, entries


def _read_feed(data: bytes) -> tuple[str | None, list[dict], str | None]:
    """(feed title, entries, what was broken or None) as feedparser reads the feed; InputError
    when it finds no entries."""
    # A file object, never a string: feedparser fetches strings that look like URLs or paths.
    # No sanitizing: the text is never rendered, and the sanitizer drops wire tickers ("<ANZA.S>").
    try:
        parsed = feedparser.parse(
            io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as error:  # feedparser's fallback parser trips over some broken markup
        raise InputError("malformed_feed", f"{type(error).__name__}: {error}") from error
    if not parsed.entries:
        if parsed.get("bozo") and not parsed.get("version"):
            raise InputError("malformed_feed", str(parsed.get("bozo_exception", "")) or None)
        if not parsed.get("version"):
            raise InputError("not_a_feed", "no RSS, RDF or Atom root element")
        raise InputError("empty_feed", "the feed has no entries")
    broken = str(parsed.get("bozo_exception", "")) if parsed.get("bozo") else None
    return parsed.feed.get("title"), parsed.entries, broken


def _feed_entry(entry: dict, index: int) -> dict:
    """An entry, as feedparser names its fields, to an item dict.

    feedparser keeps the text of an element it does not know under the element's name, so an
    item's own <authors> or <published_parsed> replaces the structured field of that name with a
    string: only the values of the expected types are read."""
    link = entry.get("link")
    guid = entry.get("id")
    # Content over summary: the longest content block is the full text when a feed carries both.
    # (feedparser leaves None in the fields of some broken feeds.)
    contents = _dicts(entry.get("content"))
    body = max((c.get("value") or "" for c in contents), key=len, default="") or (
        entry.get("summary") or ""
    )
    authors = [a["name"] for a in _dicts(entry.get("authors")) if a.get("name")]
    if not authors and entry.get("author"):
        authors = [entry["author"]]
    return {
        "item": guid or link or f"#{index}",
        "title": clean_line(entry.get("title") or "") or None,
        "authors": [clean_line(a) for a in authors],
        "text": _markup_or_plain_to_text(body),
        "published_at": _struct_to_datetime(entry.get("published_parsed"))
        or _struct_to_datetime(entry.get("updated_parsed")),
        "canonical_url": next((u for u in (link, guid) if is_http(u)), None),
        "categories": [clean_line(t["term"]) for t in _dicts(entry.get("tags")) if t.get("term")],
    }


def _replace_impossible_char_refs(data: bytes) -> bytes:
    """Character references to no character (&#0;, &#xD800;, past U+10FFFF) make feedparser raise
    and lose the whole feed: each becomes U+FFFD."""

    def replace(reference: re.Match) -> bytes:
        hexadecimal, decimal = reference.groups()
        digits = (hexadecimal or decimal).lstrip(b"0")
        code = int(digits or b"0", 16 if hexadecimal else 10) if len(digits) <= 8 else -1
        possible = 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
        return reference.group() if possible else b"&#xFFFD;"

    return _CHAR_REF.sub(replace, data)


def _repair_mixed_utf8(data: bytes) -> bytes:
    """A UTF-8 feed with some Windows-1252 lines, made all UTF-8: feedparser would read the whole
    file as Windows-1252 and garble every UTF-8 line."""
    declared = _XML_ENCODING.match(data[:_SNIFF_BYTES])
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        declared and declared.group(1).lower() not in (b"utf-8", b"utf8")
    ):
        return data
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        mixed = _decode_mostly_utf8(data)
        return mixed.encode("utf-8") if mixed is not None else data


def _struct_to_datetime(stamp: object) -> datetime | None:
    """feedparser's UTC struct_time as a datetime; None when the field holds no struct_time (see
    _feed_entry) or names no real day (year 0)."""
    if not isinstance(stamp, time.struct_time):
        return None
    try:
        return datetime(*stamp[:6], tzinfo=timezone.utc)
    except ValueError:  # "0000-00-00" parses to year -1: one entry's date must not sink the feed
        return None


def parse_json_feed(data: bytes) -> tuple[str | None, list[dict]]:
    """A JSON Feed (https://jsonfeed.org, versions 1 and 1.1) to (feed title, entries)."""
    try:
        document = _replace_surrogates(json.loads(decode_text(data)))
    except json.JSONDecodeError as error:
        raise InputError("malformed_feed", f"invalid JSON: {error}") from error
    if not isinstance(document, dict) or "jsonfeed.org/version" not in str(document.get("version")):
        raise InputError("not_a_feed", "JSON without a JSON Feed version")
    items = document.get("items")
    if not isinstance(items, list) or not items:
        raise InputError("empty_feed", "the feed has no items")
    source = clean_line(str(document.get("title") or "")) or None
    return source, [_json_feed_entry(item, index) for index, item in enumerate(items)]


def _replace_surrogates(value: object) -> object:
    """JSON escapes can spell lone surrogates ("\\ud800"), which UTF-8, and so Parquet, cannot
    hold: each becomes U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(element) for element in value]
    if isinstance(value, dict):
        return {key: _replace_surrogates(element) for key, element in value.items()}
    return value


def _json_feed_entry(item: object, index: int) -> dict:
    if not isinstance(item, dict):
        item = {}
    url = item.get("url") if isinstance(item.get("url"), str) else None
    guid = str(item["id"]) if item.get("id") is not None else None
    if isinstance(item.get("content_html"), str):
        text = _markup_or_plain_to_text(item["content_html"])
    else:
        text = _markup_or_plain_to_text(str(item.get("content_text") or item.get("summary") or ""))
    people = _dicts(item.get("authors")) or _dicts([item.get("author")])
    return {
        "item": guid or url or f"#{index}",
        "title": clean_line(str(item.get("title") or "")) or None,
        "authors": [clean_line(str(p["name"])) for p in people if p.get("name")],
        "text": text,
        "published_at": _parse_iso(item.get("date_published") or item.get("date_modified")),
        "canonical_url": next((u for u in (url, guid) if is_http(u)), None),
        "categories": [clean_line(str(t)) for t in _as_list(item.get("tags")) if str(t).strip()],
    }


def _as_list(value: object) -> list:
    """A JSON Feed list field as a list: publishers put numbers and booleans there too."""
    return value if isinstance(value, list) else []


def _dicts(value: object) -> list[dict]:
    """The objects of a list field (a feedparser entry's content, authors and tags; a JSON Feed
    item's authors): publishers and broken feeds put strings, numbers and booleans there too."""
    return [element for element in _as_list(value) if isinstance(element, dict)]


def parse_opml(data: bytes) -> list[str]:
    """The feed locations (xmlUrl) an OPML document lists, in document order."""
    # No DTDs, no entity expansion, no network: an OPML file is untrusted input.
    parser = lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = lxml.etree.fromstring(data, parser=parser)
    except lxml.etree.XMLSyntaxError as error:
        raise InputError("malformed_opml", str(error)) from error
    locations = [
        outline.get("xmlUrl").strip()
        for outline in root.iter("outline")
        if (outline.get("xmlUrl") or "").strip()
    ]
    if not locations:
        raise InputError("empty_opml", "no outline with an xmlUrl")
    return list(dict.fromkeys(locations))


def _markup_or_plain_to_text(body: str) -> str:
    return html_to_text(body) if looks_like_html(body) else unwrap_paragraphs(body)


def _parse_iso(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (
            stamp.replace(tzinfo=timezone.utc)
            if stamp.tzinfo is None
            else stamp.astimezone(timezone.utc)
        )
    except (ValueError, OverflowError):  # garbled, or pushed past year 1 or 9999 by its offset
        return None


def file_uri(path: str) -> str:
    """A file's URI: file:// for local paths, the path itself for gs://, s3:// and the like."""
    return path if "://" in path else Path(path).absolute().as_uri()


def parse_file(
    path: str, data: bytes, extract_html: Callable[[bytes], dict] = parse_html_page
) -> Iterator[tuple[str, dict | str]]:
    """All that one input file holds, as ("item", parsed item) and ("feed_ref", location) pairs.

    Raises InputError when the whole file is unusable. ``extract_html`` parses web pages (an
    ``HtmlExtractor`` puts a time limit on them).
    """
    kind = resolve_kind(path, sniff(data))
    if kind == "opml":
        for location in parse_opml(data):
            yield "feed_ref", _resolve_feed_location(path, location)
        return
    uri = file_uri(path)
    if kind == "text":
        document = parse_text_document(decode_text(data))
        yield (
            "item",
            {
                **document,
                "item": None,
                "url": uri,
                "canonical_url": None,
                "source": None,
                "published_at": None,
            },
        )
        return
    if kind == "html":
        page = extract_html(data)
        yield "item", {**page, "item": None, "url": page["canonical_url"] or uri}
        return
    source, entries = parse_json_feed(data) if kind == "json_feed" else parse_feed(data)
    for entry in entries:
        # A wire brief can be a headline alone: the headline is then the story's text.
        text = entry["text"] or entry["title"] or ""
        yield "item", {**entry, "text": text, "url": entry["canonical_url"], "source": source}


def _resolve_feed_location(opml_path: str, location: str) -> str:
    """OPML entries may be URLs, file:// URIs or paths relative to the OPML file."""
    try:
        parts = urlsplit(location)
    except ValueError:  # a broken URL ("http://[x"): left as it is, to be rejected as one
        return location
    scheme = parts.scheme.lower()
    if scheme == "file":
        return unquote(parts.path)
    if scheme in ("http", "https") or "://" in location:
        return location
    return posixpath.normpath(posixpath.join(posixpath.dirname(opml_path), location))
