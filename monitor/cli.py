"""cli: the `monitor` command. One function per subcommand, no logic of its own.

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config. Errors print one line and a
hint; tracebacks only for bugs or with --debug.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from monitor import __version__
from monitor import config as config_mod
from monitor.errors import ConfigError, MonitorError
from monitor.model import AlertStatus, DigestKind, DigestState
from monitor.terminal import json_safe, printable

if TYPE_CHECKING:
    from monitor.storage import Store
    from monitor.storage.feeds import FeedState

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(MonitorError):
    """Bad arguments on the command line (exit 2)."""


def _load(args: argparse.Namespace) -> config_mod.Config:
    from monitor import log
    from monitor.daemon import secrets_of

    config = config_mod.load(args.config)
    settings = config.settings.log
    log.setup(
        "debug" if args.debug else settings.level, settings.format, secrets=secrets_of(config)
    )
    return config


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import Daemon

    config = _load(args)
    asyncio.run(Daemon(config).run())
    return EXIT_OK


def cmd_once(args: argparse.Namespace) -> int:
    from monitor.daemon import once
    from monitor.pipeline import PollResult as R

    config = _load(args)
    polled, delivered = asyncio.run(once(config, deliver=not args.no_deliver))
    print(
        f"polled {len(polled.feeds)} feeds: {polled.count(R.CHANGED)} changed, "
        f"{polled.count(R.NOT_MODIFIED)} not modified, {polled.count(R.UNCHANGED)} unchanged, "
        f"{polled.count(R.FAILED) + polled.count(R.GONE)} failed; "
        f"{polled.new_entries} new entries, {polled.alerts} alerts queued; "
        f"{delivered.sent} sent, {delivered.failed} to retry, {delivered.dead} dead"
        + (f", {delivered.held} held for a digest" if delivered.held else "")
    )
    for report in polled.feeds:
        if report.error:
            print(f"  {report.feed}: {printable(config.secrets(report.error))}", file=sys.stderr)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    rules = sum(len(w.rules) for w in config.watchlists)
    print(
        f"{config.path}: ok ({len(config.settings.feeds)} feeds, {len(config.channels)} channels, "
        f"{len(config.watchlists)} watchlists, {rules} rules)"
    )
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    schemas = config_mod.json_schema()
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        for name, schema in (
            ("monitor.schema.json", schemas["monitor.yaml"]),
            ("watchlist.schema.json", schemas["watchlist"]),
        ):
            (out / name).write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
            print(out / name)
        return EXIT_OK
    print(json.dumps(schemas, indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from monitor.tester import article_from_source, render_matches

    config = config_mod.load(args.config)
    article = article_from_source(args.source, config)
    matches = config.matcher.match(article, [args.watchlist] if args.watchlist else None)
    print(render_matches(article, matches, as_json=args.json, color=sys.stdout.isatty()))
    return EXIT_OK


def _existing_store(config: config_mod.Config, *, migrate: bool = True) -> Store:
    """The store the daemon writes, for commands that look into it. A SQLite file that is not
    there is an error, not a new empty database: a mistyped path would otherwise print "no
    stories yet" and leave a stray file behind."""
    import sqlalchemy as sa

    from monitor.storage import Store

    url = sa.engine.make_url(config.database_url)
    database = url.database or ""
    plain = database not in ("", ":memory:") and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and plain and url.query.get("uri") != "true":
        path = Path(database).expanduser()
        if not path.exists():
            raise MonitorError(
                f"no database at {path}",
                hint=(
                    "the daemon creates it on its first run (`monitor run` or `monitor once`);"
                    " otherwise check `database` in the settings file or MONITOR_DATABASE_URL"
                ),
            )
    store = Store.open(config.database_url, migrate=migrate)
    if not migrate and not store_current(store):
        store.close()
        raise MonitorError(
            "the database schema is older than this monitor",
            hint="start the daemon once (`monitor run` or `monitor once`) to migrate it",
        )
    return store


