"""log: structured logging. One JSON object per line under systemd or in a container, readable
lines on a terminal. Field names are fixed (feed, url, rule, story, alert, channel, attempt);
known secrets are masked in every event, whatever field they end up in (tracebacks included),
and control characters that came from the network (a feed's title) are shown, not obeyed."""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection, MutableMapping
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


def setup(
    level: str = "info",
    fmt: str = "auto",
    *,
    secrets: Secrets | Collection[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Configure structlog (and the standard logging of libraries) once per process."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    redactor = _Redactor(secrets)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (APScheduler, multiprocessing, …) log through the standard module: their lines
    # go through the same renderer, so a JSON log stays one JSON object per line; their chatter
    # is kept to warnings and above.
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
                redactor,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in ("alembic", "apscheduler", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("trafilatura", "htmldate", "courlan", "justext"):  # per-page noise
        logging.getLogger(name).setLevel(logging.CRITICAL)
