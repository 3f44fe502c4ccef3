"""fetch: conditional GETs, redirects, failures, caps and the private-address guard."""

from __future__ import annotations

import asyncio
import gzip
import random
import threading
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest
import respx

from monitor.errors import BlockedAddress, FeedGone, FetchError, TooLarge
from monitor.http import build_client, retry_after_seconds
from monitor.model import FetchResult
from monitor.pipeline import fetch
from tests.servers import Answer, Site

T = TypeVar("T")
URL = "https://news.example.org/feed.xml"


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


async def get(url: str = URL, client: httpx.AsyncClient | None = None, **kw: object) -> FetchResult:
    own = client is None
    client = client or httpx.AsyncClient(follow_redirects=True)
    try:
        options: dict[str, object] = {
            "slots": fetch.HostSlots(2),
            "timeout": 5.0,
            "max_bytes": 1_000_000,
            **kw,
        }
        return await fetch.fetch(client, url, **options)  # type: ignore[arg-type]
    finally:
        if own:
            await client.aclose()


@respx.mock
def test_validators_are_sent_and_304_has_no_body() -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(304, headers={"ETag": '"v1"'}))
    result = run(get(etag='"v1"', last_modified="Mon, 23 Nov 2026 10:00:00 GMT"))
    sent = route.calls.last.request.headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Mon, 23 Nov 2026 10:00:00 GMT"
    assert result.not_modified and result.body is None


@respx.mock
def test_200_returns_body_and_new_validators() -> None:
    respx.get(URL).mock(
        return_value=httpx.Response(
            200,
            content=b"<rss/>",
            headers={
                "ETag": '"v2"',
                "Last-Modified": "Tue, 24 Nov 2026 10:00:00 GMT",
                "Content-Type": "application/rss+xml",
            },
        )
    )
    result = run(get())
    assert (result.status, result.body, result.etag, result.content_type) == (
        200,
        b"<rss/>",
        '"v2"',
        "application/rss+xml",
    )
    assert result.last_modified == "Tue, 24 Nov 2026 10:00:00 GMT" and result.moved_to is None


@pytest.mark.parametrize(
    ("codes", "moved"),
    [((301,), True), ((308,), True), ((301, 308), True), ((302,), False), ((301, 307), False)],
)
@respx.mock
def test_only_permanent_redirects_move_the_feed(codes: tuple[int, ...], moved: bool) -> None:
    hops = [f"https://news.example.org/hop{i}" for i in range(len(codes))] + [
        "https://feeds.example.org/new.xml"
    ]
    respx.get(URL).mock(
        return_value=httpx.Response(
            codes[0], headers={"Location": hops[1 if len(codes) > 1 else -1]}
        )
    )
    for i, code in enumerate(codes[1:], start=1):
        respx.get(hops[i]).mock(return_value=httpx.Response(code, headers={"Location": hops[-1]}))
    respx.get(hops[-1]).mock(return_value=httpx.Response(200, content=b"<rss/>"))
    result = run(get())
    assert result.url == hops[-1]
    assert result.moved_to == (hops[-1] if moved else None)


@respx.mock
def test_410_retires_and_429_carries_retry_after() -> None:
    respx.get(URL).mock(return_value=httpx.Response(410))
    with pytest.raises(FeedGone):
        run(get())
    respx.get(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(FetchError) as info:
        run(get())
    assert (info.value.status, info.value.retry_after) == (429, 120.0)
    respx.get(URL).mock(return_value=httpx.Response(503))
    with pytest.raises(FetchError, match="HTTP 503"):
        run(get())


@respx.mock
def test_connection_errors_become_fetch_errors() -> None:
    respx.get(URL).mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(FetchError, match="connection refused") as info:
        run(get())
    assert info.value.url == URL


@respx.mock
def test_declared_size_over_the_cap_is_refused_before_reading() -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, content=b"x" * 2000))
    with pytest.raises(TooLarge):
        run(get(max_bytes=1000))


def test_size_cap_counts_decoded_bytes(site: Site) -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    site.route("/bomb.xml", Answer(200, bomb, {"Content-Encoding": "gzip"}))
    assert len(bomb) < 100_000

    async def go() -> None:
        async with build_client(timeout=10) as client:
            await get(site.url("/bomb.xml"), client, max_bytes=1_000_000)

    with pytest.raises(TooLarge, match="grew past"):
        run(go())


def test_a_server_dripping_bytes_hits_the_deadline(site: Site) -> None:
    site.route("/slow.xml", Answer(200, b"x" * 200, drip=0.05))

    async def go() -> float:
        started = time.monotonic()
        async with build_client(timeout=1) as client:
            with pytest.raises(FetchError, match="no complete answer within 1s"):
                await get(site.url("/slow.xml"), client, timeout=1.0)
        return time.monotonic() - started

    assert run(go()) < 5


