"""model: the plain, frozen data that passes between stages. No I/O, no ORM, no behaviour beyond
small derived properties, so any stage can be tested with values built by hand.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


class Severity(enum.StrEnum):
    """How much a rule's hit matters. Ordered: low < medium < high < critical."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class JoinReason(enum.StrEnum):
    """How an article came to be in its story (`article.story_reason`)."""

    NEW = "new"  # it opened the story
    SAME_TEXT = "same-text"  # word for word the text of an article of the story
    NEAR_DUPLICATE = "near-duplicate"  # a lightly edited copy of one
    REWRITE = "rewrite"  # another outlet's report of the same event
    SPLIT = "split"  # a repair moved it to a story of its own, with the reports like it


class FeedStatus(enum.StrEnum):
    """Whether a feed is polled (`feed.status`)."""

    ACTIVE = "active"
    RETIRED = "retired"  # the publisher answered 410 Gone; `monitor feeds reset` takes it back
    REMOVED = "removed"  # no longer in the config; kept for its entries, back if it returns


class AlertKind(enum.StrEnum):
    """Why an alert was queued (`alert.kind`); the follow-ups carry a `follow_key`."""

    STORY = "story"  # the story's first alert on that (watchlist, channel)
    ESCALATION = "escalation"  # a later report matched a higher severity (the key)
    UPDATE = "update"  # a new report (the key is its id), for a watchlist with `updates`


class AlertStatus(enum.StrEnum):
    """Where an alert is in the outbox (`alert.status`)."""

    PENDING = "pending"  # to send, alone or as a member of a digest (`digest_id`)
    DIGEST = "digest"  # held until its channel's next digest gathers it
    SENT = "sent"  # the far end confirmed it
    DEAD = "dead"  # no try left; `monitor alerts retry` queues it again
    MUTED = "muted"  # set aside, unsent, because a person muted its story


class DigestKind(enum.StrEnum):
    """What a `digest` row carries: held alerts, or an operator notice of its own text."""

    DIGEST = "digest"
    NOTICE = "notice"


class DigestReason(enum.StrEnum):
    """Why a digest's alerts were held together (`digest.reason`), as its heading says."""

    DIGEST = "digest"  # the channel's digest schedule
    QUIET_HOURS = "quiet hours"
    RATE_LIMIT = "rate limit"
    STORY_UPDATES = "story updates"  # follow-ups a watchlist with `updates: digest` asked for
    NOTICE = "notice"  # an operator notice: nothing held


class DigestState(enum.StrEnum):
    """Where a digest is in the outbox (`digest.status`)."""

    OPEN = "open"  # gathering held alerts until `due_at` (at most one per channel)
    PENDING = "pending"  # closed for sending: its members are frozen; retried like an alert
    SENT = "sent"  # the far end confirmed it, and its members with it
    DEAD = "dead"  # no try left, its members with it


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What came back for one conditional GET. `body` is None when `not_modified`."""

    url: str
    status: int
    body: bytes | None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # Set when every redirect on the way was permanent (301/308): the URL to store from now on.
    moved_to: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed, normalised across RSS, Atom and JSON Feed.

    `summary` and `content` keep the feed's (sanitised) HTML; turning them into text is left to
    the extract stage so that entries already seen never pay for it.
    """

    guid: str
    url: str | None
    title: str
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed. `error` describes a problem the parser worked around, or, with no entries,
    why there are none; no entries and no error is a valid feed that is empty right now.
    `parser` says which parser produced it."""

    entries: tuple[Entry, ...]
    title: str | None = None
    link: str | None = None
    language: str | None = None
    error: str | None = None
    parser: str = "feedparser"


Extraction = Literal["feed", "page", "fallback"]


@dataclass(frozen=True, slots=True)
class Article:
    """An entry made readable: the text the rules see and the alert quotes.

    `extraction` says where `text` came from: the feed's own full text, the extracted page, or the
    feed's summary because the page could not be fetched or extracted (`extraction_error` says
    why).
    """

    url: str
    canonical_url: str
    title: str
    text: str
    summary: str = ""
    source: str = ""
    published: datetime | None = None
    language: str | None = None
    authors: tuple[str, ...] = ()
    extraction: Extraction = "feed"
    extraction_error: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a query term: which term, in which field, at which characters."""

    term: str
    field: str
    start: int
    end: int
    text: str = ""  # the characters at start:end, as written (filled in when an alert is sent)


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that matched an article, with the evidence an alert shows."""

    watchlist: str
    rule: str
    severity: Severity
    hits: tuple[Hit, ...] = ()
    snippet: str = ""


Updates = Literal["none", "digest", "every"]


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """An alert to queue for an article's story on one channel (decided by the match stage).
    `updates` and `escalate` are the watchlist's wishes for later articles of the same story."""

    watchlist: str
    channel: str
    severity: Severity
    rules: tuple[str, ...]
    snippet: str
    updates: Updates = "none"
    escalate: bool = True


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """What a channel sends: everything rendered from the store at send time."""

    alert_id: int
    idempotency_key: str
    watchlist: str
    severity: Severity
    title: str
    url: str
    source: str
    published: datetime | None
    rules: tuple[str, ...]
    snippet: str
    story_id: int
    sources: tuple[tuple[str, str], ...] = field(
        default=()
    )  # (source, url) of the story's articles
    created_at: datetime | None = None
    # The words of the snippet that made the rules match, exactly as written, for highlighting.
    highlights: tuple[str, ...] = ()
    kind: AlertKind = AlertKind.STORY
    # Every rule of the watchlist that matched this article, with each hit and its snippet.
    matches: tuple[RuleMatch, ...] = ()
    # The story's page in the web view ("why this alert"), when `http.public_url` is set.
    story_url: str = ""


@dataclass(frozen=True, slots=True)
class DigestMessage:
    """Several alerts of one channel in one message, under the digest's own idempotency key.

    `reason` says why they were held.
    """

    digest_id: int
    idempotency_key: str
    channel: str
    alerts: tuple[AlertMessage, ...]
    reason: DigestReason = DigestReason.DIGEST
    created_at: datetime | None = None

    @property
    def severity(self) -> Severity:
        return max((a.severity for a in self.alerts), key=lambda s: s.rank, default=Severity.LOW)


@dataclass(frozen=True, slots=True)
class NoticeMessage:
    """A message to the operator about monitor itself: a channel failing, or recovered."""

    idempotency_key: str
    title: str
    text: str
    severity: Severity = Severity.HIGH
    created_at: datetime | None = None


# Everything a channel can be asked to send.
Message = AlertMessage | DigestMessage | NoticeMessage
