"""channels.slack: a Slack incoming webhook, one Block Kit message per alert, digest or notice.

Untrusted text is escaped for Slack's mrkdwn (`&`, `<`, `>` become entities, so no link, mention
or `<!channel>` can be smuggled in); links are only made from http(s) URLs, with `|` and angle
brackets percent-encoded. The top-level `text` is the fallback shown in notifications.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from monitor.channels import render
from monitor.channels.base import Channel, ChannelSettings
from monitor.model import AlertMessage, DigestMessage, Message

MAX_BLOCKS = 50  # Slack's limit per message
MAX_TEXT = 3000  # per section text


class SlackSettings(ChannelSettings):
    kind: Literal["slack"]
    url: SecretStr = Field(description="the incoming-webhook URL (https://hooks.slack.com/…)")

    @field_validator("url")
    @classmethod
    def _http(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("expected an http(s) URL, e.g. https://hooks.slack.com/services/…")
        return value


def escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """`<url|label>` for a safe http(s) URL, else the label alone."""
    safe = render.safe_url(url)
    if not safe:
        return escape(label)
    target = escape(safe).replace("|", "%7C")
    return f"<{target}|{escape(label).replace('|', '¦')}>"


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _snippet(view: render.AlertView) -> str:
    pieces = [
        f"*{escape(t.strip())}*" if hit and t.strip() else escape(t) for t, hit in view.snippet
    ]
    return "".join(pieces)


def alert_blocks(view: render.AlertView, *, compact: bool = False) -> list[dict[str, Any]]:
    kicker = f"{view.kicker}: " if view.kicker else ""
    title = f"*[{view.label}]* {kicker}" + (
        f"*{link(view.url, view.title)}*" if view.url else f"*{escape(view.title)}*"
    )
    meta = " · ".join(
        escape(p) for p in (view.source, view.published, view.watchlist, view.rules) if p
    )
    if compact:  # digests: one section per alert
        text = f"{title}\n{meta}"
        if view.snippet:
            text += "\n>" + _snippet(view)
        return [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(text)}}]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(title)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(meta or " ")}]},
    ]
    if view.snippet:
        quote = _cut(">" + _snippet(view))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quote}})
    if view.sources:
        also = ", ".join(link(s.url, s.source) for s in view.sources)
        if view.more_sources:
            also += f" and {view.more_sources} more"
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(f"Also: {also}")}]}
        )
    if view.story_url:
        why = link(view.story_url, "Why this alert")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": why}]})
    return blocks


def payload(message: Message) -> dict[str, Any]:
    fallback = escape(render.subject(message, 300))
    if isinstance(message, AlertMessage):
        blocks = alert_blocks(render.alert_view(message))
    elif isinstance(message, DigestMessage):
        views = [render.alert_view(a) for a in message.alerts]
        heading = render.heading(message)  # our own words: plain_text shows them as they are
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": heading[:150]}}]
        room = MAX_BLOCKS - 2
        for view in views[:room]:
            blocks += alert_blocks(view, compact=True)
        if len(views) > room:
            rest = ", ".join(link(v.url, v.title) for v in views[room:])
            more = f"…and {len(views) - room} more: {rest}"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(more)}})
    else:
        text = f"*{escape(render.one_line(message.title, 300))}*\n{escape(message.text)}"
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(text)}}]
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


class SlackChannel(Channel):
    """Slack incoming webhook with Block Kit; Slack answers "ok" with 200, 429 with Retry-After."""

    kind = "slack"
    Settings = SlackSettings
    settings: SlackSettings

    async def send(self, message: Message) -> str:
        body = json.dumps(payload(message), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return await self.post(self.settings.url.get_secret_value(), body, headers)
