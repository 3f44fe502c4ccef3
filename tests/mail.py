"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests: plain, STARTTLS or implicit TLS, with
or without AUTH, recording every accepted message and answering as scripted.

Certificates come from a throwaway CA (trustme); `ca_file` is what a client must trust.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """The aiosmtpd handler: records what it accepts, answers RCPT and DATA as scripted."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient → reply, e.g. "550 …"
    data_replies: list[str] = field(default_factory=list)  # next DATA replies, in order
    delay: float = 0.0  # before answering DATA
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            reply = self.data_replies.pop(0) if self.data_replies else None
            if reply is not None and not reply.startswith("2"):
                return reply
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
            n = len(self.received)
        return reply or f"250 2.0.0 Ok: queued as M{n:04d}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]


@dataclass
class SMTPServer:
    host: str
    port: int
    mailbox: Mailbox
    ca_file: str | None
    logins: list[str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def certificates(tmp: Path) -> tuple[ssl.SSLContext, str]:
    """A server context for 127.0.0.1 and localhost, and the CA file a client must trust."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, str(ca_file)


class _Controller(Controller):
    def factory(self) -> Any:
        with warnings.catch_warnings():  # a plain server with AUTH is what some tests want
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return super().factory()


@contextmanager
def smtp_server(
    tmp: Path,
    *,
    security: str = "none",
    auth: tuple[str, str] | None = None,
    port: int | None = None,
    mailbox: Mailbox | None = None,
) -> Iterator[SMTPServer]:
    """Run aiosmtpd in a thread. `security`: none, starttls (required) or tls (implicit)."""
    box = mailbox or Mailbox()
    logins: list[str] = []
    kwargs: dict[str, Any] = {}
    ca_file = None
    if security != "none":
        context, ca_file = certificates(tmp)
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if auth is not None:

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == auth
            )
            if ok:
                logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)

        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=security != "none",
        )
    port = port or free_port()
    controller = _Controller(
        box, hostname="127.0.0.1", port=port, server_hostname="mail.test", **kwargs
    )
    controller.start()
    try:
        yield SMTPServer("127.0.0.1", port, box, ca_file, logins)
    finally:
        controller.stop()
