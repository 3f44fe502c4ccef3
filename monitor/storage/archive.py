"""storage.archive: the stored articles kept for backtests and the web view, and their pruning.

An article older than `archive.keep` loses what only reading it again needs: its text, summary
and MinHash signature, its rule matches, and its story's clustering profile once the story is
quiet that long too. What says "seen before" stays: the entry rows (feed and guid, content
hash), the article row (canonical URL, text hash, title, story) and every alert row, so an old
entry, link or text that comes back is recognised and its story never alerts twice. Articles
whose alerts are still waiting to be sent are left whole until they are sent or dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.model import AlertStatus
from monitor.storage import Store
from monitor.storage.tables import alert, article, rule_match, story

PRUNE_BATCH = 500  # articles pruned per transaction: short transactions keep writers moving

_UNSENT = sa.select(alert.c.article_id).where(
    alert.c.status.in_([AlertStatus.PENDING, AlertStatus.DIGEST])
)


@dataclass(frozen=True, slots=True)
class Pruned:
    articles: int = 0
    matches: int = 0
    stories: int = 0


@dataclass(frozen=True, slots=True)
class Reach:
    """How far back the archive goes: the oldest article still whole, how many are whole, and
    how many were pruned."""

    oldest: datetime | None
    articles: int
    pruned: int


def prune(store: Store, before: datetime, now: datetime, *, batch: int = PRUNE_BATCH) -> Pruned:
    """Prune the articles stored (fetched) before `before`, in short transactions, oldest first;
    and the profiles of the stories last seen before it."""
    articles = matches = 0
    while True:
        with store.write() as conn:
            ids = list(
                conn.scalars(
                    sa.select(article.c.id)
                    .where(
                        article.c.pruned_at.is_(None),
                        article.c.fetched_at < before,
                        article.c.id.not_in(_UNSENT),
                    )
                    .order_by(article.c.fetched_at)
                    .limit(batch)
                )
            )
            if not ids:
                break
            conn.execute(
                article.update()
                .where(article.c.id.in_(ids))
                .values(text="", summary="", signature=None, pruned_at=now)
            )
            gone = conn.execute(rule_match.delete().where(rule_match.c.article_id.in_(ids)))
            articles += len(ids)
            matches += max(gone.rowcount, 0)
        if len(ids) < batch:
            break
    with store.write() as conn:
        quiet = conn.execute(
            story.update()
            .where(story.c.last_seen_at < before, story.c.profile != "")
            .values(profile="")
        )
    return Pruned(articles, matches, max(quiet.rowcount, 0))


def reach(store: Store) -> Reach:
    """The archive's extent (two index reads and a count)."""
    with store.read() as conn:
        oldest = conn.scalar(
            sa.select(sa.func.min(article.c.fetched_at)).where(article.c.pruned_at.is_(None))
        )
        whole = conn.scalar(
            sa.select(sa.func.count()).select_from(article).where(article.c.pruned_at.is_(None))
        )
        pruned = conn.scalar(
            sa.select(sa.func.count()).select_from(article).where(article.c.pruned_at.is_not(None))
        )
    return Reach(oldest, int(whole or 0), int(pruned or 0))
