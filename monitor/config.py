"""config: monitor.yaml and its watchlists → one validated `Config`, or every problem at once.

The daemon, `monitor check` and the tests all load configuration through `load()`, so what
`check` accepts is exactly what `run` runs. Each problem names file:line: path.to.key.
"""

from __future__ import annotations

import enum
import glob
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cssselect import GenericTranslator, SelectorError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor import redact
from monitor.channels import ChannelSettings, kinds, secrets_of
from monitor.errors import ConfigError, Problem
from monitor.rules import Matcher, RulesError, compile_watchlists
from monitor.units import ByteSize, Duration, format_duration
from monitor.watchlist import NAME, TAG_PREFIX, WatchlistSettings
from monitor.yamlfile import Document, Loc, dotted, problems_from, salvage, validate
from monitor.yamlfile import load as load_yaml
from monitor.yamlfile import parse as parse_yaml

DEFAULT_PATH = "config/monitor.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchSettings(_Strict):
    interval: Duration = Field(600.0, description="how often each feed is polled (per feed too)")
    timeout: Duration = Field(20.0, description="the most one request may take, start to end")
    max_bytes: ByteSize = Field(5_000_000, description="larger feeds and pages are refused")
    per_host: int = Field(2, ge=1, description="requests in flight to one host at most")
    concurrency: int = Field(50, ge=1, description="feeds polled at the same time at most")
    allow_private_networks: bool = Field(
        False, description="allow article pages on private, loopback and link-local addresses"
    )
    max_entries: int = Field(
        1000, ge=1, description="entries taken from one fetch of a feed at most, the newest"
    )
    fetch_pages: bool = Field(True, description="fetch the article page when a feed is short")
    full_text_chars: int = Field(
        1000, ge=0, description="feed text this long counts as the full article"
    )
    max_backoff: Duration = Field(21600.0, description="longest wait after repeated failures")
    user_agent: str | None = Field(None, description="replaces the default User-Agent")
    robots: bool = Field(
        True,
        description="obey robots.txt for listing and article pages (feeds and sitemaps are "
        "published for machines and are always read)",
    )


class SourceKind(enum.StrEnum):
    """What a source's URL serves, and so how its body is read into entries."""

    FEED = "feed"  # RSS, Atom or JSON Feed
    SITEMAP = "sitemap"  # a (news) sitemap or a sitemap index
    HTML = "html"  # a listing page: a section front, a "latest news" page


def _check_selector(value: str | None) -> str | None:
    """A CSS selector cssselect can compile (the one `pipeline.listing` runs), else the
    parser's own words and the column."""
    if value is None:
        return None
    try:
        GenericTranslator().css_to_xpath(value)
    except SelectorError as exc:
        raise ValueError(f"not a CSS selector lxml can run: {exc}") from None
    return value


class Selectors(_Strict):
    """Where a listing page keeps its items; every selector but `item` is relative to one item."""

    item: str = Field(description="CSS selector of one item (a card, a list entry)")
    link: str = Field("a[href]", description="the item's link to its article (the first match)")
    title: str | None = Field(None, description="the item's headline; default: the link's text")
    date: str | None = Field(
        None,
        description="the item's date (a datetime attribute or its text); default: its first "
        "<time> element",
    )

    @field_validator("item", "link", "title", "date")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return _check_selector(value)


class SitemapOptions(_Strict):
    max_age: Duration = Field(
        172800.0,
        description="URLs (and index children) last modified or published longer ago are "
        "left out; URLs with no date are kept",
    )
    max_urls: int = Field(
        200, ge=1, description="URLs read per poll at most, the most recent first"
    )
    max_children: int = Field(
        10, ge=0, description="sitemaps of an index fetched per poll at most, newest first"
    )


_TAG = r"^[^\s,/][^,/]{0,63}$"


