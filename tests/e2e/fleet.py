"""Several `monitor run` workers on one PostgreSQL database, killed and restarted, against a news
site whose feeds gain items over time and a webhook receiver that fails some requests and is
slow at others. The kill test (`tests/e2e/test_workers.py`) and the soak (`bench/workers.py`)
both run this; what they measure is what a user would lose: events never alerted, events alerted
late, events alerted under two idempotency keys, alerts for items that match nothing.

Every text here is invented at random (syllables, not words of any language), so no two events
read alike and the story clustering has no reason to join them; a fifth of the events are also
carried, word for word, by a second feed (one story, one alert).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa

from tests.e2e.proc import Service, monitor_env
from tests.servers import Answer, Receiver, Request

KEEP = 25  # items a feed lists (newest first); older ones rotate off, as on real sites
MATCH = "offensive"  # the watch rule's one term: events carry it, filler never does

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["ar", "el", "is", "on", "ur"]


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


@dataclass
class Item:
    id: int
    event: bool
    feeds: list[int]  # the first one publishes it; a second one carries a copy
    title: str
    text: str
    published: float = 0.0  # time.time() when it appeared in its first feed

    def url(self, base: str, feed: int) -> str:
        kind = "copy" if feed != self.feeds[0] else "item"
        return f"{base}/{kind}/{self.id}"


def invent(item_id: int, rng: random.Random, *, event: bool, feeds: list[int]) -> Item:
    """An item whose words, names and numbers no other item shares (but by chance)."""
    names = [pseudo_word(rng).capitalize() for _ in range(3)]
    title_words = [names[0], *(pseudo_word(rng) for _ in range(4)), names[1]]
    if event:
        title_words.insert(rng.randint(1, 4), MATCH)
    sentences = []
    for _ in range(6):
        words = [pseudo_word(rng) for _ in range(rng.randint(9, 14))]
        words.insert(rng.randint(0, 5), rng.choice(names))
        words.append(str(rng.randint(100, 99_999)))
        sentences.append(" ".join(words).capitalize() + ".")
    if event:
        sentences[0] = f"{names[2]} {pseudo_word(rng)} {MATCH} " + sentences[0].lower()
    return Item(item_id, event, feeds, " ".join(title_words), " ".join(sentences))


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a worker killed in the middle of a request: nothing to report


class NewsSite:
    """Feeds `/feed/N.rss` (RSS 2.0, full text, ETag and 304) that items are added to. Each
    answer takes `latency` seconds (a random share of it), as a distant server's would."""

    def __init__(self, feeds: int, *, latency: float = 0.5) -> None:
        self.latency = latency
        self.lock = threading.Lock()
        self.items: dict[int, Item] = {}
        self.listing: list[list[Item]] = [[] for _ in range(feeds)]
        self.requests = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                time.sleep(site.latency * random.random())
                status, body, headers = site.answer(self.path, self.headers.get("If-None-Match"))
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if status == 200:
                    # A worker killed while reading goes away mid-answer.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = _Quiet(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def feed_url(self, n: int) -> str:
        return f"{self.base}/feed/{n}.rss"

    def add(self, item: Item) -> None:
        with self.lock:
            item.published = time.time()
            self.items[item.id] = item
            for n in item.feeds:
                self.listing[n].insert(0, item)
                del self.listing[n][KEEP:]

    def item_of(self, url: str) -> Item | None:
        """The item an article URL (as an alert carries it) stands for."""
        _, _, tail = url.rpartition("/")
        with self.lock:
            return self.items.get(int(tail)) if tail.isdigit() else None

    def answer(self, path: str, etag: str | None) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            self.requests += 1
            name = path.removeprefix("/feed/").removesuffix(".rss")
            if not name.isdigit() or int(name) >= len(self.listing):
                return 404, b"not found", {}
            n = int(name)
            body = self._rss(n, self.listing[n])
        tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {"ETag": tag, "Content-Type": "application/rss+xml; charset=utf-8"}
        return (304, b"", headers) if etag == tag else (200, body, headers)

    def _rss(self, n: int, items: list[Item]) -> bytes:
        parts = [
            f"<item><guid>{self.base}/{'item' if n == i.feeds[0] else 'copy'}/{i.id}</guid>"
            f"<title>{escape(i.title)}</title><link>{i.url(self.base, n)}</link>"
            f"<pubDate>{format_datetime(datetime.fromtimestamp(i.published, UTC))}</pubDate>"
            f"<description>{escape(i.text[:120])}</description>"
            f"<content:encoded>{escape('<p>' + i.text + '</p>')}</content:encoded></item>"
            for i in items
        ]
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Feed {n}</title><link>{self.base}/</link>"
            + "".join(parts)
            + "</channel></rss>"
        ).encode()


