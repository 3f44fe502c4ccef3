"""alerts: which alerts an article's placement, or a story's split, adds to the outbox.

Pure functions from what a story has already queued to the rows to write; the caller
(`pipeline.record`) reads that state and writes the rows in the article's transaction. The
rules: one alert per story and (watchlist, channel); a later report that is more severe
escalates, when the watchlist allows it; a watchlist that asked for `updates` gets one per new
report (never for an edit or a word-for-word copy), now or in the next digest. After a split
each alert follows the report that raised it, and a story left without an alert where either
story had one gets its own. A story a person muted queues nothing more, of any kind.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from monitor.model import AlertKind, AlertSpec, AlertStatus, Severity
from monitor.storage.articles import MatchRow
from monitor.storage.story_alerts import NewAlert, StoryAlert


@dataclass(frozen=True, slots=True)
class FollowUp:
    """An alert to queue for a story on one channel: its kind, its `key` (the new severity of
    an escalation, the article's id of an update), and whether it is sent now (pending) or held
    for the next digest."""

    kind: AlertKind
    key: str
    status: AlertStatus


FIRST = FollowUp(AlertKind.STORY, "", AlertStatus.PENDING)  # a story's first alert on a channel


def follow_up(
    spec: AlertSpec, queued: Severity | None, article_id: int, *, new_report: bool
) -> FollowUp | None:
    """What an article of a story that matched `spec` queues, given the highest severity already
    queued for the story on that (watchlist, channel). One alert per story and channel, unless
    a later article is more severe (escalation, when the watchlist allows it) or the watchlist
    asked for `updates` on new reports (never for edits or word-for-word copies)."""
    if queued is None:
        return FIRST
    if spec.escalate and spec.severity.rank > queued.rank:
        return FollowUp(AlertKind.ESCALATION, str(spec.severity), AlertStatus.PENDING)
    if new_report and spec.updates != "none":
        held = spec.updates == "digest"
        status = AlertStatus.DIGEST if held else AlertStatus.PENDING
        return FollowUp(AlertKind.UPDATE, str(article_id), status)
    return None


def for_article(
    story_id: int,
    article_id: int,
    specs: Sequence[AlertSpec],
    queued: Sequence[StoryAlert],
    *,
    new_report: bool,
    muted: bool,
) -> list[NewAlert]:
    """The alerts an article of the story queues for the `specs` it matched, given the story's
    first alerts and escalations so far (`queued`). `new_report`: a report the story did not
    have (not an edit, not a word-for-word copy). A `muted` story queues none: no first alert,
    escalation or update."""
    if muted:
        return []
    highest: dict[tuple[str, str], Severity] = {}
    for a in queued:
        key = (a.watchlist, a.channel)
        if key not in highest or a.severity.rank > highest[key].rank:
            highest[key] = a.severity
    out = []
    for spec in specs:
        follow = follow_up(
            spec, highest.get((spec.watchlist, spec.channel)), article_id, new_report=new_report
        )
        if follow is not None:
            out.append(_alert(story_id, article_id, spec, follow))
    return out


def after_split(
    old: int,
    new: int,
    alerts: Sequence[StoryAlert],
    members: Mapping[int, int],
    matches: Sequence[MatchRow],
    *,
    muted: Collection[int],
) -> list[NewAlert]:
    """The first alerts to add after a repair moved reports from story `old` to `new`, once
    each alert has followed the report that raised it (sent or not: it told of that report's
    event). `alerts` are the two stories' alerts then; `members` their distinct reports
    (article id → story id) but the article being recorded, whose own alerts are queued as for
    any article; `matches` those reports' rule matches, by article in the order stored.

    Each story gets a first alert on every (watchlist, channel) where either story had an alert
    and it now has none, from its own reports' most severe match there (the earliest of equals):
    the event that the wrong join had kept silent is heard, and the one whose alert left is heard
    again as itself. Only at a severity that (watchlist, channel) has already carried: routing (a
    channel's `min_severity`) is not known here, and what it let through once it lets through
    again. A story in `muted` gets none (the story split off is a new one, never muted)."""
    if not alerts:
        return []
    alerted = {(a.story_id, a.watchlist, a.channel) for a in alerts}
    floor: dict[tuple[str, str], int] = {}  # the least severe alert each pair has carried
    for a in alerts:
        key = (a.watchlist, a.channel)
        floor[key] = min(a.severity.rank, floor.get(key, a.severity.rank))
    out = []
    for story_id in (old, new):
        if story_id in muted:
            continue
        best: dict[str, MatchRow] = {}  # watchlist → its most severe match in this story
        for m in matches:
            if members[m.article_id] != story_id:
                continue
            found = best.get(m.watchlist)
            if found is None or m.severity.rank > found.severity.rank:
                best[m.watchlist] = m
        for (watchlist, channel), lowest in sorted(floor.items()):
            top = best.get(watchlist)
            if top is None or (story_id, watchlist, channel) in alerted:
                continue
            if top.severity.rank < lowest:
                continue
            rules = sorted(
                {
                    m.rule
                    for m in matches
                    if m.watchlist == watchlist and m.article_id == top.article_id
                }
            )
            spec = AlertSpec(watchlist, channel, top.severity, tuple(rules), top.snippet)
            out.append(_alert(story_id, top.article_id, spec, FIRST))
    return out


def _alert(story_id: int, article_id: int, spec: AlertSpec, follow: FollowUp) -> NewAlert:
    return NewAlert(
        story_id=story_id,
        article_id=article_id,
        watchlist=spec.watchlist,
        channel=spec.channel,
        severity=spec.severity,
        rules=spec.rules,
        snippet=spec.snippet,
        kind=follow.kind,
        follow_key=follow.key,
        status=follow.status,
    )
