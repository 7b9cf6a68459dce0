"""Read stage: files in, one parsed item per article out (or a reject with a reason).

Pure parsers for each kind (plain text, web page, RSS/Atom/RDF feed, JSON Feed, OPML) and a thin
Beam wrapper, ``ReadInputs``, that matches the input patterns, reads each file once and fans the
items out. A parsed item is a dict: input, item, url, canonical_url, source, title, authors, text
(one paragraph per line), published_at, categories.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import posixpath
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

import apache_beam as beam
import charset_normalizer
import feedparser
import lxml.etree
from apache_beam.io import fileio
from apache_beam.io.filesystem import MatchResult
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.rejects import REJECTED, reject
from transforms.text import (
    byline,
    clean_line,
    html_to_text,
    is_furniture,
    looks_like_html,
    unwrap_paragraphs,
)
from transforms.urls import is_http

STAGE = "read"
FEED_REFS = "feed_refs"

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
_MAX_TITLE_CHARS = 200
# Fewer words than this is navigation or a cookie banner, not an article.
_MIN_PAGE_WORDS = 5


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
    if by_extension == "feed" and sniffed == "json":
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
    """Bytes to text: BOM, then UTF-8, then the most plausible legacy encoding."""
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
        best = charset_normalizer.from_bytes(data).best()
        if best is None:
            raise InputError("undecodable", "no text encoding fits these bytes") from None
        return str(best)


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

    document = trafilatura.bare_extraction(
        data,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
    )
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


def parse_feed(data: bytes) -> tuple[str | None, list[dict]]:
    """RSS 0.9x/1.0/2.0, RDF or Atom bytes to (feed title, entries) via feedparser.

    An entry dict has item, title, authors, text, published_at, canonical_url, categories; its text
    is empty when the entry carries none.
    """
    # A file object, never a string: feedparser fetches strings that look like URLs or paths.
    parsed = feedparser.parse(io.BytesIO(data))
    if not parsed.entries:
        if parsed.get("bozo") and not parsed.get("version"):
            raise InputError("malformed_feed", str(parsed.get("bozo_exception", "")) or None)
        if not parsed.get("version"):
            raise InputError("not_a_feed", "no RSS, RDF or Atom root element")
        raise InputError("empty_feed", "the feed has no entries")
    source = clean_line(parsed.feed.get("title", "")) or None
    entries = [_feed_entry(entry, index) for index, entry in enumerate(parsed.entries)]
    if parsed.get("bozo") and not any(entry["text"] or entry["title"] for entry in entries):
        # feedparser salvages empty shells from broken XML: the file is the problem, not its items.
        raise InputError("malformed_feed", str(parsed.get("bozo_exception", "")) or None)
    return source, entries


def _feed_entry(entry: feedparser.FeedParserDict, index: int) -> dict:
    link = entry.get("link")
    guid = entry.get("id")
    contents = entry.get("content") or []
    # Content over summary: the longest content block is the full text when a feed carries both.
    body = max((c.get("value", "") for c in contents), key=len, default="") or entry.get(
        "summary", ""
    )
    authors = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")]
    if not authors and entry.get("author"):
        authors = [entry["author"]]
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    return {
        "item": guid or link or f"#{index}",
        "title": clean_line(entry.get("title", "")) or None,
        "authors": [clean_line(a) for a in authors],
        "text": _markup_or_plain_to_text(body),
        "published_at": datetime(*stamp[:6], tzinfo=timezone.utc) if stamp else None,
        "canonical_url": next((u for u in (link, guid) if is_http(u)), None),
        "categories": [clean_line(t["term"]) for t in entry.get("tags", []) if t.get("term")],
    }


def parse_json_feed(data: bytes) -> tuple[str | None, list[dict]]:
    """A JSON Feed (https://jsonfeed.org, versions 1 and 1.1) to (feed title, entries)."""
    try:
        document = json.loads(decode_text(data))
    except json.JSONDecodeError as error:
        raise InputError("malformed_feed", f"invalid JSON: {error}") from error
    if not isinstance(document, dict) or "jsonfeed.org/version" not in str(document.get("version")):
        raise InputError("not_a_feed", "JSON without a JSON Feed version")
    items = document.get("items")
    if not isinstance(items, list) or not items:
        raise InputError("empty_feed", "the feed has no items")
    source = clean_line(str(document.get("title") or "")) or None
    return source, [_json_feed_entry(item, index) for index, item in enumerate(items)]


def _json_feed_entry(item: object, index: int) -> dict:
    if not isinstance(item, dict):
        item = {}
    url = item.get("url") if isinstance(item.get("url"), str) else None
    guid = str(item["id"]) if item.get("id") is not None else None
    if isinstance(item.get("content_html"), str):
        text = _markup_or_plain_to_text(item["content_html"])
    else:
        text = _markup_or_plain_to_text(str(item.get("content_text") or item.get("summary") or ""))
    people = item.get("authors") or (
        [item["author"]] if isinstance(item.get("author"), dict) else []
    )
    return {
        "item": guid or url or f"#{index}",
        "title": clean_line(str(item.get("title") or "")) or None,
        "authors": [
            clean_line(str(p["name"])) for p in people if isinstance(p, dict) and p.get("name")
        ],
        "text": text,
        "published_at": _parse_iso(item.get("date_published") or item.get("date_modified")),
        "canonical_url": next((u for u in (url, guid) if is_http(u)), None),
        "categories": [clean_line(str(t)) for t in item.get("tags") or [] if str(t).strip()],
    }


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
    except ValueError:
        return None
    return (
        stamp.replace(tzinfo=timezone.utc)
        if stamp.tzinfo is None
        else stamp.astimezone(timezone.utc)
    )


def file_uri(path: str) -> str:
    """A file's URI: file:// for local paths, the path itself for gs://, s3:// and the like."""
    return path if "://" in path else Path(path).absolute().as_uri()


def parse_file(path: str, data: bytes) -> Iterator[tuple[str, dict | str]]:
    """All that one input file holds, as ("item", parsed item) and ("feed_ref", location) pairs.

    Raises InputError when the whole file is unusable.
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
        page = parse_html_page(data)
        yield "item", {**page, "item": None, "url": page["canonical_url"] or uri}
        return
    source, entries = parse_json_feed(data) if kind == "json_feed" else parse_feed(data)
    for entry in entries:
        # A wire brief can be a headline alone: the headline is then the story's text.
        text = entry["text"] or entry["title"] or ""
        yield "item", {**entry, "text": text, "url": entry["canonical_url"], "source": source}


def _resolve_feed_location(opml_path: str, location: str) -> str:
    """OPML entries may be URLs, file:// URIs or paths relative to the OPML file."""
    scheme = urlsplit(location).scheme.lower()
    if scheme == "file":
        return unquote(urlsplit(location).path)
    if scheme in ("http", "https") or "://" in location:
        return location
    return posixpath.normpath(posixpath.join(posixpath.dirname(opml_path), location))


# --- the Beam wrapper ------------------------------------------------------------------------


class ParseFileFn(beam.DoFn):
    """One matched file to its parsed items; unusable files and items go to the rejects output."""

    def __init__(self, max_input_bytes: int, ingested_at: datetime, follow_opml: bool = True):
        self._max_input_bytes = max_input_bytes
        self._ingested_at = ingested_at
        self._follow_opml = follow_opml
        self.files = Metrics.counter(STAGE, "files")
        self.items = Metrics.counter(STAGE, "items")
        self.rejected = Metrics.counter(STAGE, "rejected")

    def process(self, readable: fileio.ReadableFile) -> Iterable:
        path = readable.metadata.path
        self.files.inc()
        try:
            data = self._read(readable)
            parts = list(parse_file(path, data))
        except InputError as error:
            self.rejected.inc()
            yield self._reject(path, None, error.reason, error.detail)
            return
        except Exception as error:  # a parser bug must not sink the run: keep the evidence
            self.rejected.inc()
            yield self._reject(path, None, "parse_error", f"{type(error).__name__}: {error}")
            return
        for part_kind, part in parts:
            if part_kind == "feed_ref":
                yield self._feed_ref(path, part)
            elif not part["text"].strip():
                self.rejected.inc()
                yield self._reject(path, part["item"], "no_text", "the item carries no text")
            else:
                self.items.inc()
                yield {**part, "input": path}

    def _read(self, readable: fileio.ReadableFile) -> bytes:
        if readable.metadata.size_in_bytes > self._max_input_bytes:
            raise InputError(
                "too_large",
                f"{readable.metadata.size_in_bytes} bytes > limit of {self._max_input_bytes}",
            )
        with readable.open() as handle:
            return handle.read(self._max_input_bytes + 1)

    def _feed_ref(self, opml_path: str, location: str):
        if not self._follow_opml:
            return self._reject(
                opml_path, location, "nested_opml", "OPML lists are read one level deep"
            )
        if "://" in location and not location.lower().startswith(("gs://", "s3://")):
            return self._reject(
                opml_path, location, "network_input_unsupported", "URL inputs need the fetch stage"
            )
        if not FileSystems.exists(location):
            return self._reject(
                opml_path, location, "missing_input", "the listed feed does not exist"
            )
        return beam.pvalue.TaggedOutput(FEED_REFS, location)

    def _reject(self, path: str, item: str | None, reason: str, detail: str | None):
        return beam.pvalue.TaggedOutput(
            REJECTED,
            reject(
                input=path,
                item=item,
                stage=STAGE,
                reason=reason,
                detail=detail,
                ingested_at=self._ingested_at,
            ),
        )


class _ReadFiles(beam.PTransform):
    """Patterns to parsed items (main output), rejects and OPML feed references."""

    def __init__(self, max_input_bytes: int, ingested_at: datetime, follow_opml: bool):
        super().__init__()
        self._parse = ParseFileFn(max_input_bytes, ingested_at, follow_opml)

    def expand(self, patterns):
        return (
            patterns
            | "Match" >> fileio.MatchAll(fileio.EmptyMatchTreatment.ALLOW)
            # Spread files over workers before the expensive parse.
            | "SpreadFiles" >> beam.Reshuffle()
            | "Open" >> fileio.ReadMatches()
            | "Parse" >> beam.ParDo(self._parse).with_outputs(REJECTED, FEED_REFS, main="items")
        )


class ReadInputs(beam.PTransform):
    """Input patterns to parsed items and rejects; OPML lists are followed one level deep.

    Returns a dict with "items" and "rejects" PCollections.
    """

    def __init__(self, patterns: list[str], max_input_bytes: int, ingested_at: datetime):
        super().__init__()
        self._patterns = patterns
        self._max_input_bytes = max_input_bytes
        self._ingested_at = ingested_at

    def expand(self, pbegin):
        files = (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "ReadFiles" >> _ReadFiles(self._max_input_bytes, self._ingested_at, follow_opml=True)
        )
        listed = files[FEED_REFS] | "ReadListedFeeds" >> _ReadFiles(
            self._max_input_bytes, self._ingested_at, follow_opml=False
        )
        items = (
            (files.items, listed.items)
            | "AllItems" >> beam.Flatten()
            # A feed file holds many items: spread them before the per-item work.
            | "SpreadItems" >> beam.Reshuffle()
        )
        rejects = (files[REJECTED], listed[REJECTED]) | "AllReadRejects" >> beam.Flatten()
        return {"items": items, "rejects": rejects}


def expand_input(path_or_glob: str) -> str:
    """A user's --input as a Beam file pattern: a directory means everything below it."""
    if "://" not in path_or_glob and os.path.isdir(path_or_glob):
        return posixpath.join(path_or_glob.rstrip("/"), "**")
    return path_or_glob


def input_matches_anything(pattern: str) -> bool:
    """True when the pattern names at least one file (a usage check before the run)."""
    try:
        results: list[MatchResult] = FileSystems.match([pattern])
    except Exception:  # a malformed pattern or an unknown scheme is a usage error too
        return False
    return any(result.metadata_list for result in results)
