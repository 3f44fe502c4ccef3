"""backtest: watchlists as they are now, replayed over the archive → the stories that would
alert, per watchlist and rule, and how that differs from what really alerted.

The stored articles go through the real matcher (compiled from the watchlists given) and the
real routing (`match.route`: a channel's `min_severity`); stories are the stored ones, so a
story is counted once however many reports match. Nothing is written and nothing is sent.

"Really alerted" is a story's first alert for the watchlist (on any channel). The difference:
*new* stories would alert and never did; stories *no longer* alerting did alert within the
range and would not now. Per rule, the comparison is with the rule matches stored when the
articles were read: stories the rule now catches that it did not, and stories it caught (and
the watchlist alerted) that it no longer does.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from monitor.channels import ChannelSettings
from monitor.model import Article, RuleMatch, Severity
from monitor.pipeline import match as match_stage
from monitor.rules import compile_watchlists
from monitor.storage import Store, archive, replay
from monitor.units import parse_duration
from monitor.watchlist import WatchlistSettings


@dataclass(frozen=True, slots=True)
class Report:
    """One stored article, as a backtest shows it."""

    article_id: int
    title: str
    url: str
    source: str
    fetched_at: datetime


@dataclass
class StoryHit:
    """A story that would alert (for a watchlist, or through one rule)."""

    story_id: int
    title: str
    first: Report  # the first report that matched
    severity: Severity
    rules: set[str] = field(default_factory=set)
    outlets: set[str] = field(default_factory=set)
    snippet: str = ""
    highlights: tuple[str, ...] = ()
    alerted: bool = False  # the watchlist really alerted this story
    irrelevant: bool = False  # and someone marked that alert irrelevant
    muted: bool = False

    @property
    def day(self) -> date:
        return self.first.fetched_at.date()


@dataclass(frozen=True, slots=True)
class Gone:
    """A story that alerted in the range and would not now."""

    story_id: int
    title: str
    alerted_at: datetime
    rules: tuple[str, ...]
    irrelevant: bool


@dataclass
class RuleResult:
    name: str
    severity: Severity
    query: str
    stories: list[StoryHit] = field(default_factory=list)
    new: list[int] = field(default_factory=list)  # stories the rule catches and did not
    gone: list[int] = field(default_factory=list)  # stories it caught (and alerted), no more
    alerted: int = 0  # stories alerted in the range that named this rule
    irrelevant: int = 0  # of those, marked irrelevant
    in_watchlist: bool = True  # False: a rule of the stored matches that is gone from the file


@dataclass
class WatchlistResult:
    name: str
    stories: list[StoryHit] = field(default_factory=list)
    rules: list[RuleResult] = field(default_factory=list)
    per_day: dict[date, int] = field(default_factory=dict)
    real_per_day: dict[date, int] = field(default_factory=dict)
    new: list[int] = field(default_factory=list)
    gone: list[Gone] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Backtest:
    since: datetime
    until: datetime
    articles: int
    seconds: float
    reach: archive.Reach
    watchlists: list[WatchlistResult]
    notes: list[str] = field(default_factory=list)


def run(
    store: Store,
    watchlists: Sequence[WatchlistSettings],
    channels: Mapping[str, ChannelSettings],
    since: datetime,
    until: datetime,
    *,
    progress: Callable[[int], None] | None = None,
) -> Backtest:
    """Replay `watchlists` over the articles stored in [since, until). Raises `RulesError` for
    a watchlist whose rules do not compile (the config loader has checked those it loaded)."""
    started = time.perf_counter()
    matcher = compile_watchlists(watchlists)
    reach = archive.reach(store)
    notes: list[str] = []
    if reach.oldest is None:
        notes.append("the archive holds no articles yet: run `monitor run` or `monitor once`")
    elif since < reach.oldest and reach.pruned:
        notes.append(
            f"the archive reaches back to {_stamp(reach.oldest)}: older articles were pruned "
            "(archive.keep) and are not replayed, nor compared"
        )
    start = since if reach.oldest is None or not reach.pruned else max(since, reach.oldest)
    names = [w.name for w in watchlists]
    # Watchlists whose channels are all unknown here (a file outside the config): counted as
    # alerting at any severity, as no channel's min_severity is known.
    unrouted = {w.name for w in watchlists if not any(c in channels for c in w.channels)}
    every_feed = all(w.feeds == "all" for w in watchlists)
    stories: dict[str, dict[int, StoryHit]] = {n: {} for n in names}
    by_rule: dict[tuple[str, str], dict[int, StoryHit]] = {}
    outlets: dict[int, set[str]] = {}
    count = 0
    for batch in replay.articles(store, start, until):
        feeds = {} if every_feed else replay.feeds_of(store, [a.id for a in batch])
        for stored in batch:
            count += 1
            if stored.story_id is None:
                continue
            outlets.setdefault(stored.story_id, set()).add(stored.source)
            item = Article(
                url=stored.url,
                canonical_url=stored.canonical_url,
                title=stored.title,
                text=stored.text,
                summary=stored.summary,
                source=stored.source,
                language=stored.language,
            )
            watching: list[str] | None = None
            if not every_feed:
                brought = feeds.get(stored.id) or {stored.source}
                watching = [w.name for w in watchlists if any(w.watches(name) for name in brought)]
                if not watching:
                    continue
            matches = matcher.match(item, watching)
            if matches:
                _count(matches, stored, item, watchlists, channels, unrouted, stories, by_rule)
        if progress is not None:
            progress(count)
    result = _compare(store, start, until, watchlists, unrouted, stories, by_rule, outlets)
    return Backtest(since, until, count, time.perf_counter() - started, reach, result, notes)


def _count(
    matches: Sequence[RuleMatch],
    stored: replay.StoredArticle,
    item: Article,
    watchlists: Sequence[WatchlistSettings],
    channels: Mapping[str, ChannelSettings],
    unrouted: set[str],
    stories: dict[str, dict[int, StoryHit]],
    by_rule: dict[tuple[str, str], dict[int, StoryHit]],
) -> None:
    """Count one article's matches for its story: per watchlist that would alert (routing as
    the daemon does it), and per rule."""
    assert stored.story_id is not None
    story_id = stored.story_id
    routed = {spec.watchlist for spec in match_stage.route(matches, watchlists, channels)}
    report = Report(stored.id, stored.title, stored.url, stored.source, stored.fetched_at)
    for m in matches:
        if m.watchlist not in routed and m.watchlist not in unrouted:
            continue
        hit = stories[m.watchlist].get(story_id)
        if hit is None:
            hit = stories[m.watchlist][story_id] = _hit(story_id, report, m, item)
        elif m.severity.rank > hit.severity.rank:
            hit.severity = m.severity
        hit.rules.add(m.rule)
        per_rule = by_rule.setdefault((m.watchlist, m.rule), {})
        if story_id not in per_rule:
            per_rule[story_id] = _hit(story_id, report, m, item)
            per_rule[story_id].rules.add(m.rule)


def _hit(story_id: int, first: Report, m: RuleMatch, item: Article) -> StoryHit:
    fields = {"title": item.title, "summary": item.summary, "text": item.text}
    words = {" ".join(fields.get(h.field, "")[h.start : h.end].split()) for h in m.hits}
    highlights = tuple(sorted(w for w in words if w and w in m.snippet))
    return StoryHit(story_id, "", first, m.severity, snippet=m.snippet, highlights=highlights)


def _compare(
    store: Store,
    since: datetime,
    until: datetime,
    watchlists: Sequence[WatchlistSettings],
    unrouted: set[str],
    stories: dict[str, dict[int, StoryHit]],
    by_rule: dict[tuple[str, str], dict[int, StoryHit]],
    outlets: Mapping[int, set[str]],
) -> list[WatchlistResult]:
    """The replay against what really alerted, per watchlist and rule."""
    by_name = {w.name: w for w in watchlists}
    real = replay.real_alerts(store, since, until, list(by_name))
    stored = replay.stored_matches(store, since, until, list(by_name))
    alerted_ever: dict[str, set[int]] = {n: set() for n in by_name}
    in_range: dict[str, dict[int, replay.RealAlert]] = {n: {} for n in by_name}
    irrelevant: dict[str, set[int]] = {n: set() for n in by_name}
    for a in real:
        alerted_ever[a.watchlist].add(a.story_id)
        if a.irrelevant:
            irrelevant[a.watchlist].add(a.story_id)
        if since <= a.created_at < until:
            first = in_range[a.watchlist].get(a.story_id)
            if first is None or a.created_at < first.created_at:
                in_range[a.watchlist][a.story_id] = a
    wanted = {s for found in stories.values() for s in found}
    wanted |= {s for found in in_range.values() for s in found}
    heads = replay.story_heads(store, wanted)
    results = []
    for w in watchlists:
        found = stories[w.name]
        for hit in found.values():
            _finish(hit, heads, outlets, alerted_ever[w.name], irrelevant[w.name])
        for (name, _), per_rule in by_rule.items():
            if name == w.name:
                for hit in per_rule.values():
                    _finish(hit, heads, outlets, alerted_ever[w.name], irrelevant[w.name])
        result = WatchlistResult(w.name)
        result.stories = sorted(found.values(), key=lambda h: (h.first.fetched_at, h.story_id))
        result.per_day = dict(sorted(Counter(h.day for h in result.stories).items()))
        result.real_per_day = dict(
            sorted(Counter(a.created_at.date() for a in in_range[w.name].values()).items())
        )
        result.new = [h.story_id for h in result.stories if h.story_id not in alerted_ever[w.name]]
        result.gone = [
            Gone(
                a.story_id,
                heads[a.story_id].title if a.story_id in heads else "",
                a.created_at,
                a.rules,
                a.story_id in irrelevant[w.name],
            )
            for a in sorted(in_range[w.name].values(), key=lambda a: (a.created_at, a.story_id))
            if a.story_id not in found
        ]
        if w.name in unrouted:
            result.notes.append(
                f"none of its channels ({', '.join(w.channels)}) is in the settings: every "
                "match is counted as an alert, whatever its severity"
            )
        result.rules = _rules(w, by_rule, stored, in_range[w.name], irrelevant[w.name])
        results.append(result)
    return results


def _finish(
    hit: StoryHit,
    heads: Mapping[int, replay.StoryHead],
    outlets: Mapping[int, set[str]],
    alerted: set[int],
    irrelevant: set[int],
) -> None:
    head = heads.get(hit.story_id)
    hit.title = head.title if head is not None else hit.first.title
    hit.muted = head.muted if head is not None else False
    hit.outlets = outlets.get(hit.story_id, set())
    hit.alerted = hit.story_id in alerted
    hit.irrelevant = hit.story_id in irrelevant


def _rules(
    w: WatchlistSettings,
    by_rule: dict[tuple[str, str], dict[int, StoryHit]],
    stored: set[tuple[str, str, int]],
    alerted: Mapping[int, replay.RealAlert],
    irrelevant: set[int],
) -> list[RuleResult]:
    """Per rule of the watchlist (and per rule that matched before and is gone from it)."""
    caught: dict[str, set[int]] = {}
    for name, rule, story_id in stored:
        if name == w.name:
            caught.setdefault(rule, set()).add(story_id)
    out = []
    rules = {r.name: r for r in w.rules}
    for rule in [*rules, *sorted(set(caught) - set(rules))]:
        spec = rules.get(rule)
        hits = by_rule.get((w.name, rule), {})
        before = caught.get(rule, set())
        named = {s for s, a in alerted.items() if rule in a.rules}
        result = RuleResult(
            rule,
            spec.severity if spec is not None else Severity.LOW,
            spec.query if spec is not None else "",
            sorted(hits.values(), key=lambda h: (h.first.fetched_at, h.story_id)),
            in_watchlist=spec is not None,
        )
        result.new = [h.story_id for h in result.stories if h.story_id not in before]
        result.gone = sorted(s for s in before & set(alerted) if s not in hits)
        result.alerted = len(named)
        result.irrelevant = len(named & irrelevant)
        out.append(result)
    return out


def window(
    since: str | None, start: str | None, end: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """The range a person asked for: `start` to `end` (dates or date-times, UTC unless they
    say), or the duration `since` (7d) back from `end` or now. An `end` that is a date alone
    includes that day, as a reader of "from the 1st to the 7th" (or of a date picker) means it;
    a date-time is where the range stops. ValueError says what is wrong."""
    until = moment(end, "to") if end else now
    if end and _date_only(end):
        until += timedelta(days=1)
    begin = (
        moment(start, "from") if start else until - timedelta(seconds=parse_duration(since or "7d"))
    )
    if begin >= until:
        raise ValueError("the range is empty: it must start before it ends")
    return begin, until


def _date_only(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def moment(text: str, name: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{name}: {text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")
