"""tester: what `monitor test` reads (a text or HTML file, a URL, or stdin) → an Article, and how
its matches are shown. The article goes through the same extraction as in the daemon."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.http import build_client
from monitor.model import Article, RuleMatch
from monitor.pipeline import extract, fetch, stories
from monitor.rules import explain
from monitor.terminal import json_safe, printable


def article_from_source(source: str, config: Config) -> Article:
    if source.startswith(("http://", "https://")):
        return asyncio.run(_from_url(source, config))
    if source == "-":
        raw = sys.stdin.buffer.read()
        name = "stdin"
    else:
        path = Path(source)
        if not path.is_file():
            raise MonitorError(
                f"no such file: {source}", hint="give a text or HTML file, a URL or -"
            )
        raw = path.read_bytes()
        name = path.name
    if raw.lstrip()[:1] == b"<":
        page = extract.extract_page(raw, f"file:///{name}")
        if page is None:
            raise MonitorError(f"{name}: no article text found in this HTML")
        return _article(page.title or name, page.text, f"file:///{name}", source="file")
    text = raw.decode("utf-8", errors="replace").strip()
    title, _, body = text.partition("\n")
    return _article(title.strip(), body.strip(), f"file:///{name}", source="file")


async def _from_url(url: str, config: Config) -> Article:
    settings = config.settings.fetch
    async with build_client(timeout=settings.timeout, user_agent=settings.user_agent) as client:
        result = await fetch.fetch(
            client,
            url,
            slots=fetch.HostSlots(1),
            timeout=settings.timeout,
            max_bytes=settings.max_bytes,
            page=True,
            allow_private=True,
        )
    page = extract.extract_page(result.body or b"", result.url, result.content_type)
    if page is None:
        raise MonitorError(f"{url}: no article text found in the page")
    return _article(page.title or url, page.text, result.url, source="url", language=page.language)


def _article(
    title: str, text: str, url: str, *, source: str, language: str | None = None
) -> Article:
    # Shown on a terminal: control characters as their pictures (one for one, so the
    # positions of the hits hold).
    return Article(
        url=url,
        canonical_url=stories.canonical_url(url),
        title=printable(title),
        text=printable(text, lines=True),
        source=source,
        language=language,
    )


def render_matches(
    article: Article, matches: Sequence[RuleMatch], *, as_json: bool, color: bool
) -> str:
    if as_json:
        return json_safe(
            json.dumps(explain.to_json(article, matches), indent=2, ensure_ascii=False)
        )
    return explain.render(article, matches, colour=color)
