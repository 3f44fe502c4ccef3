"""Sources by kind through the real pipeline: robots.txt, sitemap indexes across polls, the
politeness feeds get (Retry-After, backoff, health)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

from monitor import config as config_mod
from monitor.cli import main
from monitor.daemon import once, runtime
from monitor.feedhealth import health
from monitor.pipeline import PollReport
from monitor.storage import Store
from monitor.storage import feeds as feed_store
from tests.conftest import FIXTURES, ROOT
from tests.servers import Answer, Receiver, Site
from tests.test_pipeline import WATCHLIST

SOURCES = FIXTURES / "sources"
TAL_AFAR = "/articles/news/2025/04/16/tal-afar-shelling-resumes.html"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Commands set up logging on the stream pytest captures; later tests must not log there."""
    yield
    structlog.reset_defaults()


def setup(tmp: Path, site: Site, receiver: Receiver, *sources: str, fetch: str = "") -> Path:
    (tmp / "watchlists").mkdir(exist_ok=True)
    (tmp / "watchlists" / "w.yaml").write_text(WATCHLIST)
    lines = "\n".join(f"  - {s.replace('BASE', site.base)}" for s in sources)
    (tmp / "monitor.yaml").write_text(
        f"version: 1\ndatabase: sqlite:///db.sqlite\nfetch: {{timeout: 5s, "
        f"allow_private_networks: true{fetch}}}\nfeeds:\n{lines}\n"
        f'channels:\n  hook: {{kind: webhook, url: "{receiver.url("/hook")}"}}\n'
    )
    return tmp / "monitor.yaml"


def poll(path: Path) -> PollReport:
    return asyncio.run(once(config_mod.load(path, env={}), deliver=True))[0]


def states(path: Path) -> dict[str, feed_store.FeedState]:
    store = Store.open(config_mod.load(path, env={}).database_url)
    try:
        return {s.name: s for s in feed_store.all_feeds(store)}
    finally:
        store.close()


def extractions(path: Path) -> dict[str, str]:
    store = Store.open(config_mod.load(path, env={}).database_url)
    try:
        with store.read() as conn:
            rows = conn.execute(sa.text("SELECT url, extraction FROM article")).all()
        return {url.rsplit("/", 1)[1]: how for url, how in rows}
    finally:
        store.close()


def recent(site: Site, path: str, body: bytes | None = None, **headers: str) -> bytes:
    """A fixture sitemap dated today (see tests/e2e/test_sources.py), served at `path`."""
    today = datetime.now(UTC).date()
    data = body if body is not None else (SOURCES / path.lstrip("/")).read_bytes()
    data = data.replace(b"{{BASE}}", site.base.encode())
    for old, new in (("2025-04-16", today), ("2025-04-15", today - timedelta(days=1))):
        data = data.replace(old.encode(), new.isoformat().encode())
    site.route(path, Answer(200, data, {"Content-Type": "application/xml", **headers}))
    return data


