"""channels.render: a message → the words every channel shows. Subject lines, plain text and
HTML (Jinja2 templates shipped in `channels/templates/`, CSS inline for mail clients), with every
untrusted string made safe for its format: control characters out of one-line fields, only
http(s) links, HTML escaped by the template engine.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2

from monitor.model import (
    AlertKind,
    AlertMessage,
    DigestMessage,
    DigestReason,
    Message,
    NoticeMessage,
    Severity,
)

# Colours people read as the severity: grey, amber, orange, red.
COLORS = {
    Severity.LOW: "#6b7280",
    Severity.MEDIUM: "#b7791f",
    Severity.HIGH: "#dd6b20",
    Severity.CRITICAL: "#c53030",
}
MAX_SOURCES = 10
# What a follow-up of a story already alerted says before its title, so a reader does not take
# it for a new story (a story's first alert says nothing).
KICKERS: dict[str, str] = {AlertKind.ESCALATION: "Escalated", AlertKind.UPDATE: "New report"}
# C0/C1 controls and the Unicode line and paragraph separators: never inside a one-line field.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def one_line(text: str, limit: int = 200) -> str:
    """`text` on one line (no CR, LF or other controls), cut to `limit` characters."""
    flat = _SPACES.sub(" ", _CONTROLS.sub(" ", text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def safe_url(url: str | None) -> str:
    """`url` if it is a plain http(s) URL, else "" (no javascript:, data:, or smuggled spaces)."""
    if not url or _CONTROLS.search(url) or any(c.isspace() for c in url):
        return ""
    return url if url.lower().startswith(("https://", "http://")) else ""


def segments(snippet: str, highlights: Sequence[str]) -> list[tuple[str, bool]]:
    """The snippet cut into (text, is_hit) pieces, the matched words marked."""
    words = sorted({h for h in highlights if h.strip()}, key=len, reverse=True)
    if not words or not snippet:
        return [(snippet, False)] if snippet else []
    pattern = re.compile("|".join(re.escape(w) for w in words))
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(snippet):
        if m.start() > pos:
            out.append((snippet[pos : m.start()], False))
        out.append((m.group(), True))
        pos = m.end()
    if pos < len(snippet):
        out.append((snippet[pos:], False))
    return out


def when(moment: datetime | None) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC") if moment else ""


def subject(message: Message, limit: int = 200) -> str:
    """One line for an email subject, a push title or a chat notification."""
    if isinstance(message, AlertMessage):
        text = f"[{message.severity.upper()}] {titled(message)}"
    elif isinstance(message, DigestMessage):
        text = f"[{message.severity.upper()}] {heading(message)}"
    else:
        text = f"[monitor] {message.title}"
    return one_line(text, limit)


def titled(alert: AlertMessage) -> str:
    """The alert's title, after its kicker when it follows up a story already alerted."""
    return kicked(alert.kind, alert.title or "(untitled)")


def kicked(kind: str, title: str) -> str:
    """`title` as an alert of `kind` shows it: "New report: …", "Escalated: …", or as it is."""
    kicker = KICKERS.get(kind)
    return f"{kicker}: {title}" if kicker else title


def heading(digest: DigestMessage) -> str:
    n = len(digest.alerts)
    noun = "alert" if n == 1 else "alerts"
    updates = all(a.kind == AlertKind.UPDATE for a in digest.alerts)
    if digest.reason == DigestReason.STORY_UPDATES and updates:
        reports = "report" if n == 1 else "reports"
        return f"{n} new {reports} of stories already alerted"
    if digest.reason == DigestReason.QUIET_HOURS:
        return f"{n} {noun} held during quiet hours"
    if digest.reason == DigestReason.RATE_LIMIT:
        return f"{n} {noun} held back by the rate limit"
    return f"Digest: {n} {noun}"


@dataclass(frozen=True, slots=True)
class SourceView:
    """Another outlet's report of the story: its name on one line, its link if http(s)."""

    source: str
    url: str


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as every channel shows it: one-line fields, http(s)-only links (else ""), still
    unescaped for markup, since each format escapes its own way."""

    title: str
    url: str
    source: str
    published: str  # "" when unknown
    label: str  # the severity in capitals
    kicker: str  # "" for a story's first alert
    color: str  # the severity's colour
    watchlist: str
    rules: str  # the rule names, comma-separated
    snippet: tuple[tuple[str, bool], ...]  # (text, is_hit) pieces
    sources: tuple[SourceView, ...]  # at most MAX_SOURCES
    more_sources: int  # how many more there were
    story_url: str  # the story's page in the web view, or ""


def alert_view(alert: AlertMessage) -> AlertView:
    """The alert as plain values for templates and chat blocks."""
    others = [SourceView(one_line(s, 100), safe_url(u)) for s, u in alert.sources if u != alert.url]
    return AlertView(
        title=one_line(alert.title, 300) or "(untitled)",
        url=safe_url(alert.url),
        source=one_line(alert.source, 100),
        published=when(alert.published),
        label=alert.severity.upper(),
        kicker=KICKERS.get(alert.kind, ""),
        color=COLORS[alert.severity],
        watchlist=one_line(alert.watchlist, 100),
        rules=one_line(", ".join(alert.rules), 300),
        snippet=tuple(segments(alert.snippet, alert.highlights)),
        sources=tuple(others[:MAX_SOURCES]),
        more_sources=max(0, len(others) - MAX_SOURCES),
        story_url=safe_url(alert.story_url),
    )


def context(message: Message) -> dict[str, Any]:
    if isinstance(message, AlertMessage):
        return {"kind": "alert", "alerts": [alert_view(message)], "heading": ""}
    if isinstance(message, DigestMessage):
        return {
            "kind": "digest",
            "heading": heading(message),
            "alerts": [alert_view(a) for a in message.alerts],
            "color": COLORS[message.severity],
        }
    assert isinstance(message, NoticeMessage)
    return {
        "kind": "notice",
        "heading": one_line(message.title, 300),
        "text": message.text,
        "alerts": [],
        "color": COLORS[message.severity],
    }


@functools.cache
def _environment(html: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("monitor.channels", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def text(message: Message) -> str:
    """The plain-text body (email text part, push notifications)."""
    return _environment(False).get_template("message.txt").render(context(message))


def html(message: Message) -> str:
    """The HTML body (email), every untrusted string escaped by the template engine."""
    return _environment(True).get_template("message.html").render(context(message))
