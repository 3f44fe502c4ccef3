"""read: a feed's new entries made into articles, the extract stage's I/O.

An entry whose feed carries the full text is read from the feed; one that carries only a
summary has its page fetched (refusing private addresses unless allowed) and extracted in the
extraction pool, off the event loop. A page that fails leaves the feed's text, marked so. An
article another feed brought already (the same canonical link) is not read again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from concurrent.futures import Executor
from dataclasses import replace

import structlog

from monitor.config import Config, FeedSettings
from monitor.errors import FetchError
from monitor.model import Article, Entry
from monitor.pipeline import extract, stories
from monitor.pipeline.sources import Sources
from monitor.storage import Store
from monitor.storage import articles as article_store

log = structlog.get_logger("monitor.pipeline")


class Reader:
    """Reads articles through the pipeline's `sources` (one HTTP client, its per-host slots,
    robots.txt) and the extraction `pool`."""

    def __init__(self, sources: Sources, pool: Executor | None) -> None:
        self.sources, self.pool = sources, pool

    async def articles(
        self,
        store: Store,
        config: Config,
        feed: str,
        entries: Sequence[Entry],
        *,
        edited: Collection[str] = (),
    ) -> list[Article | BaseException]:
        """The entries' articles, or why one failed (that entry is not stored, so the next poll
        retries it). An edited entry is read again even when its article is stored."""
        keys = [link_key(feed, e) for e in entries]
        known = article_store.find_many(store, keys)
        feed_cfg = config.feed(feed)
        return await asyncio.gather(
            *(
                self._article(
                    config, feed, feed_cfg, e, key, None if e.guid in edited else known.get(key)
                )
                for e, key in zip(entries, keys, strict=True)
            ),
            return_exceptions=True,
        )

    async def _article(
        self,
        config: Config,
        feed: str,
        feed_cfg: FeedSettings | None,
        entry: Entry,
        key: str,
        known: Article | None,
    ) -> Article:
        if known is not None:  # another feed brought this article already: no second extraction
            return replace(known, source=feed)
        settings = config.settings.fetch
        text = extract.feed_text(entry)
        fetch_pages = settings.fetch_pages
        if feed_cfg is not None and feed_cfg.fetch_pages is not None:
            fetch_pages = feed_cfg.fetch_pages
        page: extract.PageText | None = None
        page_error: str | None = None
        if entry.url and extract.needs_page(
            entry, text, full_text_chars=settings.full_text_chars, fetch_pages=fetch_pages
        ):
            page, page_error = await self._page(config, feed, entry.url)
        canonical = key
        if page is not None and page.canonical_url and entry.url:
            canonical = stories.page_canonical(entry.url, page.canonical_url)
        return extract.build_article(
            entry,
            source=feed,
            canonical_url=canonical,
            text=text,
            page=page,
            page_error=page_error,
        )

    async def _page(
        self, config: Config, feed: str, url: str
    ) -> tuple[extract.PageText | None, str | None]:
        try:
            result = await self.sources.fetch_page(config, feed, url)
        except FetchError as exc:
            log.info("page not fetched; using the feed's text", feed=feed, url=url, error=str(exc))
            return None, f"page not fetched: {exc}"
        if not result.body:
            return None, "page was empty"
        loop = asyncio.get_running_loop()
        try:
            page = await loop.run_in_executor(
                self.pool, extract.extract_page, result.body, result.url, result.content_type
            )
        except Exception as exc:  # extraction of hostile pages must not lose the entry
            log.warning(
                "extraction failed; using the feed's text", feed=feed, url=url, error=repr(exc)
            )
            return None, f"extraction failed: {exc!r}"[:300]
        if page is None:
            return None, "no article text found in the page"
        return page, None


def link_key(feed: str, entry: Entry) -> str:
    """The article key before any page is read: the entry's canonical link (or, for an entry
    without one, a key private to this feed)."""
    return stories.canonical_url(entry.url) if entry.url else f"urn:monitor:{feed}:{entry.guid}"
