"""web.replay_form: the backtest form. The same replay as `monitor backtest`, over the
configured watchlists, one of them, or a watchlist pasted into the form (an edited rule tried
without touching the files); one replay at a time, on a worker thread."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

from aiohttp import web

from monitor import config as config_mod
from monitor.errors import ConfigError
from monitor.pipeline import backtest
from monitor.web import pages

if TYPE_CHECKING:
    from monitor.web import Web

SHOWN = 50  # stories listed per rule on the page


def _defaults(state: Web) -> dict[str, Any]:
    config = state.config()
    return {
        "watchlists": [w.name for w in config.watchlists],
        "form": {"watchlist": "", "since": "7d", "from": "", "to": "", "yaml": ""},
        "problems": [],
        "result": None,
        "shown": SHOWN,
        "keep": config.settings.archive.keep,
    }


async def show(request: web.Request) -> web.StreamResponse:
    state = pages.state_of(request)
    return pages.page(state, request, "backtest.html", **_defaults(state))


async def run(request: web.Request) -> web.StreamResponse:
    state = pages.state_of(request)
    values = _defaults(state)
    raw = await request.post()
    form = {key: str(raw.get(key, "")).strip() for key in values["form"]}
    form["yaml"] = str(raw.get("yaml", ""))
    values["form"] = form
    config = state.config()
    problems: list[str] = []
    watchlists = list(config.watchlists)
    try:
        if form["yaml"].strip():
            # Pasted text: no ${VAR} is read from the daemon's environment (nothing of it may
            # leak onto the page).
            watchlists = [
                config_mod.load_watchlist(
                    text=form["yaml"], name="pasted", env={}, feeds=config.settings.feeds
                )
            ]
        elif form["watchlist"]:
            watchlists = [w for w in watchlists if w.name == form["watchlist"]]
            if not watchlists:
                problems.append(f"no watchlist named {form['watchlist']!r}")
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
    try:
        since, until = backtest.window(form["since"], form["from"], form["to"], state.clock())
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        values["problems"] = problems
        return pages.page(state, request, "backtest.html", code=400, **values)
    if state.backtests.locked():
        values["problems"] = ["another backtest is running; try again when it has finished"]
        return pages.page(state, request, "backtest.html", code=429, **values)
    async with state.backtests:
        values["result"] = await asyncio.to_thread(
            backtest.run, state.store(), watchlists, config.channels, since, until
        )
    return await asyncio.to_thread(
        functools.partial(pages.page, state, request, "backtest.html", **values)
    )
