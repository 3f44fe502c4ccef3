"""channels.sample: the made-up alert (or digest) that `monitor test-channel` sends, so a channel
can be tried, and its rendering seen, before any real alert exists."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from monitor.model import AlertMessage, DigestMessage, DigestReason, Message, Severity


def sample(*, severity: Severity = Severity.HIGH, digest: bool = False) -> Message:
    now = datetime.now(UTC).replace(microsecond=0)
    key = f"test-{uuid.uuid4().hex}"
    alert = AlertMessage(
        alert_id=0,
        idempotency_key=key,
        watchlist="test",
        severity=severity,
        title="Test alert from monitor: troops advance on Falluja\u2019s outskirts",
        url="https://example.org/news/falluja-outskirts",
        source="example-wire",
        published=now,
        rules=("offensive",),
        snippet="\u2026the army said its offensive on Falluja had reached the west\u2026",
        story_id=0,
        sources=(
            ("example-wire", "https://example.org/news/falluja-outskirts"),
            ("another-outlet", "https://example.net/world/iraq-falluja"),
        ),
        created_at=now,
        highlights=("offensive", "Falluja"),
    )
    if not digest:
        return alert
    others = (
        replace(alert, alert_id=1, severity=Severity.MEDIUM, title="Test alert two: Mosul"),
        replace(alert, alert_id=2, severity=Severity.LOW, title="Test alert three: Tal Afar"),
    )
    return DigestMessage(0, key, "test", (alert, *others), DigestReason.DIGEST, now)
