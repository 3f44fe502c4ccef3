"""web: the analyst's web view, served beside /healthz on `http.listen` (aiohttp).

Pages are rendered on the server from Jinja2 templates (`web/templates/`, autoescaped: every
title, snippet and error from a feed or a channel is text, never markup), with one stylesheet
and no JavaScript. Every feed URL and error a page shows first goes through the config's
secrets (`monitor.redact`), and the whole page through them again. Each page's queries
(`storage.views`) run on a worker thread, so the daemon's loops are not held up. Who may see
it and the CSRF guard are `web.access`.

    /stories               recent stories: reports, how each joined, alerts
    /stories/{id}          one story: every report, which rules matched which words, each
                           alert and its delivery attempts; mute, mark alerts irrelevant
    /rules                 per rule: alerts and how many were marked irrelevant
    /feeds                 feeds and their health
    /outbox                alerts by status, dead letters (retry)
    /backtest              replay watchlists (or an edited one) over the archive
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import jinja2
from aiohttp import web

from monitor import redact
from monitor.config import Config
from monitor.storage import Store
from monitor.web import access, pages, replay_form

__all__ = ["Web", "attach"]


class Web:
    """What the pages need from the running daemon: its store and its config as it is now
    (a reload swaps it), the listen address, the credentials and the CSRF key."""

    def __init__(
        self,
        store: Callable[[], Store],
        config: Callable[[], Config],
        *,
        host: str,
        credentials: access.Credentials | None = None,
        secrets: Callable[[], redact.Secrets] = redact.Secrets,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.config = config
        self.host = host
        self.credentials = credentials or access.Credentials.from_env()
        self.secrets = secrets
        self._hidden = (redact.Secrets(), redact.Secrets())  # (the config's, with credentials)
        self.clock = clock
        self.csrf = access.Csrf()
        self.backtests = asyncio.Semaphore(1)  # one replay at a time: it takes a core
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("monitor.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        pages.filters(self.templates)

    @property
    def closed(self) -> bool:
        """Bound off loopback with no credentials: every page refuses."""
        return not self.credentials.any and not access.loopback(self.host)

    def hidden(self) -> redact.Secrets:
        """The config's secrets and the view's own credentials, built again only when a reload
        brought other secrets (a page asks for them on every render)."""
        base, hidden = self._hidden
        found = self.secrets()
        if found is not base:
            mine = self.credentials.secrets()
            hidden = found.adding(pair for secret in mine for pair in redact.plain(secret))
            self._hidden = (found, hidden)
        return hidden


def attach(app: web.Application, state: Web) -> None:
    """Add the web view's routes and guard to `app` (which serves /healthz and friends)."""
    app.middlewares.append(pages.guard(state))
    app[pages.STATE] = state
    routes = app.router
    routes.add_get("/", pages.home)
    routes.add_get("/stories", pages.stories)
    # Ids of at most 18 digits: a longer one is no row (and overflows the databases' integers).
    routes.add_get("/stories/{id:\\d{1,18}}", pages.story)
    routes.add_post("/stories/{id:\\d{1,18}}/mute", pages.mute)
    routes.add_post("/alerts/{id:\\d{1,18}}/mark", pages.mark)
    routes.add_get("/rules", pages.rules)
    routes.add_get("/feeds", pages.feeds)
    routes.add_get("/outbox", pages.outbox)
    routes.add_post("/outbox/retry", pages.retry)
    routes.add_get("/backtest", replay_form.show)
    routes.add_post("/backtest", replay_form.run)
    routes.add_get("/login", pages.login_form)
    routes.add_post("/login", pages.login)
    routes.add_get("/static/style.css", pages.style)