def test_real_client_decompresses_and_identifies_itself(site: Site) -> None:
    body = b"<rss>" + b"news " * 1000 + b"</rss>"
    site.route(
        "/feed.xml", Answer(200, gzip.compress(body), {"Content-Encoding": "gzip", "ETag": '"e"'})
    )

    async def go() -> FetchResult:
        async with build_client(timeout=5) as client:
            return await get(site.url("/feed.xml"), client)

    result = run(go())
    assert result.body == body and result.etag == '"e"'
    (request,) = site.hits("/feed.xml")
    assert request.headers["user-agent"].startswith("monitor/")
    assert "gzip" in request.headers["accept-encoding"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_article_pages_on_private_addresses_are_refused(site: Site, host: str) -> None:
    site.route("/page.html", Answer(200, b"<html>secret</html>"))
    url = site.url("/page.html").replace("127.0.0.1", host)

    async def go(page: bool, allow: bool) -> FetchResult:
        async with build_client(timeout=5) as client:
            return await get(url, client, page=page, allow_private=allow)

    with pytest.raises(BlockedAddress):
        run(go(page=True, allow=False))
    assert run(go(page=True, allow=True)).status == 200
    assert run(go(page=False, allow=False)).status == 200  # feeds are the operator's own choice
    assert len(site.hits("/page.html")) == 2


def test_redirect_to_a_private_address_is_refused(site: Site) -> None:
    site.route("/page.html", Answer(200, b"<html>secret</html>"))

    async def go() -> None:
        transport = httpx.MockTransport(
            lambda r: httpx.Response(302, headers={"Location": site.url("/page.html")})
        )
        async with build_client(timeout=5) as client:
            # A public page that redirects into the local network.
            client._transport = _Chain(transport, client._transport)  # type: ignore[attr-defined]
            await get("https://public.example.org/a", client, page=True, allow_private=False)

    with pytest.raises(BlockedAddress):
        run(go())
    assert site.hits("/page.html") == []


class _Chain(httpx.AsyncBaseTransport):
    """Public hosts answered by a mock, everything else by the real transport."""

    def __init__(self, mock: httpx.AsyncBaseTransport, real: httpx.AsyncBaseTransport) -> None:
        self.mock, self.real = mock, real

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.endswith("example.org"):
            return await self.mock.handle_async_request(request)
        return await self.real.handle_async_request(request)


def test_per_host_limit(site: Site) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()
    original = site.answer_for

    def counting(request):  # type: ignore[no-untyped-def]
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.2)
        with lock:
            active -= 1
        return original(request)

    site.answer_for = counting  # type: ignore[method-assign]
    site.route("/f.xml", Answer(200, b"<rss/>"))

    async def go() -> None:
        slots = fetch.HostSlots(2)
        async with build_client(timeout=5) as client:
            await asyncio.gather(
                *(
                    fetch.fetch(client, site.url("/f.xml"), slots=slots, timeout=5, max_bytes=1000)
                    for _ in range(6)
                )
            )

    run(go())
    assert peak == 2


def test_next_poll_backs_off_exponentially_with_jitter() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    rng = random.Random(7)

    def delay(**kw: object) -> float:
        return (fetch.next_poll(now, 600, rng=rng, **kw) - now).total_seconds()  # type: ignore[arg-type]

    for _ in range(50):
        assert 600 <= delay() <= 660
        assert 600 <= delay(errors=1) <= 900  # a failing feed is never polled sooner
        assert 2400 <= delay(errors=3) <= 3600
        assert 0.8 * 21600 <= delay(errors=40, max_backoff_s=21600) <= 21600  # the ceiling holds
        assert 0.8 * 4000 <= delay(errors=4, max_backoff_s=4000) <= 4000
        assert delay(errors=3, max_backoff_s=300) == 600  # a ceiling under the interval
        assert delay(errors=1, retry_after=7200) >= 7200
    assert delay(retry_after=10**9) <= 7 * 86400 + 660
    assert fetch.next_poll(now, 600, errors=10**6, rng=rng) > now + timedelta(hours=4)


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("120") == 120
    assert (
        retry_after_seconds(
            "Mon, 23 Nov 2026 10:02:00 GMT",
            now=datetime(2026, 11, 23, 10, 0, tzinfo=UTC).timestamp(),
        )
        == 120
    )
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_redirect_leaves_the_keep_alive_connection_clean(site: Site) -> None:
    """Regression: a followed redirect once sent a stray chunked body on a GET, which the server
    then read as the next request line."""
    site.route("/old.xml", Answer(301, b"", {"Location": "/new.xml"}))
    site.route("/new.xml", Answer(200, b"<rss/>"))

    async def go() -> list[int]:
        async with build_client(timeout=5) as client:
            return [(await get(site.url(p), client)).status for p in ("/old.xml", "/new.xml")]

    assert run(go()) == [200, 200]
    assert [r.path for r in site.requests] == ["/old.xml", "/new.xml", "/new.xml"]
    assert all(r.body == b"" for r in site.requests)
