"""storage.replay: what a backtest reads. The articles the archive holds for a time range,
streamed in the order they were stored, and what really happened to their stories (alerts,
stored rule matches, marks). Read-only: a backtest writes nothing."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitor.model import AlertKind
from monitor.storage import Store
from monitor.storage.tables import UTCDateTime, alert, article, entry, feed, rule_match, story
from monitor.storage.tx import Statement, store_error

READ_BATCH = 2000  # rows per fetch while streaming articles


class StoredArticle:
    """An article as stored, straight from the DB-API row (a backtest reads every one of them:
    SQLAlchemy's work per row cost more than a tenth of the replay). `fetched_at` is converted
    when asked for: most articles match nothing and never need it."""

    __slots__ = (
        "_when",
        "canonical_url",
        "id",
        "language",
        "source",
        "story_id",
        "summary",
        "text",
        "title",
        "url",
    )

    def __init__(self, row: tuple[Any, ...]) -> None:
        (
            self.id,
            self.story_id,
            self.source,
            self.url,
            self.canonical_url,
            self.title,
            self.summary,
            self.text,
            self.language,
            self._when,
        ) = row

    @property
    def fetched_at(self) -> datetime:
        when = _TIME.process_result_value(self._when, _DIALECT)
        assert when is not None
        return when


_TIME = UTCDateTime()
_DIALECT: Any = None  # UTCDateTime reads text (SQLite) and datetimes (PostgreSQL) alike


@dataclass(frozen=True, slots=True)
class RealAlert:
    """A story's first alert for a watchlist on one channel, as it happened."""

    story_id: int
    watchlist: str
    channel: str
    rules: tuple[str, ...]
    created_at: datetime
    irrelevant: bool


@dataclass(frozen=True, slots=True)
class StoryHead:
    id: int
    title: str
    first_seen_at: datetime
    muted: bool


_ARTICLE_COLUMNS = (
    article.c.id,
    article.c.story_id,
    article.c.source,
    article.c.url,
    article.c.canonical_url,
    article.c.title,
    article.c.summary,
    article.c.text,
    article.c.language,
    article.c.fetched_at,
)


def _in_range(since: datetime, until: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        article.c.pruned_at.is_(None),
        article.c.fetched_at >= since,
        article.c.fetched_at < until,
    ]


def articles(
    store: Store, since: datetime, until: datetime, *, batch: int = READ_BATCH
) -> Iterator[list[StoredArticle]]:
    """The whole (not pruned) articles stored in [since, until), oldest first, in batches."""
    query = (
        sa.select(*_ARTICLE_COLUMNS)
        .where(*_in_range(since, until))
        .order_by(article.c.fetched_at, article.c.id)
    )
    with store.read() as conn:
        compiled = Statement(query).on(conn.dialect)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.params({}))
            while rows := cursor.fetchmany(batch):
                yield [StoredArticle(row) for row in rows]
        except conn.dialect.loaded_dbapi.Error as exc:
            raise store_error(exc) from exc
        finally:
            cursor.close()


def feeds_of(store: Store, article_ids: Collection[int]) -> dict[int, set[str]]:
    """The names of the feeds that brought each article (a watchlist may watch only some)."""
    out: dict[int, set[str]] = {}
    if not article_ids:
        return out
    with store.read() as conn:
        rows = conn.execute(
            sa.select(entry.c.article_id, feed.c.name)
            .join(feed, feed.c.id == entry.c.feed_id)
            .where(entry.c.article_id.in_(list(article_ids)))
        )
        for article_id, name in rows:
            out.setdefault(int(article_id), set()).add(str(name))
    return out


def _stories_in_range(since: datetime, until: datetime) -> sa.Select[tuple[int]]:
    return sa.select(article.c.story_id).where(*_in_range(since, until)).distinct()


def real_alerts(
    store: Store, since: datetime, until: datetime, watchlists: Collection[str]
) -> list[RealAlert]:
    """The first alerts (any time) of the stories with an article in range, for `watchlists`."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                alert.c.story_id,
                alert.c.watchlist,
                alert.c.channel,
                alert.c.rules,
                alert.c.created_at,
                alert.c.irrelevant_at,
            ).where(
                alert.c.kind == AlertKind.STORY,
                alert.c.watchlist.in_(list(watchlists)),
                alert.c.story_id.in_(_stories_in_range(since, until)),
            )
        )
        return [
            RealAlert(
                int(r.story_id),
                str(r.watchlist),
                str(r.channel),
                tuple(x for x in str(r.rules).split(",") if x),
                r.created_at,
                r.irrelevant_at is not None,
            )
            for r in rows
        ]


def stored_matches(
    store: Store, since: datetime, until: datetime, watchlists: Collection[str]
) -> set[tuple[str, str, int]]:
    """(watchlist, rule, story) of the rule matches stored for the articles in range: what
    the rules as they were matched."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(rule_match.c.watchlist, rule_match.c.rule, article.c.story_id)
            .join(article, article.c.id == rule_match.c.article_id)
            .where(*_in_range(since, until), rule_match.c.watchlist.in_(list(watchlists)))
            .distinct()
        )
        return {(str(w), str(r), int(s)) for w, r, s in rows if s is not None}


def story_heads(store: Store, ids: Collection[int]) -> dict[int, StoryHead]:
    out: dict[int, StoryHead] = {}
    wanted = sorted(ids)
    with store.read() as conn:
        for start in range(0, len(wanted), 500):
            rows = conn.execute(
                sa.select(story.c.id, story.c.title, story.c.first_seen_at, story.c.muted_at).where(
                    story.c.id.in_(wanted[start : start + 500])
                )
            )
            for r in rows:
                out[int(r.id)] = StoryHead(
                    int(r.id), str(r.title), r.first_seen_at, r.muted_at is not None
                )
    return out
