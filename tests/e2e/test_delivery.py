"""Delivery faults end to end through `monitor` itself (real processes, real local servers):
an SMTP server down for a cycle, a webhook failing twice, a 429 with Retry-After, and the
process killed with SIGKILL between the far end's receipt and the store's update."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.e2e.proc import monitor_env, wait_for
from tests.e2e.proc import run_monitor as monitor
from tests.e2e.test_once import WATCHLIST
from tests.mail import free_port, smtp_server
from tests.servers import Answer, Receiver, Request, Site

FEEDS = {
    "news-rss": "/feeds/news.rss",
    "news-atom": "/feeds/news.atom",
    "ledger": "/feeds/cp1252.rss",
}
ALERTS = 3  # the full-text feeds of the fixture site hold three alerting stories


def write_config(tmp: Path, site: Site, channel: str, delivery: str) -> Path:
    site.serve(FIXTURES / "site")
    (tmp / "watchlists").mkdir()
    watchlist = WATCHLIST.read_text().replace("channels: [console]", "channels: [out]")
    (tmp / "watchlists" / "iraq.yaml").write_text(watchlist)
    feeds = "\n".join(f'  - {{name: {n}, url: "{site.url(p)}"}}' for n, p in FEEDS.items())
    (tmp / "monitor.yaml").write_text(f"""version: 1
database: sqlite:///data/monitor.db
fetch: {{timeout: 10s, fetch_pages: false}}
feeds:
{feeds}
channels:
  out: {channel}
delivery: {delivery}
log: {{format: json}}
""")
    return tmp / "monitor.yaml"


def keys(posts: list[Request]) -> list[str]:
    return [p.headers["idempotency-key"] for p in posts]


def outbox(config: Path) -> str:
    done = monitor("alerts", "-c", str(config), cwd=config.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[0]


class Daemon:
    """`monitor run` in the background, stopped with SIGTERM."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(config)],
            cwd=config.parent,
            env=monitor_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.mark.e2e
def test_smtp_down_for_a_cycle_then_up_delivers_every_alert_once(
    tmp_path: Path, site: Site
) -> None:
    port = free_port()
    channel = (
        f"{{kind: email, host: 127.0.0.1, port: {port}, security: none, "
        '"from": "monitor <alerts@monitor.test>", to: [desk@example.org, night@example.org]}'
    )
    config = write_config(tmp_path, site, channel, "{backoff: 1s, max_backoff: 2s}")

    down = monitor("once", "-c", str(config), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert f"{ALERTS} alerts queued; 0 sent, 1 to retry, 0 dead" in down.stdout
    assert f"cannot connect to 127.0.0.1:{port}" in down.stderr
    assert outbox(config) == f"{ALERTS} pending, 0 sent, 0 dead"

    with smtp_server(tmp_path, port=port) as server:
        time.sleep(2.1)  # the channel's pause (at most the 2 s max_backoff) is over
        up = monitor("once", "-c", str(config), cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert f"{ALERTS} sent" in up.stdout
        again = monitor("once", "-c", str(config), cwd=tmp_path)
        assert "0 sent" in again.stdout
        received = list(server.mailbox.received)
    assert len(received) == ALERTS
    mails = [email.message_from_bytes(r.raw, policy=email.policy.default) for r in received]
    ids = {m["Message-ID"] for m in mails}
    assert len(ids) == ALERTS and all(i.startswith("<alert.") for i in ids)
    assert all(r.recipients == ["desk@example.org", "night@example.org"] for r in received)
    assert outbox(config) == f"0 pending, {ALERTS} sent, 0 dead"


@pytest.mark.e2e
def test_a_webhook_failing_twice_then_answering_200_gets_each_alert_once(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    receiver.route("/hook", Answer(500, b"boom"), Answer(500, b"boom"), Answer(200, b"ok"))
    channel = f'{{kind: webhook, url: "{receiver.url("/hook")}", secret: "e2e-secret-key"}}'
    config = write_config(tmp_path, site, channel, "{interval: 200ms, backoff: 300ms}")
    daemon = Daemon(config)
    try:
        wait_for("every alert answered 200", lambda: len(receiver.posts) >= ALERTS + 2)
        time.sleep(1.5)  # room for a wrong extra send
    finally:
        err = daemon.stop()
    sent = keys(receiver.posts)
    assert len(sent) == ALERTS + 2, err
    failed, accepted = sent[:2], sent[2:]
    assert len(set(accepted)) == ALERTS  # each alert accepted once
    assert set(failed) <= set(accepted)  # the two that failed were sent again, same key
    assert outbox(config) == f"0 pending, {ALERTS} sent, 0 dead"
    attempts = [json.loads(line) for line in err.splitlines() if '"alert not delivered' in line]
    assert [a["attempt"] for a in attempts] == [1, 1] or len(attempts) == 2


@pytest.mark.e2e
def test_a_429_with_retry_after_is_not_retried_sooner(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    receiver.route("/hook", Answer(429, b"slow down", {"Retry-After": "2"}), Answer(200, b"ok"))
    channel = f'{{kind: webhook, url: "{receiver.url("/hook")}"}}'
    config = write_config(tmp_path, site, channel, "{interval: 100ms, backoff: 100ms}")
    daemon = Daemon(config)
    try:
        wait_for("every alert delivered", lambda: len(receiver.posts) >= ALERTS + 1)
        time.sleep(1)
    finally:
        daemon.stop()
    posts = receiver.posts
    assert len(posts) == ALERTS + 1
    limited = posts[0]
    # Nothing at all goes to the channel before the 2 s are up, the limited alert included.
    assert posts[1].at - limited.at >= 2.0
    assert keys(posts).count(limited.headers["idempotency-key"]) == 2
    assert len(set(keys(posts))) == ALERTS


class KillingReceiver(Receiver):
    """Takes the first POST in, then kills the sender before it can hear the answer."""

    victim: int | None = None

    def answer_for(self, request: Request) -> Answer:
        if self.victim is not None and len(self.posts) == 1:
            os.kill(self.victim, signal.SIGKILL)
            time.sleep(0.2)
        return super().answer_for(request)


@pytest.mark.e2e
def test_killed_between_send_and_mark_the_alert_is_sent_again_with_the_same_key(
    tmp_path: Path, site: Site
) -> None:
    with KillingReceiver.running() as receiver:
        assert isinstance(receiver, KillingReceiver)
        channel = f'{{kind: webhook, url: "{receiver.url("/hook")}"}}'
        config = write_config(tmp_path, site, channel, "{backoff: 1s}")
        first = subprocess.Popen(
            [sys.executable, "-m", "monitor", "once", "-c", str(config)],
            cwd=tmp_path,
            env=monitor_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        receiver.victim = first.pid
        first.communicate(timeout=120)
        assert first.returncode == -signal.SIGKILL
        receiver.victim = None
        (killed,) = keys(receiver.posts)
        assert outbox(config) == f"{ALERTS} pending, 0 sent, 0 dead"  # nothing marked, nothing lost

        again = monitor("once", "-c", str(config), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        (took,) = [
            json.loads(line)
            for line in again.stderr.splitlines()
            if "took over the work of a process on this host that died" in line
        ]
        assert took["alerts"] >= 1 and "alert" not in took  # a count, not an alert's id
        sent = keys(receiver.posts)
    assert len(sent) == ALERTS + 1 and sent.count(killed) == 2  # the same key again
    assert len(set(sent)) == ALERTS
    assert outbox(config) == f"0 pending, {ALERTS} sent, 0 dead"
