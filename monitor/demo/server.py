"""demo.server: a static site on 127.0.0.1 for the demo (and tests), the way real feed servers
behave: ETag and Last-Modified validators, 304 answers, gzip when asked, and `{{BASE}}` in files
replaced by the server's own address so bundled feeds link to bundled pages."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".json": "application/feed+json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
_STARTED = email.utils.formatdate(usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    root: Path
    base: str
    requests: list[tuple[str, dict[str, str]]]

    def do_GET(self) -> None:
        self.requests.append((self.path, dict(self.headers.items())))
        target = (self.root / self.path.split("?", 1)[0].lstrip("/")).resolve()
        if not target.is_file() or self.root not in target.parents:
            self.send_error(404)
            return
        body = target.read_bytes().replace(b"{{BASE}}", self.base.encode())
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        if "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 512:
            body = gzip.compress(body)
            encoded = True
        else:
            encoded = False
        self.send_response(200)
        self.send_header("Content-Type", TYPES.get(target.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", _STARTED)
        if encoded:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """Serve `root` on 127.0.0.1 (a free port); yield the base URL and the request log."""
    requests: list[tuple[str, dict[str, str]]] = []
    handler: type[_Handler] = type(
        "Handler", (_Handler,), {"root": root.resolve(), "requests": requests}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler.base, requests
    finally:
        server.shutdown()
        server.server_close()