def store_current(store: Store) -> bool:
    from monitor.storage import engine

    try:
        return engine.is_current(store.engine)
    except Exception:  # no alembic table at all: an empty or foreign database
        return False


def render_one_line(text: str, limit: int) -> str:
    from monitor.channels import render

    return render.one_line(text, limit)


def cmd_feeds(args: argparse.Namespace) -> int:
    from monitor.feedhealth import health
    from monitor.storage import feeds as feed_store

    if args.action != "list":
        return _FEED_ACTIONS[args.action](args)
    if args.target:
        raise MonitorError(
            f"unexpected argument {args.target!r}", hint="`monitor feeds add URL`, `import FILE`"
        )
    config = config_mod.load(args.config)
    store = _existing_store(config)
    now = datetime.now(UTC)
    if args.reset:
        if not feed_store.reset(store, args.reset, now):
            raise MonitorError(
                f"no feed named {args.reset!r} in the store", hint="`monitor feeds` lists them"
            )
        print(f"{args.reset}: reset; it is polled at the next cycle")
        return EXIT_OK
    states = feed_store.all_feeds(store)
    if not states:
        print("no feeds polled yet; run `monitor once` or `monitor run`")
        return EXIT_OK
    rows = [
        (
            s.name,
            _kind(config, s.name),
            health(s, now),
            _ago(s.last_success_at, now),
            _ago(s.next_poll_at, now),
            _worker(s, now),
            str(s.entries_seen),
            config.secrets(s.last_error or "")[:60] or _truncated(s.entries_dropped),
        )
        for s in states
    ]
    _table(
        ("FEED", "KIND", "HEALTH", "LAST OK", "NEXT POLL", "WORKER", "ENTRIES", "LAST ERROR"),
        rows,
    )
    return EXIT_OK


def cmd_feeds_add(args: argparse.Namespace) -> int:
    from monitor import configedit, discover
    from monitor.http import build_client

    if not args.target:
        raise MonitorError(
            "say which site", hint="monitor feeds add https://www.example.org/world/"
        )
    config = config_mod.load(args.config)
    fetch = config.settings.fetch

    async def go() -> list[discover.Candidate]:
        async with build_client(timeout=fetch.timeout, user_agent=fetch.user_agent) as client:
            return await discover.discover(config, client, args.target)

    found = asyncio.run(go())
    if not found:
        raise MonitorError(
            f"{args.target}: no feed, sitemap or article list found",
            hint="give the address of a section page, or a feed's own URL",
        )
    _table(
        ("#", "KIND", "ITEMS", "NEWEST", "TITLE", "URL", "FOUND BY"),
        [
            (
                str(i),
                c.kind.value,
                str(c.items),
                c.newest.strftime("%Y-%m-%d") if c.newest else "-",
                printable(c.title or c.what)[:40],
                printable(c.url),
                c.found_by,
            )
            for i, c in enumerate(found, 1)
        ],
    )
    choice = args.pick
    if choice is None and sys.stdin.isatty():
        answer = input(f"add which? [1-{len(found)}, Enter for 1, q to quit] ").strip()
        if answer.lower() in ("q", "quit"):
            return EXIT_OK
        choice = int(answer) if answer.isdigit() else 1 if not answer else 0
    if choice is None:
        print(f"hint: choose one with --pick N (1-{len(found)})", file=sys.stderr)
        return EXIT_USAGE
    if not 1 <= choice <= len(found):
        raise MonitorError(f"no candidate {choice}", hint=f"pick 1 to {len(found)}")
    picked = found[choice - 1]
    taken = {f.name for f in config.settings.feeds}
    same = next((f for f in config.settings.feeds if f.url == picked.url), None)
    if same is not None:
        raise MonitorError(f"{picked.url} is in the config already, as {same.name!r}")
    name = args.name or configedit.unique_name(configedit.slug(picked.name), taken)
    if name in taken:
        raise MonitorError(f"a source is named {name!r} already", hint="choose another --name")
    entry: dict[str, Any] = {"name": name, "url": picked.url}
    if picked.kind != "feed":
        entry["kind"] = picked.kind.value
    if args.tag:
        entry["tags"] = list(dict.fromkeys(args.tag))
    configedit.add_sources(config.path, [entry])
    print(f"{config.path}: added {name} ({picked.kind.value}, {picked.url})")
    return EXIT_OK


