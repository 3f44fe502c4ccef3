"""robots: may this page be fetched? robots.txt per host, fetched once and kept for a day.

Protego (Scrapy's parser) reads the file as RFC 9309 and Google's crawler do: the group for our
product token ("monitor") or else `*`, the longest matching rule winning, `*` and `$` in paths.
What the answer is when robots.txt cannot be read follows RFC 9309: a 4xx (no file) allows
everything; a 5xx, a 429 or no answer at all disallows the host's pages for a while
(`UNREACHABLE_TTL_S`), since the site may be struggling. Kept per process (one file per host a
day is what the RFC asks; a restart costs one more request per host).

Feeds and sitemaps are not checked: they are published for machines to read, and a sitemap is
what robots.txt itself points crawlers to. Listing pages and article pages are.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from monitor.errors import FetchError, RobotsDisallowed
from monitor.model import FetchResult

AGENT = "monitor"  # the product token robots.txt groups are matched against
TTL_S = 24 * 3600.0  # RFC 9309: a cached robots.txt should not be used for longer than a day
UNREACHABLE_TTL_S = 600.0  # a 5xx or a timeout: the host's pages wait this long, then we ask again
MAX_HOSTS = 10_000
MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309: at least 500 KiB is read; the rest may be ignored


@dataclass(slots=True)
class _Rules:
    parser: Protego | None  # None: everything allowed (no robots.txt)
    unreachable: str | None  # why every page is refused for now
    expires: float


Fetcher = Callable[[str], Awaitable[FetchResult]]


class Robots:
    """The robots.txt answers of the hosts seen, each fetched once per `TTL_S` (concurrent
    checks of one host share one request)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rules: OrderedDict[str, _Rules] = OrderedDict()
        self._pending: dict[str, asyncio.Future[_Rules]] = {}

    async def check(self, url: str, fetch: Fetcher) -> None:
        """Raise RobotsDisallowed unless `url` may be fetched; `fetch` GETs a robots.txt URL."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        rules = await self._rules_for(origin, fetch)
        if rules.unreachable is not None:
            raise RobotsDisallowed(
                f"robots.txt of {origin} could not be read ({rules.unreachable}); its pages "
                f"wait until it can be",
                url=url,
            )
        if rules.parser is not None and not rules.parser.can_fetch(url, AGENT):
            raise RobotsDisallowed(f"robots.txt of {origin} disallows this page", url=url)

    async def _rules_for(self, origin: str, fetch: Fetcher) -> _Rules:
        now = self._clock()
        cached = self._rules.get(origin)
        if cached is not None and cached.expires > now:
            return cached
        pending = self._pending.get(origin)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Rules] = asyncio.get_running_loop().create_future()
        self._pending[origin] = future
        try:
            rules = await self._load(origin, fetch)
            future.set_result(rules)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters (if any) re-raise it themselves
            raise
        finally:
            del self._pending[origin]
        self._rules[origin] = rules
        self._rules.move_to_end(origin)
        while len(self._rules) > MAX_HOSTS:
            self._rules.popitem(last=False)
        return rules

    async def _load(self, origin: str, fetch: Fetcher) -> _Rules:
        now = self._clock()
        try:
            result = await fetch(origin + "/robots.txt")
        except FetchError as exc:
            status = exc.status
            if status is not None and 400 <= status < 500 and status != 429:
                return _Rules(None, None, now + TTL_S)  # no robots.txt: everything allowed
            return _Rules(None, str(exc), now + UNREACHABLE_TTL_S)
        body = (result.body or b"")[:MAX_ROBOTS_BYTES]
        text = body.decode("utf-8", errors="replace")
        if "<html" in text[:1000].lower():  # a soft 404: a web page where the file should be
            return _Rules(None, None, now + TTL_S)
        return _Rules(Protego.parse(text), None, now + TTL_S)
