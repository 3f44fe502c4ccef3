"""`monitor feeds add URL` against a real local site: what it finds, and what it writes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog

from monitor import config as config_mod
from monitor.cli import main
from tests.conftest import FIXTURES, ROOT
from tests.servers import Answer, Site

SOURCES = FIXTURES / "sources"
FEED = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
<title>Riverside Courier - World</title><link>{{BASE}}/world/</link><description>d</description>
<item><title>Shelling resumes on the edge of Tal Afar</title><guid>c-1</guid>
<link>{{BASE}}/articles/news/2025/04/16/tal-afar-shelling-resumes.html</link></item>
</channel></rss>"""


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Commands set up logging on the stream pytest captures; later tests must not log there."""
    yield
    structlog.reset_defaults()


def courier(site: Site) -> None:
    """The fixture site with a feed its listing page names, robots.txt naming a news sitemap,
    and a second feed at a common path."""
    site.serve(SOURCES)
    today = datetime.now(UTC).date()
    feed = FEED.replace(b"{{BASE}}", site.base.encode())
    site.route("/feeds/world.rss", Answer(200, feed, {"Content-Type": "application/rss+xml"}))
    site.route("/listings/feed", Answer(200, feed, {"Content-Type": "application/rss+xml"}))
    news = (SOURCES / "sitemaps" / "news.xml").read_bytes().replace(b"{{BASE}}", site.base.encode())
    for old, new in (("2025-04-16", today), ("2025-04-15", today - timedelta(days=1))):
        news = news.replace(old.encode(), new.isoformat().encode())
    site.route("/sitemaps/news.xml", Answer(200, news, {"Content-Type": "application/xml"}))
    robots = f"User-agent: *\nDisallow: /private/\nSitemap: {site.base}/sitemaps/news.xml\n"
    site.route("/robots.txt", Answer(200, robots.encode()))


def config_copy(tmp: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp / "config")
    return tmp / "config" / "monitor.yaml"


def test_feeds_add_lists_what_it_found_and_adds_the_pick(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    courier(site)
    path = config_copy(tmp_path)
    before = path.read_text()
    url = site.url("/listings/cards.html")
    assert main(["feeds", "add", url, "-c", str(path)]) == 2  # not a terminal: asks for --pick
    listed = capsys.readouterr()
    rows = listed.out.splitlines()[1:]
    assert "--pick N" in listed.err and path.read_text() == before
    kinds = [row.split()[1] for row in rows]
    assert kinds == ["feed", "feed", "sitemap", "html"], listed.out
    assert (
        "named in the page (rel=alternate)" in rows[0] and site.url("/feeds/world.rss") in rows[0]
    )
    assert "common path /listings/feed" in rows[1]
    assert "named in robots.txt" in rows[2] and "news sitemap" in rows[2]
    assert "the page's article links" in rows[3]

    assert main(["feeds", "add", url, "--pick", "3", "--tag", "iraq", "-c", str(path)]) == 0
    assert "added riverside-courier" not in capsys.readouterr().err
    after = path.read_text()
    new_lines = [line for line in after.splitlines() if line not in before.splitlines()]
    assert new_lines == [
        f"  - {{name: 127-0-0-1-news, url: {site.url('/sitemaps/news.xml')}, kind: sitemap, "
        "tags: [iraq]}"
    ]
    assert before.splitlines() == [line for line in after.splitlines() if line not in new_lines]
    source = config_mod.load(path, env={}).feed("127-0-0-1-news")
    assert source is not None and source.kind == "sitemap"
    # The same URL again is refused, and the file stays as it is.
    assert main(["feeds", "add", url, "--pick", "3", "-c", str(path)]) == 1
    assert "in the config already, as '127-0-0-1-news'" in capsys.readouterr().err
    assert path.read_text() == after


def test_a_feed_url_is_offered_as_itself(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    courier(site)
    path = config_copy(tmp_path)
    assert main(["feeds", "add", site.url("/feeds/world.rss"), "--pick", "1", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "the URL itself" in out and "added riverside-courier-world (feed," in out
    assert "{name: riverside-courier-world, url: " in path.read_text()


def test_a_site_with_nothing_to_offer_is_a_clear_error(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.route("/", Answer(200, b"<html><body><p>Under construction</p></body></html>"))
    path = config_copy(tmp_path)
    assert main(["feeds", "add", site.url("/"), "-c", str(path)]) == 1
    assert "no feed, sitemap or article list found" in capsys.readouterr().err
