"""extract: an entry, and its page when the feed is short, → the Article the rules read.

trafilatura finds the article body and metadata in a page; it is CPU-bound, so the pipeline
runs `extract_page` in a worker pool. The feed's own HTML is read by `sanitize.html_to_text`
(paragraphs kept, promo lines dropped), the one HTML-to-text that parse uses too. Everything
here is a pure function of its inputs.

An article's title, summary and text are bounded here, where every article is made (`MAX_TITLE`,
`MAX_SUMMARY`, `MAX_TEXT` characters), so that no 1 MB title is stored whole and sent whole
to every channel. A cut field ends in "…" at a word boundary, so a reader sees it was cut.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura

from monitor.model import Article, Entry, Extraction
from monitor.pipeline.sanitize import html_to_text as html_to_text  # part of this stage's API
from monitor.pipeline.sanitize import tidy_text

_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
MAX_TITLE = 500
MAX_SUMMARY = 5_000
MAX_TEXT = 200_000  # some 30,000 words: longer than any article, bounded for matching


@dataclass(frozen=True, slots=True)
class PageText:
    """What trafilatura found in a page."""

    text: str
    title: str | None = None
    canonical_url: str | None = None
    published: datetime | None = None
    language: str | None = None


def feed_text(entry: Entry) -> str:
    """The fullest text the feed itself carries for this entry."""
    content = html_to_text(entry.content) if entry.content else ""
    summary = html_to_text(entry.summary) if entry.summary else ""
    return content if len(content) >= len(summary) else summary


def needs_page(entry: Entry, text: str, *, full_text_chars: int, fetch_pages: bool) -> bool:
    """A page is fetched only when the feed's own text is too short to be the article."""
    return fetch_pages and bool(entry.url) and len(text) < full_text_chars


def worker_init(setup_logging: Callable[[], None] | None = None) -> None:
    """Run in each extraction worker: log as the daemon does (`setup_logging`, so a JSON log
    stays JSON); trafilatura logs every unreadable page as an ERROR, which is noise here; the
    pipeline records its own one-line reason instead."""
    if setup_logging is not None:
        setup_logging()
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def extract_page(body: bytes, url: str, content_type: str | None = None) -> PageText | None:
    """Main text and metadata of an article page; None when nothing article-like is found."""
    document: str | bytes = body
    charset = _CHARSET.search(content_type or "")
    if charset:
        try:
            document = body.decode(charset.group(1), errors="replace")
        except LookupError:
            document = body
    result = trafilatura.bare_extraction(
        document,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
    )
    if result is None:
        return None
    text = (getattr(result, "text", None) or "").strip()
    if not text:
        return None
    canonical = getattr(result, "url", None)
    title = getattr(result, "title", None) or None
    if title and text.startswith(title):  # the headline sits inside the article container
        text = text[len(title) :]
    if len(text.split()) < 10:  # a menu or a cookie notice, not an article
        return None
    return PageText(
        text=tidy_text(text),
        title=title,
        canonical_url=canonical
        if isinstance(canonical, str) and canonical.startswith("http")
        else None,
        published=_date(getattr(result, "date", None)),
        language=getattr(result, "language", None) or None,
    )


def bounded(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near the end,
    and marked with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ", max(0, limit - 100))
    return (cut[:space] if space > 0 else cut).rstrip() + "…"


def _date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def build_article(
    entry: Entry,
    *,
    source: str,
    canonical_url: str,
    text: str,
    page: PageText | None = None,
    page_error: str | None = None,
) -> Article:
    """Combine the feed's entry with what its page gave (if a page was fetched)."""
    summary = html_to_text(entry.summary) if entry.summary else ""
    extraction: Extraction
    if page is not None:
        body, extraction, error = page.text, "page", None
    elif page_error is not None:
        body, extraction, error = text, "fallback", page_error
    else:
        body, extraction, error = text, "feed", None
    title = entry.title or (page.title if page and page.title else "") or "(untitled)"
    return Article(
        url=entry.url or canonical_url,
        canonical_url=canonical_url,
        title=bounded(title, MAX_TITLE),
        text=bounded(body, MAX_TEXT),
        summary=bounded(summary, MAX_SUMMARY) if summary != body else "",
        source=source,
        published=entry.published or (page.published if page else None),
        language=entry.language or (page.language if page else None),
        authors=entry.authors,
        extraction=extraction,
        extraction_error=error,
    )