class FeedSettings(_Strict):
    """One source: a feed, a sitemap or a listing page (`kind`)."""

    name: str = Field(pattern=NAME, description="short unique name, used in watchlists")
    url: str = Field(pattern=r"^https?://\S+$", description="the source's http(s) URL")
    kind: SourceKind = Field(
        SourceKind.FEED, description="feed (RSS/Atom/JSON Feed), sitemap, or html (listing page)"
    )
    title: str | None = Field(None, description="a display title (OPML text)")
    site: str | None = Field(
        None, pattern=r"^https?://\S+$", description="the site's home page (OPML htmlUrl)"
    )
    tags: list[str] = Field(
        default_factory=list,
        description="labels a watchlist's feeds can select (tag:NAME); OPML categories",
    )
    interval: Duration | None = Field(None, description="overrides fetch.interval")
    fetch_pages: bool | None = Field(None, description="overrides fetch.fetch_pages")
    robots: bool | None = Field(None, description="overrides fetch.robots")
    select: Selectors | None = Field(
        None, description="kind html: CSS selectors of the items; default: article-like links"
    )
    sitemap: SitemapOptions | None = Field(None, description="kind sitemap: what is read")
    enabled: bool = True

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not re.fullmatch(_TAG, tag):
                raise ValueError(
                    f"tag {tag!r}: 1-64 characters, no comma or slash, not starting with a space"
                )
        return tags

    @model_validator(mode="after")
    def _options_of_kind(self) -> FeedSettings:
        if self.select is not None and self.kind != SourceKind.HTML:
            raise ValueError("select: only a source of kind html has selectors")
        if self.sitemap is not None and self.kind != SourceKind.SITEMAP:
            raise ValueError("sitemap: only a source of kind sitemap has sitemap options")
        return self

    def has_tag(self, tag: str) -> bool:
        wanted = tag.casefold()
        return any(t.casefold() == wanted for t in self.tags)


class DeliverySettings(_Strict):
    interval: Duration = Field(5.0, description="how often the outbox is checked")
    max_attempts: int = Field(10, ge=1, description="tries before an alert is a dead letter")
    backoff: Duration = Field(30.0, description="wait before the first retry; doubles each time")
    max_backoff: Duration = Field(3600.0, description="longest wait between retries")
    notice_after: Duration = Field(
        900.0, description="a channel failing this long raises one operator notice"
    )
    notice_channel: str | None = Field(
        None, description="channel that carries operator notices (besides the log)"
    )
    updates_after: Duration = Field(
        3600.0,
        description="story follow-ups (updates: digest) collect this long on a channel "
        "without a digest schedule, then go out as one message",
    )


class StorySettings(_Strict):
    # The defaults are `pipeline.cluster`'s (WINDOW_S, SPAN_S, COPIES_S, MAX_AGE_S); config sits
    # below the pipeline, so they are repeated here (tests/test_config.py checks they agree).
    window: Duration = Field(
        259200.0, description="how long after its last report a story takes new reports"
    )
    span: Duration = Field(
        172800.0,
        description="how long after its first report a story takes new reports (not copies); "
        "a later report of it opens a new story that continues it",
    )
    copies: Duration = Field(
        864000.0,
        description="how long after its last report a word-for-word copy or near-duplicate "
        "still joins a story (a wire republished a week later)",
    )
    max_age: Duration = Field(
        5184000.0,
        description="a published date older than its entry's first sighting by more than this "
        "is not believed: the article is placed by when it was seen",
    )


class LogSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: JSON lines unless stderr is a terminal"
    )


class HttpSettings(_Strict):
    listen: str | None = Field(
        None,
        pattern=r"^[^\s:]*:\d+$",
        description="host:port for /healthz, /readyz, /metrics and the web view; unset = off",
    )
    web: bool = Field(
        True,
        description="serve the web view (stories, feeds, outbox, backtest) on http.listen; "
        "off a loopback address it needs MONITOR_WEB_TOKEN or MONITOR_WEB_USER and "
        "MONITOR_WEB_PASSWORD",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s?#]+$",
        description="the web view's address as readers reach it (https://monitor.example.org); "
        "alerts then link to their story's page",
    )


