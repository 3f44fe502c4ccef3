"""storage.stories: which story an incoming article belongs to.

First version: an article whose normalised text is identical to one seen within the story window
joins that article's story; any other article opens a new story. Near-duplicate and rewrite
clustering replace this function behind the same signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from monitor.storage.tables import article, story

_SAME_TEXT = (
    sa.select(article.c.story_id)
    .join(story, story.c.id == article.c.story_id)
    .where(
        article.c.text_hash == sa.bindparam("hash"), story.c.last_seen_at >= sa.bindparam("since")
    )
    .limit(1)
)
_JOIN = (
    story.update()
    .where(story.c.id == sa.bindparam("story"))
    .values(last_seen_at=sa.bindparam("now"), article_count=story.c.article_count + 1)
)
_OPEN = story.insert().returning(story.c.id)


def assign(
    conn: sa.Connection, *, title: str, text_hash: str, now: datetime, window_s: float
) -> int:
    """Return the id of the story for a new article (joining or opening one), inside `conn`'s
    transaction."""
    since = now - timedelta(seconds=window_s)
    same = conn.execute(_SAME_TEXT, {"hash": text_hash, "since": since}).scalar()
    if same is not None:
        conn.execute(_JOIN, {"story": same, "now": now})
        return int(same)
    row = {"title": title[:500], "first_seen_at": now, "last_seen_at": now, "article_count": 1}
    return int(conn.execute(_OPEN, row).scalar_one())
