"""Real HTTP servers on 127.0.0.1 for tests: a feed/page site and a webhook receiver.

They run in a thread of the test process, bind port 0, and record every request so tests can
assert what the daemon actually sent (conditional headers, signatures, idempotency keys).
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from monitor.demo.server import TYPES


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the headers
    drip: float = 0.0  # between body bytes (a slow server)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Server

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            time.time(),
        )
        with owner.lock:
            owner.requests.append(request)
        answer = owner.answer_for(request)
        if answer.delay:
            time.sleep(answer.delay)
        self.send_response(answer.status)
        headers = {"Content-Length": str(len(answer.body)), **answer.headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD" or answer.status == 304:
            return
        try:
            if answer.drip:
                for i in range(len(answer.body)):
                    self.wfile.write(answer.body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(answer.drip)
            else:
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_HEAD = do_PUT = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


S = TypeVar("S", bound="Server")


class Server:
    """Serves scripted answers per path, then files from `root`; 404 otherwise."""

    kind: ClassVar[str] = "site"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.routes: dict[str, list[Answer]] = {}
        self.root: Path | None = None
        self._http = _Server(("127.0.0.1", 0), _Handler)
        self._http.owner = self
        self.base = f"http://127.0.0.1:{self._http.server_address[1]}"

    @classmethod
    @contextmanager
    def running(cls: type[S]) -> Iterator[S]:
        with cls().serving() as server:
            yield server

    @contextmanager
    def serving(self: S) -> Iterator[S]:
        """This server, answering on its port for the block."""
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._http.shutdown()
            self._http.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, root: Path) -> None:
        self.root = root.resolve()

    def route(self, path: str, *answers: Answer) -> None:
        """Answer `path` with these, in order; the last one repeats."""
        with self.lock:
            self.routes[path] = list(answers)

    def hits(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def answer_for(self, request: Request) -> Answer:
        with self.lock:
            queue = self.routes.get(request.path)
            if queue:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        if self.root is not None and request.method in ("GET", "HEAD"):
            return self._file(request)
        return Answer(404, b"not found")

    def _file(self, request: Request) -> Answer:
        assert self.root is not None
        target = (self.root / request.path.split("?", 1)[0].lstrip("/")).resolve()
        if not target.is_file() or self.root not in target.parents:
            return Answer(404, b"not found")
        body = target.read_bytes().replace(b"{{BASE}}", self.base.encode())
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {
            "ETag": etag,
            "Content-Type": TYPES.get(target.suffix, "application/octet-stream"),
        }
        if request.headers.get("if-none-match") == etag:
            return Answer(304, b"", headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Answer(200, gzip.compress(body), {**headers, "Content-Encoding": "gzip"})
        return Answer(200, body, headers)


class Site(Server):
    pass


class Receiver(Server):
    """Accepts webhook POSTs with 200 unless scripted otherwise."""

    def answer_for(self, request: Request) -> Answer:
        with self.lock:
            queue = self.routes.get(request.path)
            if queue:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        return Answer(200, b"ok") if request.method == "POST" else Answer(404)

    @property
    def posts(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]


def serve_stream(
    site: Server, corpus: Any, *, until: datetime | None = None, prefix: str = "/stream"
) -> dict[str, str]:
    """Serve each feed of a conflict-stream corpus (`bench.conflict_stream.Corpus`) as RSS 2.0
    at `{prefix}/{feed}.xml`, listing the reports its outlet had put out by `until` (all of them
    by default), newest first, with links on this server. Call again with a later `until` to
    let time pass. Returns each feed's URL by name."""
    from bench.conflict_stream import rss

    urls = {}
    for name, reports in corpus.by_feed().items():
        shown = [r for r in reports if until is None or corpus.released(r) <= until]
        body = rss(corpus.feeds[name], shown, base=site.base)
        path = f"{prefix}/{name}.xml"
        site.route(path, Answer(200, body, {"Content-Type": "application/rss+xml"}))
        urls[name] = site.url(path)
    return urls