class ArchiveSettings(_Strict):
    keep: Duration | None = Field(
        7_776_000.0,
        description="how long article text, matches and story profiles are kept (90d); "
        "older ones are pruned, keeping what dedup needs; null keeps everything",
    )


class Settings(_Strict):
    version: Literal[1] = Field(description="file format version; always 1 for now")
    database: str = Field("sqlite:///data/monitor.db", description="SQLAlchemy URL")
    watchlists: str | list[str] = Field(
        "watchlists/*.yaml", description="glob(s) relative to this file"
    )
    fetch: FetchSettings = FetchSettings()
    feeds: list[FeedSettings] = Field(default_factory=list)
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="name → {kind: …, settings of that kind}"
    )
    delivery: DeliverySettings = DeliverySettings()
    stories: StorySettings = StorySettings()
    log: LogSettings = LogSettings()
    http: HttpSettings = HttpSettings()
    archive: ArchiveSettings = ArchiveSettings()

    @field_validator("feeds")
    @classmethod
    def _unique_feeds(cls, feeds: list[FeedSettings]) -> list[FeedSettings]:
        counts = Counter(f.name for f in feeds)  # not names.count: 100,000 feeds took minutes
        dupes = sorted(n for n, seen in counts.items() if seen > 1)
        if dupes:
            raise ValueError(f"feed names must be unique: {', '.join(dupes)}")
        return feeds

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, channels: dict[str, Any]) -> dict[str, Any]:
        for name in channels:
            if not re.fullmatch(NAME, name):
                raise ValueError(f"channel name {name!r} may use letters, digits, _ . and -")
        return channels

    @model_validator(mode="after")
    def _notice_channel(self) -> Settings:
        target = self.delivery.notice_channel
        if target is not None and target not in self.channels:
            known = ", ".join(sorted(self.channels)) or "none defined"
            raise ValueError(f"delivery.notice_channel: no channel {target!r} (known: {known})")
        return self

    @model_validator(mode="after")
    def _keep_covers_window(self) -> Settings:
        keep = self.archive.keep
        if keep is not None and keep < self.stories.window:
            raise ValueError(
                f"archive.keep ({format_duration(keep)}) must be at least stories.window "
                f"({format_duration(self.stories.window)}): an open story needs its reports"
            )
        return self


@dataclass
class Config:
    """Everything the daemon needs, validated and compiled."""

    path: Path
    settings: Settings
    channels: dict[str, ChannelSettings]
    watchlists: list[WatchlistSettings]
    matcher: Matcher
    files: list[str] = field(default_factory=list)
    # Every secret of the config (channels, the database password, `${VAR}` values in feed
    # URLs): calling it redacts a text bound for a log, a stored error or a terminal.
    secrets: redact.Secrets = field(default_factory=redact.Secrets)
    _feeds: dict[str, FeedSettings] = field(default_factory=dict, init=False, repr=False)

    @property
    def database_url(self) -> str:
        return self.settings.database

    def feed(self, name: str) -> FeedSettings | None:
        """The settings of the feed named `name` (one lookup, however many feeds)."""
        if not self._feeds:
            self._feeds = {f.name: f for f in self.settings.feeds}
        return self._feeds.get(name)

    def feed_interval(self, feed: FeedSettings) -> float:
        return feed.interval if feed.interval is not None else self.settings.fetch.interval


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get("MONITOR_CONFIG") or DEFAULT_PATH)


