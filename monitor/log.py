"""log: structured logging. One JSON object per line under systemd or in a container, readable
lines on a terminal. Field names are fixed (feed, url, rule, story, alert, channel, attempt);
known secrets are masked in every event, whatever field they end up in (tracebacks included),
and control characters that came from the network (a feed's title) are shown, not obeyed."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Collection, MutableMapping
from typing import Any, TextIO

import structlog

from monitor import redact
from monitor.redact import Secrets
from monitor.terminal import printable

_HANDLER = "monitor"  # the name of the handler `setup` puts on the root logger

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _Redactor:
    def __init__(self, secrets: Secrets | Collection[str]) -> None:
        self.secrets = (
            secrets
            if isinstance(secrets, Secrets)
            else Secrets(pair for s in secrets for pair in redact.plain(s))
        )

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event.items():
            event[key] = self._clean(value)
        return event

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return printable(self.secrets(value), lines=True)
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        return value


class _Expected(logging.Filter):
    """Drops the scheduler's note that a tick was skipped because the loop's last run is still
    going: a poll cycle outlasting the 5 s tick is how the daemon works, not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def setup(
    level: str = "info",
    fmt: str = "auto",
    *,
    secrets: Secrets | Collection[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Configure structlog, and the standard logging of libraries (APScheduler, multiprocessing,
    httpx, …) through the same processors and renderer, once per process: in JSON mode every
    line is one JSON object, whoever wrote it."""
    global _AGAIN
    _AGAIN = functools.partial(setup, level, fmt, secrets=secrets) if stream is None else None
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    redactor = _Redactor(secrets)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (APScheduler, multiprocessing, …) log through the standard module: their lines
    # go through the same processors and renderer (the logger's name in `logger`), so a JSON log
    # stays one JSON object per line; their chatter is kept to warnings and above.
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redactor,
                renderer,
            ],
        )
    )
    handler.addFilter(_Expected())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in ("alembic", "apscheduler", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("trafilatura", "htmldate", "courlan", "justext"):  # per-page noise
        logging.getLogger(name).setLevel(logging.CRITICAL)


_AGAIN: Callable[[], None] | None = None


def again() -> Callable[[], None] | None:
    """The last `setup` (to stderr) as a picklable call, for a worker process to log the same
    way; None before any."""
    return _AGAIN
