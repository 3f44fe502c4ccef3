"""fetch: one conditional GET of a feed or page → FetchResult, plus when to poll a feed next.

The client comes in as a parameter (built by `monitor.http`); this stage adds what a polite,
hardened poller needs per request: validators, a per-host limit, a deadline for the whole
exchange (a server dripping one byte a second cannot hold a slot forever), a size cap counted on
the decoded body as it is decoded (`http.read_body`), redirects followed here (no redirect's body
is read, and every hop of a page stays behind the private-address guard), and sorting the answer
into success, not-modified, moved, gone or retry-later.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx

from monitor.errors import BlockedAddress, FeedGone, FetchError, TooLarge
from monitor.http import MAX_REDIRECTS, describe, read_body, retry_after_seconds, untrusted
from monitor.model import FetchResult

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


class HostSlots:
    """At most `per_host` requests in flight to one host, however many feeds it serves."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host)
        )

    def __call__(self, url: str) -> asyncio.Semaphore:
        return self._slots[httpx.URL(url).host]


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    slots: HostSlots,
    timeout: float,
    max_bytes: int,
    etag: str | None = None,
    last_modified: str | None = None,
    page: bool = False,
    allow_private: bool = True,
) -> FetchResult:
    """GET `url`; raise FetchError (or FeedGone, TooLarge, BlockedAddress) when it fails.

    `page=True` marks an article link taken from a feed: untrusted, so non-public addresses are
    refused unless `allow_private`.
    """
    headers = {"Accept": PAGE_ACCEPT if page else FEED_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    async with slots(url):
        try:
            with untrusted(allow_private or not page):
                async with asyncio.timeout(timeout):
                    return await _get(client, url, headers, max_bytes)
        except TimeoutError:
            raise FetchError(f"no complete answer within {timeout:g}s", url=url) from None
        except BlockedAddress as exc:
            raise BlockedAddress(str(exc), url=url) from None
        except httpx.TooManyRedirects:
            raise FetchError("too many redirects", url=url) from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL: {exc}", url=url) from None
        except httpx.HTTPError as exc:
            raise FetchError(describe(exc), url=url) from None


async def _get(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], max_bytes: int
) -> FetchResult:
    hops: list[int] = []  # the status of each redirect on the way
    target = httpx.URL(url)
    while True:
        async with client.stream(
            "GET", target, headers=headers, follow_redirects=False
        ) as response:
            status = response.status_code
            if response.has_redirect_location:
                if len(hops) >= MAX_REDIRECTS:
                    raise httpx.TooManyRedirects("too many redirects", request=response.request)
                target = response.url.join(response.headers["location"])
                if target.scheme not in ("http", "https"):
                    raise FetchError(f"redirected to a {target.scheme}: URL", url=url)
                hops.append(status)
                continue
            final = str(response.url)
            moved = _moved(url, final, hops)
            if status == 304:
                return FetchResult(url=final, status=304, body=None, moved_to=moved)
            if status == 410:
                raise FeedGone(
                    "HTTP 410 Gone: the publisher removed this feed", url=url, status=410
                )
            if not response.is_success:
                raise FetchError(
                    f"HTTP {status}",
                    url=url,
                    status=status,
                    retry_after=retry_after_seconds(response.headers.get("retry-after")),
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"body of {int(declared):,} bytes is over the limit", url=url)
            try:
                body = await read_body(response, max_bytes)
            except FetchError as exc:  # counted as it is decoded: a bomb stops at the cap
                raise type(exc)(str(exc), url=url) from None
            return FetchResult(
                url=final,
                status=status,
                body=body,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                moved_to=moved,
            )


def _moved(requested: str, final: str, hops: list[int]) -> str | None:
    """The new URL when every redirect on the way was permanent (301/308), else None."""
    if hops and all(status in (301, 308) for status in hops) and final != requested:
        return final
    return None


def next_poll(
    now: datetime,
    interval_s: float,
    *,
    errors: int = 0,
    retry_after: float | None = None,
    max_backoff_s: float = 6 * 3600,
    rng: random.Random | None = None,
) -> datetime:
    """When to poll again: the interval (+0-10% jitter so feeds drift apart); after `errors`
    failures in a row, the interval doubled per failure (+0-50% jitter), never sooner than the
    interval and never later than `max_backoff_s` (failing feeds at that ceiling spread over its
    last fifth); never sooner than the server's Retry-After (capped at a week)."""
    rng = rng or random.Random()
    if errors <= 0:
        delay = interval_s * (1 + 0.1 * rng.random())
    else:
        ceiling = max(max_backoff_s, interval_s)
        delay = interval_s * 2 ** min(errors - 1, 30) * (1 + 0.5 * rng.random())
        if delay > ceiling:
            delay = max(interval_s, ceiling * (0.8 + 0.2 * rng.random()))
    if retry_after is not None:
        delay = max(delay, min(retry_after, 7 * 86400.0))
    return now + timedelta(seconds=delay)
