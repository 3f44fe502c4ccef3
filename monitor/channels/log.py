"""channels.log: writes each alert as one log line. Useful to try rules, and as a last resort."""

from __future__ import annotations

from typing import Literal

import structlog

from monitor.channels.base import Channel, ChannelSettings
from monitor.model import AlertMessage, DigestMessage, Message

log = structlog.get_logger("monitor.alerts")


class LogSettings(ChannelSettings):
    kind: Literal["log"]


class LogChannel(Channel):
    """Log each alert (title, link, rules, snippet) at WARNING level, so it shows at any level;
    a digest as one line per alert, an operator notice as one ERROR line."""

    kind = "log"
    Settings = LogSettings

    async def send(self, message: Message) -> str:
        if isinstance(message, AlertMessage):
            self._alert(message)
            return "logged"
        if isinstance(message, DigestMessage):
            for alert in message.alerts:
                self._alert(alert, digest=message.digest_id)
            return f"logged {len(message.alerts)}"
        log.error("operator notice", channel=self.name, title=message.title, text=message.text)
        return "logged"

    def _alert(self, message: AlertMessage, **extra: object) -> None:
        log.warning(
            "alert",
            channel=self.name,
            alert=message.alert_id,
            kind=str(message.kind),
            story=message.story_id,
            watchlist=message.watchlist,
            severity=str(message.severity),
            rules=",".join(message.rules),
            title=message.title,
            url=message.url,
            source=message.source,
            snippet=message.snippet,
            **extra,
        )
