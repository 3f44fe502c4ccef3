"""conflict_stream: the labelled stream of conflict news in `bench/corpora/conflict-stream/`.

Written for the tests and benchmarks (invented events, real place names; see its README).
`load()` reads the committed JSONL for `bench/stories.py` and the tests; `rss()` renders a
feed's reports as the RSS 2.0 document the outlet would serve, so tests can serve the stream
from `tests/servers.py` and poll it with the real daemon. `python bench/conflict_stream.py
--build` rebuilds the JSONL from the hand-written sources (`sources/*.yaml`): a source gives
every report's text, except a wire copy that another outlet republishes, given as the report it
copies and the outlet's edits (a new headline, the last paragraphs cut, a spelling changed).

Standard library and PyYAML only: the tests import it without the benchmark's setup.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import yaml

HERE = Path(__file__).resolve().parent / "corpora" / "conflict-stream"
JSONL = HERE / "conflict-stream.jsonl"
KINDS = ("wire", "rewrite", "update", "copy", "short", "headline")
_CONTENT = "http://purl.org/rss/1.0/modules/content/"


@dataclass(frozen=True, slots=True)
class Feed:
    name: str
    title: str
    site: str
    interval_s: float
    full_text: bool
    clock_ahead_s: float = 0.0  # how far the feed's dates run ahead of when it publishes


@dataclass(frozen=True, slots=True)
class Report:
    """One report as its outlet published it, with the gold labels: `event` (one happening)
    and `thread` (the events that are developments of one another share it)."""

    id: str
    event: str
    thread: str
    city: str
    country: str
    split: str  # train | test
    feed: str
    guid: str
    url: str
    published: datetime  # as the outlet dated it, with its zone
    title: str
    text: str  # "" for a headline-only item
    kind: str  # one of KINDS
    copy_of: str | None = None

    @property
    def summary(self) -> str:
        """The first paragraph: what a summary-only feed carries."""
        return self.text.split("\n\n", 1)[0]


@dataclass(frozen=True, slots=True)
class Case:
    """A hand case of issue #20: `apart` (each event must own a story of its own, its first
    report opening it) or `join` (each report must end in the story of its event's first
    report), in the `live` or `backlog` mode."""

    id: str
    kind: str
    mode: str
    events: tuple[str, ...]
    reports: tuple[str, ...]
    about: str


@dataclass(frozen=True, slots=True)
class Corpus:
    reports: tuple[Report, ...]  # by publication time
    feeds: Mapping[str, Feed]
    cases: tuple[Case, ...]

    def split(self, name: str) -> Corpus:
        """The reports of one split (`train` or `test`), with the cases about them."""
        kept = tuple(r for r in self.reports if r.split == name)
        events = {r.event for r in kept}
        cases = tuple(c for c in self.cases if set(c.events) <= events and c.events)
        cases += tuple(c for c in self.cases if not c.events and set(c.reports) <= _ids(kept))
        return Corpus(kept, self.feeds, cases)

    def released(self, report: Report) -> datetime:
        """When the outlet put the report out: its date, less any clock fault of its feed."""
        return report.published - timedelta(seconds=self.feeds[report.feed].clock_ahead_s)

    def by_feed(self) -> dict[str, list[Report]]:
        """Each feed's reports, newest first, as its RSS document lists them."""
        out: dict[str, list[Report]] = {}
        for r in sorted(self.reports, key=lambda r: r.published, reverse=True):
            out.setdefault(r.feed, []).append(r)
        return out


def _ids(reports: Iterable[Report]) -> set[str]:
    return {r.id for r in reports}


def load(path: Path = JSONL) -> Corpus:
    """The committed stream, its feeds and its hand cases."""
    reports = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        d["published"] = datetime.fromisoformat(d["published"])
        reports.append(Report(**d))
    reports.sort(key=lambda r: (r.published.astimezone(UTC), r.id))
    return Corpus(tuple(reports), feeds(), cases())


def feeds() -> dict[str, Feed]:
    data = yaml.safe_load((HERE / "feeds.yaml").read_text(encoding="utf-8"))
    return {
        f["name"]: Feed(
            f["name"],
            f["title"],
            f["site"],
            float(f["interval"]),
            f["full_text"],
            float(f.get("clock_ahead", 0)),
        )
        for f in data["feeds"]
    }


def cases() -> tuple[Case, ...]:
    data = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))
    return tuple(
        Case(
            c["id"],
            c["kind"],
            c.get("mode", "live"),
            tuple(c.get("events", ())),
            tuple(c.get("reports", ())),
            " ".join(c["about"].split()),
        )
        for c in data["cases"]
    )


# -- RSS ---------------------------------------------------------------------------------------


