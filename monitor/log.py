"""log: structured logging. One JSON object per line under systemd or in a container, readable
lines on a terminal. Field names are fixed (feed, url, rule, story, alert, channel, attempt) and
known secrets are masked in every event, whatever field they end up in."""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection, MutableMapping
from typing import Any, TextIO

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _Redactor:
    def __init__(self, secrets: Collection[str]) -> None:
        # Short values would mask ordinary words; real secrets are longer than this.
        self.secrets = sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True)

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if self.secrets:
            for key, value in event.items():
                if isinstance(value, str):
                    for secret in self.secrets:
                        if secret in value:
                            value = value.replace(secret, "***")
                    event[key] = value
        return event


def setup(
    level: str = "info",
    fmt: str = "auto",
    *,
    secrets: Collection[str] = (),
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
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _Redactor(secrets),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard module; keep their chatter to warnings and above.
    logging.basicConfig(
        level=logging.WARNING, stream=stream, format="%(levelname)s %(name)s: %(message)s"
    )
    for name in ("alembic", "apscheduler", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("trafilatura", "htmldate", "courlan", "justext"):  # per-page noise
        logging.getLogger(name).setLevel(logging.CRITICAL)
