"""End to end: a news sitemap, a sitemap index and a listing page, each through `monitor once`
to the webhook, as a feed would go (page fetched and extracted, rules, stories, alerts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.e2e.proc import run_monitor
from tests.servers import Answer, Receiver, Site

SOURCES = FIXTURES / "sources"
WATCHLIST = FIXTURES.parents[1] / "monitor" / "demo" / "config" / "watchlists" / "iraq.yaml"
# tests/fixtures/sources/README.md: the two articles that match, and only in their bodies.
EXPECTED = {
    "Shelling resumes on the edge of Tal Afar": "offensive",
    "Forensic team starts work at a burial site near Sinjar": "mass-grave",
}


def serve_recent(site: Site, path: str) -> None:
    """A sitemap of the fixtures with 15-16 April 2025 moved to yesterday and today, so that
    `max_age` (two days) keeps them; older dates stay old."""
    today = datetime.now(UTC).date()
    body = (SOURCES / path.lstrip("/")).read_bytes().replace(b"{{BASE}}", site.base.encode())
    for old, new in (("2025-04-16", today), ("2025-04-15", today - timedelta(days=1))):
        body = body.replace(old.encode(), new.isoformat().encode())
    site.route(path, Answer(200, body, {"Content-Type": "application/xml"}))


def write_config(tmp: Path, site: Site, receiver: Receiver, source: str) -> Path:
    (tmp / "watchlists").mkdir()
    watchlist = WATCHLIST.read_text().replace("channels: [console]", "channels: [hook]")
    (tmp / "watchlists" / "iraq.yaml").write_text(watchlist)
    (tmp / "monitor.yaml").write_text(f"""version: 1
database: sqlite:///monitor.db
fetch: {{timeout: 10s, allow_private_networks: true}}
feeds:
  - {source}
channels:
  hook: {{kind: webhook, url: "{receiver.url("/hook")}"}}
log: {{format: json}}
""")
    return tmp / "monitor.yaml"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("kind", "source"),
    [
        ("news sitemap", '{name: courier, kind: sitemap, url: "BASE/sitemaps/news.xml"}'),
        ("sitemap index", '{name: courier, kind: sitemap, url: "BASE/sitemaps/index.xml"}'),
        ("listing page", '{name: courier, kind: html, url: "BASE/listings/cards.html"}'),
    ],
)
def test_a_source_of_each_kind_alerts_once_per_story(
    tmp_path: Path, site: Site, receiver: Receiver, kind: str, source: str
) -> None:
    site.serve(SOURCES)
    for path in ("/sitemaps/news.xml", "/sitemaps/index.xml", "/sitemaps/posts-2025-04.xml"):
        serve_recent(site, path)
    config = write_config(tmp_path, site, receiver, source.replace("BASE", site.base))

    first = run_monitor("once", "-c", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    bodies = [json.loads(p.body) for p in receiver.posts]
    assert {b["title"]: b["rules"][0] for b in bodies} == EXPECTED, kind
    assert all(b["source"] == "courier" for b in bodies)
    # The watched words are only in the article bodies: each page was fetched and extracted.
    pages = {r.path for r in site.requests if r.path.startswith("/articles/")}
    assert len(pages) >= 3
    if kind == "sitemap index":
        fetched = {r.path for r in site.requests if r.path.startswith("/sitemaps/")}
        assert fetched == {"/sitemaps/index.xml", "/sitemaps/posts-2025-04.xml"}  # recent only
    assert "/robots.txt" in {r.path for r in site.requests}  # asked before any page

    second = run_monitor("once", "-c", str(config), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(receiver.posts) == 2, "nothing is sent twice"
    feeds = run_monitor("feeds", "-c", str(config), cwd=tmp_path)
    (row,) = feeds.stdout.splitlines()[1:]
    assert row.split()[:3] == [
        "courier",
        {"news sitemap": "sitemap", "sitemap index": "sitemap", "listing page": "html"}[kind],
        "ok",
    ]
