"""storage.tables: the database schema. Uniqueness that the invariants need is a constraint here,
not a code path: one entry per (feed, guid), one article per canonical URL, one match per
(article, watchlist, rule), one alert per (story, watchlist, channel, kind, follow key): one
first alert per story, one escalation per severity level, one follow-up per article.

Changing a table means writing an Alembic migration in `storage/migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from monitor.model import AlertKind, AlertStatus, DigestKind, DigestReason, DigestState, FeedStatus


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every engine (SQLite has no time zones)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(when, datetime)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


class EpochSeconds(sa.types.TypeDecorator[datetime]):
    """A time kept as whole UTC seconds since the epoch (an 8-byte integer), given and returned
    as an aware UTC datetime like every other time: the lookup tables hold some 44 rows per
    article, and an integer makes smaller rows than SQLite's 26-character text (migration 0006).
    """

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return int(value.timestamp())

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromtimestamp(int(value), UTC)


def _when(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _leased(table: str) -> sa.Index:
    """The rows someone holds (`storage.leases`): a handful, however large the table."""
    held = sa.text("lease_owner IS NOT NULL")
    return sa.Index(f"ix_{table}_leased", "lease_owner", sqlite_where=held, postgresql_where=held)


class Feed(SQLModel, table=True):
    """A configured feed and its health: failure is state, not a crash."""

    __tablename__ = "feed"
    __table_args__ = (_leased("feed"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    config_url: str  # as written in the config; a change there resets the feed
    url: str  # where it is fetched now (a permanent redirect updates it)
    status: str = Field(default=FeedStatus.ACTIVE)  # model.FeedStatus
    interval_s: float
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    next_poll_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_polled_at: datetime | None = _when()
    last_success_at: datetime | None = _when()
    last_new_entry_at: datetime | None = _when()
    last_status: int | None = None
    error_count: int = 0
    last_error: str | None = None
    entries_seen: int = 0
    entries_dropped: int = 0  # past fetch.max_entries at the last read of a changed body
    lease_owner: str | None = None
    lease_until: datetime | None = _when()
    created_at: datetime = Field(sa_type=UTCDateTime)


class Story(SQLModel, table=True):
    """One real-world event, however many articles report it. Alerts belong to stories."""

    __tablename__ = "story"
    id: int | None = Field(default=None, primary_key=True)
    title: str
    first_seen_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_seen_at: datetime = Field(sa_type=UTCDateTime, index=True)
    article_count: int = 1
    # Grows with every change of the profile (a join or a split): what a worker's decoded copy
    # of the profile is checked against (migration 0005).
    revision: int = Field(default=1, sa_column_kwargs={"server_default": "0"})
    # The clustering's view of the story (`monitor.pipeline.stories.Profile` as JSON): centroids
    # of its articles' terms, named things and titles.
    profile: str = Field(default="", sa_type=sa.Text)
    muted_at: datetime | None = _when()  # muted by a person: it queues no more alerts (0008)


class Article(SQLModel, table=True):
    """A readable article, stored once however many feeds carry its URL."""

    __tablename__ = "article"
    __table_args__ = (
        # The articles the archive still holds, by time (`storage.archive`).
        sa.Index(
            "ix_article_unpruned",
            "fetched_at",
            sqlite_where=sa.text("pruned_at IS NULL"),
            postgresql_where=sa.text("pruned_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    canonical_url: str = Field(unique=True)
    url: str
    source: str  # name of the feed that brought it first
    title: str
    summary: str = Field(default="", sa_type=sa.Text)
    text: str = Field(default="", sa_type=sa.Text)
    text_hash: str = Field(index=True)
    language: str | None = None
    authors: str = ""  # comma-separated
    published_at: datetime | None = _when()
    fetched_at: datetime = Field(sa_type=UTCDateTime, index=True)
    extraction: str = "feed"  # feed | page | fallback
    extraction_error: str | None = None
    story_id: int | None = Field(default=None, foreign_key="story.id", index=True)
    # How it joined its story: new | same-text | near-duplicate | rewrite (with the score).
    story_reason: str = "new"
    story_score: float | None = None
    same_as_id: int | None = Field(default=None, foreign_key="article.id")  # identical text
    signature: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # MinHash values
    updated_at: datetime | None = _when()  # set when an edited entry changed it
    # Set when the archive dropped its text, summary and signature (`archive.keep`); its keys
    # stay, so it never alerts again (migration 0008).
    pruned_at: datetime | None = _when()


class Entry(SQLModel, table=True):
    """A feed item seen once: the cheap "is this new?" key checked before any work."""

    __tablename__ = "entry"
    __table_args__ = (sa.UniqueConstraint("feed_id", "guid", name="uq_entry_feed_guid"),)
    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id")
    guid: str
    article_id: int | None = Field(default=None, foreign_key="article.id", index=True)
    seen_at: datetime = Field(sa_type=UTCDateTime)
    # Hash of the entry's title, summary and content as the feed gave them: a change means the
    # entry was edited, and its article is read again (it never alerts twice).
    fingerprint: str | None = None


class StoryKey(SQLModel, table=True):
    """Candidate lookup for rewrites: a story under each of its strongest terms and names."""

    __tablename__ = "story_key"
    __table_args__ = (
        # The lookup's order (newest first, then the highest story id), read off the index.
        sa.Index("ix_story_key_recent", "key", "seen_at", "story_id"),
        {"sqlite_with_rowid": False},  # the primary key is the table: one B-tree less per row
    )
    key: int = Field(sa_type=sa.BigInteger, primary_key=True)
    story_id: int = Field(foreign_key="story.id", primary_key=True)
    seen_at: datetime = Field(sa_type=EpochSeconds)


class ArticleBand(SQLModel, table=True):
    """MinHash LSH: an article under each band key of its signature, to find its copies.

    The primary key is in the order of the lookup (key, then seen_at from the window's start),
    so it is the only index: each row costs one B-tree write (migration 0004)."""

    __tablename__ = "article_band"
    __table_args__ = (
        sa.PrimaryKeyConstraint("key", "seen_at", "article_id"),
        {"sqlite_with_rowid": False},
    )
    key: int = Field(sa_type=sa.BigInteger, primary_key=True)
    seen_at: datetime = Field(sa_type=EpochSeconds, primary_key=True)
    article_id: int = Field(foreign_key="article.id", primary_key=True)


class RuleMatchRow(SQLModel, table=True):
    """Which rule of which watchlist matched an article, with its evidence."""

    __tablename__ = "rule_match"
    __table_args__ = (
        sa.UniqueConstraint("article_id", "watchlist", "rule", name="uq_match_article_rule"),
    )
    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    watchlist: str
    rule: str
    severity: str
    hits: str = Field(default="[]", sa_type=sa.Text)  # JSON list of {term, field, start, end}
    snippet: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Digest(SQLModel, table=True):
    """One message of a channel that is not a single alert: a digest of held alerts, or an
    operator notice. It has its own idempotency key and outbox state. While `open` it gathers
    alerts (at most one open digest per channel); once closed for sending its members are frozen,
    so every retry carries the same alerts under the same key; when the far end confirms, the
    digest and its members are marked sent in one transaction."""

    __tablename__ = "digest"
    __table_args__ = (
        sa.Index(
            "ux_digest_open_channel",
            "channel",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_digest_due", "status", "channel"),
        _leased("digest"),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str
    kind: str = DigestKind.DIGEST  # model.DigestKind
    reason: str = DigestReason.DIGEST  # model.DigestReason
    status: str = DigestState.OPEN  # model.DigestState
    idempotency_key: str = Field(unique=True)
    due_at: datetime = Field(sa_type=UTCDateTime)  # when an open digest is sent
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)  # retries once closed
    last_error: str | None = None
    title: str = ""  # notices
    body: str = Field(default="", sa_type=sa.Text)  # notices
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = _when()
    sent_at: datetime | None = _when()
    lease_owner: str | None = None
    lease_until: datetime | None = _when()


class Alert(SQLModel, table=True):
    """The outbox: one row per (story, watchlist, channel), sent at least once, never lost.
    An alert held for a digest points at it (`digest_id`) and is sent with it."""

    __tablename__ = "alert"
    __table_args__ = (
        sa.UniqueConstraint(
            "story_id", "watchlist", "channel", "kind", "follow_key", name="uq_alert_story_channel"
        ),
        sa.Index("ix_alert_due", "status", "next_attempt_at"),
        sa.Index(
            "ix_alert_irrelevant",
            "watchlist",
            sqlite_where=sa.text("irrelevant_at IS NOT NULL"),
            postgresql_where=sa.text("irrelevant_at IS NOT NULL"),
        ),
        _leased("alert"),
    )
    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="story.id")
    article_id: int = Field(foreign_key="article.id")
    watchlist: str
    channel: str
    kind: str = AlertKind.STORY  # model.AlertKind
    follow_key: str = ""
    severity: str
    rules: str  # comma-separated rule names
    snippet: str = Field(default="", sa_type=sa.Text)
    idempotency_key: str = Field(unique=True)
    status: str = AlertStatus.PENDING  # model.AlertStatus
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = _when()
    lease_owner: str | None = None
    lease_until: datetime | None = _when()
    digest_id: int | None = Field(default=None, foreign_key="digest.id", index=True)
    irrelevant_at: datetime | None = _when()  # marked not relevant by a person (0008)


class ChannelState(SQLModel, table=True):
    """What every worker must agree on about a channel: its rate-limit bucket, how long it has
    been failing, until when it is paused, and whether the operator was told."""

    __tablename__ = "channel_state"
    channel: str = Field(primary_key=True)
    tokens: float | None = None  # rate-limit bucket, as of tokens_at
    tokens_at: datetime | None = _when()
    failures: int = 0  # consecutive failed sends
    failing_since: datetime | None = _when()
    last_error: str | None = None
    paused_until: datetime | None = _when()
    notified_at: datetime | None = _when()  # the operator notice for this failure
    updated_at: datetime = Field(sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """Every try at sending an alert, with what the far end answered."""

    __tablename__ = "delivery_attempt"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    ok: bool
    detail: str = ""
    duration_ms: int = 0


metadata = SQLModel.metadata
feed = Feed.__table__  # type: ignore[attr-defined]
story = Story.__table__  # type: ignore[attr-defined]
article = Article.__table__  # type: ignore[attr-defined]
entry = Entry.__table__  # type: ignore[attr-defined]
rule_match = RuleMatchRow.__table__  # type: ignore[attr-defined]
alert = Alert.__table__  # type: ignore[attr-defined]
delivery_attempt = DeliveryAttempt.__table__  # type: ignore[attr-defined]
digest = Digest.__table__  # type: ignore[attr-defined]
channel_state = ChannelState.__table__  # type: ignore[attr-defined]
story_key = StoryKey.__table__  # type: ignore[attr-defined]
article_band = ArticleBand.__table__  # type: ignore[attr-defined]
