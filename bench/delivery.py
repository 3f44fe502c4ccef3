"""bench/delivery.py: alerts per second through the outbox to a local webhook and SMTP server.

N alerts are queued in a fresh SQLite outbox, then delivered by `monitor`'s own outbox (claim
with a lease, render from the store, send, mark sent with a delivery attempt) with 1 and 4
sends in flight per channel, until the outbox is empty. The far ends run in another process
(an aiohttp receiver answering 200, an aiosmtpd server accepting every message), pinned to
another core when there is one, so the figure is the daemon's own cost on one core.

The baseline is the channel alone: the same messages sent through the same channel with no
store at all, which shows what the outbox's bookkeeping costs.

    python bench/delivery.py [--alerts 3000] [--mails 1000]

Prints a table, then one line of key=value figures (4 in flight per channel).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def pin(core: int) -> None:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) >= 2:
        os.sched_setaffinity(0, {cores[core % len(cores)]})


def receiver(port_out: Any) -> None:
    from aiohttp import web

    pin(1)

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def mail_server(port_out: Any) -> None:
    import socket

    from aiosmtpd.controller import Controller

    pin(1)

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 2.0.0 Ok: queued"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    port_out.put(port)
    while True:
        time.sleep(3600)


def start(target: Any) -> tuple[BaseProcess, int]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(queue,), daemon=True)
    proc.start()
    return proc, int(queue.get(timeout=30))


def fill(url: str, n: int, channel: str) -> None:
    """N alerts on `channel`, each its own story and article, written straight to the tables."""
    import uuid

    from monitor.storage import Store
    from monitor.storage.tables import alert, article, feed, story

    store = Store.open(url)
    with store.write() as conn:
        conn.execute(
            feed.insert().values(
                id=1,
                name="wire",
                config_url="https://e.org/f",
                url="https://e.org/f",
                status="active",
                interval_s=600,
                next_poll_at=NOW,
                error_count=0,
                entries_seen=0,
                created_at=NOW,
            )
        )
        conn.execute(
            story.insert(),
            [
                {"id": i, "title": f"Story {i}", "first_seen_at": NOW, "last_seen_at": NOW}
                for i in range(1, n + 1)
            ],
        )
        text = "Troops pressed the offensive on Falluja's western suburbs at dawn. " * 20
        conn.execute(
            article.insert(),
            [
                {
                    "id": i,
                    "canonical_url": f"https://e.org/a/{i}",
                    "url": f"https://e.org/a/{i}",
                    "source": "wire",
                    "title": f"Offensive on Falluja, report {i}",
                    "summary": "",
                    "text": text,
                    "text_hash": str(i),
                    "authors": "",
                    "fetched_at": NOW,
                    "extraction": "feed",
                    "story_id": i,
                }
                for i in range(1, n + 1)
            ],
        )
        conn.execute(
            alert.insert(),
            [
                {
                    "story_id": i,
                    "article_id": i,
                    "watchlist": "iraq",
                    "channel": channel,
                    "severity": "high",
                    "rules": "offensive",
                    "snippet": "…pressed the offensive on Falluja's western suburbs…",
                    "idempotency_key": uuid.uuid4().hex,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": NOW,
                    "created_at": NOW,
                }
                for i in range(1, n + 1)
            ],
        )
    store.close()


def channel_for(kind: str, port: int, concurrency: int, client: Any) -> Any:
    from monitor.channels import kinds

    settings: dict[str, Any] = {"kind": kind, "concurrency": concurrency}
    if kind == "webhook":
        settings.update(url=f"http://127.0.0.1:{port}/hook", secret="bench-signing-key")
    else:
        settings.update(
            host="127.0.0.1",
            port=port,
            security="none",
            to=["desk@example.org"],
            **{"from": "monitor <alerts@monitor.test>"},
        )
    cls = kinds()[kind]
    return cls("out", cls.Settings.model_validate(settings), client)


async def through_outbox(url: str, kind: str, port: int, concurrency: int, n: int) -> float:
    from monitor.config import DeliverySettings
    from monitor.http import build_client
    from monitor.pipeline.outbox import Outbox
    from monitor.storage import Store
    from monitor.storage import alerts as alert_store

    store = Store.open(url)
    async with build_client(timeout=15) as client:
        channel = channel_for(kind, port, concurrency, client)
        outbox = Outbox(store, "bench:1", lambda: datetime.now(UTC), random.Random(1))
        settings = DeliverySettings()
        started = time.perf_counter()
        sent = 0
        while sent < n:
            report = await outbox.deliver(settings, {"out": channel}, limit=500)
            if report.failed or report.dead:
                raise SystemExit(f"delivery failed in the bench: {report}")
            sent += report.sent
        elapsed = time.perf_counter() - started
        await channel.aclose()
    assert alert_store.counts(store) == {"sent": n}
    store.close()
    return n / elapsed


async def channel_alone(url: str, kind: str, port: int, concurrency: int, n: int) -> float:
    """The same messages through the same channel, rendered once beforehand, no store."""
    from monitor.http import build_client
    from monitor.storage import Store
    from monitor.storage import alerts as alert_store

    store = Store.open(url)
    rows = alert_store.listing(store, limit=n)
    messages = alert_store.messages(store, rows)
    store.close()
    async with build_client(timeout=15) as client:
        channel = channel_for(kind, port, concurrency, client)
        started = time.perf_counter()
        for i in range(0, len(messages), concurrency):
            await asyncio.gather(*(channel.send(m) for m in messages[i : i + concurrency]))
        elapsed = time.perf_counter() - started
        await channel.aclose()
    return len(messages) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=3000, help="alerts for the webhook runs")
    parser.add_argument("--mails", type=int, default=1000, help="alerts for the SMTP runs")
    args = parser.parse_args()
    from monitor import log

    # As the daemon logs: one JSON line per alert sent, here written to nowhere.
    log.setup("info", "json", stream=open(os.devnull, "w"))  # noqa: SIM115
    pin(0)
    hook_proc, hook_port = start(receiver)
    mail_proc, mail_port = start(mail_server)
    rows: list[tuple[str, int, float, float]] = []
    figures: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind, port, n in (
                ("webhook", hook_port, args.alerts),
                ("email", mail_port, args.mails),
            ):
                for concurrency in (1, 4):
                    url = f"sqlite:///{tmp}/{kind}-{concurrency}.db"
                    fill(url, n, "out")
                    rate = asyncio.run(through_outbox(url, kind, port, concurrency, n))
                    fill(f"sqlite:///{tmp}/{kind}-{concurrency}-alone.db", n, "out")
                    alone = asyncio.run(
                        channel_alone(
                            f"sqlite:///{tmp}/{kind}-{concurrency}-alone.db",
                            kind,
                            port,
                            concurrency,
                            n,
                        )
                    )
                    rows.append((kind, concurrency, rate, alone))
                    figures[f"{kind}-{concurrency}"] = rate
    finally:
        hook_proc.kill()
        mail_proc.kill()
    head = ("channel", "in flight", "outbox alerts/s", "channel alone/s", "ratio")
    print(f"{head[0]:<9} {head[1]:>9} {head[2]:>16} {head[3]:>16} {head[4]:>6}")
    for kind, concurrency, rate, alone in rows:
        print(f"{kind:<9} {concurrency:>9} {rate:>16.0f} {alone:>16.0f} {rate / alone:>6.2f}")
    print(
        f"webhook_alerts_per_s={figures['webhook-4']:.0f} "
        f"smtp_alerts_per_s={figures['email-4']:.0f}"
    )


if __name__ == "__main__":
    main()