def rss(feed: Feed, reports: Sequence[Report], *, base: str | None = None) -> bytes:
    """The feed's RSS 2.0 document listing `reports` (newest first), each dated as the outlet
    dated it (RFC 822, in its own zone). A full-text feed carries the article in
    `content:encoded`; a summary feed its first paragraph. `base` (e.g. a test server's
    http://127.0.0.1:PORT) replaces the outlet's scheme and host in every link."""
    ET.register_namespace("content", _CONTENT)
    root = ET.Element("rss", version="2.0")
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = feed.title
    ET.SubElement(channel, "link").text = _rebase(feed.site + "/", base)
    ET.SubElement(channel, "description").text = f"{feed.title} (a feed written for the tests)"
    ET.SubElement(channel, "language").text = "en"
    for r in sorted(reports, key=lambda r: r.published, reverse=True):
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = r.title
        ET.SubElement(item, "link").text = _rebase(r.url, base)
        guid = ET.SubElement(item, "guid", isPermaLink="true" if r.guid == r.url else "false")
        guid.text = _rebase(r.guid, base) if r.guid == r.url else r.guid
        ET.SubElement(item, "pubDate").text = format_datetime(r.published)
        if r.text:
            paragraphs = r.text.split("\n\n") if feed.full_text else [r.summary]
            html = "".join(f"<p>{_escape(p)}</p>" for p in paragraphs)
            ET.SubElement(item, "description").text = _escape(r.summary)
            if feed.full_text:
                ET.SubElement(item, f"{{{_CONTENT}}}encoded").text = html
    body: bytes = ET.tostring(root, encoding="utf-8")  # typeshed says Any for an encoding
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rebase(url: str, base: str | None) -> str:
    if base is None:
        return url
    return re.sub(r"^https?://[^/]+", base.rstrip("/"), url)


# -- building the JSONL from the sources -------------------------------------------------------


def build(folder: Path = HERE) -> list[dict[str, Any]]:
    """Every report of `sources/*.yaml`, resolved (copies made, links and guids written), in
    publication order."""
    spec = yaml.safe_load((folder / "feeds.yaml").read_text(encoding="utf-8"))
    outlets = {f["name"]: f for f in spec["feeds"]}
    written: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for path in sorted((folder / "sources").glob("*.yaml")):
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
        for event in source["events"]:
            for raw in event["reports"]:
                rid = raw["id"]
                if rid in written:
                    raise ValueError(f"{path.name}: report {rid} twice")
                published = _when(raw["published"], f"{path.name}: {rid}")
                text, kind = _text(raw, written, f"{path.name}: {rid}")
                outlet = outlets[raw["feed"]]
                serial = _serial(rid)
                slug = _slug(raw["title"])
                link = outlet["link"].format(
                    date=published.strftime("%Y/%m/%d"), slug=slug, n=serial
                )
                guid = outlet["guid"].format(link=link, n=serial)
                row = {
                    "id": rid,
                    "event": event["id"],
                    "thread": event.get("thread", event["id"]),
                    "city": source["city"],
                    "country": source["country"],
                    "split": source["split"],
                    "feed": raw["feed"],
                    "guid": guid,
                    "url": link,
                    "published": published.isoformat(),
                    "title": " ".join(raw["title"].split()),
                    "text": text,
                    "kind": kind,
                    "copy_of": raw.get("copy_of"),
                }
                written[rid] = row
                out.append(row)
    out.sort(key=lambda r: (datetime.fromisoformat(r["published"]).astimezone(UTC), r["id"]))
    return out


def _when(value: object, where: str) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"{where}: published needs a time zone")
    return when


def _text(
    raw: Mapping[str, Any], written: Mapping[str, Mapping[str, Any]], where: str
) -> tuple[str, str]:
    """The report's paragraphs (blank-line separated) and its kind."""
    if "copy_of" in raw:
        original = written.get(raw["copy_of"])
        if original is None:
            raise ValueError(f"{where}: copy_of {raw['copy_of']} must come earlier in its file")
        paragraphs = original["text"].split("\n\n")
        paragraphs = paragraphs[: len(paragraphs) - int(raw.get("cut", 0))]
        text = "\n\n".join(paragraphs)
        for old, new in raw.get("swap", []):
            if old not in text:
                raise ValueError(f"{where}: swap {old!r} is not in the copied text")
            text = text.replace(old, new)
        return text, "copy"
    text = "\n\n".join(" ".join(p.split()) for p in str(raw.get("text", "")).split("\n\n"))
    text = text.strip()
    kind = raw.get("kind") or ("headline" if not text else "rewrite")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    return text, kind


def _serial(rid: str) -> int:
    return 10_000 + int.from_bytes(hashlib.blake2b(rid.encode(), digest_size=3).digest()) % 90_000


def _slug(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower().replace("'", ""))
    return "-".join(words[:9])


def write(rows: Sequence[Mapping[str, Any]], path: Path = JSONL) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


if __name__ == "__main__":
    if "--build" in sys.argv:
        rows = build()
        write(rows)
        print(f"{len(rows)} reports written to {JSONL}")
    else:
        corpus = load()
        print(f"{len(corpus.reports)} reports, {len({r.event for r in corpus.reports})} events")