class Producer(threading.Thread):
    """Adds an item to the site every `every` seconds (±50%) until stopped: an event with
    probability `events` (a fifth of them in two feeds), filler otherwise."""

    def __init__(
        self, site: NewsSite, rng: random.Random, *, every: float, events: float = 0.3
    ) -> None:
        super().__init__(daemon=True)
        self.site, self.rng, self.every, self.events = site, rng, every, events
        self.stopped = threading.Event()
        self.count = 0

    def run(self) -> None:
        feeds = len(self.site.listing)
        while not self.stopped.wait(self.every * self.rng.uniform(0.5, 1.5)):
            event = self.rng.random() < self.events
            homes = self.rng.sample(range(feeds), 2 if event and self.rng.random() < 0.2 else 1)
            self.count += 1
            self.site.add(invent(self.count, self.rng, event=event, feeds=homes))


@dataclass
class Delivery:
    key: str
    url: str
    at: float  # when the request arrived
    ok: bool  # answered 200 within the channel's timeout


class FlakyReceiver(Receiver):
    """A webhook receiver that answers 500 to some requests, is slow at others, and now and
    then too slow for the sender's timeout (it got the alert; the sender does not know)."""

    def __init__(self, rng: random.Random, *, timeout: float, fail: float = 0.1) -> None:
        super().__init__()
        self.rng, self.timeout, self.fail = rng, timeout, fail
        self.deliveries: list[Delivery] = []

    def answer_for(self, request: Request) -> Answer:
        if request.method != "POST":
            return Answer(404)
        with self.lock:
            roll = self.rng.random()
        body = json.loads(request.body)
        if roll < self.fail:
            answer, ok = Answer(500, b"try later"), False
        elif roll < self.fail + 0.03:
            answer, ok = Answer(200, b"ok", delay=self.timeout + 1), False
        elif roll < self.fail + 0.13:
            answer, ok = Answer(200, b"ok", delay=self.timeout / 3), True
        else:
            answer, ok = Answer(200, b"ok"), True
        with self.lock:
            self.deliveries.append(Delivery(body["idempotency_key"], body["url"], request.at, ok))
        return answer


WATCHLIST = f"""version: 1
name: drill
channels: [hook]
rules:
  - {{name: fighting, query: "{MATCH}", severity: high}}
"""


def write_config(folder: Path, site: NewsSite, receiver: FlakyReceiver, *, interval: float) -> Path:
    (folder / "watchlists").mkdir(parents=True, exist_ok=True)
    (folder / "watchlists" / "drill.yaml").write_text(WATCHLIST)
    feeds = "\n".join(
        f'  - {{name: f{n}, url: "{site.feed_url(n)}"}}' for n in range(len(site.listing))
    )
    (folder / "monitor.yaml").write_text(f"""version: 1
watchlists: watchlists/*.yaml
fetch: {{interval: {interval}s, timeout: 5s, concurrency: 8, fetch_pages: false,
        allow_private_networks: true}}
feeds:
{feeds}
channels:
  hook: {{kind: webhook, url: "{receiver.url("/hook")}", timeout: {receiver.timeout}s}}
delivery: {{interval: 1s, backoff: 1s, max_backoff: 4s}}
log: {{format: json}}
""")
    return folder / "monitor.yaml"


