"""match: which alerts an article's matches lead to, per watchlist and channel."""

from __future__ import annotations

from monitor.channels.log import LogSettings
from monitor.channels.webhook import WebhookSettings
from monitor.model import Article, Hit, RuleMatch, Severity
from monitor.pipeline.match import match, route
from monitor.rules import compile_watchlists
from monitor.watchlist import WatchlistSettings


def watchlist(name: str, channels: list[str], feeds: str | list[str] = "all") -> WatchlistSettings:
    return WatchlistSettings.model_validate(
        {
            "version": 1,
            "name": name,
            "feeds": feeds,
            "channels": channels,
            "groups": {"cities": ["Falluja", "Mosul"]},
            "rules": [
                {"name": "offensive", "query": "offensive NEAR/15 @cities", "severity": "high"},
                {"name": "grave", "query": '"mass grave"', "severity": "critical"},
            ],
        }
    )


ARTICLE = Article(
    url="https://e.org/1",
    canonical_url="https://e.org/1",
    title="Offensive on Falluja",
    text="A mass grave was found near Mosul.",
    source="wire",
)


def test_only_watchlists_watching_the_feed_are_matched() -> None:
    lists = [watchlist("all-feeds", ["log"]), watchlist("only-bbc", ["log"], ["bbc"])]
    matcher = compile_watchlists(lists)
    assert {m.watchlist for m in match(matcher, ARTICLE, lists, "wire")} == {"all-feeds"}
    assert {m.watchlist for m in match(matcher, ARTICLE, lists, "bbc")} == {"all-feeds", "only-bbc"}


def test_route_gives_one_alert_per_channel_with_the_strongest_match() -> None:
    lists = [watchlist("iraq", ["log", "pager"])]
    channels = {
        "log": LogSettings(kind="log"),
        "pager": WebhookSettings(
            kind="webhook", url="https://e.org/h", min_severity=Severity.CRITICAL
        ),
    }
    low = RuleMatch("iraq", "offensive", Severity.HIGH, (Hit("offensive", "title", 0, 9),), "s1")
    high = RuleMatch("iraq", "grave", Severity.CRITICAL, (Hit("mass grave", "text", 2, 12),), "s2")
    specs = route([low, high], lists, channels)
    assert [(s.channel, s.severity, s.rules, s.snippet) for s in specs] == [
        ("log", Severity.CRITICAL, ("grave", "offensive"), "s2"),
        ("pager", Severity.CRITICAL, ("grave", "offensive"), "s2"),
    ]
    # Below the pager's minimum severity: only the log hears of it.
    assert [s.channel for s in route([low], lists, channels)] == ["log"]
    assert route([], lists, channels) == []
