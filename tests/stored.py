"""Articles written into a store the way the daemon writes them: matched by the real matcher
against real watchlists, routed by `match.route`, recorded by `pipeline.record` (story,
matches, alerts in one transaction). Only fetching is skipped. The articles are invented."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.channels import ChannelSettings, kinds
from monitor.model import Article
from monitor.pipeline import match
from monitor.pipeline.links import canonical_url
from monitor.pipeline.parse_raw import fingerprint_of
from monitor.pipeline.record import Recorded
from monitor.rules import compile_watchlists
from monitor.storage import Store
from monitor.storage import feeds as feed_store
from monitor.watchlist import WatchlistSettings
from tests import recording

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
WINDOW = 72 * 3600.0

# Invented reports of five unrelated events (no real article's text).
STORIES = {
    "offensive": (
        "Army opens offensive on villages north of Mosul",
        "Armoured columns moved before dawn on Tuesday as the army opened an offensive on "
        "villages north of Mosul, officers at a forward command post said. Residents reported "
        "artillery fire near the river crossings and families leaving by the northern road.",
    ),
    "floods": (
        "Floods cut the coastal road to Basra",
        "Heavy rain flooded the coastal road to Basra overnight, stranding lorries at two "
        "bridges. Engineers said the water would take days to drain and the port warned of "
        "delays to grain shipments.",
    ),
    "kirkuk": (
        "Militia commanders describe an offensive planned against Kirkuk",
        "Two militia commanders said an offensive against positions south of Kirkuk was "
        "planned for the spring, speaking at a rally in a stadium. Provincial officials called "
        "the claims boasting and said police patrols had been doubled.",
    ),
    "ceasefire": (
        "Ceasefire talks resume in Geneva after a month",
        "Negotiators returned to Geneva for a third round of ceasefire talks on Thursday, a "
        "month after the last round broke down over prisoner exchanges. Mediators said both "
        "delegations had brought new proposals on humanitarian corridors.",
    ),
    "harvest": (
        "Wheat harvest in Nineveh plains beats forecasts",
        "Farmers on the Nineveh plains brought in more wheat than forecast this season, the "
        "agriculture ministry said, crediting late rains and repaired irrigation canals. Silo "
        "operators asked for more lorries to move the grain.",
    ),
}


def watchlist(name: str, rules: Sequence[Mapping[str, Any]], **extra: Any) -> WatchlistSettings:
    data = {"version": 1, "name": name, "channels": ["desk"], "rules": list(rules), **extra}
    return WatchlistSettings.model_validate(data)


def channels(**min_severity: str) -> dict[str, ChannelSettings]:
    """Log channels by name, each with its `min_severity` (`desk="low"`)."""
    settings = kinds()["log"].Settings
    return {
        name: settings.model_validate({"kind": "log", "min_severity": level})
        for name, level in min_severity.items()
    }


def feed(store: Store, name: str) -> int:
    feed_store.sync(store, [feed_store.FeedSpec(name, f"https://e.org/{name}.xml", 600)], NOW)
    return next(f.id for f in feed_store.all_feeds(store) if f.name == name)


def report(
    store: Store,
    key: str,
    *,
    source: str = "wire",
    hours: float = 0,
    watchlists: Sequence[WatchlistSettings],
    routes: Mapping[str, ChannelSettings],
    url: str | None = None,
    now: datetime = NOW,
) -> Recorded:
    """Record the invented report `key` as `source` brought it, `hours` after `now`."""
    title, text = STORIES[key]
    url = url or f"https://{source}.example.org/{key}"
    item = Article(url=url, canonical_url=canonical_url(url), title=title, text=text, source=source)
    matcher = compile_watchlists(watchlists)
    matches = match.match(matcher, item, watchlists, source)
    specs = match.route(matches, watchlists, routes)
    done = recording.entry(
        store,
        feed_id=feed(store, source),
        guid=url,
        item=item,
        matches=matches,
        alerts=specs,
        now=now + timedelta(hours=hours),
        story_window_s=WINDOW,
        entry_hash=fingerprint_of(title, "", text),
    )
    assert done.error is None, done.error
    return done
