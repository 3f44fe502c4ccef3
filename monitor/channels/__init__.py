"""channels: the registry of delivery channels. Built-ins are listed here by hand; outside
packages add theirs through the `monitor.channels` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from monitor.channels.apprise import AppriseChannel
from monitor.channels.base import Channel, ChannelSettings, secrets_of
from monitor.channels.email import EmailChannel
from monitor.channels.log import LogChannel
from monitor.channels.slack import SlackChannel
from monitor.channels.webhook import WebhookChannel

REGISTRY: tuple[type[Channel], ...] = (
    LogChannel,
    WebhookChannel,
    EmailChannel,
    SlackChannel,
    AppriseChannel,
)


@cache
def kinds() -> dict[str, type[Channel]]:
    """Every channel kind by name: the built-ins, then any installed plugins."""
    found: dict[str, type[Channel]] = {c.kind: c for c in REGISTRY}
    for ep in entry_points(group="monitor.channels"):
        cls = ep.load()
        if isinstance(cls, type) and issubclass(cls, Channel) and cls.kind not in found:
            found[cls.kind] = cls
    return found


__all__ = ["REGISTRY", "Channel", "ChannelSettings", "kinds", "secrets_of"]
