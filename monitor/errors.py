"""errors: the one exception tree. Every error a user can meet says what to do next.

The CLI prints `message` and `hint` on one or two lines and exits non-zero; a traceback is shown
only for exceptions outside this tree (bugs) or with `--debug`.
"""

from __future__ import annotations

from dataclasses import dataclass


class MonitorError(Exception):
    """Base of every error `monitor` raises on purpose."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem, located as precisely as the YAML allows."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(MonitorError):
    """The settings or a watchlist are invalid; `problems` lists every one found."""

    hint = "fix the lines above; `monitor check` lists every problem at once"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems) or "invalid configuration")


class FetchError(MonitorError):
    """A feed or page could not be fetched. `retry_after` (seconds) comes from the server."""

    hint = "the feed is retried with backoff; `monitor feeds` shows its state"

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.status = status
        self.retry_after = retry_after


class FeedGone(FetchError):
    """HTTP 410: the publisher says the feed is gone for good, so it is retired."""

    hint = "remove the feed from the config, or re-enable it with `monitor feeds --reset NAME`"


class BlockedAddress(FetchError):
    """The URL resolves to a private, loopback or link-local address and that is not allowed."""

    hint = "set fetch.allow_private_networks: true if this address is meant to be reachable"


class RobotsDisallowed(FetchError):
    """robots.txt asks robots not to fetch this page (or cannot be read just now)."""

    hint = (
        "the site asks robots not to read this page: set robots: false on the source (or "
        "fetch.robots: false) only if you have the publisher's permission"
    )


class TooLarge(FetchError):
    """The body grew past fetch.max_bytes."""

    hint = "raise fetch.max_bytes if this feed or page is legitimately that large"


class OpmlError(MonitorError):
    """A file given to `monitor feeds import` is not an OPML subscription list."""

    hint = "export the list from your feed reader as OPML (Settings → Import/Export) and try again"


class ChannelError(MonitorError):
    """A channel could not deliver. `permanent` errors go straight to dead letters."""

    hint = "the alert stays in the outbox; `monitor alerts` shows it and its last error"

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        permanent: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.channel = channel
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after


class StoreError(MonitorError):
    """The database is unreachable or its schema cannot be brought up to date."""

    hint = "check `database:` (or MONITOR_DATABASE_URL) and that the server is running"


class StoreUnavailable(StoreError):
    """The database could not run a statement: the connection dropped, the disk failed, or a
    lock was held past the busy timeout. The work is retried at its next turn."""


class StatementFailed(StoreError):
    """The database refused a statement: a constraint, or a value it cannot store. Only the
    entry or row that caused it is lost for now; it is tried again at its next turn."""

    hint = "if this repeats for the same item, report it with the message above"


class Conflict(StatementFailed):
    """Another transaction wrote the same unique row first (two workers storing one URL at
    once). Running the work again finds that row and joins it."""
