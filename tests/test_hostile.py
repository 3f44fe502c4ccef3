"""The threat list: what a hostile feed, page, far end or config file tried, and the test that
keeps each hole closed. An attack run (issue #19) found these ten, most severe first:

 1. Decompression bombs: a brotli body and a `gzip, gzip` body that expand to 1 GiB took the
    process to 2.2 GB before the size cap saw them, for feeds and pages.
 2. The private-address guard was bypassed by pooled keep-alive connections (a page on a host
    a feed or a channel had reached), and by IPv6 forms that carry a private IPv4 address.
 3. Secrets in URLs (a Slack webhook's path, `?token=`, `${VAR}` in a feed URL) reached
    `monitor test-channel`, log lines, stored last errors, `monitor alerts` and `monitor feeds`.
 4. Terminal escapes in titles and error texts were printed raw by `monitor alerts`, `stories`
    and `feeds`.
 5. A YAML alias bomb made `monitor check` (and a watchlist, and a reload) grow without end.
 6. Deep queries (500 parentheses, a NEAR chain of 1,000, 1,000 NOTs) crashed with a
    RecursionError instead of a located config problem; a reload logged a long traceback.
 7. A webhook's cross-origin redirect re-sent the body, its signature and custom headers.
 8. No bound on the entries of one fetch: 100,000 items took 134 s and 1.6 GB.
 9. No bound on field sizes: a 1 MB title was stored and sent whole.
10. `monitor check` was quadratic in the number of feeds.

Held already, tested where they live: XML entities and DTDs (test_parse), the byte cap and slow
drips (test_fetch), private IP literals and redirects into the local network (test_fetch),
escaping for each channel (test_channels*), SQL (storage). Fuzzing of the feed and rule parsers:
test_fuzz.py.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import resource
import signal
import subprocess
import sys
import zlib
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import brotli
import pytest
import structlog

from monitor import config as config_mod
from monitor.channels import kinds
from monitor.cli import main
from monitor.config import Settings
from monitor.errors import BlockedAddress, ChannelError, FetchError
from monitor.http import build_client, is_public
from monitor.pipeline import extract, fetch, parse
from monitor.storage import Store
from monitor.storage import feeds as feed_store
from monitor.yamlfile import parse as parse_yaml
from tests.conftest import ROOT
from tests.e2e.proc import daemon, monitor_env, wait_for
from tests.hostile import Hostile
from tests.servers import Answer

MB = 1_000_000
# What a decoder may hold besides the capped output: brotli's largest standard window (16 MiB)
# and some slack for the pieces in flight and the allocator.
DECODER_ROOM = 24 * 1024 * 1024
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    """A real HTTP server on 127.0.0.1 answering as an attacker would."""
    with Hostile.running() as server:
        yield server  # type: ignore[misc]  # running() is typed for the base class


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rss(items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(guid: str, title: str, link: str, text: str = "", when: datetime | None = None) -> str:
    date = f"<pubDate>{when:%a, %d %b %Y %H:%M:%S +0000}</pubDate>" if when else ""
    return (
        f'<item><guid isPermaLink="false">{guid}</guid><title>{title}</title><link>{link}</link>'
        f"{date}"
        f"<description>{text}</description></item>"
    )


WATCHLIST = """version: 1
name: w
channels: [{channels}]
rules:
  - {{name: offensive, query: offensive, severity: high}}
