"""The two reference articles in ../shared/seeds, served as pages behind a summary-only feed,
must both alert under the shipped example watchlist."""

from __future__ import annotations

import asyncio
import html
import json
from pathlib import Path

import pytest

from monitor import config as config_mod
from monitor.daemon import once
from tests.conftest import ROOT, shared
from tests.servers import Receiver, Site


def page(text: str) -> str:
    title, *lines = [line.strip() for line in text.splitlines() if line.strip()]
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return (
        f"<html><head><title>{html.escape(title)}</title></head><body><nav>Home | World</nav>"
        f"<article><h1>{html.escape(title)}</h1>{body}</article><footer>Footer</footer></body></html>"
    )


@pytest.mark.e2e
def test_both_seed_articles_alert(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    seeds = shared("seeds")
    root = tmp_path / "site"
    root.mkdir()
    items = []
    for name in ("bbc-falluja", "aljazeera-tal-afar"):
        (root / f"{name}.html").write_text(page((seeds / f"{name}.txt").read_text()))
        items.append(
            f"<item><guid>{name}</guid><title>{name}</title>"
            f"<link>{{{{BASE}}}}/{name}.html</link><description>Summary only.</description></item>"
        )
    (root / "feed.rss").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>'
        f"{''.join(items)}</channel></rss>"
    )
    site.serve(root)

    work = tmp_path / "config"
    (work / "watchlists").mkdir(parents=True)
    watchlist = (ROOT / "config" / "watchlists" / "iraq.yaml").read_text()
    (work / "watchlists" / "iraq.yaml").write_text(
        watchlist.replace("[desk-hook, log]", "[desk-hook]")
    )
    (work / "monitor.yaml").write_text(
        f"version: 1\ndatabase: sqlite:///m.db\nfetch: {{allow_private_networks: true}}\n"
        f'feeds:\n  - {{name: seeds, url: "{site.url("/feed.rss")}"}}\n'
        f'channels:\n  desk-hook: {{kind: webhook, url: "{receiver.url("/h")}"}}\n'
    )
    config = config_mod.load(work / "monitor.yaml", env={})
    _, delivered = asyncio.run(once(config))
    assert delivered.sent == 2
    alerts = {
        json.loads(p.body)["url"].rsplit("/", 1)[1]: json.loads(p.body) for p in receiver.posts
    }
    assert alerts["bbc-falluja.html"]["rules"] == ["offensive"]
    # Its one "offensive" sits more than 15 words from any mention of Tal Afar.
    assert alerts["aljazeera-tal-afar.html"]["rules"] == ["mass-grave"]
    assert alerts["aljazeera-tal-afar.html"]["severity"] == "critical"
    assert "READ MORE" not in json.dumps(alerts)
