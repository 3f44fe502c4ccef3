"""discover: a site or section URL → the sources it offers (`monitor feeds add URL`).

Looked for, in this order, and each one fetched and read before it is offered (a link to a
feed that 404s or holds nothing is not offered): the URL itself when it is a feed or a sitemap;
the feeds its page names (`<link rel="alternate">`); feeds at the paths publishers commonly
use, beside the section and at the site's root; the sitemaps robots.txt names and the common
news-sitemap paths; and, last, the page itself as a listing page when its default reading
finds articles. Requests share one client with the per-host limit and deadline of the config.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from monitor.config import Config, SourceKind
from monitor.errors import FetchError
from monitor.model import FetchResult
from monitor.pipeline import fetch, listing, parse, sitemap

FEED_PATHS = ("feed", "rss", "rss.xml", "feed.xml", "atom.xml", "index.xml", "feeds/all.atom")
NEWS_SITEMAPS = ("/sitemap-news.xml", "/news-sitemap.xml", "/sitemap_news.xml")
MIN_LISTING_ITEMS = 3
SITEMAP_DAYS = 2.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A source found for the URL, read once to see that it works."""

    url: str
    kind: SourceKind
    title: str | None
    found_by: str
    items: int
    newest: datetime | None
    what: str = ""  # for a sitemap: "news sitemap", "sitemap" or "sitemap index"

    @property
    def name(self) -> str:
        """A name for the config: the feed's or page's title, else the site and the kind."""
        if self.title:
            return self.title
        host = (urlsplit(self.url).hostname or "").removeprefix("www.")
        return f"{host} news" if self.what == "news sitemap" else host


async def discover(config: Config, client: httpx.AsyncClient, url: str) -> list[Candidate]:
    """Every working source the URL leads to, best first (feeds, then news sitemaps, other
    sitemaps, then the page as a listing); raises FetchError when the URL itself fails."""
    settings = config.settings.fetch
    slots = fetch.HostSlots(settings.per_host)
    now = datetime.now(UTC)

    async def get(target: str) -> FetchResult:
        return await fetch.fetch(
            client, target, slots=slots, timeout=settings.timeout, max_bytes=settings.max_bytes
        )

    async def probe(target: str, found_by: str) -> Candidate | None:
        try:
            result = await get(target)
        except FetchError:
            return None
        return _read(result, found_by, now, settings.max_bytes)

    first = await get(url)
    itself = _read(first, "the URL itself", now, settings.max_bytes)
    if itself is not None and itself.kind != SourceKind.HTML:
        return [itself]
    body = first.body or b""
    page_url = first.url
    named = parse.advertised_feeds(body, page_url)
    root = f"{urlsplit(page_url).scheme}://{urlsplit(page_url).netloc}/"
    section = page_url if page_url.endswith("/") else page_url.rsplit("/", 1)[0] + "/"
    common = [urljoin(base, p) for base in dict.fromkeys((section, root)) for p in FEED_PATHS]
    named_sitemaps = await _robots_sitemaps(get, root)
    jobs = [
        *(probe(u, "named in the page (rel=alternate)") for u in named),
        *(probe(u, f"common path {urlsplit(u).path}") for u in common),
        *(probe(u, "named in robots.txt") for u in named_sitemaps),
        *(probe(urljoin(root, p), f"common path {p}") for p in NEWS_SITEMAPS),
    ]
    found = [c for c in await asyncio.gather(*jobs) if c is not None]
    if itself is not None:
        found.append(itself)
    return _rank(found)


def _rank(found: list[Candidate]) -> list[Candidate]:
    """Each URL once (its first finding), feeds first, then sitemaps with titles (news), other
    sitemaps, listing pages; the same feed under two URLs (a redirect) kept once."""
    order = {SourceKind.FEED: 0, SourceKind.SITEMAP: 1, SourceKind.HTML: 2}
    seen: dict[str, Candidate] = {}
    for candidate in found:
        seen.setdefault(candidate.url, candidate)
    return sorted(
        seen.values(), key=lambda c: (order[c.kind], c.kind == SourceKind.SITEMAP and not c.title)
    )


def _read(result: FetchResult, found_by: str, now: datetime, max_bytes: int) -> Candidate | None:
    """The fetched body as a candidate of the kind it reads as, or None when it yields
    nothing."""
    body = result.body or b""
    if not body.strip():
        return None
    head = body[:2048].lstrip().lower()
    if head[:2] == sitemap.GZIP_MAGIC or b"<urlset" in head or b"<sitemapindex" in head:
        read = sitemap.read_sitemap(
            body,
            result.url,
            now=now,
            max_age=SITEMAP_DAYS * 86400,
            max_urls=1000,
            max_bytes=max_bytes,
        )
        if read.is_index:
            if not read.children:
                return None
            newest = read.children[0].lastmod
            return Candidate(
                result.url, SourceKind.SITEMAP, None, found_by, len(read.children), newest
            )
        if read.error and not read.feed.items:
            return None
        entries = parse.FeedItems(read.feed, result.url, now).entries().entries
        titled = any(e.title for e in entries)
        return Candidate(
            result.url,
            SourceKind.SITEMAP,
            None,
            found_by,
            len(entries),
            max((e.published for e in entries if e.published), default=None),
            "news sitemap" if titled else "sitemap",
        )
    if b"<html" in head or b"<!doctype html" in head:
        raw = listing.read_listing(body, result.url, result.content_type)
        if len(raw.items) < MIN_LISTING_ITEMS:
            return None
        entries = parse.FeedItems(raw, result.url, now).entries().entries
        return Candidate(
            result.url,
            SourceKind.HTML,
            raw.title,
            "the page's article links",
            len(entries),
            max((e.published for e in entries if e.published), default=None),
        )
    feed = parse.read_feed(body, result.url, result.content_type, now=now)
    if not feed.guids:
        return None
    entries = feed.entries().entries
    return Candidate(
        result.url,
        SourceKind.FEED,
        feed.title,
        found_by,
        len(entries),
        max((e.published for e in entries if e.published), default=None),
    )


async def _robots_sitemaps(get: Callable[[str], Awaitable[FetchResult]], root: str) -> list[str]:
    """The sitemaps robots.txt names (news ones first)."""
    try:
        result = await get(urljoin(root, "/robots.txt"))
    except FetchError:
        return []
    text = (result.body or b"")[:512_000].decode("utf-8", errors="replace")
    named = [u for u in Protego.parse(text).sitemaps if u.startswith(("http://", "https://"))]
    return sorted(dict.fromkeys(named), key=lambda u: "news" not in u.lower())
