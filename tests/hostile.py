"""A hostile far end for tests/test_hostile.py, and a probe of a fetch's peak memory.

`Hostile` is the scriptable server of tests/servers.py (a real HTTP server on 127.0.0.1, port 0)
with the answers an attacker gives: decompression bombs, feeds of 100,000 items, terminal
escapes in titles, redirects to somewhere else.

`python -m tests.hostile MAX_BYTES feed:URL page:URL …` fetches each URL in a process of its own,
the way the daemon fetches a feed or an article page, and prints one JSON list: for each, how far
the process's peak resident memory rose above where it was just before (`/proc/self/status`),
and the error the fetch ended with.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
from pathlib import Path

import brotli

from tests.servers import Answer, Request, Server

BOMBS = Path(__file__).parent / "fixtures" / "hostile"
# Content-Encoding of each bomb file (see tests/fixtures/hostile/make_bombs.py).
BOMB_ENCODINGS = {"1gib.br": "br", "1gib.gz.gz": "gzip, gzip"}


class Hostile(Server):
    """Serves scripted answers (see `Server.route`) and the bombs under /bomb/<file>."""

    kind = "hostile"

    def answer_for(self, request: Request) -> Answer:
        folder, _, name = request.path.split("?", 1)[0].lstrip("/").partition("/")
        if name in BOMB_ENCODINGS:
            encoding = BOMB_ENCODINGS[name]
            if folder == "bomb":
                body = (BOMBS / name).read_bytes()
            else:  # "warm": a small page encoded the same way
                body = b"<html><p>" + b"quiet news " * 1000 + b"</p></html>"
                for step in encoding.split(", "):
                    body = brotli.compress(body) if step == "br" else gzip.compress(body)
            return Answer(200, body, {"Content-Encoding": encoding, "Content-Type": "text/html"})
        return super().answer_for(request)


def _reset_peak() -> None:
    """The peak (VmHWM) starts again from now."""
    Path("/proc/self/clear_refs").write_text("5")


def _status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


async def _probe(max_bytes: int, targets: list[str]) -> list[dict[str, object]]:
    from monitor.http import build_client
    from monitor.pipeline import fetch

    results: list[dict[str, object]] = []
    async with build_client(timeout=60) as client:
        slots = fetch.HostSlots(2)
        for target in targets:
            kind, _, url = target.partition(":")
            page = kind == "page"

            async def get(url: str, page: bool = page) -> None:
                await fetch.fetch(
                    client,
                    url,
                    slots=slots,
                    timeout=60,
                    max_bytes=max_bytes,
                    page=page,
                    allow_private=True,
                )

            # Warm up: the same kind of fetch of a small body, so that imports, the pool and
            # the decoders' first allocations are behind us.
            await get(url.replace("/bomb/", "/warm/"))
            before = _status("VmRSS")
            _reset_peak()
            error = ""
            try:
                await get(url)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            results.append({"target": target, "growth": _status("VmHWM") - before, "error": error})
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_probe(int(sys.argv[1]), sys.argv[2:]))))
