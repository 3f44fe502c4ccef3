"""robots.txt: fetched once per host, kept a day; RFC 9309's answers when it is missing or down."""

from __future__ import annotations

import asyncio

import pytest

from monitor.errors import RobotsDisallowed
from monitor.http import build_client
from monitor.model import FetchResult
from monitor.pipeline import fetch
from monitor.pipeline.robots import TTL_S, UNREACHABLE_TTL_S, Robots
from tests.servers import Answer, Site

ROBOTS = b"""User-agent: *
Disallow: /private/
Disallow: /*.pdf$

User-agent: monitor
Disallow: /no-monitors/
Allow: /private/open-to-monitor/
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def checks(site: Site, robots: Robots, *paths: str) -> list[str]:
    """Each path's answer: "ok" or the refusal."""
    async with build_client(timeout=5) as client:

        async def get(url: str) -> FetchResult:
            return await fetch.fetch(
                client, url, slots=fetch.HostSlots(2), timeout=5, max_bytes=10**6
            )

        out = []
        for path in paths:
            try:
                await robots.check(site.url(path), get)
                out.append("ok")
            except RobotsDisallowed as exc:
                out.append(str(exc))
        return out


def test_the_group_for_monitor_wins_over_the_star_group(site: Site) -> None:
    site.route("/robots.txt", Answer(200, ROBOTS, {"Content-Type": "text/plain"}))
    got = asyncio.run(
        checks(site, Robots(), "/news/a.html", "/no-monitors/x", "/private/open-to-monitor/y")
    )
    assert got[0] == "ok" and got[2] == "ok"  # the monitor group replaces the * group
    assert got[1].endswith("disallows this page")
    assert len(site.hits("/robots.txt")) == 1  # one request for the host, kept


def test_the_star_group_applies_when_none_names_monitor(site: Site) -> None:
    site.route(
        "/robots.txt", Answer(200, b"User-agent: *\nDisallow: /private/\nDisallow: /*.pdf$\n")
    )
    got = asyncio.run(
        checks(site, Robots(), "/private/a", "/files/report.pdf", "/files/report.pdfx")
    )
    assert got[0].endswith("disallows this page") and got[1].endswith("disallows this page")
    assert got[2] == "ok"


def test_no_robots_txt_allows_everything(site: Site) -> None:
    assert asyncio.run(checks(site, Robots(), "/anything")) == ["ok"]  # the site answers 404


def test_a_robots_txt_that_cannot_be_read_keeps_us_away_for_a_while(site: Site) -> None:
    clock = Clock()
    robots = Robots(clock=clock)
    site.route("/robots.txt", Answer(503, b"busy"), Answer(200, b"User-agent: *\nAllow: /\n"))
    (refused,) = asyncio.run(checks(site, robots, "/news/a.html"))
    assert "could not be read (HTTP 503)" in refused
    clock.now += UNREACHABLE_TTL_S - 1
    assert asyncio.run(checks(site, robots, "/news/a.html")) == [refused]  # not asked again
    clock.now += 2
    assert asyncio.run(checks(site, robots, "/news/a.html")) == ["ok"]
    assert len(site.hits("/robots.txt")) == 2


def test_robots_txt_is_read_again_after_a_day(site: Site) -> None:
    clock = Clock()
    robots = Robots(clock=clock)
    site.route(
        "/robots.txt",
        Answer(200, b"User-agent: *\nAllow: /\n"),
        Answer(200, b"User-agent: *\nDisallow: /\n"),
    )
    assert asyncio.run(checks(site, robots, "/a")) == ["ok"]
    clock.now += TTL_S - 1
    assert asyncio.run(checks(site, robots, "/a")) == ["ok"]
    clock.now += 2
    assert asyncio.run(checks(site, robots, "/a"))[0].endswith("disallows this page")


def test_concurrent_checks_of_one_host_share_one_request(site: Site) -> None:
    site.route("/robots.txt", Answer(200, b"User-agent: *\nDisallow: /x\n", delay=0.2))
    robots = Robots()

    async def many() -> list[str]:
        return [
            r
            for rs in await asyncio.gather(*(checks(site, robots, "/y") for _ in range(5)))
            for r in rs
        ]

    assert asyncio.run(many()) == ["ok"] * 5
    assert len(site.hits("/robots.txt")) == 1


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_every_4xx_but_429_means_no_rules(site: Site, status: int) -> None:
    site.route("/robots.txt", Answer(status, b"no"))
    assert asyncio.run(checks(site, Robots(), "/a")) == ["ok"]
