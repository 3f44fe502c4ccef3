"""A feed's health as `monitor feeds` and the web view show it, from its stored state alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.feedhealth import health
from monitor.model import FeedStatus
from monitor.storage.feeds import FeedState

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
POLLED = FeedState(
    id=1,
    name="wire",
    url="https://example.org/feed",
    config_url="https://example.org/feed",
    status=FeedStatus.ACTIVE,
    interval_s=600,
    etag=None,
    last_modified=None,
    body_hash=None,
    next_poll_at=NOW,
    last_polled_at=NOW - timedelta(minutes=5),
    last_success_at=NOW - timedelta(minutes=5),
    last_new_entry_at=NOW - timedelta(days=1),
    last_status=200,
    error_count=0,
    last_error=None,
    entries_seen=40,
    entries_dropped=0,
)


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({}, "ok"),
        ({"last_polled_at": None, "last_success_at": None, "last_new_entry_at": None}, "new"),
        ({"error_count": 3, "last_error": "HTTP 500"}, "failing x3"),
        ({"status": FeedStatus.RETIRED, "error_count": 1}, "retired"),
        ({"status": FeedStatus.REMOVED}, "removed"),
        ({"last_new_entry_at": NOW - timedelta(days=15)}, "silent 15d"),
        # A feed that posts weekly is silent only after fifty of its weeks, not two.
        ({"interval_s": 7 * 86400.0, "last_new_entry_at": NOW - timedelta(days=15)}, "ok"),
        ({"last_new_entry_at": None, "last_success_at": NOW - timedelta(days=20)}, "silent 20d"),
    ],
)
def test_health_says_in_one_word_how_the_feed_is_doing(
    changes: dict[str, object], word: str
) -> None:
    assert health(replace(POLLED, **changes), NOW) == word  # type: ignore[arg-type]
