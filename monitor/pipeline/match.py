"""match: an article → the rules it matches (via the compiled matcher) → the alerts to queue.

Routing lives here: which watchlists watch the article's feed, which of their channels take
alerts of the matched severity, and which snippet represents the match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.channels import ChannelSettings
from monitor.model import AlertSpec, Article, RuleMatch
from monitor.rules import Matcher
from monitor.watchlist import WatchlistSettings


def match(
    matcher: Matcher, article: Article, watchlists: Sequence[WatchlistSettings], feed: str
) -> list[RuleMatch]:
    """Every rule match of the watchlists that watch `feed`."""
    names = [w.name for w in watchlists if w.watches(feed)]
    return matcher.match(article, names) if names else []


def route(
    matches: Sequence[RuleMatch],
    watchlists: Sequence[WatchlistSettings],
    channels: Mapping[str, ChannelSettings],
) -> list[AlertSpec]:
    """One alert per (watchlist, channel) whose channel accepts the matched severity."""
    specs: list[AlertSpec] = []
    for watchlist in watchlists:
        hits = [m for m in matches if m.watchlist == watchlist.name]
        if not hits:
            continue
        strongest = max(hits, key=lambda m: (m.severity.rank, len(m.hits)))
        rules = tuple(m.rule for m in sorted(hits, key=lambda m: -m.severity.rank))
        for name in watchlist.channels:
            channel = channels.get(name)
            if channel is None or channel.min_severity.rank > strongest.severity.rank:
                continue
            specs.append(
                AlertSpec(
                    watchlist.name,
                    name,
                    strongest.severity,
                    rules,
                    strongest.snippet,
                    updates=watchlist.updates,
                    escalate=watchlist.escalate,
                )
            )
    return specs