def load(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load and validate everything; raise ConfigError listing every problem found.

    A settings file that fails validation does not stop the checks: channels and watchlists
    are still read from what the file says, so one run of `monitor check` reports it all.
    """
    env = os.environ if env is None else env
    main_path = config_path(path)
    if not main_path.is_file():
        raise ConfigError([Problem(str(main_path), None, "", "no such file")])
    doc, problems = load_yaml(main_path, env=env)
    if problems:
        raise ConfigError(problems)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "expected a mapping of settings at the top level")])
    raw: dict[str, Any] = doc.data
    settings, problems = validate(Settings, doc)
    channels = _channels(raw.get("channels"), doc, problems)
    feed_names = {f.get("name") for f in _list(raw.get("feeds")) if isinstance(f, dict)}
    feed_tags = {
        str(t).casefold()
        for f in _list(raw.get("feeds"))
        if isinstance(f, dict)
        for t in _list(f.get("tags"))
    }
    channel_names = set(raw["channels"]) if isinstance(raw.get("channels"), dict) else set()

    files = [str(main_path)]
    watchlists: list[WatchlistSettings] = []
    docs: list[Document] = []
    patterns = raw.get("watchlists", Settings.model_fields["watchlists"].default)
    for wpath in _watchlist_paths(patterns, main_path, doc, problems):
        files.append(str(wpath))
        wdoc, wproblems = load_yaml(wpath, env=env)
        problems += wproblems
        if wproblems:
            continue
        watchlist, wproblems = validate(WatchlistSettings, wdoc)
        problems += wproblems
        if watchlist is None:  # still check what is valid in it: every problem in one run
            written = wdoc.data
            watchlist, wdoc = salvage(WatchlistSettings, wdoc)
            watchlist = _with_group_names(watchlist, written)
        if watchlist is not None:
            problems += _cross_check(
                watchlist, wdoc, feed_names, feed_tags, channel_names, watchlists
            )
            watchlists.append(watchlist)
            docs.append(wdoc)

    matcher: Matcher | None = None
    try:
        matcher = compile_watchlists(watchlists)
    except RulesError as exc:
        problems += [docs[p.watchlist].problem(p.loc, p.message) for p in exc.problems]
    if problems or matcher is None or settings is None:
        raise ConfigError(problems)
    settings = _apply_env(settings, main_path, env)
    secrets = _secrets(doc, channels.values(), settings.database)
    watchlists = [_select_feeds(w, settings.feeds) for w in watchlists]
    return Config(main_path, settings, channels, watchlists, matcher, files, secrets)


def _secrets(doc: Document, channels: Iterable[ChannelSettings], database: str) -> redact.Secrets:
    """What must never be shown: every channel's secrets and URLs, the database password, and
    in feed URLs each value taken from the environment (shown as the `${VAR}` it came from)."""
    pairs = [pair for channel in channels for pair in secrets_of(channel)]
    pairs += [
        (value, "${" + name + "}")
        for loc, name, value in doc.from_env
        if len(loc) == 3 and loc[0] == "feeds" and loc[2] == "url"
    ]
    pairs += redact.password_of(database)
    return redact.Secrets(pairs)


def _select_feeds(watchlist: WatchlistSettings, feeds: list[FeedSettings]) -> WatchlistSettings:
    """The watchlist with each `tag:NAME` in its `feeds` replaced by the names of the feeds
    carrying that tag (case-insensitively), so matching only ever compares names."""
    if watchlist.feeds == "all" or not any(f.startswith(TAG_PREFIX) for f in watchlist.feeds):
        return watchlist
    names: list[str] = []
    for item in watchlist.feeds:
        if item.startswith(TAG_PREFIX):
            tag = item[len(TAG_PREFIX) :]
            names += [f.name for f in feeds if f.has_tag(tag)]
        else:
            names.append(item)
    return watchlist.model_copy(update={"feeds": list(dict.fromkeys(names))})


def load_watchlist(
    path: str | os.PathLike[str] | None = None,
    *,
    text: str | None = None,
    name: str = "<watchlist>",
    env: Mapping[str, str] | None = None,
    feeds: Sequence[FeedSettings] = (),
) -> WatchlistSettings:
    """One watchlist, from a file (or from `text`, e.g. pasted in the web view), validated and
    its rules compiled as `load` does; it need not be named in the settings. Its `tag:NAME`
    feeds are those of `feeds` carrying the tag. ConfigError lists every problem."""
    env = os.environ if env is None else env
    if text is None:
        if path is None or not Path(path).is_file():
            raise ConfigError([Problem(str(path), None, "", "no such file")])
        doc, problems = load_yaml(Path(path), env=env)
    else:
        doc, problems = parse_yaml(text, name, env=env)
    if problems:
        raise ConfigError(problems)
    watchlist, problems = validate(WatchlistSettings, doc)
    if watchlist is None:
        raise ConfigError(problems)
    try:
        compile_watchlists([watchlist])
    except RulesError as exc:
        raise ConfigError([doc.problem(p.loc, p.message) for p in exc.problems]) from None
    return _select_feeds(watchlist, list(feeds))


def _with_group_names(watchlist: WatchlistSettings | None, data: Any) -> WatchlistSettings | None:
    """A salvaged watchlist with the groups salvage set aside back, empty: a query naming one is
    checked, not reported as naming an unknown group."""
    written = data.get("groups") if isinstance(data, dict) else None
    if watchlist is None or not isinstance(written, dict):
        return watchlist
    kept: dict[str, list[str]] = {
        str(name): [] for name in written if str(name) not in watchlist.groups
    }
    return watchlist.model_copy(update={"groups": {**watchlist.groups, **kept}})


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _apply_env(settings: Settings, path: Path, env: Mapping[str, str]) -> Settings:
    """MONITOR_DATABASE_URL(_FILE), MONITOR_LOG_LEVEL, MONITOR_LOG_FORMAT and MONITOR_HTTP_LISTEN
    win over the file, so one config can serve several deployments."""
    database = env.get("MONITOR_DATABASE_URL") or _read_secret_file(env, "MONITOR_DATABASE_URL")
    updates: dict[str, Any] = {"database": _resolve_sqlite(database or settings.database, path)}
    sections: dict[str, BaseModel] = {"log": settings.log, "http": settings.http}
    problems = []
    for var, section, key in (
        ("MONITOR_LOG_LEVEL", "log", "level"),
        ("MONITOR_LOG_FORMAT", "log", "format"),
        ("MONITOR_HTTP_LISTEN", "http", "listen"),
    ):
        if not env.get(var):
            continue
        current = sections[section]
        try:
            sections[section] = type(current).model_validate(
                {**current.model_dump(), key: env[var]}
            )
        except ValidationError as exc:
            problems += [Problem("environment", None, var, str(e["msg"])) for e in exc.errors()]
    if problems:
        raise ConfigError(problems)
    return settings.model_copy(update={**updates, **sections})


def _read_secret_file(env: Mapping[str, str], name: str) -> str | None:
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError([Problem(path, None, f"{name}_FILE", exc.strerror or str(exc))]) from None


def _resolve_sqlite(url: str, config_file: Path) -> str:
    """Relative SQLite paths are relative to the config file, like the watchlists."""
    prefix = next((p for p in ("sqlite:///", "sqlite+pysqlite:///") if url.startswith(p)), None)
    if prefix is None:
        return url
    rest = url[len(prefix) :]
    if not rest or rest.startswith((":memory:", "/")) or rest.startswith("file:"):
        return url
    return prefix + str((config_file.parent / rest).resolve())


def _channels(raw: Any, doc: Document, problems: list[Problem]) -> dict[str, ChannelSettings]:
    if not isinstance(raw, dict):
        return {}
    known = kinds()
    out: dict[str, ChannelSettings] = {}
    for name, spec in raw.items():
        loc: Loc = ("channels", name)
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in known:
            what = f"unknown channel kind {kind!r}" if kind else "missing key 'kind'"
            problems.append(doc.problem((*loc, "kind"), f"{what}; known: {', '.join(known)}"))
            continue
        channel, found = validate(known[kind].Settings, doc, base=loc)
        problems += found
        if channel is not None:
            out[name] = channel
    return out


def _watchlist_paths(
    patterns: Any, main_path: Path, doc: Document, problems: list[Problem]
) -> list[Path]:
    if isinstance(patterns, str):
        listed: list[tuple[Loc, str]] = [(("watchlists",), patterns)]
    else:
        listed = [
            (("watchlists", i), p) for i, p in enumerate(_list(patterns)) if isinstance(p, str)
        ]
    paths: list[Path] = []
    unmatched: list[Problem] = []
    for loc, pattern in listed:
        full = pattern if os.path.isabs(pattern) else str(main_path.parent / pattern)
        found = sorted(Path(p) for p in glob.glob(full))
        if not found and not glob.has_magic(pattern):
            problems.append(doc.problem(loc, f"no such file: {full}"))
        elif not found:
            unmatched.append(doc.problem(loc, f"no watchlist file matches {full}"))
        paths += [p for p in found if p not in paths]
    if not paths:  # a typo here would give a daemon that never alerts; an empty extra folder not
        problems += unmatched
    return paths


def _cross_check(
    watchlist: WatchlistSettings,
    doc: Document,
    feed_names: set[Any],
    feed_tags: set[str],
    channel_names: set[Any],
    earlier: list[WatchlistSettings],
) -> list[Problem]:
    problems = []
    if any(w.name == watchlist.name for w in earlier):
        problems.append(doc.problem(("name",), f"another watchlist is named {watchlist.name!r}"))
    for i, name in enumerate(watchlist.channels):
        if name not in channel_names:
            known = ", ".join(sorted(map(str, channel_names))) or "none defined"
            problems.append(doc.problem(("channels", i), f"no channel {name!r} (known: {known})"))
    if watchlist.feeds != "all":
        for i, name in enumerate(watchlist.feeds):
            if name.startswith(TAG_PREFIX):
                tag = name[len(TAG_PREFIX) :]
                if tag.casefold() not in feed_tags:
                    problems.append(doc.problem(("feeds", i), f"no feed has the tag {tag!r}"))
            elif name not in feed_names:
                problems.append(doc.problem(("feeds", i), f"no feed named {name!r}"))
    return problems


def json_schema() -> dict[str, Any]:
    """JSON Schema for monitor.yaml and for watchlist files, for editors."""
    settings = Settings.model_json_schema()
    shared = settings.setdefault("$defs", {})
    variants = []
    for kind, cls in kinds().items():
        schema = cls.Settings.model_json_schema()
        schema["properties"]["kind"] = {"const": kind}
        if "kind" not in schema.setdefault("required", []):
            schema["required"].append("kind")
        # A variant's "$ref": "#/$defs/…" resolves against the whole document: its definitions
        # move to the top, where one name must mean one thing.
        for name, definition in schema.pop("$defs", {}).items():
            if shared.setdefault(name, definition) != definition:
                raise ValueError(f"two config models define {name!r} differently")
        variants.append(schema)
    settings["properties"]["channels"]["additionalProperties"] = {"oneOf": variants}
    settings["title"] = "monitor.yaml"
    watchlist = WatchlistSettings.model_json_schema()
    watchlist["title"] = "monitor watchlist"
    return {"monitor.yaml": _with_env(settings), "watchlist": _with_env(watchlist)}


# A value written as "${VAR}" or "${VAR:-default}" is only known once the file is loaded.
_ENV_VALUE = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}


def _with_env(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every value (but `version` and a channel's `kind`, which pick the
    shape, and mappings and lists) also allowed to be an environment reference, so an editor
    does not flag `url: ${WEBHOOK_URL}` as a bad URL."""
    defs = schema.get("$defs", {})

    def section(sub: Any) -> bool:  # a mapping or a list: "${VAR}" expands to neither
        ref = sub.get("$ref", "") if isinstance(sub, dict) else ""
        target = defs.get(ref.rpartition("/")[2], {}) if ref else sub
        return isinstance(target, dict) and (
            target.get("type") in ("object", "array") or "properties" in target
        )

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: walk(value) for key, value in node.items()}
        if isinstance(out.get("properties"), dict):
            out["properties"] = {
                name: sub
                if name in ("version", "kind") or section(sub)
                else {"anyOf": [sub, _ENV_VALUE]}
                for name, sub in out["properties"].items()
            }
        if isinstance(out.get("items"), dict) and not section(out["items"]):
            out["items"] = {"anyOf": [out["items"], _ENV_VALUE]}
        return out

    return dict(walk(schema))


__all__ = ["Config", "ConfigError", "Settings", "dotted", "json_schema", "load", "problems_from"]