"""


def write_config(tmp: Path, body: str, channels: str = "log") -> Path:
    (tmp / "watchlists").mkdir(exist_ok=True)
    (tmp / "watchlists" / "w.yaml").write_text(WATCHLIST.format(channels=channels))
    path = tmp / "monitor.yaml"
    path.write_text(f"version: 1\ndatabase: sqlite:///{tmp}/m.db\n{body}")
    return path


# -- 1. decompression bombs -----------------------------------------------------------------------


def test_decompression_bombs_stop_at_the_cap_without_the_memory(hostile: Hostile) -> None:
    """Peak memory of a fetch of each 1 GiB bomb, measured in a process of its own, stays
    within max_bytes plus the decoders' room, for a feed and for a page."""
    bombs = [hostile.url(f"/bomb/{name}") for name in ("1gib.br", "1gib.gz.gz")]
    targets = [f"{kind}:{url}" for url in bombs for kind in ("feed", "page")]
    done = subprocess.run(
        [sys.executable, "-m", "tests.hostile", str(MB), *targets],
        capture_output=True,
        text=True,
        timeout=120,
        env=monitor_env(),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == 4
    for result in results:
        assert result["error"] == f"TooLarge: body grew past {MB:,} bytes", result
        assert result["growth"] <= MB + DECODER_ROOM, result


def test_stacked_and_raw_encodings_still_decode(hostile: Hostile) -> None:
    body = b"<rss><channel><title>ok</title></channel></rss>" * 50
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    hostile.route(
        "/gzgz", Answer(200, gzip.compress(gzip.compress(body)), {"Content-Encoding": "gzip, gzip"})
    )
    hostile.route(
        "/brgz", Answer(200, gzip.compress(brotli.compress(body)), {"Content-Encoding": "br, gzip"})
    )
    hostile.route(
        "/raw",
        Answer(
            200, raw_deflate.compress(body) + raw_deflate.flush(), {"Content-Encoding": "deflate"}
        ),
    )
    hostile.route("/zlib", Answer(200, zlib.compress(body), {"Content-Encoding": "deflate"}))
    hostile.route(
        "/three",
        Answer(
            200,
            gzip.compress(gzip.compress(gzip.compress(body))),
            {"Content-Encoding": "gzip, gzip, gzip"},
        ),
    )
    hostile.route("/zstd", Answer(200, body, {"Content-Encoding": "zstd"}))

    async def go() -> list[bytes | str]:
        out: list[bytes | str] = []
        async with build_client(timeout=5) as client:
            for path in ("/gzgz", "/brgz", "/raw", "/zlib", "/three", "/zstd"):
                try:
                    got = await fetch.fetch(
                        client, hostile.url(path), slots=fetch.HostSlots(2), timeout=5, max_bytes=MB
                    )
                    out.append(got.body or b"")
                except FetchError as exc:
                    out.append(str(exc))
        return out

    gzgz, brgz, raw, wrapped, three, zstd = run(go())
    assert gzgz == brgz == raw == wrapped == body
    assert three == "3 content encodings one over another"
    assert zstd == "unsupported content encoding 'zstd'"


# -- 2. the private-address guard -----------------------------------------------------------------


def test_pages_never_ride_a_connection_a_feed_or_a_channel_opened(hostile: Hostile) -> None:
    """A feed on localhost (the operator's choice) and a webhook to localhost leave keep-alive
    connections in the pool; an article link to localhost must still be refused."""
    hostile.route("/feed.xml", Answer(200, rss([])))
    hostile.route("/hook", Answer(200, b"ok"))
    hostile.route("/secret", Answer(200, b"<html><p>internal only</p></html>"))
    local = hostile.base.replace("127.0.0.1", "localhost")

    async def go() -> None:
        async with build_client(timeout=5) as client:
            slots = fetch.HostSlots(2)
            await fetch.fetch(client, f"{local}/feed.xml", slots=slots, timeout=5, max_bytes=MB)
            settings = kinds()["webhook"].Settings.model_validate(
                {"kind": "webhook", "url": f"{local}/hook"}
            )
            await kinds()["webhook"]("hook", settings, client).post(f"{local}/hook", b"{}", {})
            for url in (f"{local}/secret", f"{hostile.base}/secret"):
                with pytest.raises(BlockedAddress):
                    await fetch.fetch(
                        client,
                        url,
                        slots=slots,
                        timeout=5,
                        max_bytes=MB,
                        page=True,
                        allow_private=False,
                    )

    run(go())
    assert len(hostile.hits("/feed.xml")) == len(hostile.hits("/hook")) == 1
    assert hostile.hits("/secret") == []


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata service
        "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:10.1.2.3",  # IPv4-mapped
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_private(hostile: Hostile, address: str) -> None:
    assert not is_public(address)
    hostile.route("/p", Answer(200, b"<html>secret</html>"))
    port = hostile.base.rsplit(":", 1)[1]

    async def go() -> None:
        async with build_client(timeout=5) as client:
            await fetch.fetch(
                client,
                f"http://[{address}]:{port}/p",
                slots=fetch.HostSlots(2),
                timeout=5,
                max_bytes=MB,
                page=True,
                allow_private=False,
            )

    with pytest.raises(BlockedAddress):
        run(go())


def test_ipv6_forms_of_public_ipv4_addresses_stay_public() -> None:
    for address in ("64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1111"):
        assert is_public(address), address


@pytest.mark.e2e
def test_an_article_link_into_the_local_network_is_not_read(
    tmp_path: Path, hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack as it was run: a feed on localhost whose item links to a local page."""
    local = hostile.base.replace("127.0.0.1", "localhost")
    feed = rss([item("1", "Offensive near the base", f"{local}/secret", "short")])
    hostile.route("/feed.xml", Answer(200, feed, {"Content-Type": "application/rss+xml"}))
    hostile.route("/secret", Answer(200, b"<html><article><p>" + b"internal only " * 50 + b"</p>"))
    config = write_config(
        tmp_path,
        f'feeds:\n  - {{name: local, url: "{local}/feed.xml"}}\nchannels: {{log: {{kind: log}}}}\n',
    )
    code, _, err = cli(capsys, "once", "-c", str(config))
    assert code == 0, err
    assert hostile.hits("/secret") == []
    store = Store.open(config_mod.load(config).database_url)
    try:
        with store.read() as conn:
            texts = [r[0] for r in conn.exec_driver_sql("SELECT text FROM article")]
    finally:
        store.close()
    assert texts and not any("internal only" in t for t in texts)


# -- 3. secrets in URLs ---------------------------------------------------------------------------

FEED_KEY = "feedkey-0123456789"
SLACK_PIECES = ("T0SECRET1", "B0SECRET2", "slackTokenXYZ123")
HOOK_TOKEN, API_KEY = "hook-token-123456", "api-key-abcdef"
SECRETS = (FEED_KEY, *SLACK_PIECES, HOOK_TOKEN, API_KEY)
BODY_TEXT = "The offensive on the town began at dawn, officials said. " * 30


def test_secrets_in_urls_stay_out_of_every_output(
    tmp_path: Path,
    hostile: Hostile,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Slack URL whose port aiohttp refuses (its error quotes the whole URL), a webhook whose
    far end echoes the request, and a feed URL with a `${VAR}` key: no output shows a secret."""
    monkeypatch.setenv("FEED_KEY", FEED_KEY)
    monkeypatch.setenv("SLACK_URL", "http://127.0.0.1:99999/services/" + "/".join(SLACK_PIECES))
    hook = hostile.url(f"/hook?token={HOOK_TOKEN}")
    hostile.route(
        f"/hook?token={HOOK_TOKEN}",
        Answer(500, f"no hook at {hook} (X-Api-Key: {API_KEY})".encode()),
    )
    news = rss([item("n1", "Offensive on the town", "https://news.example.org/1", BODY_TEXT)])
    hostile.route("/news.xml", Answer(200, news, {"Content-Type": "application/rss+xml"}))
    config = str(
        write_config(
            tmp_path,
            "fetch: {timeout: 5s, fetch_pages: false}\n"
            "feeds:\n"
            '  - {name: keyed, url: "http://127.0.0.1:99999/feed.xml?key=${FEED_KEY}"}\n'
            f'  - {{name: news, url: "{hostile.url("/news.xml")}"}}\n'
            "channels:\n"
            '  slack: {kind: slack, url: "${SLACK_URL}"}\n'
            f'  hook: {{kind: webhook, url: "{hook}", headers: {{X-Api-Key: {API_KEY}}}}}\n'
            "log: {format: json}\n",
            channels="slack, hook",
        )
    )
    outputs = {}
    for name in ("slack", "hook"):
        code, out, err = cli(capsys, "test-channel", name, "-c", config)
        assert code == 1
        outputs[f"test-channel {name}"] = out + err
    assert "http://127.0.0.1:99999/***" in outputs["test-channel slack"]
    assert "HTTP 500: no hook at" in outputs["test-channel hook"]
    for command in (["once"], ["alerts"], ["feeds"]):
        code, out, err = cli(capsys, *command, "-c", config)
        assert code == 0, err
        outputs[command[0]] = out + err
    assert "key=${FEED_KEY}" in outputs["once"] and "key=${FEED_KEY}" in outputs["feeds"]
    assert "2 pending" in outputs["alerts"] and "HTTP 500" in outputs["alerts"]
    store = Store.open(config_mod.load(config).database_url)
    try:
        with store.read() as conn:
            stored = [
                str(row[0])
                for column, table in (
                    ("last_error", "alert"),
                    ("last_error", "feed"),
                    ("last_error", "channel_state"),
                    ("detail", "delivery_attempt"),
                )
                for row in conn.exec_driver_sql(f"SELECT {column} FROM {table}")
            ]
    finally:
        store.close()
    assert sum("HTTP 500" in s for s in stored) >= 2  # the alert's and its attempt's
    outputs["stored errors"] = " ".join(stored)
    for where, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} shown by {where}"


# -- 4. terminal escapes --------------------------------------------------------------------------

# Retitle the window, clear the screen, a C1 CSI, a backspace, a bell, a right-to-left override.
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\x08\u202e"


def test_terminal_escapes_from_the_network_are_shown_not_obeyed(
    tmp_path: Path, hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "hostile",
        "items": [
            {
                "id": "1",
                "url": "https://news.example.org/1",
                "title": f"Offensive {ESCAPES} on the town",
                "content_text": BODY_TEXT,
            }
        ],
    }
    hostile.route("/feed.json", Answer(200, json.dumps(feed).encode()))
    page = f"<html><head><title>Closed {ESCAPES}</title></head><body>x</body></html>"
    hostile.route("/page", Answer(200, page.encode(), {"Content-Type": "text/html"}))
    hostile.route("/hook", Answer(500, f"busy {ESCAPES}".encode()))
    config = str(
        write_config(
            tmp_path,
            "fetch: {timeout: 5s, fetch_pages: false}\n"
            "feeds:\n"
            f'  - {{name: json, url: "{hostile.url("/feed.json")}"}}\n'
            f'  - {{name: page, url: "{hostile.url("/page")}"}}\n'
            "channels:\n"
            "  log: {kind: log}\n"
            f'  hook: {{kind: webhook, url: "{hostile.url("/hook")}"}}\n',
            channels="log",
        )
    )
    outputs = {}
    for command in (
        ["once"],
        ["alerts"],
        ["stories"],
        ["stories", "--json"],
        ["feeds"],
        ["test-channel", "hook"],
    ):
        _, out, err = cli(capsys, *command, "-c", config)
        outputs[" ".join(command)] = out + err
    assert "Offensive ␛]0;pwned␇␛[2J�31m␈� on the town" in outputs["alerts"]
    assert "Offensive ␛]0;pwned␇" in outputs["stories"]
    assert "\\u009b31m" in outputs["stories --json"]
    assert "Closed ␛]0;pwned␇" in outputs["feeds"] and "busy ␛]0;" in outputs["test-channel hook"]
    for where, text in outputs.items():
        assert not CONTROL.search(text), f"{where} printed {CONTROL.search(text)!r}"
        assert "\u202e" not in text, where


# -- 5. YAML alias bombs --------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def check_bounded(config: Path) -> subprocess.CompletedProcess[str]:
    """`monitor check` in a process held to 2 GB of address space and a minute, so that a bomb
    that gets through fails this test instead of the machine."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run(
        [sys.executable, "-m", "monitor", "check", "-c", str(config)],
        cwd=config.parent,
        env=monitor_env(),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
    )


@pytest.mark.parametrize("where", ["settings", "watchlist"])
def test_a_yaml_alias_bomb_is_a_config_problem_at_its_line(tmp_path: Path, where: str) -> None:
    config = write_config(tmp_path, "channels: {log: {kind: log}}\n")
    target = config if where == "settings" else tmp_path / "watchlists" / "w.yaml"
    before = target.read_text()
    target.write_text(before + alias_bomb())
    # The bound is passed at the second *a5 (597,871 values each), on the line of a6.
    line = before.count("\n") + 7
    done = check_bounded(config)
    assert done.returncode == 2, done.stderr
    assert f"{target}:{line}: aliases here expand the file past 1,000,000 values" in done.stderr


def test_aliases_that_refer_to_themselves_or_nest_too_deep_are_problems() -> None:
    _, problems = parse_yaml("a: &a [1, *a]\n", "loop.yaml", env={})
    assert [str(p) for p in problems] == [
        "loop.yaml:1: an alias inside the collection it names: an endless value"
    ]
    deep = "a:\n  " + "[" * 150 + "]" * 150 + "\n"
    _, problems = parse_yaml(deep, "deep.yaml", env={})
    assert [str(p) for p in problems] == ["deep.yaml:2: nested deeper than 100 levels"]
    block = "".join(f"{'  ' * level}k{level}:\n" for level in range(150)) + "  " * 150 + "x\n"
    _, problems = parse_yaml(block, "block.yaml", env={})
    assert [str(p) for p in problems] == ["block.yaml:100: nested deeper than 100 levels"]  # at k99


def test_ordinary_aliases_and_merge_keys_still_work() -> None:
    text = (
        "base: &base {interval: 5m}\nfeeds:\n  - {<<: *base, name: a}\n  - {<<: *base, name: b}\n"
    )
    doc, problems = parse_yaml(text, "ok.yaml", env={})
    assert problems == []
    assert doc.data["feeds"] == [{"interval": "5m", "name": "a"}, {"interval": "5m", "name": "b"}]


# -- 6. deep queries ------------------------------------------------------------------------------

DEEP = {
    "parentheses": "(" * 500 + "offensive" + ")" * 500,
    "near": " NEAR/3 ".join(["offensive"] * 1000),
    "nots": "offensive AND " + "NOT " * 1000 + "retreat",
}


def deep_watchlist(tmp: Path) -> Path:
    rules = "".join(f"  - {{name: {name}, query: '{query}'}}\n" for name, query in DEEP.items())
    path = tmp / "watchlists" / "w.yaml"
    path.write_text(f"version: 1\nname: w\nchannels: [log]\nrules:\n{rules}")
    return path


def test_deep_queries_are_config_problems_with_a_line_and_a_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "channels: {log: {kind: log}}\n")
    watchlist = deep_watchlist(tmp_path)
    code, _, err = cli(capsys, "check", "-c", str(config))
    assert code == 2, err
    found = re.findall(
        rf"^{re.escape(str(watchlist))}:(\d+): rules\[(\d)\]\.query: (.*)$", err, re.M
    )
    assert [(line, rule) for line, rule, _ in found] == [("5", "0"), ("6", "1"), ("7", "2")]
    for _, _, message in found:
        assert message.startswith("the query nests deeper than 50 levels")
    columns = re.findall(r"levels here .* at column (\d+)", err)
    # The 51st "(", the 51st NEAR/3, the 51st NOT, counted from 1.
    near = len(" NEAR/3 ".join(["offensive"] * 51)) + 2
    assert columns == ["51", str(near), str(len("offensive AND ") + 50 * 4 + 1)]


@pytest.mark.e2e
def test_a_reload_with_deep_queries_is_refused_in_one_json_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, "channels: {log: {kind: log}}\nlog: {format: json}\n")
    with daemon(config, cwd=tmp_path) as (proc, lines):
        wait_for("the daemon running", lambda: any("monitor running" in x for x in list(lines)))
        before = len(lines)
        watchlist = deep_watchlist(tmp_path)
        proc.send_signal(signal.SIGHUP)
        wait_for("the reload refused", lambda: any("reload" in x for x in lines[before:]))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        after = [x for x in lines[before:] if "stopping" not in x and "stopped" not in x]
        assert len(after) == 1, after
        event = json.loads(after[0])
        assert event["event"] == "config reload refused; keeping the running config"
        assert [p.split(": ")[0] for p in event["problems"]] == [
            f"{watchlist}:{line}" for line in (5, 6, 7)
        ]


# -- 7. channel redirects -------------------------------------------------------------------------


def post_webhook(url: str) -> str:
    settings = kinds()["webhook"].Settings.model_validate(
        {"kind": "webhook", "url": url, "secret": "signing-key", "headers": {"X-Api-Key": API_KEY}}
    )

    async def go() -> str:
        async with build_client(timeout=5) as client:
            channel = kinds()["webhook"]("hook", settings, client)
            return await channel.post(url, b'{"alert": 1}', {"X-Api-Key": API_KEY})

    return str(run(go()))


def test_a_webhook_redirect_to_another_origin_is_not_followed(hostile: Hostile) -> None:
    """The body, its signature and custom headers must not travel to where the far end points."""
    elsewhere = hostile.base.replace("127.0.0.1", "localhost")
    hostile.route("/hook", Answer(307, b"", {"Location": f"{elsewhere}/steal?x=1"}))
    with pytest.raises(ChannelError) as info:
        post_webhook(hostile.url("/hook"))
    assert info.value.permanent and info.value.status == 307
    assert f"redirects to {elsewhere};" in str(info.value) and "steal" not in str(info.value)
    assert hostile.hits("/steal?x=1") == [] and len(hostile.hits("/hook")) == 1


def test_a_webhook_redirect_that_would_drop_the_body_is_not_followed(hostile: Hostile) -> None:
    """A 302 or 303 turns a POST into a GET: the far end would answer 200 to no alert at all."""
    hostile.route("/hook", Answer(302, b"", {"Location": "/moved"}))
    hostile.route("/moved", Answer(200, b"ok"))
    with pytest.raises(ChannelError, match="HTTP 302: the far end redirects to"):
        post_webhook(hostile.url("/hook"))
    assert hostile.hits("/moved") == []


def test_a_webhook_307_on_the_same_origin_is_followed_with_its_body(hostile: Hostile) -> None:
    hostile.route("/hook", Answer(307, b"", {"Location": "/v2/hook"}))
    hostile.route("/v2/hook", Answer(200, b"ok"))
    assert post_webhook(hostile.url("/hook")) == "HTTP 200: ok"
    (moved,) = hostile.hits("/v2/hook")
    assert moved.method == "POST" and moved.body == b'{"alert": 1}'


# -- 8. entries per fetch -------------------------------------------------------------------------


def test_a_feed_of_thousands_of_items_gives_its_newest_and_is_marked_truncated(
    tmp_path: Path, hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    order = [(i * 7919) % 5000 for i in range(5000)]  # dates in no order at all
    items = [
        item(
            f"g{n}",
            f"Item {n}",
            f"https://news.example.org/{n}",
            "words",
            start + timedelta(minutes=n),
        )
        for n in order
    ]
    hostile.route("/big.xml", Answer(200, rss(items), {"Content-Type": "application/rss+xml"}))
    config = str(
        write_config(
            tmp_path,
            "fetch: {timeout: 10s, fetch_pages: false, max_entries: 100}\n"
            f'feeds:\n  - {{name: big, url: "{hostile.url("/big.xml")}"}}\n'
            "channels: {log: {kind: log}}\n",
        )
    )
    code, out, err = cli(capsys, "once", "-c", config)
    assert code == 0 and "100 new entries" in out, out + err
    assert '"dropped": 4900' in err and "feed truncated" in err
    store = Store.open(config_mod.load(config).database_url)
    try:
        with store.read() as conn:
            guids = {r[0] for r in conn.exec_driver_sql("SELECT guid FROM entry")}
        (state,) = feed_store.all_feeds(store)
    finally:
        store.close()
    assert guids == {f"g{n}" for n in range(4900, 5000)}
    assert state.entries_dropped == 4900
    _, out, _ = cli(capsys, "feeds", "-c", config)
    assert "truncated: 4,900 entries past fetch.max_entries left out" in out


def test_the_newest_are_kept_on_every_reader() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    dated = [
        item(f"g{n}", f"T{n}", f"https://e.org/{n}", "x", start + timedelta(hours=n))
        for n in (3, 9, 1, 7)
    ]
    undated = [item(f"u{n}", f"U{n}", f"https://e.org/u{n}", "x") for n in range(3)]
    body = rss(dated[:2] + undated + dated[2:])
    for fast in (True, False):  # lxml, and feedparser
        feed = parse.read_feed(body, "https://e.org/f", fast=fast, max_entries=4)
        assert feed.guids == ("g3", "g9", "g1", "g7") and feed.dropped == 3, fast
        feed = parse.read_feed(body, "https://e.org/f", fast=fast, max_entries=5)
        assert feed.guids == ("g3", "g9", "u0", "g1", "g7"), fast  # then undated, in order
    # feedparser reads whole documents: of a long one, 2 x max_entries items at most, the first
    # ones, or the last ones of a feed whose dates say it lists the oldest first.
    many = [
        item(f"m{n}", f"T{n}", f"https://e.org/m{n}", "x", start + timedelta(hours=n))
        for n in range(50)
    ]
    for fast in (True, False):
        feed = parse.read_feed(rss(many), "https://e.org/f", fast=fast, max_entries=5)
        assert feed.guids == ("m45", "m46", "m47", "m48", "m49") and feed.dropped == 45, fast
        feed = parse.read_feed(rss(many[::-1]), "https://e.org/f", fast=fast, max_entries=5)
        assert feed.guids == ("m49", "m48", "m47", "m46", "m45") and feed.dropped == 45, fast
    unsorted = many[10:20] + many[30:40] + many[:10]  # the first dated later: its first 10
    feed = parse.read_feed(rss(unsorted), "https://e.org/f", fast=False, max_entries=5)
    assert feed.guids == ("m15", "m16", "m17", "m18", "m19") and feed.dropped == 25
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {"id": str(n), "title": "t", "date_published": f"2026-12-0{n}T00:00:00Z"}
            for n in (1, 5, 3, 4)
        ],
    }
    feed = parse.read_feed(json.dumps(doc).encode(), "https://e.org/f.json", max_entries=2)
    assert feed.guids == ("5", "4") and feed.dropped == 2


# -- 9. field sizes -------------------------------------------------------------------------------


def test_huge_titles_summaries_and_texts_are_cut_and_marked(
    tmp_path: Path, hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    title = "Offensive " + "on and on " * 100_000  # 1 MB
    summary = "<p>" + "The offensive goes on. " * 50_000 + "</p>"
    content = "<p>" + "The offensive goes on and on. " * 40_000 + "</p>"
    body = (
        rss([])
        .replace(
            b"</channel>",
            (
                f"<item><guid>1</guid><title>{title}</title><link>https://news.example.org/1</link>"
                f"<description>{summary}</description><content:encoded><![CDATA[{content}]]>"
                "</content:encoded></item></channel>"
            ).encode(),
        )
        .replace(
            b'<rss version="2.0">',
            b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        )
    )
    hostile.route("/huge.xml", Answer(200, body, {"Content-Type": "application/rss+xml"}))
    hostile.route("/hook", Answer(200, b"ok"))
    config = str(
        write_config(
            tmp_path,
            "fetch: {timeout: 10s, max_bytes: 10MB, fetch_pages: false}\n"
            f'feeds:\n  - {{name: huge, url: "{hostile.url("/huge.xml")}"}}\n'
            f'channels: {{hook: {{kind: webhook, url: "{hostile.url("/hook")}"}}}}\n',
            channels="hook",
        )
    )
    code, out, err = cli(capsys, "once", "-c", config)
    assert code == 0 and "1 sent" in out, out + err
    (post,) = hostile.hits("/hook")
    sent = json.loads(post.body)
    assert len(sent["title"]) <= extract.MAX_TITLE and sent["title"].endswith("…")
    assert sent["title"].startswith("Offensive on and on")
    store = Store.open(config_mod.load(config).database_url)
    try:
        with store.read() as conn:
            ((stored_title, text, stored_summary),) = conn.exec_driver_sql(
                "SELECT title, text, summary FROM article"
            )
    finally:
        store.close()
    assert stored_title == sent["title"]
    assert len(text) <= extract.MAX_TEXT and text.endswith("…")
    assert len(stored_summary) <= extract.MAX_SUMMARY and stored_summary.endswith("…")


def test_bounded_cuts_at_a_word_and_leaves_short_text_alone() -> None:
    assert extract.bounded("short", 10) == "short"
    assert extract.bounded("one two three four", 12) == "one two…"
    assert extract.bounded("x" * 50, 10) == "x" * 9 + "…"


# -- 10. checking many feeds ----------------------------------------------------------------------


class _Name(str):
    """A feed name that counts how often it is compared."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _Name.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_checking_feed_names_is_linear_not_quadratic() -> None:
    """20,000 feeds took 13.4 s to check: each name was counted against every other."""
    feeds = [SimpleNamespace(name=_Name(f"feed-{i}")) for i in range(2000)]
    _Name.compared = 0
    Settings._unique_feeds(feeds)  # type: ignore[arg-type]
    assert _Name.compared <= 2 * len(feeds)
    with pytest.raises(ValueError, match="feed names must be unique: feed-7"):
        Settings._unique_feeds([*feeds, SimpleNamespace(name=_Name("feed-7"))])  # type: ignore[list-item]


# -- found while closing these --------------------------------------------------------------------


def test_an_article_repeating_a_near_chains_words_cannot_multiply_its_spans() -> None:
    """Each level of `a NEAR b NEAR c` pairs every span below with every one in reach: over an
    article that repeats the words, the spans multiplied level by level (a 4-term chain took
    13 s and 1.4 GB over one article of 9,000 words)."""
    from monitor.model import Article
    from monitor.rules import compile_watchlists
    from monitor.rules.evaluate import MAX_SPANS
    from monitor.rules.matcher import Scan
    from monitor.watchlist import WatchlistSettings

    query = "alpha NEAR/20 beta NEAR/20 gamma"
    watchlist = WatchlistSettings(
        version=1, name="w", channels=["c"], rules=[{"name": "r", "query": query}]
    )
    matcher = compile_watchlists([watchlist])
    text = "alpha beta gamma " * (extract.MAX_TEXT // 17)
    article = Article(url="https://e.org/a", canonical_url="https://e.org/a", title="t", text=text)
    (rule,) = matcher._program.rules
    spans = rule.query(Scan(matcher._program, article))
    assert spans is not None and len(spans) <= MAX_SPANS + 64
    assert [m.rule for m in matcher.match(article)] == ["r"]
