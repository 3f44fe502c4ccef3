"""One harness, every channel: valid and invalid settings, every kind of message, and the same
failures thrown at each (timeout, connection refused, rejected, unavailable, rate limited) against
a real far end on 127.0.0.1, checking that each failure is sorted the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.channels import REGISTRY, Channel, kinds
from monitor.errors import ChannelError
from monitor.http import build_client
from monitor.model import AlertMessage, DigestMessage, Message, NoticeMessage, Severity
from tests.mail import Mailbox, SMTPServer, free_port, smtp_server
from tests.servers import Answer, Receiver

ALERT = AlertMessage(
    alert_id=7,
    idempotency_key="7f3c9e0a",
    watchlist="iraq-conflict",
    severity=Severity.HIGH,
    title="Offensive on Falluja",
    url="https://e.org/a",
    source="wire",
    published=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    rules=("offensive",),
    snippet="…the offensive on Falluja…",
    story_id=3,
    sources=(("wire", "https://e.org/a"), ("bbc", "https://bbc.example/b")),
    created_at=datetime(2026, 11, 23, 9, 31, tzinfo=UTC),
    highlights=("offensive", "Falluja"),
)
DIGEST = DigestMessage(
    12, "d-12", "x", (ALERT, replace(ALERT, alert_id=8, severity=Severity.CRITICAL)), "digest"
)
NOTICE = NoticeMessage("n-1", "channel mail failing for 15m", "last error: SMTP 451")
FAULTS = ("timeout", "refused", "rejected", "unavailable", "rate_limited")


@dataclass
class Expect:
    permanent: bool
    status: int | None = None
    retry_after: float | None = None
    says: str = ""


class Far:
    """A channel kind and the far end it talks to, which the harness can break on purpose."""

    kind: str
    expect: dict[str, Expect]

    def settings(self, **extra: Any) -> dict[str, Any]:
        raise NotImplementedError

    def invalid(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def received(self) -> int:
        raise NotImplementedError

    def break_(self, fault: str) -> dict[str, Any]:
        """Make the far end fail this way; returns settings overrides."""
        raise NotImplementedError


class HttpFar(Far):
    def __init__(self, kind: str, receiver: Receiver) -> None:
        self.kind = kind
        self.receiver = receiver
        self.expect = {
            "timeout": Expect(False, says="no answer within 0.5s"),
            "refused": Expect(False, says="cannot connect to 127.0.0.1"),
            "rejected": Expect(True, 404, says="404"),
            "unavailable": Expect(False, 500, says="500"),
            "rate_limited": Expect(False, 429, 2.0, says="429"),
        }
        if kind == "apprise":  # Apprise does not pass Retry-After on
            self.expect["rate_limited"] = Expect(False, 429, None, says="429")
            self.expect["timeout"] = Expect(False, says="no answer within 0.5s")
            self.expect["refused"] = Expect(False)

    def url(self, base: str | None = None) -> str:
        url = (base or self.receiver.base) + "/hook"
        return url.replace("http://", "json://") if self.kind == "apprise" else url

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url(), **extra}

    def invalid(self) -> list[dict[str, Any]]:
        bad = [
            {"kind": self.kind},  # no url
            {"kind": self.kind, "url": self.url(), "colour": "red"},  # unknown key
            {"kind": self.kind, "url": self.url(), "min_severity": "urgent"},
            {"kind": self.kind, "url": self.url(), "digest": "fortnightly"},
            {"kind": self.kind, "url": self.url(), "quiet_hours": "22:00 Europe/Nowhere"},
            {"kind": self.kind, "url": self.url(), "rate_limit": {"per_minute": 0}},
        ]
        bad.append({"kind": self.kind, "url": "ftp://e.org/x" if self.kind != "apprise" else "x"})
        return bad

    def received(self) -> int:
        return len(self.receiver.posts)

    def break_(self, fault: str) -> dict[str, Any]:
        if fault == "timeout":
            self.receiver.route("/hook", Answer(200, b"late", delay=2))
            return {"timeout": 0.5}
        if fault == "refused":
            return {"url": self.url(f"http://127.0.0.1:{free_port()}")}
        answer = {
            "rejected": Answer(404, b"no such hook"),
            "unavailable": Answer(500, b"boom"),
            "rate_limited": Answer(429, b"slow down", {"Retry-After": "2"}),
        }[fault]
        self.receiver.route("/hook", answer)
        return {}


class MailFar(Far):
    kind = "email"

    def __init__(self, server: SMTPServer) -> None:
        self.server = server
        self.expect = {
            "timeout": Expect(False, says="no answer from 127.0.0.1"),
            "refused": Expect(False, says="cannot connect to 127.0.0.1"),
            "rejected": Expect(True, 550, says="SMTP recipients refused"),
            "unavailable": Expect(False, 451, says="SMTP 451"),
            "rate_limited": Expect(False, 452, says="452"),
        }

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "kind": "email",
            "host": "127.0.0.1",
            "port": self.server.port,
            "security": "none",
            "from": "monitor <alerts@monitor.test>",
            "to": ["desk@example.org", "night@example.org"],
            **extra,
        }

    def invalid(self) -> list[dict[str, Any]]:
        ok = self.settings()
        return [
            {**ok, "to": []},
            {**ok, "to": ["not an address"]},
            {**ok, "from": "a@b.org\r\nBcc: victim@example.org"},
            {**ok, "security": "ssl3"},
            {**ok, "port": 0},
            {k: v for k, v in ok.items() if k != "host"},
            {**ok, "digest": "daily 25:00"},
        ]

    def received(self) -> int:
        return len(self.server.mailbox.received)

    def break_(self, fault: str) -> dict[str, Any]:
        box = self.server.mailbox
        if fault == "timeout":
            box.delay = 2
            return {"timeout": 0.5}
        if fault == "refused":
            return {"port": free_port()}
        if fault == "rejected":
            box.refuse["night@example.org"] = "550 5.1.1 <night@example.org>: no such user"
        elif fault == "unavailable":
            box.data_replies.append("451 4.3.0 local error in processing")
        else:
            box.refuse["night@example.org"] = "452 4.5.3 too many recipients this hour"
        return {}


class LogFar(Far):
    """The log channel has no far end: it passes the settings and message checks only."""

    kind = "log"
    expect: dict[str, Expect] = {}  # noqa: RUF012

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"kind": "log", **extra}

    def invalid(self) -> list[dict[str, Any]]:
        return [{"kind": "log", "url": "https://e.org"}, {"kind": "log", "concurrency": 0}]

    def received(self) -> int:
        return -1


@pytest.fixture(params=[c.kind for c in REGISTRY])
def far(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Far]:
    kind = request.param
    if kind == "log":
        yield LogFar()
    elif kind == "email":
        with smtp_server(tmp_path, mailbox=Mailbox()) as server:
            yield MailFar(server)
    else:
        with Receiver.running() as receiver:
            yield HttpFar(kind, receiver)


def send(kind: str, settings: dict[str, Any], message: Message = ALERT) -> str:
    async def go() -> str:
        async with build_client(timeout=5) as client:
            cls = kinds()[kind]
            channel: Channel = cls("far", cls.Settings.model_validate(settings), client)
            try:
                return await channel.send(message)
            finally:
                await channel.aclose()

    return asyncio.run(go())


def test_every_kind_is_registered_once() -> None:
    names = [c.kind for c in REGISTRY]
    assert names == ["log", "webhook", "email", "slack", "apprise"]
    assert len(set(names)) == len(names) and set(names) <= set(kinds())
    for cls in REGISTRY:
        assert cls.__doc__ and cls.__module__ == f"monitor.channels.{cls.kind}"


def test_valid_settings_load_and_keep_secrets_out_of_repr(far: Far) -> None:
    cls = kinds()[far.kind]
    settings = cls.Settings.model_validate(
        far.settings(
            min_severity="high",
            digest="daily 08:00 Europe/London",
            quiet_hours="22:00-07:00 Europe/London",
            rate_limit={"per_minute": 6, "burst": 2},
        )
    )
    assert settings.digest is not None and settings.digest.text == "daily 08:00 Europe/London"
    assert settings.quiet_hours is not None and settings.quiet_hours.start == "22:00"
    if far.kind == "email":
        secret = cls.Settings.model_validate(far.settings(username="u", password="hunter2-pw"))
        assert "hunter2-pw" not in repr(secret)
    if far.kind in ("slack", "apprise"):
        assert "/hook" not in repr(settings)  # the URL is the secret


def test_invalid_settings_are_refused(far: Far) -> None:
    cls = kinds()[far.kind]
    for bad in far.invalid():
        with pytest.raises(ValidationError):
            cls.Settings.model_validate(bad)


def test_alerts_digests_and_notices_are_delivered(far: Far) -> None:
    for message in (ALERT, DIGEST, NOTICE):
        assert send(far.kind, far.settings(), message)
    if far.received() >= 0:
        assert far.received() == 3


@pytest.mark.parametrize("fault", FAULTS)
def test_failures_are_sorted_alike(far: Far, fault: str) -> None:
    if not far.expect:
        pytest.skip("no far end to break")
    overrides = far.break_(fault)
    expect = far.expect[fault]
    with pytest.raises(ChannelError) as info:
        send(far.kind, {**far.settings(), **overrides})
    error = info.value
    assert error.permanent is expect.permanent, str(error)
    assert error.channel == "far" and str(error).startswith("far: ")
    if expect.status is not None:
        assert error.status == expect.status, str(error)
    assert error.retry_after == expect.retry_after, str(error)
    assert expect.says in str(error)
