"""End to end: `monitor once` against real local feed and webhook servers, run twice."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.e2e.proc import run_monitor
from tests.servers import Answer, Receiver, Site

SECRET = "e2e-signing-secret"
WATCHLIST = FIXTURES.parents[1] / "monitor" / "demo" / "config" / "watchlists" / "iraq.yaml"

# tests/fixtures/site/MANIFEST.md lists exactly these as the items that must alert.
EXPECTED = {
    "Army launches offensive on IS holdouts north of Ramadi": ("offensive", "high"),
    "Investigators confirm mass grave near Sinjar holds 40 victims": ("mass-grave", "critical"),
    "Troops tighten ring around Falluja\u2019s western suburbs": ("offensive", "high"),
    "Convoys roll west before dawn": ("offensive", "high"),
    "Road crew\u2019s discovery halts highway repairs near Hit": ("mass-grave", "critical"),
}


def write_config(tmp: Path, site: Site, receiver: Receiver) -> Path:
    (tmp / "watchlists").mkdir()
    watchlist = WATCHLIST.read_text().replace("channels: [console]", "channels: [hook, log]")
    (tmp / "watchlists" / "iraq.yaml").write_text(watchlist)
    feeds = {
        "news-rss": "/feeds/news.rss",
        "news-atom": "/feeds/news.atom",
        "ledger-1252": "/feeds/cp1252.rss",
        "dispatch": "/feeds/summaries.rss",
        "broken": "/feeds/broken.rss",
    }
    lines = "\n".join(f'  - {{name: {n}, url: "{site.url(p)}"}}' for n, p in feeds.items())
    (tmp / "monitor.yaml").write_text(f"""version: 1
database: sqlite:///data/monitor.db
watchlists: watchlists/*.yaml
fetch: {{timeout: 10s, allow_private_networks: true}}
feeds:
{lines}
channels:
  hook: {{kind: webhook, url: "{receiver.url("/hook")}", secret: "{SECRET}"}}
  log: {{kind: log}}
log: {{format: json}}
""")
    return tmp / "monitor.yaml"


@pytest.mark.e2e
def test_two_cycles_alert_once_each_and_then_send_conditional_requests(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.serve(FIXTURES / "site")
    site.route("/feeds/broken.rss", Answer(500, b"upstream exploded"))
    config = write_config(tmp_path, site, receiver)

    first = run_monitor("once", "-c", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "broken: HTTP 500" in first.stderr

    posts = receiver.posts
    bodies = [json.loads(p.body) for p in posts]
    assert sorted(b["title"] for b in bodies) == sorted(EXPECTED)
    for post, body in zip(posts, bodies, strict=True):
        stamp, signature = dict(
            kv.split("=", 1) for kv in post.headers["x-monitor-signature"].split(",")
        ).values()
        expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + post.body, hashlib.sha256)
        assert hmac.compare_digest(signature, expected.hexdigest())
        assert post.headers["idempotency-key"] == body["idempotency_key"]
        assert (body["rules"][0], body["severity"]) == EXPECTED[body["title"]]
        assert body["watchlist"] == "iraq-conflict" and body["snippet"]
        # The evidence travels with the alert: each hit and the characters it covers.
        (evidence,) = [m for m in body["matches"] if m["rule"] == body["rules"][0]]
        assert evidence["hits"] and all(h["text"] for h in evidence["hits"])
    assert len({p.headers["idempotency-key"] for p in posts}) == 5
    # Two of the alerts came from the pages behind a summary-only feed.
    page_hits = [r.path for r in site.requests if r.path.startswith("/pages/")]
    assert len(page_hits) == 3
    feed_requests = len([r for r in site.requests if r.path.startswith("/feeds/")])

    second = run_monitor("once", "-c", str(config), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(receiver.posts) == 5, "nothing is sent twice"
    again = [
        r for r in site.requests[feed_requests + len(page_hits) :] if r.path.startswith("/feeds/")
    ]
    good = [r for r in again if r.path != "/feeds/broken.rss"]
    assert len(good) == 4 and all("if-none-match" in r.headers for r in good)
    assert "4 not modified" in second.stdout

    feeds = run_monitor("feeds", "-c", str(config), cwd=tmp_path)
    assert feeds.returncode == 0
    rows = {line.split()[0]: line for line in feeds.stdout.splitlines()[1:]}
    assert "failing x2" in rows["broken"] and "HTTP 500" in rows["broken"]
    assert all(
        " ok " in rows[name] for name in ("news-rss", "news-atom", "ledger-1252", "dispatch")
    )

    alerts = run_monitor("alerts", "-c", str(config), cwd=tmp_path)
    assert alerts.stdout.splitlines()[0] == "0 pending, 10 sent, 0 dead"  # 5 stories x 2 channels
