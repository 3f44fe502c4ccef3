"""The web view (monitor/web/): served by aiohttp on 127.0.0.1 in the test process over a real
store; who may see it, CSRF, escaping of feed text, and no secret on any page."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer

from monitor import config as config_mod
from monitor.channels import render, slack, webhook
from monitor.model import Article
from monitor.pipeline.links import canonical_url
from monitor.pipeline.outbox import Outbox
from monitor.storage import Store
from monitor.storage import alerts as alert_store
from monitor.storage import feeds as feed_store
from monitor.storage.tables import alert, feed, story
from monitor.web import Web, access, attach
from tests import recording
from tests.stored import channels, report, watchlist

SECRET = "hook-signing-s3cret-value"
SLACK = "https://hooks.slack.com/services/T0/B0/sl4ck-secret-path"
# A feed URL's ${NEWS_KEY}; with a character HTML escapes, so only redacting before escaping
# hides it (the page, escaped, no longer holds the secret as written).
NEWS_KEY = "n3ws-key&from-env"
WATCH = watchlist(
    "desk",
    [{"name": "offensive", "query": "offensive NEAR/10 Mosul", "severity": "high"}],
    channels=["hook", "chat"],
)
HOSTILE = (  # with a right-to-left override and an isolate
    "<script>alert(1)</script>\u202e\u2066"
    '<img src=x onerror="alert(2)"> Dockers strike at Aqaba port'
)


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> config_mod.Config:
    """Settings over a database on each engine (SQLite, and PostgreSQL when available)."""
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: desk\nchannels: [hook, chat]\n"
        'rules: [{name: offensive, query: "offensive NEAR/10 Mosul", severity: high}]\n'
    )
    (tmp_path / "m.yaml").write_text(
        f"version: 1\ndatabase: '{db_url}'\nwatchlists: w.yaml\n"
        "feeds:\n"
        "  - {name: keyed, url: 'https://feeds.example.org/rss?api_key=k3y-in-url&lang=en'}\n"
        "  - {name: private, kind: sitemap, url: 'https://news.example.org/${NEWS_KEY}/map.xml'}\n"
        "channels:\n"
        f"  hook: {{kind: webhook, url: 'https://desk.example.org/hook', secret: '{SECRET}'}}\n"
        f"  chat: {{kind: slack, url: '{SLACK}'}}\n"
    )
    return config_mod.load(tmp_path / "m.yaml", env={"NEWS_KEY": NEWS_KEY})


@pytest.fixture
def filled(config: config_mod.Config) -> Iterator[Store]:
    """A story from two outlets with an alert per channel, and a story with a hostile title."""
    store = Store.open(config.database_url)
    routes = channels(hook="low", chat="low")
    recent = datetime.now(UTC) - timedelta(hours=5)
    report(store, "offensive", watchlists=[WATCH], routes=routes, now=recent)
    report(
        store, "offensive", source="agency", hours=1, watchlists=[WATCH], routes=routes, now=recent
    )
    url = "javascript:alert(3)"
    hostile = Article(
        url=url, canonical_url=canonical_url("https://x.example/h"), title=HOSTILE, text=""
    )
    feed_store.sync(
        store, [feed_store.FeedSpec(f.name, f.url, 60) for f in config.settings.feeds], recent
    )
    recording.entry(store, feed_id=1, guid="h", item=hostile, now=recent, story_window_s=3600)
    with store.write() as conn:  # a channel that echoed its secret URL in an error
        conn.execute(
            alert.update()
            .where(alert.c.id == 2)
            .values(status="dead", last_error=f"HTTP 404 from {SLACK}")
        )
        conn.execute(  # a feed error quoting its URL (as one stored before redaction would)
            feed.update()
            .where(feed.c.name == "private")
            .values(last_error=f"HTTP 403 from https://news.example.org/{NEWS_KEY}/map.xml")
        )
    try:
        yield store
    finally:
        store.close()


Call = Callable[..., Awaitable[tuple[int, str, dict[str, str]]]]


def serve(
    config: config_mod.Config,
    store: Store,
    test: Callable[[Call, ClientSession], Awaitable[None]],
    *,
    host: str = "127.0.0.1",
    credentials: access.Credentials | None = None,
) -> None:
    """Run `test` against the web view on a real local port."""

    async def main() -> None:
        app = web.Application()

        async def healthz(_: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app.router.add_get("/healthz", healthz)
        state = Web(
            lambda: store,
            lambda: config,
            host=host,
            credentials=credentials or access.Credentials(),
            secrets=lambda: config.secrets,
        )
        attach(app, state)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:

                async def call(
                    method: str, path: str, **kwargs: Any
                ) -> tuple[int, str, dict[str, str]]:
                    kwargs.setdefault("allow_redirects", False)
                    async with session.request(method, server.make_url(path), **kwargs) as r:
                        return r.status, await r.text(), dict(r.headers)

                await test(call, session)
        finally:
            await server.close()

    asyncio.run(main())


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def test_every_page_renders_escapes_feed_text_and_shows_no_secret(
    config: config_mod.Config, filled: Store
) -> None:
    async def test(call: Call, _: ClientSession) -> None:
        pages = {}
        for path in (
            "/stories",
            "/stories/1",
            "/stories/2",
            "/feeds",
            "/outbox",
            "/outbox?status=dead",
            "/rules",
            "/backtest",
        ):
            status, body, headers = await call("GET", path)
            assert status == 200, (path, body[:500])
            assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none'
            pages[path] = body
        status, body, _ = await call("GET", "/")
        assert status == 302
        for path, body in pages.items():
            for secret in (SECRET, SLACK, "sl4ck-secret-path", "k3y-in-url", NEWS_KEY):
                assert secret not in body and html.escape(secret) not in body, (path, secret)
            assert "<script" not in body and "onerror=" not in body.replace("onerror=&#34;", "")
            assert "javascript:" not in body, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["/stories"]
        assert "HTTP 404 from https://hooks.slack.com/***" in pages["/outbox?status=dead"]
        feeds = pages["/feeds"]
        assert "api_key=…" in feeds and "lang=en" in feeds
        # A value the URL took from the environment is shown as the variable it came from,
        # in the URL and in the feed's error; each source says its kind, as `monitor feeds`.
        assert "https://news.example.org/${NEWS_KEY}/map.xml" in feeds
        assert "HTTP 403 from https://news.example.org/${NEWS_KEY}/map.xml" in feeds
        kinds = re.findall(
            r'id="feed-(\w+)">\s*<h3>\w+ <span class="badge kind[^"]*"[^>]*>(\w+)<', feeds
        )
        assert kinds == [("keyed", "feed"), ("private", "sitemap")]
        story = pages["/stories/1"]
        assert "<mark>offensive</mark>" in story and "<mark>Mosul</mark>" in story
        assert "same-text" in story and "agency" in story  # the second report, how it joined
        assert "delivered" not in story and "No delivery attempt yet" in story
        # The browser's tab shows the page's title outside its layout: no override there.
        (tab,) = re.findall(r"<title>(.*)</title>", pages["/stories/2"])
        assert tab.startswith("&lt;script&gt;alert(1)&lt;/script&gt;\ufffd\ufffd&lt;img")
        status, _, _ = await call("GET", "/stories/99")
        assert status == 404
        # An id past the databases' integers is no story either (it was a 500 and a traceback).
        status, _, _ = await call("GET", "/stories/99999999999999999999999")
        assert status == 404

    serve(config, filled, test)


def test_mute_and_mark_are_posts_with_a_csrf_token(
    config: config_mod.Config, filled: Store
) -> None:
    async def test(call: Call, session: ClientSession) -> None:
        _, page, _ = await call("GET", "/stories/1")
        token = csrf_of(page)
        # No token, or a token from elsewhere: refused, nothing changes.
        status, body, _ = await call("POST", "/stories/1/mute", data={"action": "mute"})
        assert status == 403 and "This form has expired" in body
        forged = {"action": "mute", "csrf": token}
        status, _, _ = await call(
            "POST", "/stories/1/mute", data=forged, headers={"Origin": "http://evil.example"}
        )
        assert status == 403
        assert not muted(filled)
        status, _, headers = await call("POST", "/stories/1/mute", data=forged)
        assert status == 303 and headers["Location"] == "/stories/1"
        assert muted(filled)
        _, page, _ = await call("GET", "/stories/1")
        assert "Unmute" in page
        status, _, _ = await call(
            "POST", "/alerts/1/mark", data={"csrf": token, "irrelevant": "1", "story": "1"}
        )
        assert status == 303
        _, rules, _ = await call("GET", "/rules")
        assert re.search(
            r"<td><b>offensive</b></td>\s*<td class=\"num\">1</td><td class=\"num\">1</td>", rules
        )
        status, _, _ = await call("POST", "/outbox/retry", data={"csrf": token, "dead": "1"})
        assert status == 303
        _, outbox, _ = await call("GET", "/outbox?status=dead")
        assert "Nothing here." in outbox

    serve(config, filled, test)


def muted(store: Store) -> bool:
    with store.read() as conn:
        return conn.scalar(sa.select(story.c.muted_at).where(story.c.id == 1)) is not None


def test_off_loopback_the_view_needs_credentials_from_the_environment(
    config: config_mod.Config, filled: Store
) -> None:
    async def closed(call: Call, _: ClientSession) -> None:
        status, body, _ = await call("GET", "/stories")
        assert status == 403 and "MONITOR_WEB_TOKEN" in body
        assert (await call("GET", "/healthz"))[0] == 200  # probes stay open

    serve(config, filled, closed, host="0.0.0.0")
    assert Web(
        lambda: filled, lambda: config, host="0.0.0.0", credentials=access.Credentials()
    ).closed
    assert not Web(
        lambda: filled, lambda: config, host="::1", credentials=access.Credentials()
    ).closed

    # Credentials once set are asked for on loopback too (a reverse proxy on this machine).
    async def signed(call: Call, _: ClientSession) -> None:
        status, _, headers = await call("GET", "/stories")
        assert status == 303 and headers["Location"].startswith("/login")

    serve(config, filled, signed, credentials=access.Credentials(token="t0ken"))


def test_a_token_signs_a_browser_in_once_and_scripts_send_it_as_bearer(
    config: config_mod.Config, filled: Store
) -> None:
    token = "t0ken-for-the-desk"

    async def test(call: Call, session: ClientSession) -> None:
        status, _, headers = await call("GET", "/stories?page=2")
        assert status == 303 and headers["Location"] == "/login?next=/stories?page%3D2"
        assert (await call("GET", "/stories", headers={"Authorization": f"Bearer {token}"}))[
            0
        ] == 200
        status, body, _ = await call("POST", "/login", data={"token": "wrong", "next": "/feeds"})
        assert status == 401 and "not the token" in body
        # No open redirect: a tab or newline inside "/\t/evil.example" is dropped on the way
        # to the Location header, and a browser reads "/\\evil.example" as "//evil.example".
        for elsewhere in (
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
        ):
            status, _, headers = await call(
                "POST", "/login", data={"token": token, "next": elsewhere}
            )
            assert status == 303 and headers["Location"] == "/stories", elsewhere
        cookies = {c.key: c.value for c in session.cookie_jar}
        assert cookies[access.SESSION_COOKIE] and token not in cookies.values()
        status, body, _ = await call("GET", "/feeds")
        assert status == 200 and token not in body

    serve(config, filled, test, host="0.0.0.0", credentials=access.Credentials(token=token))


def test_basic_auth_from_the_environment(
    config: config_mod.Config, filled: Store, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text("correct horse\n")
    creds = access.Credentials.from_env(
        {"MONITOR_WEB_USER": "desk", "MONITOR_WEB_PASSWORD_FILE": str(tmp_path / "pw")}
    )
    assert creds.basic and creds.password == "correct horse"

    def basic(user: str, password: str) -> dict[str, str]:
        return {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        }

    async def test(call: Call, _: ClientSession) -> None:
        status, _, headers = await call("GET", "/stories")
        assert status == 401 and headers["WWW-Authenticate"].startswith('Basic realm="monitor"')
        assert (await call("GET", "/stories", headers=basic("desk", "wrong")))[0] == 401
        assert (await call("GET", "/stories", headers=basic("desk", "correct horse")))[0] == 200

    serve(config, filled, test, host="10.1.2.3", credentials=creds)


def test_the_backtest_form_replays_a_pasted_watchlist_and_reports_its_problems(
    config: config_mod.Config, filled: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKY", "from-the-daemon-environment")

    async def test(call: Call, _: ClientSession) -> None:
        _, page, _ = await call("GET", "/backtest")
        token = csrf_of(page)
        pasted = (
            "version: 1\nname: trial\nchannels: [hook]\n"
            "rules: [{name: wide, query: 'offensive OR alert'}]\n"
        )
        status, body, _ = await call(
            "POST", "/backtest", data={"csrf": token, "yaml": pasted, "since": "7d"}
        )
        assert status == 200, body
        assert "trial: 2 stories would alert" in body and "+2 new" in body
        assert "&lt;script&gt;" in body and "<script" not in body
        broken = (
            "version: 1\nname: trial\nchannels: [hook]\nrules: [{name: w, query: '${LEAKY}'}]\n"
        )
        status, body, _ = await call("POST", "/backtest", data={"csrf": token, "yaml": broken})
        assert status == 400 and "pasted:4" in body and "from-the-daemon-environment" not in body
        status, body, _ = await call("POST", "/backtest", data={"csrf": token, "since": "soon"})
        assert status == 400 and "is not a duration" in body

    serve(config, filled, test)


def test_alerts_link_to_their_story_page_when_public_url_is_set(
    config: config_mod.Config, filled: Store
) -> None:
    rows = alert_store.listing(filled)
    outbox = Outbox(filled, "me", lambda: datetime.now(UTC), __import__("random").Random(1))
    assert all(m.story_url == "" for m in outbox._messages(rows))
    outbox.public_url = "https://monitor.example.org/"
    message = next(m for m in outbox._messages(rows) if m.story_id == 1)
    assert message.story_url == "https://monitor.example.org/stories/1"
    assert "Why this alert: https://monitor.example.org/stories/1" in render.text(message)
    assert '<a href="https://monitor.example.org/stories/1"' in render.html(message)
    blocks = json.dumps(slack.alert_blocks(render.alert_view(message)))
    assert "<https://monitor.example.org/stories/1|Why this alert>" in blocks
    body = webhook.payload(message)
    assert body["story"]["url"] == "https://monitor.example.org/stories/1"
    schema = json.loads((Path(webhook.__file__).parent / "webhook.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(body)


def test_a_story_page_links_the_story_it_continues_and_back(
    config: config_mod.Config, filled: Store
) -> None:
    """Story 3 continues story 1 (a later development of it): each page links to the other."""
    with filled.write() as conn:
        conn.execute(
            story.insert().values(
                id=3,
                title="Day two of the Mosul offensive",
                first_seen_at=datetime.now(UTC),
                last_seen_at=datetime.now(UTC),
                article_count=0,
                continues_id=1,
            )
        )
        first_title = conn.execute(sa.select(story.c.title).where(story.c.id == 1)).scalar()

    async def test(call: Call, session: ClientSession) -> None:
        _, later, _ = await call("GET", "/stories/3")
        assert re.search(r'Continues <a href="/stories/1">#1 ', later)
        assert str(first_title)[:20] in later
        _, earlier, _ = await call("GET", "/stories/1")
        assert 'Continued by <a href="/stories/3">#3 Day two of the Mosul offensive</a>' in earlier
        _, other, _ = await call("GET", "/stories/2")
        assert "Continue" not in other

    serve(config, filled, test)
