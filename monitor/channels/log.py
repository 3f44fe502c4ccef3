"""channels.log: writes each alert as one log line. Useful to try rules, and as a last resort."""

from __future__ import annotations

from typing import Literal

import structlog

from monitor.channels.base import Channel, ChannelSettings
from monitor.model import AlertMessage

log = structlog.get_logger("monitor.alerts")


class LogSettings(ChannelSettings):
    kind: Literal["log"]


class LogChannel(Channel):
    """Log each alert (title, link, rules, snippet) at WARNING level, so it shows at any level."""

    kind = "log"
    Settings = LogSettings

    async def send(self, message: AlertMessage) -> str:
        log.warning(
            "alert",
            channel=self.name,
            alert=message.alert_id,
            story=message.story_id,
            watchlist=message.watchlist,
            severity=str(message.severity),
            rules=",".join(message.rules),
            title=message.title,
            url=message.url,
            source=message.source,
            snippet=message.snippet,
        )
        return "logged"
