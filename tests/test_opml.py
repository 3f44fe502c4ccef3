"""OPML in and out: Miniflux's and FreshRSS's exports read, categories as tags, a round trip
that gives the same feeds, and an export other readers' OPML parser reads as we do."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import listparser
import pytest
import structlog
from lxml import etree

from monitor import config as config_mod
from monitor.cli import main
from monitor.errors import OpmlError
from monitor.opml import Subscription, read_opml, write_opml
from tests.conftest import FIXTURES, ROOT

OPML = FIXTURES / "sources" / "opml"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Commands set up logging on the stream pytest captures; later tests must not log there."""
    yield
    structlog.reset_defaults()


def test_miniflux_and_freshrss_exports_are_read_with_their_categories() -> None:
    miniflux = read_opml((OPML / "miniflux.opml").read_bytes())
    assert [(s.url, s.title, s.tags) for s in miniflux] == [
        (
            "https://courier.example.org/feeds/world.rss",
            "Riverside Courier – World",
            ("Middle East",),
        ),
        ("https://wire.example.net/atom.xml", "Northwind Wire", ("Middle East",)),
        ("https://bulletin.example.com/feed.json", "Relief & Recovery Bulletin", ("Humanitarian",)),
        ("https://lakeside.example.org/rss?section=news&lang=en", "Lakeside Times", ("All",)),
    ]
    assert miniflux[0].site == "https://courier.example.org/world/"
    freshrss = read_opml((OPML / "freshrss.opml").read_bytes())
    assert [(s.title, s.tags) for s in freshrss] == [
        ("Riverside Courier – World", ("Middle East",)),
        ("Crossroads Dispatch", ("Middle East",)),
        ("Ledger (Spanish edition)", ("Uncategorized",)),
        ("Harbour Gazette", ("Local news",)),
    ]


def test_export_then_import_gives_the_same_feeds_and_others_read_it_alike() -> None:
    original = read_opml((OPML / "miniflux.opml").read_bytes())
    original.append(Subscription("https://x.example/f", "Two tags", None, ("A", "B")))
    exported = write_opml(original, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "monitor feeds")
    assert read_opml(exported) == original
    # OPML 2.0 as readers expect it: a version, a head with an RFC 822 date, typed outlines.
    root = etree.fromstring(exported)
    assert root.get("version") == "2.0"
    assert root.findtext("head/dateCreated") == "Fri, 02 Jan 2026 03:04:05 GMT"
    feeds = root.findall(".//outline[@xmlUrl]")
    assert all(o.get("type") == "rss" and o.get("text") for o in feeds)
    # listparser (the OPML reader of Python feed tools) finds the same feeds and categories.
    parsed = listparser.parse(exported)
    assert not parsed.bozo
    assert [(f.url, f.title) for f in parsed.feeds] == [(s.url, s.title) for s in original]
    assert [sorted(c[-1] for c in f.categories) for f in parsed.feeds] == [
        sorted(s.tags) for s in original
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<rss><channel/></rss>", "the root element is not <opml>"),
        (b"<opml version='2.0'><head/></opml>", "it has no <body>"),
        (b"<opml><body><outline", "broken XML"),
        ((FIXTURES / "feeds" / "xml-bomb.xml").read_bytes(), "DOCTYPE"),
    ],
)
def test_what_is_not_opml_is_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        read_opml(data)


def copy_config(tmp: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp / "config")
    return tmp / "config" / "monitor.yaml"


def test_import_then_export_through_the_cli_round_trips_and_keeps_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_config(tmp_path)
    before = path.read_text()
    assert main(["feeds", "import", str(OPML / "freshrss.opml"), "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "4 added, 0 already there" in out
    after = path.read_text()
    # Every line of the file is still there, in order; only the four sources were added.
    old_lines = before.splitlines()
    kept = iter(after.splitlines())
    assert all(any(line == new for new in kept) for line in old_lines)
    assert len(after.splitlines()) == len(old_lines) + 4
    config = config_mod.load(path, env={})
    dispatch = config.feed("crossroads-dispatch")
    assert dispatch is not None and dispatch.tags == ["Middle East"]
    assert dispatch.site == "https://dispatch.example.org/"
    # Importing again adds nothing.
    assert main(["feeds", "import", str(OPML / "freshrss.opml"), "-c", str(path)]) == 0
    assert "0 added, 4 already there" in capsys.readouterr().out
    # Export: the imported feeds come back as they were read (plus the two shipped ones).
    out_file = tmp_path / "out.opml"
    assert main(["feeds", "export", "-o", str(out_file), "-c", str(path)]) == 0
    exported = {s.url: s for s in read_opml(out_file.read_bytes())}
    for sub in read_opml((OPML / "freshrss.opml").read_bytes()):
        assert exported[sub.url] == sub


def test_a_watchlist_selects_feeds_by_their_imported_tag(tmp_path: Path) -> None:
    path = copy_config(tmp_path)
    assert main(["feeds", "import", str(OPML / "miniflux.opml"), "-c", str(path)]) == 0
    watchlist = path.parent / "watchlists" / "iraq.yaml"
    watchlist.write_text(watchlist.read_text().replace("feeds: all", 'feeds: ["tag:middle east"]'))
    config = config_mod.load(path, env={"WEBHOOK_SECRET": "x"})
    (iraq,) = config.watchlists
    assert iraq.feeds == ["riverside-courier-world", "northwind-wire"]
    assert iraq.watches("northwind-wire") and not iraq.watches("lakeside-times")
    # A tag no feed has is a config error with its place.
    watchlist.write_text(watchlist.read_text().replace("tag:middle east", "tag:Africa"))
    assert main(["check", "-c", str(path)]) == 2
