"""storage.stories: which story an incoming article belongs to.

First version: an article whose normalised text is identical to one seen within the story window
joins that article's story; any other article opens a new story. Near-duplicate and rewrite
clustering replace this function behind the same signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from monitor.storage.tables import article, story


def assign(
    conn: sa.Connection, *, title: str, text_hash: str, now: datetime, window_s: float
) -> int:
    """Return the id of the story for a new article (joining or opening one), inside `conn`'s
    transaction."""
    since = now - timedelta(seconds=window_s)
    same = conn.execute(
        sa.select(article.c.story_id)
        .join(story, story.c.id == article.c.story_id)
        .where(article.c.text_hash == text_hash, story.c.last_seen_at >= since)
        .limit(1)
    ).scalar()
    if same is not None:
        conn.execute(
            story.update()
            .where(story.c.id == same)
            .values(last_seen_at=now, article_count=story.c.article_count + 1)
        )
        return int(same)
    new_id = conn.execute(
        story.insert()
        .values(title=title[:500], first_seen_at=now, last_seen_at=now, article_count=1)
        .returning(story.c.id)
    ).scalar_one()
    return int(new_id)