def cmd_feeds_import(args: argparse.Namespace) -> int:
    from monitor import configedit, opml

    if not args.target:
        raise MonitorError("say which file", hint="monitor feeds import subscriptions.opml")
    path = Path(args.target)
    if not path.is_file():
        raise MonitorError(f"no such file: {path}", hint="give an OPML file your reader exported")
    subscriptions = opml.read_opml(path.read_bytes())
    config = config_mod.load(args.config)
    taken = {f.name for f in config.settings.feeds}
    present = {f.url: f.name for f in config.settings.feeds}
    entries: list[dict[str, Any]] = []
    skipped = 0
    for sub in subscriptions:
        if sub.url in present:
            print(f"  skipped {printable(sub.url)}: in the config already as {present[sub.url]}")
            skipped += 1
            continue
        name = configedit.unique_name(
            configedit.slug(sub.title or urlsplit(sub.url).hostname or ""), taken
        )
        taken.add(name)
        entry: dict[str, Any] = {"name": name, "url": sub.url}
        if sub.title and sub.title != name:
            entry["title"] = sub.title
        if sub.site:
            entry["site"] = sub.site
        tags = list(dict.fromkeys([*sub.tags, *(args.tag or [])]))
        if tags:
            entry["tags"] = tags
        entries.append(entry)
    verb = "would add" if args.dry_run else "added"
    for entry in entries:
        shown = f" [{', '.join(entry['tags'])}]" if entry.get("tags") else ""
        print(f"  {verb} {entry['name']}: {printable(entry['url'])}{printable(shown)}")
    if entries and not args.dry_run:
        configedit.add_sources(config.path, entries)
    print(f"{config.path}: {len(entries)} {verb}, {skipped} already there")
    return EXIT_OK


def cmd_feeds_export(args: argparse.Namespace) -> int:
    from monitor import opml

    config = config_mod.load(args.config)
    feeds = [f for f in config.settings.feeds if f.kind == "feed"]
    others = [f.name for f in config.settings.feeds if f.kind != "feed"]
    data = opml.write_opml(
        [opml.Subscription(f.url, f.title or f.name, f.site, tuple(f.tags)) for f in feeds],
        datetime.now(UTC),
        title=f"monitor feeds ({config.path.name})",
    )
    if args.output and args.output != "-":
        Path(args.output).write_bytes(data)
        print(f"{args.output}: {len(feeds)} feeds", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8"))
    if others:
        print(
            f"left out {len(others)} sources that feed readers cannot read (sitemaps, listing "
            f"pages): {', '.join(others)}",
            file=sys.stderr,
        )
    return EXIT_OK


_FEED_ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "add": cmd_feeds_add,
    "import": cmd_feeds_import,
    "export": cmd_feeds_export,
}


def _kind(config: config_mod.Config, name: str) -> str:
    """A source's kind as the config says it; "-" for one no longer in the config."""
    source = config.feed(name)
    return source.kind.value if source is not None else "-"


