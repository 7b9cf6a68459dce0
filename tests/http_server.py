"""A real HTTP server on 127.0.0.1 for the fetch and streaming tests.

Each path is scripted with a list of ``Reply`` objects served in turn (the last one repeats), so a
feed can change between polls, fail twice and then succeed, or stall. Replies honour conditional
GETs (ETag / Last-Modified -> 304). Every request is logged, and tests wait on the log (a condition
variable), never on the clock.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    # Hold the body back until the server closes (a response slower than any client timeout).
    stall: bool = False
    # Announce a Content-Length but never send it (chunked body written as it goes).
    chunked: bool = False


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


class FeedServer:
    """ThreadingHTTPServer on an ephemeral port of 127.0.0.1 with scripted paths."""

    def __init__(self) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self._served: dict[str, int] = {}
        self.log: list[Request] = []
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()  # releases stalled replies
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def script(self, path: str, *replies: Reply) -> str:
        """Serve ``replies`` at ``path`` in turn, the last one from then on; returns the URL."""
        with self._changed:
            self._scripts[path] = list(replies)
            self._served[path] = 0
        return self.url(path)

    def requests_for(self, path: str) -> list[Request]:
        with self._changed:
            return [request for request in self.log if request.path == path]

    def wait_for(self, predicate: Callable[[list[Request]], bool], timeout: float = 30) -> None:
        """Block until the request log satisfies ``predicate``; fail the test after ``timeout``."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.log), timeout=timeout):
                raise AssertionError(f"server log never satisfied the condition: {self.log}")

    def _next_reply(self, path: str) -> Reply | None:
        with self._changed:
            replies = self._scripts.get(path)
            if not replies:
                return None
            index = min(self._served[path], len(replies) - 1)
            self._served[path] += 1
            return replies[index]

    def _record(self, request: Request) -> None:
        with self._changed:
            self.log.append(request)
            self._changed.notify_all()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server._record(Request(path, dict(self.headers.items()), time.monotonic()))
                reply = server._next_reply(path) or Reply(404, b"not found")
                if _not_modified(reply, self.headers):
                    self.send_response(304)
                    self._validator_headers(reply)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = gzip.compress(reply.body) if reply.gzip else reply.body
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self._validator_headers(reply)
                if reply.gzip:
                    self.send_header("Content-Encoding", "gzip")
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self._write_chunked(body)
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if reply.stall:
                    self.wfile.flush()
                    server._closing.wait(timeout=30)
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                    self.wfile.write(body)

            def _validator_headers(self, reply: Reply) -> None:
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                if reply.last_modified:
                    self.send_header("Last-Modified", reply.last_modified)

            def _write_chunked(self, body: bytes) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                    for start in range(0, len(body), 64 * 1024):
                        piece = body[start : start + 64 * 1024]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")

        return Handler


def _not_modified(reply: Reply, headers) -> bool:
    if reply.status != 200:
        return False
    if reply.etag and headers.get("If-None-Match") == reply.etag:
        return True
    return bool(reply.last_modified and headers.get("If-Modified-Since") == reply.last_modified)


def rss(title: str, *entries: tuple[str, str, str, str]) -> bytes:
    """An RSS 2.0 document; each entry is (guid, title, description, pubDate)."""
    items = "".join(
        f"<item><guid>{guid}</guid><link>{guid}</link><title>{heading}</title>"
        f"<description>{body}</description><pubDate>{date}</pubDate></item>"
        for guid, heading, body, date in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://example.org/</link><description>test</description>{items}</channel></rss>"
    ).encode()
