"""The parse stage over the shared corpora: no crash, entries or a reason, and wherever the fast
path is taken it gives the entries feedparser gives.

The corpora live in `../shared/corpora` beside the repository; without them these tests skip.
"""

from __future__ import annotations

import codecs
import gzip
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from monitor.model import Entry, ParsedFeed
from monitor.pipeline.parse import parse_feed
from monitor.pipeline.sanitize import html_line
from tests.test_parse_phases import assert_phases_agree

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
FEEDPARSER_TESTS = CORPORA / "feedparser-tests" / "tests"
SNAPSHOTS = CORPORA / "news-feed-snapshots"
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # after every corpus date, so no clamping hides a date

pytestmark = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"shared corpora not found at {CORPORA}"
)


def comparable(entry: Entry) -> dict[str, Any]:
    """An entry with HTML reduced to its words: serialisation may differ, the text may not."""
    return {
        "guid": entry.guid,
        "url": entry.url,
        "title": entry.title,
        "published": entry.published,
        "updated": entry.updated,
        "summary": "".join(html_line(entry.summary).split()),
        "content": "".join(html_line(entry.content).split()),
        "authors": entry.authors,
        "language": entry.language,
    }


def assert_paths_agree(body: bytes, url: str, content_type: str | None, name: str) -> ParsedFeed:
    """Parse with the default rule; if the fast path ran, feedparser must give the same."""
    result = parse_feed(body, url, content_type, now=NOW)
    if not result.entries and result.error is None:
        # A valid feed that is empty right now is not an error, but it must really be empty.
        headers = {"content-type": content_type} if content_type else {}
        reference = feedparser.parse(body, response_headers=headers)
        # Entries without a link or any readable text are debris parse_feed drops on purpose.
        real = [
            e
            for e in reference.entries
            if e.get("link") or any(html_line(str(e.get(k, ""))) for k in ("title", "summary"))
        ]
        assert not real, f"{name}: feedparser finds entries that parse_feed missed"
    if result.parser == "fast":
        reference = parse_feed(body, url, content_type, now=NOW, fast=False)
        assert reference.parser == "feedparser"
        fast = [comparable(e) for e in result.entries]
        slow = [comparable(e) for e in reference.entries]
        assert len(fast) == len(slow), f"{name}: {len(fast)} entries, feedparser {len(slow)}"
        for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
            diff = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
            assert not diff, f"{name} entry {i}: fast vs feedparser {diff}"
    return result


# --- feedparser's own test feeds --------------------------------------------------------------

_HEADER = re.compile(r"^Header:\s+([^:]+):(.*)$", re.M)


def _decode_for_header(raw: bytes) -> str:
    """The README's recipe: BOMs, then UTF-16/32 byte patterns, then UTF-8 ignoring errors."""
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(enc, "ignore")
    for pattern, enc in (
        (b"<\0\0\0", "utf-32-le"),
        (b"\0\0\0<", "utf-32-be"),
        (b"<\0", "utf-16-le"),
        (b"\0<", "utf-16-be"),
    ):
        if raw.startswith(pattern):
            return raw.decode(enc, "ignore")
    return raw.decode("utf-8", "ignore")


def feedparser_case(path: Path) -> tuple[bytes, str, str | None]:
    """Body, URL and Content-Type as feedparser's own suite serves the file."""
    raw = path.read_bytes()
    rel = path.relative_to(FEEDPARSER_TESTS.parent).as_posix()
    url = f"http://127.0.0.1:8097/{rel}"
    headers = {k.strip().lower(): v.strip() for k, v in _HEADER.findall(_decode_for_header(raw))}
    content_type = headers.get("content-type")
    if content_type is None and "http" in rel:
        content_type = "text/xml"
    return raw, url, content_type


FEEDPARSER_FILES = sorted(p for p in FEEDPARSER_TESTS.rglob("*") if p.is_file())


def test_feedparser_suite_parses_and_fast_path_agrees() -> None:
    """All 2,107 files in one test (one per file would cost more in pytest than in parsing)."""
    assert len(FEEDPARSER_FILES) > 2000
    parsers: Counter[str] = Counter()
    failures = []
    for path in FEEDPARSER_FILES:
        body, url, content_type = feedparser_case(path)
        try:
            parsers[assert_paths_agree(body, url, content_type, path.name).parser] += 1
        except AssertionError as exc:
            failures.append(f"{path.relative_to(FEEDPARSER_TESTS)}: {exc}")
    assert not failures, f"{len(failures)} files disagree:\n" + "\n".join(failures[:40])
    assert parsers["fast"] > 1000, parsers  # the rule must not quietly decline everything
    print(f"feedparser-tests parsers: {dict(parsers)}")


def test_feedparser_suite_two_steps_agree() -> None:
    """read_feed + entries(only=…) is parse_feed, over every file (one subset each, for time)."""
    failures = []
    for path in FEEDPARSER_FILES:
        body, url, content_type = feedparser_case(path)
        try:
            assert_phases_agree(body, url, content_type, NOW, subsets=1)
        except AssertionError as exc:
            failures.append(f"{path.relative_to(FEEDPARSER_TESTS)}: {exc}")
    assert not failures, f"{len(failures)} files disagree:\n" + "\n".join(failures[:40])


# --- real news feeds --------------------------------------------------------------------------


def _manifest() -> list[dict[str, str]]:
    lines = (SNAPSHOTS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    names = lines[0].split("\t")
    return [dict(zip(names, line.split("\t"), strict=True)) for line in lines[1:] if line]


MANIFEST = _manifest() if SNAPSHOTS.is_dir() else []


@pytest.mark.parametrize("row", MANIFEST, ids=[r["file"] for r in MANIFEST])
def test_news_snapshot(row: dict[str, str]) -> None:
    body = (SNAPSHOTS / "feeds" / row["file"]).read_bytes()
    if row["gzip"] == "yes":
        body = gzip.decompress(body)
    result = assert_paths_agree(body, "https://news.example/feed", None, row["file"])
    expected = int(row["fp_entries"])
    if expected == 0:
        assert not result.entries
        assert result.error
    else:
        # Entries repeating a guid (or, without guids, a link) are kept once.
        assert 0 < len(result.entries) <= expected
        assert len({e.guid for e in result.entries}) == len(result.entries)
        assert all(e.title or e.summary or e.content for e in result.entries)


@pytest.mark.parametrize("row", MANIFEST, ids=[r["file"] for r in MANIFEST])
def test_news_snapshot_two_steps_agree(row: dict[str, str]) -> None:
    body = (SNAPSHOTS / "feeds" / row["file"]).read_bytes()
    body = gzip.decompress(body) if row["gzip"] == "yes" else body
    assert_phases_agree(body, "https://news.example/feed", None, NOW)


def test_most_news_snapshots_take_the_fast_path() -> None:
    taken = 0
    for row in MANIFEST:
        body = (SNAPSHOTS / "feeds" / row["file"]).read_bytes()
        body = gzip.decompress(body) if row["gzip"] == "yes" else body
        taken += parse_feed(body, "https://news.example/feed", now=NOW).parser == "fast"
    assert taken >= len(MANIFEST) // 2, f"only {taken} of {len(MANIFEST)} took the fast path"