def cmd_test_source(args: argparse.Namespace) -> int:
    from monitor.http import build_client
    from monitor.pipeline import sources

    config = _load(args)
    if config.feed(args.name) is None:
        known = ", ".join(f.name for f in config.settings.feeds) or "none"
        raise MonitorError(f"no source named {args.name!r}", hint=f"sources in the config: {known}")
    fetch = config.settings.fetch

    async def go() -> sources.Preview:
        async with build_client(timeout=fetch.timeout, user_agent=fetch.user_agent) as client:
            return await sources.preview(config, client, args.name, datetime.now(UTC))

    found = asyncio.run(go())
    entries = found.entries[: args.limit]
    if args.json:
        print(
            json_safe(json.dumps([_entry_json(e) for e in entries], indent=2, ensure_ascii=False))
        )
    else:
        where = f"{found.source.kind.value}, {printable(found.url)}"
        print(
            f"{args.name} ({where}): HTTP {found.status}, "
            f"{len(found.entries)} item{'s' if len(found.entries) != 1 else ''}"
            + (f"; {printable(found.error)}" if found.error else "")
        )
        for e in entries:
            when = e.published.strftime("%Y-%m-%d %H:%M") if e.published else "-"
            print(f"  {when:<16}  {printable(e.title or '(no title: the page gives it)')[:90]}")
            print(f"  {'':<16}  {printable(e.url or e.guid)}")
    if not found.entries and found.error:
        print(f"hint: {_source_hint(found.source)}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _source_hint(source: Any) -> str:
    if source.kind == "html":
        return "check the selectors against the page (`select:`), or drop them for the default"
    if source.kind == "sitemap":
        return (
            "check that the URL is a sitemap, and `sitemap.max_age` for one that is updated rarely"
        )
    return "check the URL in a browser; `monitor feeds add URL` finds a site's feeds"


def _entry_json(e: Any) -> dict[str, Any]:
    return {
        "guid": e.guid,
        "url": e.url,
        "title": e.title,
        "published": e.published.isoformat() if e.published else None,
        "language": e.language,
    }


def _worker(state: FeedState, now: datetime) -> str:
    """Who polls the feed now ("host:pid"), or that the worker holding it is gone: it stopped
    renewing its lease, or it is a process of this host that no longer runs."""
    from monitor.storage import leases

    owner, until = state.lease_owner, state.lease_until
    if owner is None:
        return "-"
    if not leases.gone(owner, until, now, host=leases.host(), alive=leases.running):
        return owner
    if until is None or until < now:
        return f"{owner} (gone; lease ended {_ago(until, now)})"
    return f"{owner} (gone; free {_ago(until, now)})"


def _truncated(dropped: int) -> str:
    return f"(truncated: {dropped:,} entries past fetch.max_entries left out)" if dropped else ""


def cmd_alerts(args: argparse.Namespace) -> int:
    from monitor.channels import render
    from monitor.storage import alerts as alert_store
    from monitor.storage import digests as digest_store

    config = config_mod.load(args.config)
    store = _existing_store(config)
    now = datetime.now(UTC)
    if args.action == "mark":
        from monitor.storage import feedback

        if not args.ids or args.irrelevant == args.relevant:
            raise UsageError(
                "say which alerts, and --irrelevant or --relevant",
                hint="monitor alerts mark 12 13 --irrelevant",
            )
        ids = [_alert_id(i) for i in args.ids]
        n = feedback.mark(store, ids, now, irrelevant=args.irrelevant)
        if n < len(ids):
            raise MonitorError(f"only {n} of {len(ids)} alert(s) found", hint="`monitor alerts`")
        print(f"{n} alert(s) marked {'irrelevant' if args.irrelevant else 'relevant'}")
        return EXIT_OK
    if args.action == "retry":
        ids = [_alert_id(i) for i in args.ids]
        if not ids and not args.dead:
            raise MonitorError("say which alerts to retry", hint="give alert IDs, or --dead")
        n = alert_store.requeue(store, now, ids=ids, dead=args.dead)
        print(f"{n} alert(s) queued again")
        return EXIT_OK
    status = AlertStatus(args.status) if args.status else None
    rows = alert_store.listing(store, status=status, limit=args.limit)
    counts = alert_store.counts(store)
    shown = (AlertStatus.PENDING, AlertStatus.SENT, AlertStatus.DEAD) + (
        (AlertStatus.MUTED,) if counts.get(AlertStatus.MUTED) else ()
    )
    print(", ".join(f"{counts.get(k, 0)} {k}" for k in shown))
    titles = alert_store.titles(store, {r.article_id for r in rows})
    digests = {d.id: d for d in digest_store.listing(store, limit=200)}

    def when(r: alert_store.AlertRow) -> str:
        if r.status == AlertStatus.SENT:
            return "sent " + _ago(r.sent_at, now)
        if r.status == AlertStatus.DEAD:
            return "dead"
        held = digests.get(r.digest_id) if r.digest_id else None
        if held is not None and held.status == DigestState.OPEN:
            return f"digest {held.id} {_ago(held.due_at, now)}"
        if held is not None:
            return f"digest {held.id} {_ago(held.next_attempt_at, now)}"
        return "next " + _ago(r.next_attempt_at, now)

    _table(
        ("ID", "STATUS", "CHANNEL", "SEVERITY", "TRIES", "CREATED", "WHEN", "TITLE", "LAST ERROR"),
        [
            (
                str(r.id),
                r.status + (" (irrelevant)" if r.irrelevant_at is not None else ""),
                r.channel,
                r.severity,
                str(r.attempts),
                _ago(r.created_at, now),
                when(r),
                render.kicked(r.kind, titles.get(r.article_id, ""))[:50],
                config.secrets(r.last_error or "")[:60],
            )
            for r in rows
        ],
    )
    waiting = [d for d in digests.values() if d.status in (DigestState.OPEN, DigestState.PENDING)]
    sizes = digest_store.sizes(store, [d.id for d in waiting])
    for d in sorted(waiting, key=lambda d: d.id):
        due = d.due_at if d.status == DigestState.OPEN else d.next_attempt_at
        what = (
            f"{sizes.get(d.id, 0)} alerts" if d.kind == DigestKind.DIGEST else f"notice: {d.title}"
        )
        error = f"; last error: {config.secrets(d.last_error)[:80]}" if d.last_error else ""
        line = f"digest {d.id} ({d.channel}, {d.reason}): {what}, due {_ago(due, now)}{error}"
        print(printable(line))
    return EXIT_OK


MAX_ID = 2**63 - 1  # the largest row id the databases hold


def _alert_id(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_ID:
        raise UsageError(f"{text!r} is not an alert ID", hint="`monitor alerts` lists them")
    return int(text)


def _story_id(text: str) -> int:
    """A story's number as `monitor stories` prints it (#12) or bare (12)."""
    digits = text.removeprefix("#")
    if not digits.isdigit() or int(digits) > MAX_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not a story number (`monitor stories`)")
    return int(digits)


def cmd_test_channel(args: argparse.Namespace) -> int:
    from monitor.channels import kinds, pacing
    from monitor.channels.sample import sample
    from monitor.http import build_client
    from monitor.model import Severity
    from monitor.pipeline import deliver

    config = _load(args)
    settings = config.channels.get(args.name)
    if settings is None:
        known = ", ".join(sorted(config.channels)) or "none"
        raise MonitorError(
            f"no channel named {args.name!r}", hint=f"channels in the config: {known}"
        )
    message = sample(severity=Severity(args.severity), digest=args.digest)

    async def go() -> deliver.Outcome:
        async with build_client(timeout=settings.timeout) as client:
            channel = kinds()[settings.kind](args.name, settings, client)
            try:
                return await deliver.send(channel, message)
            finally:
                await channel.aclose()

    what = "a sample digest" if args.digest else f"a sample {args.severity} alert"
    print(f"{args.name} ({settings.kind}, {pacing.describe(settings)}): sending {what} now")
    outcome = asyncio.run(go())
    detail = printable(config.secrets(outcome.detail))
    if outcome.ok:
        print(f"delivered in {outcome.duration_ms} ms; the far end answered: {detail}")
        return EXIT_OK
    print(f"not delivered ({outcome.duration_ms} ms): {detail}", file=sys.stderr)
    hint = (
        "the far end refused it for good: check the channel's URL, address or credentials"
        if outcome.permanent
        else "the far end is unreachable or busy: alerts would be retried with backoff"
    )
    print(f"hint: {hint}", file=sys.stderr)
    return EXIT_FAILURE


def cmd_stories(args: argparse.Namespace) -> int:
    from monitor.storage import stories as story_store

    config = config_mod.load(args.config)
    store = _existing_store(config)
    now = datetime.now(UTC)
    views = story_store.recent(store, limit=args.limit, min_articles=args.min_articles)
    if args.json:
        print(json_safe(json.dumps([_story_json(v) for v in views], indent=2, ensure_ascii=False)))
        return EXIT_OK
    if not views:
        print("no stories yet; run `monitor once` or `monitor run`")
        return EXIT_OK
    for v in views:
        n = len(v.articles)
        muted = f"muted {_ago(v.muted_at, now)}, " if v.muted_at is not None else ""
        print(
            f"#{v.id}  {n} article{'s' if n != 1 else ''}, {v.alerts} alert(s), {muted}"
            f"first {_ago(v.first_seen_at, now)}, last {_ago(v.last_seen_at, now)}: "
            + printable(v.title)
        )
        for a in v.articles:
            how = a.reason if a.score is None or a.reason == "new" else f"{a.reason} {a.score:.2f}"
            print(f"    {a.source:<16} {how:<20} {printable(a.title[:60])}")
            print(f"    {'':<16} {'':<20} {printable(a.url)}")
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    from monitor.pipeline import backtest, backtest_report

    config = config_mod.load(args.config)
    try:
        since, until = backtest.window(args.since, args.from_, args.to, datetime.now(UTC))
    except ValueError as exc:
        hint = "e.g. --since 7d, or --from 2026-12-01 --to 2026-12-07"
        raise UsageError(str(exc), hint=hint) from None
    watchlists = config.watchlists
    if args.watchlist:
        watchlists = [_watchlist(config, w) for w in args.watchlist]
    store = _existing_store(config, migrate=False)
    # A replay of months takes a while: on a terminal, say how far it got (on stderr, so
    # neither the report nor --json is touched), and wipe the line at the end.
    shown = sys.stderr.isatty()

    def progress(n: int) -> None:
        print(f"\rreplaying: {n:,} articles read", end="", file=sys.stderr, flush=True)

    try:
        result = backtest.run(
            store, watchlists, config.channels, since, until, progress=progress if shown else None
        )
    finally:
        store.close()
        if shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
    if args.json:
        print(json_safe(json.dumps(backtest_report.to_json(result), indent=2, ensure_ascii=False)))
    else:
        keep = config.settings.archive.keep
        text = backtest_report.to_text(result, colour=sys.stdout.isatty(), keep=keep)
        sys.stdout.write(text)
    return EXIT_OK


def _watchlist(config: config_mod.Config, given: str) -> Any:
    """A watchlist file (which need not be in the settings), or a configured one by name."""
    if not Path(given).exists():
        for w in config.watchlists:
            if w.name == given:
                return w
        names = ", ".join(sorted(w.name for w in config.watchlists)) or "none"
        raise UsageError(
            f"--watchlist {given}: no such file, and no watchlist of that name",
            hint=f"a watchlist file, or the name of one in the settings ({names})",
        )
    return config_mod.load_watchlist(given, feeds=config.settings.feeds)


def cmd_mute(args: argparse.Namespace) -> int:
    from monitor.storage import feedback

    config = config_mod.load(args.config)
    store = _existing_store(config)
    done = feedback.mute(store, args.story, datetime.now(UTC), undo=args.undo)
    if done is None:
        raise MonitorError(f"no story #{args.story}", hint="`monitor stories` lists them")
    title = printable(render_one_line(done.title, 80))
    if args.undo:
        print(f"#{done.story_id} {title}: unmuted; new reports may alert again")
    else:
        aside = f"; {done.set_aside} waiting alert(s) set aside" if done.set_aside else ""
        print(f"#{done.story_id} {title}: muted, no more alerts from it{aside}")
    return EXIT_OK


def _story_json(v: Any) -> dict[str, Any]:
    return {
        "id": v.id,
        "title": v.title,
        "first_seen": v.first_seen_at.isoformat(),
        "last_seen": v.last_seen_at.isoformat(),
        "alerts": v.alerts,
        "muted_at": v.muted_at.isoformat() if v.muted_at is not None else None,
        "articles": [
            {
                "id": a.id,
                "source": a.source,
                "title": a.title,
                "url": a.url,
                "joined": a.reason,
                "score": a.score,
            }
            for a in v.articles
        ],
    }


def cmd_channels(args: argparse.Namespace) -> int:
    from monitor.channels import kinds

    for kind, cls in kinds().items():
        print(f"{kind}: {(cls.__doc__ or '').strip().splitlines()[0]}")
        for name, field in cls.Settings.model_fields.items():
            if name == "kind":
                continue
            need = "required" if field.is_required() else f"default {_shown(field.default)}"
            secret = ", secret" if "Secret" in str(field.annotation) else ""
            print(f"  {field.alias or name}: {field.description or ''} ({need}{secret})")
    return EXIT_OK


def cmd_places(args: argparse.Namespace) -> int:
    from monitor.rules import explain, places

    expansion = places.expand(args.name, add=args.add or (), exclude=args.exclude or ())
    if args.json:
        print(json.dumps(expansion.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(explain.render_place(expansion))
    return EXIT_OK if expansion.place is not None else EXIT_FAILURE


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo

    return run_demo(keep=args.keep)


def _shown(value: object) -> str:
    text = getattr(value, "value", value)  # enums as their YAML spelling
    return repr(text) if not isinstance(text, float) else f"{text:g}"


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    rows = [[printable(cell) for cell in row] for row in rows]  # titles and errors: network text
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    for line in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="monitor",
        description="Self-hosted news monitoring: feeds in, one alert per story out.",
    )
    top.add_argument("--version", action="version", version=f"monitor {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, func: Callable[[argparse.Namespace], int], help_: str, config: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        # Every command accepts -c so scripts can pass it uniformly; some do not need it.
        p.add_argument(
            "-c",
            "--config",
            metavar="FILE",
            help="settings file (default: $MONITOR_CONFIG or config/monitor.yaml)"
            if config
            else "accepted for uniformity; this command reads no settings",
        )
        p.add_argument("--debug", action="store_true", help="debug logs and full tracebacks")
        p.set_defaults(func=func)
        return p

    command("run", cmd_run, "run the daemon: poll feeds and deliver alerts until stopped")
    p = command("once", cmd_once, "poll every feed now, deliver pending alerts, then exit")
    p.add_argument("--no-deliver", action="store_true", help="queue alerts but do not send them")
    command("check", cmd_check, "validate the settings and every watchlist, listing all problems")
    p = command(
        "schema", cmd_schema, "print the JSON Schema of monitor.yaml and watchlists", config=False
    )
    p.add_argument("--write", metavar="DIR", help="write one .schema.json file per format to DIR")
    p = command("test", cmd_test, "show which rules a text, file or URL matches, and why")
    p.add_argument(
        "source", metavar="PATH|URL|-", help="a text or HTML file, a URL, or - for stdin"
    )
    p.add_argument("--json", action="store_true", help="print the matches as JSON")
    p.add_argument("--watchlist", metavar="NAME", help="only this watchlist")
    p = command(
        "feeds",
        cmd_feeds,
        "list sources with their health; add one from a site's URL; import or export OPML",
    )
    p.add_argument("action", nargs="?", choices=["list", "add", "import", "export"], default="list")
    p.add_argument(
        "target",
        nargs="?",
        metavar="URL|FILE",
        help="add: a site or section URL; import: an OPML file",
    )
    p.add_argument("--reset", metavar="NAME", help="clear a feed's errors or retirement")
    p.add_argument("--name", help="add: the new source's name (default: from its title)")
    p.add_argument("--pick", type=int, metavar="N", help="add: take candidate N without asking")
    p.add_argument(
        "--tag", action="append", metavar="TAG", help="add, import: a tag to give (repeatable)"
    )
    p.add_argument("--dry-run", action="store_true", help="import: show what would be added")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="export: write the OPML here (default: stdout)"
    )
    p = command("test-source", cmd_test_source, "fetch and read one source now and print its items")
    p.add_argument("name", metavar="NAME", help="a feed, sitemap or listing page from the config")
    p.add_argument("--limit", type=int, default=50, help="print at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="print the items as JSON")
    p = command(
        "alerts", cmd_alerts, "list alerts in the outbox, retry them, or mark them irrelevant"
    )
    p.add_argument("action", nargs="?", choices=["list", "retry", "mark"], default="list")
    p.add_argument("ids", nargs="*", metavar="ID", help="alert IDs to retry or mark")
    p.add_argument("--dead", action="store_true", help="with retry: every dead letter")
    p.add_argument(
        "--irrelevant", action="store_true", help="with mark: the alerts were not relevant"
    )
    p.add_argument("--relevant", action="store_true", help="with mark: take the mark back")
    p.add_argument(
        "--status",
        choices=[s.value for s in AlertStatus],
        help="only this status",
    )
    p.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    p = command("stories", cmd_stories, "list recent stories with the articles that report them")
    p.add_argument("--limit", type=int, default=20, help="at most this many stories (default 20)")
    p.add_argument(
        "--min-articles", type=int, default=1, metavar="N", help="only stories with N+ articles"
    )
    p.add_argument("--json", action="store_true", help="print the stories as JSON")
    p = command(
        "backtest",
        cmd_backtest,
        "replay watchlists over the stored articles: which stories would alert, and how that "
        "differs from what alerted",
    )
    p.add_argument("--since", default="7d", help="how far back from --to (default 7d)")
    p.add_argument("--from", dest="from_", metavar="DATE", help="start (YYYY-MM-DD[THH:MM], UTC)")
    p.add_argument(
        "--to",
        metavar="DATE",
        help="end: a date includes that day, a time is not included (default now)",
    )
    p.add_argument(
        "--watchlist",
        action="append",
        metavar="FILE|NAME",
        help="replay this watchlist file (need not be in the settings) or configured watchlist "
        "instead of all of them; repeatable",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = command("mute", cmd_mute, "mute a story: no more alerts (follow-ups, escalations) from it")
    p.add_argument("story", type=_story_id, metavar="STORY", help="the story's number (#12 or 12)")
    p.add_argument("--undo", action="store_true", help="unmute: new reports may alert again")
    p = command("places", cmd_places, "show the spellings a place name expands to", config=False)
    p.add_argument("name", help="a place name, e.g. 'Tal Afar'")
    p.add_argument("--add", action="append", metavar="SPELLING", help="a spelling to add")
    p.add_argument("--exclude", action="append", metavar="SPELLING", help="a spelling to drop")
    p.add_argument("--json", action="store_true", help="print the expansion as JSON")
    command("channels", cmd_channels, "list the channel kinds and their settings", config=False)
    p = command(
        "test-channel",
        cmd_test_channel,
        "send a sample alert through a channel now and show what the far end answered",
    )
    p.add_argument("name", metavar="NAME", help="a channel name from the config")
    p.add_argument(
        "--severity",
        choices=["low", "medium", "high", "critical"],
        default="high",
        help="severity of the sample alert (default high)",
    )
    p.add_argument("--digest", action="store_true", help="send a sample digest of three alerts")
    p = command(
        "demo", cmd_demo, "run the whole pipeline offline on bundled sample feeds", config=False
    )
    p.add_argument("--keep", metavar="DIR", help="keep the demo's config and database in DIR")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"hint: {exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    except MonitorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`monitor stories | head`): nothing is wrong. Point stdout at
        # /dev/null so that the interpreter's last flush does not fail on the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if args.debug:
            raise
        print(f"error: {exc!r}", file=sys.stderr)
        print(
            "hint: this is a bug in monitor; run again with --debug for the traceback",
            file=sys.stderr,
        )
        return EXIT_FAILURE
