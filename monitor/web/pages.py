"""web.pages: one handler per page of the web view, the guard in front of them, and the
template filters. Handlers read the request, run their queries and the template on a worker
thread, and answer; they decide nothing the CLI does not (mute, mark, retry are the same
store calls as `monitor mute`, `monitor alerts mark` and `monitor alerts retry`)."""

from __future__ import annotations

import asyncio
import functools
import hmac
from collections.abc import Awaitable, Callable
from datetime import timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jinja2
from aiohttp import web

from monitor import redact, terminal
from monitor.channels import render
from monitor.config import Config
from monitor.feedhealth import health as feed_health
from monitor.model import AlertStatus, RuleMatch
from monitor.storage import alerts as alert_store
from monitor.storage import feedback, views
from monitor.storage import feeds as feed_store
from monitor.units import format_duration
from monitor.web import access

if TYPE_CHECKING:
    from monitor.web import Web

STATE: web.AppKey[Web] = web.AppKey("monitor_web")
CSRF: web.RequestKey[str] = web.RequestKey("monitor_csrf", str)  # the page's form token
PER_PAGE = 50
STATUSES = tuple(AlertStatus)
_HEALTH = frozenset({"/healthz", "/readyz", "/metrics"})
_SECRET_PARAMS = ("key", "token", "secret", "pass", "sig", "auth", "session")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def state_of(request: web.Request) -> Web:
    return request.app[STATE]


# -- the guard ---------------------------------------------------------------------------


def guard(state: Web) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in _HEALTH:
            return await handler(request)
        if state.closed:
            return page(
                state,
                request,
                "message.html",
                code=403,
                heading="The web view is off",
                text=(
                    "This server listens on an address other machines can reach, and no "
                    "credentials are set. Set MONITOR_WEB_TOKEN, or MONITOR_WEB_USER and "
                    "MONITOR_WEB_PASSWORD, in the daemon's environment, or listen on "
                    "127.0.0.1."
                ),
            )
        creds = state.credentials
        gated = creds.any and request.path not in access.OPEN_PATHS
        if gated and not access.allowed(request, creds):
            return _refused(state, request)
        cookie, new = state.csrf.cookie(request)
        request[CSRF] = state.csrf.token(cookie)
        if request.method == "POST" and request.path != "/login":
            form = await request.post()
            sent = str(form.get(access.CSRF_FIELD, ""))
            public = state.config().settings.http.public_url
            if not state.csrf.check(request, sent, public):
                return page(
                    state,
                    request,
                    "message.html",
                    code=403,
                    heading="This form has expired",
                    text="Go back, reload the page and try again (forms expire when the "
                    "daemon restarts, and only work from this site).",
                )
        response = await handler(request)
        for name, value in access.SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if new:
            access.set_cookie(response, request, access.CSRF_COOKIE, cookie)
        return response

    return middleware


def _refused(state: Web, request: web.Request) -> web.StreamResponse:
    creds = state.credentials
    if creds.token and request.method == "GET" and "Authorization" not in request.headers:
        target = "/login?" + urlencode({"next": request.path_qs})
        if not creds.basic:
            raise web.HTTPSeeOther(target)
    response = page(
        state,
        request,
        "message.html",
        code=401,
        heading="Sign in",
        text="This web view needs the credentials set in the daemon's environment.",
        login=bool(creds.token),
    )
    if creds.basic:
        response.headers["WWW-Authenticate"] = 'Basic realm="monitor", charset="UTF-8"'
    return response


# -- rendering ---------------------------------------------------------------------------


def filters(env: jinja2.Environment) -> None:
    env.filters["redacted"] = redacted
    env.filters["stamp"] = lambda when: when.strftime("%Y-%m-%d %H:%M UTC") if when else ""
    env.filters["line"] = lambda text, limit=300: render.one_line(str(text or ""), limit)
    # A page's <title> is shown by the browser's tab and window list, outside the page's own
    # layout: a bidirectional override there reorders what follows it, so it becomes "�".
    env.filters["tab"] = lambda text, limit=80: terminal.printable(
        render.one_line(str(text or ""), limit)
    )
    env.filters["link"] = render.safe_url
    env.filters["segments"] = render.segments
    env.filters["shown_url"] = shown_url
    env.filters["duration"] = format_duration
    env.filters["kicked"] = render.kicked
    env.filters["marks"] = marks


@jinja2.pass_context
def redacted(context: jinja2.runtime.Context, text: str | None) -> str:
    """A feed URL or an error as it may be shown: the config's secrets replaced (a channel's
    error may quote its URL; a feed URL may hold a `${VAR}` value)."""
    hide: redact.Secrets = context["secrets"]
    return hide(str(text or ""))


def marks(m: RuleMatch) -> tuple[str, ...]:
    """The words a rule match hit, as the article has them, to highlight in its snippet."""
    return tuple(sorted({" ".join(h.text.split()) for h in m.hits if h.text.strip()}))


def page(
    state: Web, request: web.Request, template: str, *, code: int = 200, **values: Any
) -> web.Response:
    hidden = state.hidden()
    html = state.templates.get_template(template).render(
        csrf=request.get(CSRF, ""),
        path=request.path,
        now=state.clock(),
        secrets=hidden,
        **values,
    )
    # The last guard: a secret that reached the page some other way is replaced there too.
    return web.Response(text=hidden(html), status=code, content_type="text/html")


