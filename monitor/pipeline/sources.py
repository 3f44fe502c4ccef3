"""sources: a source's URL → its body, and its body → entries, by the source's kind.

The pipeline's one dispatch point for what is not RSS: `Sources.fetch` gets a source's body
(for a sitemap index, the index's recent children too), `Sources.read` reads it into the
`FeedItems` every kind shares (`parse` for feeds, `sitemap`, `listing`), and `fetch_page` gets
an article page. Every request goes through the same client, per-host slots, deadline and size
cap (`fetch`); listing pages and article pages also ask robots.txt first (`robots`), unless the
source or `fetch.robots` says not to.

A sitemap index is fetched with the conditional GET the store keeps for the source, and its
recent children (`sitemap.read_sitemap`) without one, each poll: a news site's index may stay
the same while its current child grows. Their bodies travel to `read` as one body
(`_Bundle`), so the pipeline's "same hash as last time" test covers the children too.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

import httpx
import structlog

from monitor.config import Config, FeedSettings, Selectors, SitemapOptions, SourceKind
from monitor.errors import FetchError
from monitor.model import Entry, FetchResult
from monitor.pipeline import fetch, listing, parse, sitemap
from monitor.pipeline.parse_raw import RawFeed, RawItem, describe
from monitor.pipeline.robots import Robots

log = structlog.get_logger("monitor.pipeline")

_BUNDLE = b"monitor-sitemap-bundle/1\n"
MAX_DEPTH = 2  # an index of indexes is followed; deeper nesting is not
_INDEXES = 10_000  # sitemap indexes whose children are remembered (for a 304 of the index)


@dataclass(frozen=True, slots=True)
class _Shape:
    is_index: bool
    children: list[str]


@dataclass(frozen=True, slots=True)
class _Part:
    url: str
    body: bytes


class _Bundle:
    """Sitemap bodies as one body: a header line per part (JSON: URL and length), then its
    bytes. Only `Sources` writes and reads it."""

    @staticmethod
    def pack(parts: list[_Part]) -> bytes:
        out = [_BUNDLE]
        for part in parts:
            out += [json.dumps([part.url, len(part.body)]).encode() + b"\n", part.body]
        return b"".join(out)

    @staticmethod
    def unpack(body: bytes) -> list[_Part] | None:
        if not body.startswith(_BUNDLE):
            return None
        parts, at = [], len(_BUNDLE)
        while at < len(body):
            end = body.index(b"\n", at)
            url, size = json.loads(body[at:end])
            parts.append(_Part(url, body[end + 1 : end + 1 + size]))
            at = end + 1 + size
        return parts


def _same_host(url: str, other: str) -> bool:
    """The sitemaps protocol's rule for an index: its sitemaps are on its own site."""
    return listing.same_site(urlsplit(url).hostname or "", urlsplit(other).hostname or "")


@functools.lru_cache(maxsize=1024)
def _compiled(select: Selectors) -> dict[str, object]:
    return {
        name: listing.compile_selector(css) if css else None
        for name, css in (
            ("item", select.item),
            ("link", select.link),
            ("title", select.title),
            ("date", select.date),
        )
    }