@dataclass
class Fleet:
    """`size` workers of one config and database; a killed worker can be started again."""

    config: Path
    database: str
    size: int
    workers: list[Service | None] = field(default_factory=list)
    retired: list[Service] = field(default_factory=list)  # killed or stopped, for their logs
    kills: int = 0

    def __post_init__(self) -> None:
        self.workers = [None] * self.size
        self.engine = sa.create_engine(self.database, pool_size=2)

    def start(self, i: int) -> None:
        env = monitor_env(MONITOR_DATABASE_URL=self.database)
        self.workers[i] = Service(self.config, cwd=self.config.parent, env=env)

    def start_all(self) -> None:
        for i in range(self.size):
            self.start(i)

    def ready(self, timeout: float = 60) -> bool:
        """Wait until every running worker says it runs (each started polling)."""
        return wait_until(
            lambda: all(
                any('"monitor running"' in line for line in w.lines)
                for w in self.workers
                if w is not None
            ),
            timeout,
        )

    def owner(self, i: int) -> str:
        worker = self.workers[i]
        assert worker is not None
        return f"{os.uname().nodename}:{worker.pid}"

    def kill(self, i: int) -> None:
        worker = self.workers[i]
        if worker is not None:
            worker.kill()
            self.retired.append(worker)
            self.workers[i] = None
            self.kills += 1

    def bounce(self, i: int, rng: random.Random) -> None:
        """SIGKILL worker `i` and start it again 1-3 s later, as systemd's `Restart=` would."""
        self.kill(i)
        time.sleep(rng.uniform(1, 3))
        self.start(i)

    def drain(
        self, site: NewsSite, receiver: FlakyReceiver, producer: Producer, *, bound: float
    ) -> bool:
        """Stop adding items; wait until every event is alerted (at most `bound` seconds after
        the last one appeared) and the outbox holds nothing unsent. Whether it emptied."""
        producer.stopped.set()
        producer.join()
        last = max((i.published for i in site.items.values()), default=time.time())
        wait_until(
            lambda: not outcome(site, receiver).missing, max(0.0, last + bound - time.time()), 1
        )
        return wait_until(lambda: set(self.outbox()) <= {"sent"}, 60)

    def held(self, owner: str) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.scalars(sa.text("SELECT id FROM feed WHERE lease_owner = :o"), {"o": owner})
            )

    def kill_after_claim(self, timeout: float = 60) -> tuple[int, str, float, list[int]]:
        """SIGKILL the first running worker seen holding feeds, the moment its claim shows in
        the database: the worst instant, in the middle of a poll. Which worker (its index and
        owner name), when it was killed, and the feeds it held."""
        owners = {self.owner(i): i for i, w in enumerate(self.workers) if w is not None}
        deadline = time.monotonic() + timeout
        query = sa.text("SELECT lease_owner FROM feed WHERE lease_owner = ANY(:o) LIMIT 1")
        with self.engine.connect() as conn:
            while (owner := conn.execute(query, {"o": list(owners)}).scalar()) is None:
                conn.rollback()
                if time.monotonic() > deadline:
                    raise AssertionError(f"no worker claimed a feed in {timeout}s")
                time.sleep(0.005)
        i = owners[owner]
        worker = self.workers[i]
        assert worker is not None
        os.kill(worker.pid, signal.SIGKILL)
        killed = time.time()
        self.kill(i)
        return i, owner, killed, self.held(owner)

    def taken_over(self, feeds: list[int], dead: str, since: float) -> bool:
        """Whether every one of `feeds` was claimed by a worker other than `dead` after `since`
        (it holds the feed now, or the feed's last poll began after `since`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT lease_owner, last_polled_at FROM feed WHERE id = ANY(:ids)"),
                {"ids": feeds},
            ).all()
        return all(
            (owner is not None and owner != dead)
            or (polled is not None and polled.replace(tzinfo=UTC).timestamp() > since)
            for owner, polled in rows
        )

    def wait_taken_over(self, feeds: list[int], dead: str, since: float, timeout: float) -> bool:
        return wait_until(lambda: self.taken_over(feeds, dead, since), timeout)

    def outbox(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, count(*) FROM alert GROUP BY status"))
            return {str(status): int(n) for status, n in rows}

    def stop_all(self) -> list[int]:
        codes = []
        for i, worker in enumerate(self.workers):
            if worker is not None:
                codes.append(worker.stop())
                self.retired.append(worker)
                self.workers[i] = None
        return codes

    def lines(self) -> list[str]:
        return [line for w in self.retired for line in w.lines if line.strip()]

    def close(self) -> None:
        for worker in self.workers:
            if worker is not None:
                self.retired.append(worker)
        for worker in self.retired:
            worker.close()
        self.engine.dispose()


@dataclass
class Outcome:
    """What a user lost, from the receiver's side."""

    events: int
    missing: list[int]  # events never alerted
    dup_keys: list[int]  # events alerted under more than one idempotency key
    filler: list[int]  # alerts for items that match nothing
    delays: dict[int, float]  # event → seconds from its publication to its first good alert

    @property
    def max_delay(self) -> float:
        return max(self.delays.values(), default=0.0)

    def line(self, kills: int) -> str:
        return (
            f"events={self.events} missing={len(self.missing)} dup_keys={len(self.dup_keys)} "
            f"max_delay_s={self.max_delay:.1f} kills={kills}"
        )


def outcome(site: NewsSite, receiver: FlakyReceiver) -> Outcome:
    with receiver.lock:
        deliveries = list(receiver.deliveries)
    keys: dict[int, set[str]] = {}
    first: dict[int, float] = {}
    filler: set[int] = set()
    for d in deliveries:
        item = site.item_of(d.url)
        assert item is not None, f"an alert for no item of the site: {d.url}"
        if not item.event:
            filler.add(item.id)
            continue
        keys.setdefault(item.id, set()).add(d.key)
        if d.ok:
            first[item.id] = min(first.get(item.id, d.at), d.at)
    with site.lock:
        events = {i.id: i for i in site.items.values() if i.event}
    return Outcome(
        events=len(events),
        missing=sorted(set(events) - set(first)),
        dup_keys=sorted(i for i, k in keys.items() if len(k) > 1),
        filler=sorted(filler),
        delays={i: first[i] - events[i].published for i in first},
    )


def wait_until(check: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def json_lines(lines: list[str]) -> list[dict[str, Any]]:
    """Every line parsed as JSON (a line that is not fails the caller's assertion)."""
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a log line that is not JSON: {line!r}") from None
    return out