def test_a_listing_page_robots_txt_closes_is_a_failing_source(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.serve(SOURCES)
    site.route("/robots.txt", Answer(200, b"User-agent: *\nDisallow: /listings/\n"))
    config = setup(
        tmp_path, site, receiver, "{name: courier, kind: html, url: BASE/listings/cards.html}"
    )
    report = poll(config)
    assert [f.result for f in report.feeds] == ["failed"]
    assert not site.hits("/listings/cards.html")  # never fetched
    state = states(config)["courier"]
    assert state.error_count == 1 and "disallows this page" in (state.last_error or "")
    assert health(state, datetime.now(UTC)) == "failing x1"


def test_article_pages_robots_txt_closes_are_not_fetched_unless_the_source_says_so(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.serve(SOURCES)
    site.route("/robots.txt", Answer(200, b"User-agent: *\nDisallow: /articles/news/2025/04/16/\n"))
    config = setup(
        tmp_path, site, receiver, "{name: courier, kind: html, url: BASE/listings/cards.html}"
    )
    report = poll(config)
    assert report.new_entries == 3 and report.alerts == 0  # the matching pages were not read
    assert not [r for r in site.requests if r.path.startswith("/articles/news/2025/04/16/")]
    assert extractions(config) == {
        "tal-afar-shelling-resumes.html": "fallback",
        "sinjar-grave-survey.html": "fallback",
        "ramadi-bridge-reopens.html": "page",
    }
    # With the publisher's leave (robots: false on the source) a new article's page is read.
    (tmp_path / "2").mkdir()
    other = setup(
        tmp_path / "2",
        site,
        receiver,
        "{name: courier, kind: html, url: BASE/listings/cards.html, robots: false}",
    )
    assert poll(other).alerts == 2


def test_a_sitemap_index_reads_its_recent_child_each_poll_even_when_the_index_is_the_same(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.serve(SOURCES)
    index = recent(site, "/sitemaps/index.xml", ETag='"index-v1"')
    child = recent(site, "/sitemaps/posts-2025-04.xml")
    config = setup(
        tmp_path, site, receiver, "{name: courier, kind: sitemap, url: BASE/sitemaps/index.xml}"
    )
    added = child.replace(
        b"</urlset>",
        f"<url><loc>{site.base}/articles/news/2025/04/15/ramadi-bridge-reopens.html</loc>"
        f"<lastmod>{datetime.now(UTC).date().isoformat()}</lastmod></url></urlset>".encode(),
    )

    async def daemon() -> list[PollReport]:
        """Polls of one long-running pipeline, as `monitor run` makes them."""
        async with runtime(config_mod.load(config, env={})) as pipeline:
            first = await pipeline.poll(due_only=False)
            # The index is the same (304); its child gained a URL.
            site.route("/sitemaps/index.xml", Answer(304, b"", {"ETag": '"index-v1"'}))
            site.route("/sitemaps/posts-2025-04.xml", Answer(200, added))
            second = await pipeline.poll(due_only=False)
            third = await pipeline.poll(due_only=False)
            return [first, second, third]

    first, second, third = asyncio.run(daemon())
    assert first.new_entries == 3 and first.alerts == 2
    assert [f.result for f in second.feeds] == ["changed"] and second.new_entries == 1
    assert [r.headers.get("if-none-match") for r in site.hits("/sitemaps/index.xml")] == [
        None,
        '"index-v1"',
        '"index-v1"',
    ]
    assert len(site.hits("/sitemaps/posts-2025-04.xml")) == 3  # each poll
    assert not site.hits("/sitemaps/posts-2025-03.xml") and not site.hits("/sitemaps/pages.xml")
    # Nothing new anywhere: the index and its children hash the same, the source is unchanged.
    assert [f.result for f in third.feeds] == ["unchanged"]
    # A new process knows no children for the 304: it reads the index once more, in full.
    site.route("/sitemaps/index.xml", Answer(304, b"", {"ETag": '"index-v1"'}), Answer(200, index))
    assert [f.result for f in poll(config).feeds] == ["unchanged"]
    assert [r.headers.get("if-none-match") for r in site.hits("/sitemaps/index.xml")][-2:] == [
        '"index-v1"',
        None,
    ]


def test_a_sitemap_that_says_retry_after_waits_that_long(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.route("/news.xml", Answer(429, b"slow down", {"Retry-After": "7200"}))
    config = setup(tmp_path, site, receiver, "{name: courier, kind: sitemap, url: BASE/news.xml}")
    before = datetime.now(UTC)
    assert [f.result for f in poll(config).feeds] == ["failed"]
    state = states(config)["courier"]
    assert state.last_status == 429 and state.next_poll_at >= before + timedelta(seconds=7200)


def test_an_index_whose_children_all_fail_is_a_failing_source(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    recent(site, "/sitemaps/index.xml")
    site.route("/sitemaps/posts-2025-04.xml", Answer(503, b"down"))
    config = setup(
        tmp_path, site, receiver, "{name: courier, kind: sitemap, url: BASE/sitemaps/index.xml}"
    )
    assert [f.result for f in poll(config).feeds] == ["failed"]
    error = states(config)["courier"].last_error or ""
    assert error.startswith("no sitemap of the index could be fetched") and "HTTP 503" in error


def test_test_source_prints_the_items_a_source_yields_now(
    tmp_path: Path, site: Site, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    site.serve(SOURCES)
    config = setup(
        tmp_path,
        site,
        receiver,
        "{name: courier, kind: html, url: BASE/listings/list.html, select: {item: ul.headlines li,"
        " date: .when}}",
    )
    assert main(["test-source", "courier", "-c", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("courier (html, ") and out[0].endswith("HTTP 200, 4 items")
    assert out[1].split(None, 2) == [
        "2025-04-16",
        "07:45",
        "Forensic team starts work at a burial site near Sinjar",
    ]
    assert out[2].strip() == site.url("/articles/news/2025/04/16/sinjar-grave-survey.html")
    assert not (tmp_path / "db.sqlite").exists()  # it stores nothing
    assert main(["test-source", "courier", "--json", "--limit", "1", "-c", str(config)]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["published"] == "2025-04-16T07:45:00+00:00"


def test_test_source_says_why_a_source_yields_nothing(
    tmp_path: Path, site: Site, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    site.serve(SOURCES)
    site.route("/robots.txt", Answer(200, b"User-agent: monitor\nDisallow: /listings/\n"))
    config = setup(
        tmp_path,
        site,
        receiver,
        "{name: closed, kind: html, url: BASE/listings/cards.html}",
        "{name: empty, kind: html, url: BASE/articles/story/48213977/harbour-festival-crowds.html,"
        " robots: false, select: {item: div.no-such-item}}",
    )
    assert main(["test-source", "closed", "-c", str(config)]) == 1
    err = capsys.readouterr().err
    assert "disallows this page" in err and "robots: false" in err
    assert main(["test-source", "empty", "-c", str(config)]) == 1
    captured = capsys.readouterr()
    assert "0 items; no items matched the item selector" in captured.out
    assert "check the selectors" in captured.err
    assert main(["test-source", "nope", "-c", str(config)]) == 1
    assert "sources in the config: closed, empty" in capsys.readouterr().err


def test_check_names_a_bad_selector_and_options_of_another_kind(
    tmp_path: Path, site: Site, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup(
        tmp_path,
        site,
        receiver,
        "{name: a, kind: html, url: BASE/, select: {item: 'a[href', title: h2}}",
        "{name: b, url: BASE/feed.xml, select: {item: article}}",
        "{name: c, kind: sitemap, url: BASE/s.xml, sitemap: {max_age: 3d, max_urls: 0}}",
    )
    assert main(["check", "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:5: feeds[0].select.item: not a CSS selector lxml can run: " in err
    assert f"{config}:6: feeds[1]: select: only a source of kind html has selectors" in err
    assert (
        f"{config}:7: feeds[2].sitemap.max_urls: Input should be greater than or equal to 1" in err
    )


def test_every_source_key_is_in_the_shipped_config_and_the_readme() -> None:
    shipped = (ROOT / "config" / "monitor.yaml").read_text()
    readme = (ROOT / "README.md").read_text()
    for model in (config_mod.FeedSettings, config_mod.Selectors, config_mod.SitemapOptions):
        for key in model.model_fields:
            assert f" {key}:" in shipped or f"{{{key}:" in shipped, f"{key} not in monitor.yaml"
            assert f"`{key}" in readme or f"{key}," in readme or f"{key}}}" in readme, key
    assert "robots: true" in shipped and "`fetch.robots`" in readme