class Sources:
    """Fetching and reading every kind of source, politely. One per pipeline; the config comes
    with each call, as it may be reloaded between cycles."""

    def __init__(self, client: httpx.AsyncClient, slots: fetch.HostSlots) -> None:
        self.client = client
        self.slots = slots
        self.robots = Robots()
        # Sitemap URL → whether it was an index and its children: what a 304 stands for.
        self._children: OrderedDict[str, _Shape] = OrderedDict()

    # -- fetching --------------------------------------------------------------------------

    async def _get(
        self,
        config: Config,
        url: str,
        *,
        page: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        settings = config.settings.fetch
        return await fetch.fetch(
            self.client,
            url,
            slots=self.slots,
            timeout=settings.timeout,
            max_bytes=settings.max_bytes,
            etag=etag,
            last_modified=last_modified,
            page=page,
            allow_private=settings.allow_private_networks,
        )

    def _obeys_robots(self, config: Config, source: FeedSettings | None) -> bool:
        if source is not None and source.robots is not None:
            return source.robots
        return config.settings.fetch.robots

    async def check_robots(
        self, config: Config, source: FeedSettings | None, url: str, *, page: bool
    ) -> None:
        """Raise RobotsDisallowed when robots.txt keeps us from `url` (and it is obeyed)."""
        if self._obeys_robots(config, source):
            await self.robots.check(url, lambda u: self._get(config, u, page=page))

    async def fetch(
        self,
        config: Config,
        name: str,
        url: str,
        *,
        now: datetime,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        """The source's body by a conditional GET; raises FetchError (RobotsDisallowed for a
        listing page robots.txt closes)."""
        source = config.feed(name)
        kind = source.kind if source is not None else SourceKind.FEED
        if kind == SourceKind.HTML:
            await self.check_robots(config, source, url, page=False)
        result = await self._get(config, url, etag=etag, last_modified=last_modified)
        if kind != SourceKind.SITEMAP:
            return result
        if result.not_modified:  # the index's validators stay what they were (a 304 has none)
            result = replace(result, etag=etag, last_modified=last_modified)
        return await self._with_children(config, source, url, result, now)

    async def fetch_page(self, config: Config, name: str, url: str) -> FetchResult:
        """An article page of source `name`: robots.txt first, then a guarded GET."""
        await self.check_robots(config, config.feed(name), url, page=True)
        return await self._get(config, url, page=True)

    async def _with_children(
        self,
        config: Config,
        source: FeedSettings | None,
        url: str,
        result: FetchResult,
        now: datetime,
    ) -> FetchResult:
        """For a sitemap index, the index and its recent children as one bundle; any other
        sitemap as it came."""
        options = (source.sitemap if source else None) or SitemapOptions()
        if result.not_modified:
            remembered = self._children.get(url)
            if remembered is None:  # a new process: read the sitemap itself once more
                result = await self._get(config, url)
            elif remembered.is_index:
                return await self._bundle(config, url, result, remembered.children, options, now)
            else:
                return result
        if result.body is None:
            return result
        children: list[str] = []
        index = sitemap.is_index(result.body, config.settings.fetch.max_bytes)
        if index:
            found = self._read(result.body, result.url, options, config, now)
            children = [c.url for c in found.children if _same_host(c.url, result.url)]
        self._children[url] = _Shape(index, children)
        self._children.move_to_end(url)
        while len(self._children) > _INDEXES:
            self._children.popitem(last=False)
        if not index:
            return result
        return await self._bundle(config, url, result, children, options, now)

    async def _bundle(
        self,
        config: Config,
        url: str,
        result: FetchResult,
        children: list[str],
        options: SitemapOptions,
        now: datetime,
    ) -> FetchResult:
        parts: list[_Part] = []
        errors: list[str] = []
        queue = list(children)
        depth = {c: 1 for c in children}
        budget = options.max_children
        while queue and budget > 0:
            batch, queue = queue[:budget], queue[budget:]
            budget -= len(batch)
            got = await asyncio.gather(
                *(self._get(config, child) for child in batch), return_exceptions=True
            )
            for child, answer in zip(batch, got, strict=True):
                if isinstance(answer, FetchError):
                    errors.append(f"{child}: {answer}")
                    continue
                if isinstance(answer, BaseException):
                    raise answer
                body = answer.body or b""
                if depth[child] < MAX_DEPTH:  # an index inside the index: its children next
                    inner = self._read(body, answer.url, options, config, now)
                    if inner.is_index:
                        for c in inner.children:
                            if c.url not in depth and _same_host(c.url, answer.url):
                                depth[c.url] = depth[child] + 1
                                queue.append(c.url)
                        continue
                parts.append(_Part(answer.url, body))
        if errors:
            log.info("sitemap children not fetched", url=url, errors="; ".join(errors)[:500])
        if not parts and errors:
            raise FetchError(f"no sitemap of the index could be fetched: {errors[0]}", url=url)
        return replace(result, status=200, body=_Bundle.pack(parts), content_type="application/xml")

    @staticmethod
    def _read(
        body: bytes,
        url: str,
        options: SitemapOptions,
        config: Config,
        now: datetime,
        known: Container[bytes] = (),
    ) -> sitemap.Sitemap:
        return sitemap.read_sitemap(
            body,
            url,
            now=now,
            max_age=options.max_age,
            max_urls=options.max_urls,
            max_bytes=config.settings.fetch.max_bytes,
            known=known,
        )

    # -- reading ---------------------------------------------------------------------------

    def read(
        self,
        config: Config,
        name: str,
        result: FetchResult,
        *,
        now: datetime,
        known: Container[bytes] = (),
    ) -> parse.FeedItems:
        """The fetched body of source `name` read by its kind; never raises (a source that
        yields nothing comes back with no guids and `error` set)."""
        source = config.feed(name)
        kind = source.kind if source is not None else SourceKind.FEED
        body = result.body or b""
        if kind == SourceKind.FEED:
            return parse.read_feed(
                body,
                result.url,
                result.content_type,
                now=now,
                known=known,
                max_entries=config.settings.fetch.max_entries,
            )
        try:
            if kind == SourceKind.HTML:
                select = source.select if source is not None else None
                raw = listing.read_listing(
                    body,
                    result.url,
                    result.content_type,
                    known=known,
                    **(_compiled(select) if select is not None else {}),
                )
            else:
                options = (source.sitemap if source else None) or SitemapOptions()
                raw = self._read_sitemaps(body, result.url, options, config, now, known)
        except Exception as exc:  # a reader's bug on one source must not stop the daemon
            raw = RawFeed([], kind.value, error=f"reader failed: {describe(exc)}")
        return parse.FeedItems(raw, result.url, now)

    def _read_sitemaps(
        self,
        body: bytes,
        url: str,
        options: SitemapOptions,
        config: Config,
        now: datetime,
        known: Container[bytes],
    ) -> RawFeed:
        parts = _Bundle.unpack(body)
        if parts is None:
            found = self._read(body, url, options, config, now, known)
            if found.is_index:  # only when the bundle was not made (it always is): say so
                return RawFeed([], "sitemap", error="a sitemap index with no recent sitemap")
            return found.feed
        items: list[RawItem] = []
        hashes: list[bytes] = []
        skipped: list[bytes] = []
        errors: list[str] = []
        for part in parts:
            feed = self._read(part.body, part.url, options, config, now, known).feed
            items += feed.items
            hashes += feed.item_hashes or []
            skipped += feed.skipped
            if feed.error:
                errors.append(f"{part.url}: {feed.error}")
        error = "; ".join(errors)[:500] or None  # (an index with no recent child: no error)
        keep = options.max_urls
        return RawFeed(
            items[:keep],
            "sitemap",
            error=error,
            item_hashes=hashes[:keep],
            skipped=skipped,
        )


@dataclass(frozen=True, slots=True)
class Preview:
    """What a source yields now (`monitor test-source`): its entries, newest first as read,
    and the reader's complaint, if any."""

    source: FeedSettings
    url: str
    status: int
    entries: tuple[Entry, ...]
    error: str | None


async def preview(config: Config, client: httpx.AsyncClient, name: str, now: datetime) -> Preview:
    """Fetch and read one configured source as a poll would (robots.txt and all), storing
    nothing; raises FetchError when it cannot be fetched."""
    source = config.feed(name)
    if source is None:
        raise KeyError(name)
    reader = Sources(client, fetch.HostSlots(config.settings.fetch.per_host))
    result = await reader.fetch(config, name, source.url, now=now, etag=None, last_modified=None)
    items = reader.read(config, name, result, now=now)
    parsed = items.entries()
    return Preview(source, result.url, result.status, parsed.entries, parsed.error)