async def _render(
    request: web.Request, work: Callable[[], dict[str, Any]], template: str
) -> web.Response:
    """Run `work` (queries) on a worker thread, then the template."""
    state = state_of(request)
    values = await asyncio.to_thread(work)
    return await asyncio.to_thread(functools.partial(page, state, request, template, **values))


def shown_url(url: str) -> str:
    """A feed's URL for a page: no user or password, and the values of parameters that look
    like keys or tokens hidden (a feed URL may carry an API key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    query = "&".join(
        f"{quote(k)}=" + ("…" if any(s in k.lower() for s in _SECRET_PARAMS) else quote(v, "/${}"))
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def _int(value: str | None, default: int, low: int = 0, high: int = 10**9) -> int:
    try:
        return max(low, min(high, int(value or default)))
    except ValueError:
        return default


# -- pages -------------------------------------------------------------------------------


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/stories")


async def stories(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    page = _int(request.query.get("page"), 1, 1)
    alerted = request.query.get("alerted") == "1"

    def work() -> dict[str, Any]:
        cards, total = views.stories(
            state.store(), offset=(page - 1) * PER_PAGE, limit=PER_PAGE, alerted=alerted
        )
        return {
            "cards": cards,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
            "alerted": alerted,
        }

    return await _render(request, work, "stories.html")


async def story(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    story_id = int(request.match_info["id"])
    found = await asyncio.to_thread(views.story_page, state.store(), story_id)
    if found is None:
        raise web.HTTPNotFound(text=f"no story #{story_id}")

    def work() -> dict[str, Any]:
        return {"story": found, "by_article": {r.id: r for r in found.reports}}

    return await _render(request, work, "story.html")


async def mute(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    story_id = int(request.match_info["id"])
    form = await request.post()
    undo = form.get("action") == "unmute"
    done = await asyncio.to_thread(feedback.mute, state.store(), story_id, state.clock(), undo=undo)
    if done is None:
        raise web.HTTPNotFound(text=f"no story #{story_id}")
    raise web.HTTPSeeOther(f"/stories/{story_id}")


async def mark(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    alert_id = int(request.match_info["id"])
    form = await request.post()
    irrelevant = form.get("irrelevant") != "0"
    n = await asyncio.to_thread(
        feedback.mark, state.store(), [alert_id], state.clock(), irrelevant=irrelevant
    )
    if not n:
        raise web.HTTPNotFound(text=f"no alert {alert_id}")
    back = _int(str(form.get("story", "")), 0)
    raise web.HTTPSeeOther(f"/stories/{back}#alert-{alert_id}" if back else "/outbox")


async def rules(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    days = _int(request.query.get("days"), 30, 1, 3650)

    def work() -> dict[str, Any]:
        since = state.clock() - timedelta(days=days)
        return {"noise": feedback.noise(state.store(), since=since), "days": days}

    return await _render(request, work, "rules.html")


async def feeds(request: web.Request) -> web.StreamResponse:
    state = state_of(request)

    def work() -> dict[str, Any]:
        now = state.clock()
        config = state.config()
        found = feed_store.all_feeds(state.store())
        return {"feeds": [(f, _kind(config, f.name), feed_health(f, now)) for f in found]}

    return await _render(request, work, "feeds.html")


def _kind(config: Config, name: str) -> str:
    """A source's kind as the config says it (as `monitor feeds` shows it); "-" for one no
    longer in the config."""
    source = config.feed(name)
    return source.kind.value if source is not None else "-"


async def outbox(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    status = request.query.get("status")
    status = status if status in STATUSES else None

    def work() -> dict[str, Any]:
        lines, counts = views.outbox(state.store(), status=status, limit=100)
        return {"lines": lines, "counts": counts, "status": status, "statuses": STATUSES}

    return await _render(request, work, "outbox.html")


async def retry(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    form = await request.post()
    ids = [int(str(i)) for i in form.getall("id", []) if str(i).isdigit() and len(str(i)) <= 18]
    dead = form.get("dead") == "1"
    if ids or dead:
        await asyncio.to_thread(
            alert_store.requeue, state.store(), state.clock(), ids=ids, dead=dead and not ids
        )
    raise web.HTTPSeeOther("/outbox")


async def style(request: web.Request) -> web.StreamResponse:
    css = resources.files("monitor.web").joinpath("static/style.css").read_text("utf-8")
    return web.Response(
        text=css, content_type="text/css", headers={"Cache-Control": "max-age=3600"}
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    return page(state, request, "login.html", next=_next(request.query.get("next")), error="")


async def login(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    form = await request.post()
    token = str(form.get("token", ""))
    target = _next(str(form.get("next", "")))
    creds = state.credentials
    if not creds.token or not access.same_origin(request, state.config().settings.http.public_url):
        raise web.HTTPForbidden(text="sign-in with a token is not set up")
    if not hmac.compare_digest(token, creds.token):
        await asyncio.sleep(1)  # a wrong token costs a second: guessing stays slow
        return page(
            state, request, "login.html", code=401, next=target, error="That is not the token."
        )
    response = web.HTTPSeeOther(target)
    access.set_cookie(response, request, access.SESSION_COOKIE, creds.session())
    raise response


def _next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect). No
    whitespace, control character or backslash either: the Location header drops a tab or a
    newline (a slash, a tab, "/evil.example" went out as "//evil.example"), and browsers read
    a backslash as a slash."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or any(c.isspace() or not c.isprintable() or c == "\\" for c in target)
    ):
        return "/stories"
    return target


__all__ = ["STATE", "filters", "guard", "page", "state_of"]
