"""slack against a real HTTP receiver: Block Kit, mrkdwn escaping, fallback text, limits."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from monitor.channels.slack import SlackChannel, SlackSettings, escape, link
from monitor.http import build_client
from monitor.model import DigestMessage, Message
from tests.servers import Receiver
from tests.test_channels_conformance import ALERT, NOTICE

HOSTILE = dataclasses.replace(
    ALERT,
    title="<!channel> Offensive & <https://evil.example|click here>",
    snippet="…the offensive on Falluja <@U123> & *bold*…",
    url="https://e.org/a?x=1&y=2|3",
    sources=(("wire", "https://e.org/a"), ("ev|il>", "javascript:alert(1)")),
)


def post(receiver: Receiver, message: Message) -> dict[str, Any]:
    async def go() -> str:
        async with build_client(timeout=5) as client:
            spec = SlackSettings(kind="slack", url=receiver.url("/services/T/B/X"))  # type: ignore[arg-type]
            return await SlackChannel("chat", spec, client).send(message)

    assert asyncio.run(go()) == "HTTP 200: ok"
    body: dict[str, Any] = json.loads(receiver.posts[-1].body)
    return body


def texts(body: dict[str, Any]) -> str:
    out = []
    for block in body["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", [])]
    return "\n".join(out)


def test_an_alert_is_block_kit_with_everything_escaped(receiver: Receiver) -> None:
    body = post(receiver, HOSTILE)
    assert receiver.posts[-1].headers["content-type"].startswith("application/json")
    shown = texts(body)
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "<@U123>" not in shown and "&lt;@U123&gt; &amp; *bold*" in shown
    assert "<https://evil.example" not in shown
    # The only links are ours: the article (| encoded) and the safe other source (none here).
    assert (
        "<https://e.org/a?x=1&amp;y=2%7C3|&lt;!channel&gt; Offensive &amp; &lt;https://evil"
        in shown
    )
    assert "javascript:" not in shown and "ev¦il&gt;" not in shown.split("Also:")[0]
    assert "*offensive*" in shown and "*Falluja*" in shown  # the hits, in bold
    assert body["text"].startswith("[HIGH] &lt;!channel&gt; Offensive &amp;")  # fallback
    assert body["unfurl_links"] is False
    assert [b["type"] for b in body["blocks"]] == ["section", "context", "section", "context"]


def test_a_follow_up_says_so_in_its_title_and_fallback(receiver: Receiver) -> None:
    body = post(receiver, dataclasses.replace(ALERT, kind="escalation"))
    assert body["text"] == "[HIGH] Escalated: Offensive on Falluja"
    assert body["blocks"][0]["text"]["text"].startswith("*[HIGH]* Escalated: *<https://e.org/a|")
    body = post(receiver, ALERT)
    assert "Escalated" not in texts(body) and "New report" not in texts(body)


def test_a_big_digest_stays_within_slacks_limits(receiver: Receiver) -> None:
    alerts = tuple(dataclasses.replace(ALERT, alert_id=i, title=f"Story {i}") for i in range(80))
    body = post(receiver, DigestMessage(1, "d-1", "chat", alerts, "digest"))
    blocks = body["blocks"]
    assert len(blocks) <= 50 and blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Digest: 80 alerts"},
    }
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if "text" in b)
    assert "…and 32 more" in blocks[-1]["text"]["text"] and "Story 79" in blocks[-1]["text"]["text"]


def test_a_notice_is_one_section(receiver: Receiver) -> None:
    body = post(receiver, NOTICE)
    assert body["text"] == "[monitor] channel mail failing for 15m"
    assert texts(body) == "*channel mail failing for 15m*\nlast error: SMTP 451"


def test_escaping_helpers() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert link("https://e.org/?a=1&b=2", "x|y") == "<https://e.org/?a=1&amp;b=2|x¦y>"
    assert link("javascript:alert(1)", "<x>") == "&lt;x&gt;"
