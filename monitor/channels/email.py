"""channels.email: SMTP (STARTTLS, implicit TLS or plain; optional AUTH) to several recipients.

Each message is multipart/alternative: plain text and HTML rendered from the templates in
`channels/templates/`. `Message-ID` is derived from the idempotency key, so a repeat after a
crash is recognisably the same mail. A message counts as sent only when the server accepted
every recipient and the data: if any recipient is refused the transaction is reset before DATA,
so nobody gets a copy that the retry would double. SMTP 4xx answers and network failures are
retried; 5xx answers are final. Connections are kept open between messages for a short while.
"""

from __future__ import annotations

import asyncio
import re
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses
from typing import Literal

import aiosmtplib
import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator

from monitor.channels import render
from monitor.channels.base import Channel, ChannelSettings
from monitor.errors import ChannelError
from monitor.model import AlertMessage, DigestMessage, Message

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
KEEPALIVE_S = 30.0  # reuse an idle connection younger than this


def _address(value: str) -> str:
    """One mailbox ("Name <user@host>" or "user@host"), with no way to smuggle a header in."""
    if render.one_line(value, 1000) != value.strip():
        raise ValueError("an address may not contain line breaks or control characters")
    found = getaddresses([value])
    if len(found) != 1 or "@" not in found[0][1] or " " in found[0][1]:
        raise ValueError(f"{value!r} is not one email address")
    return value.strip()


class EmailSettings(ChannelSettings):
    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["email"]
    host: str = Field(description="SMTP server name or address")
    port: int | None = Field(None, ge=1, le=65535, description="default 587, 465 (tls) or 25")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (required), tls (implicit, port 465) or none"
    )
    username: str | None = Field(None, description="for SMTP AUTH")
    password: SecretStr | None = Field(None, description="for SMTP AUTH")
    from_: str = Field(alias="from", description="sender, e.g. 'monitor <alerts@example.org>'")
    to: list[str] = Field(min_length=1, description="recipients; all must be accepted")
    ca_file: str | None = Field(None, description="CA bundle for a server with a private CA")
    verify: bool = Field(True, description="check the server's certificate")
    helo: str | None = Field(None, description="name to greet the server with (EHLO)")

    @field_validator("from_")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @property
    def smtp_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


def mailbox(value: str) -> str:
    return getaddresses([value])[0][1]


def message_id(message: Message, domain: str) -> str:
    """`<kind.key@domain>`: the same for every retry of one alert, digest or notice."""
    kind = (
        "alert"
        if isinstance(message, AlertMessage)
        else "digest"
        if isinstance(message, DigestMessage)
        else "notice"
    )
    key = re.sub(r"[^A-Za-z0-9._-]", "-", message.idempotency_key)[:100]
    return f"<{kind}.{key}@{domain}>"


def build(message: Message, settings: EmailSettings) -> EmailMessage:
    """The MIME message: headers from one-line, control-free values; text and HTML parts."""
    sender_domain = mailbox(settings.from_).rpartition("@")[2]
    try:
        domain = sender_domain.encode("idna").decode("ascii") or "monitor.invalid"
    except UnicodeError:
        domain = "monitor.invalid"
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["Subject"] = render.subject(message, 250)
    mail["From"] = settings.from_
    mail["To"] = ", ".join(settings.to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id(message, domain)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    mail["X-Auto-Response-Suppress"] = "All"
    mail["X-Monitor-Idempotency-Key"] = render.one_line(message.idempotency_key, 200)
    mail.set_content(render.text(message))
    mail.add_alternative(render.html(message), subtype="html")
    return mail


class _Refused(Exception):
    def __init__(self, errors: list[aiosmtplib.SMTPResponseException]) -> None:
        self.errors = errors


class EmailChannel(Channel):
    """SMTP with STARTTLS or TLS; a message is sent when every recipient and the data are
    accepted (250); 4xx and network failures are retried, 5xx are final."""

    kind = "email"
    Settings = EmailSettings
    settings: EmailSettings

    def __init__(self, name: str, settings: ChannelSettings, client: httpx.AsyncClient) -> None:
        super().__init__(name, settings, client)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def send(self, message: Message) -> str:
        raw = build(message, self.settings).as_bytes()
        where = f"{self.settings.host}:{self.settings.smtp_port}"
        try:
            smtp, reply = await self._deliver(raw)
        except _Refused as refused:
            raise self._refused(refused.errors) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise self.error(
                f"SMTP {exc.code} {render.one_line(exc.message, 300)}",
                permanent=500 <= exc.code < 600,
                status=exc.code,
            ) from None
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            raise self.error(f"no answer from {where} within {self.settings.timeout:g}s") from None
        except aiosmtplib.SMTPConnectError as exc:
            raise self.error(f"cannot connect to {where}: {_reason(exc)}") from None
        except aiosmtplib.SMTPNotSupported as exc:
            raise self.error(f"{where}: {exc}", permanent=True) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self.error(f"{where}: {_reason(exc)}") from None
        self._idle.append((smtp, time.monotonic()))
        return f"SMTP {reply.code} {render.one_line(reply.message, 300)}"

    async def _deliver(self, raw: bytes) -> tuple[aiosmtplib.SMTP, aiosmtplib.SMTPResponse]:
        smtp, reused = await self._connection()
        try:
            try:
                return smtp, await self._transaction(smtp, raw)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                if not reused:
                    raise
            # An idle connection the server had closed: one fresh try; nothing was sent yet.
            smtp.close()
            smtp, _ = await self._connect()
            return smtp, await self._transaction(smtp, raw)
        except _Refused:
            self._idle.append((smtp, time.monotonic()))  # the connection is fine after RSET
            raise
        except BaseException:
            smtp.close()
            raise

    def _refused(self, errors: list[aiosmtplib.SMTPResponseException]) -> ChannelError:
        codes = [e.code for e in errors]
        detail = "; ".join(
            f"{getattr(e, 'recipient', '?')}: {e.code} {render.one_line(e.message, 200)}"
            for e in errors
        )
        permanent = all(500 <= c < 600 for c in codes)
        return self.error(
            f"SMTP recipients refused ({detail}); nothing was sent",
            permanent=permanent,
            status=max(codes),
        )

    async def _transaction(self, smtp: aiosmtplib.SMTP, raw: bytes) -> aiosmtplib.SMTPResponse:
        """MAIL, RCPT for everyone, then DATA only if all were accepted (else RSET)."""
        await smtp.mail(mailbox(self.settings.from_))
        refused: list[aiosmtplib.SMTPResponseException] = []
        for recipient in self.settings.to:
            try:
                await smtp.rcpt(mailbox(recipient))
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused.append(exc)
        if refused:
            await smtp.rset()
            raise _Refused(refused)
        return await smtp.data(raw)

    async def _connection(self) -> tuple[aiosmtplib.SMTP, bool]:
        while self._idle:
            smtp, since = self._idle.pop()
            if smtp.is_connected and time.monotonic() - since < KEEPALIVE_S:
                return smtp, True
            smtp.close()
        return await self._connect()

    async def _connect(self) -> tuple[aiosmtplib.SMTP, bool]:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.smtp_port,
            use_tls=s.security == "tls",
            start_tls=False,  # done below, after checking that the server offers it
            validate_certs=s.verify,
            cert_bundle=s.ca_file,
            timeout=s.timeout,
            local_hostname=s.helo,
        )
        try:
            await smtp.connect()
            if s.security == "starttls":
                await smtp.ehlo()
                if not smtp.supports_extension("starttls"):
                    raise aiosmtplib.SMTPNotSupported(
                        "the server does not offer STARTTLS, which security: starttls requires"
                        " (use security: tls for port 465, or none on a trusted network)"
                    )
                await smtp.starttls()
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                await smtp.login(s.username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp, False

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            protocol = smtp.protocol
            try:
                async with asyncio.timeout(2):
                    await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()
            await _closed(protocol)


async def _closed(protocol: object, wait_s: float = 1.0) -> None:
    """Wait (a little) until the connection is gone. A TLS connection finishes closing on a
    later turn of the event loop; a caller that stops its loop right after `aclose` (a test,
    `monitor once`) would otherwise leave the socket to be reported at garbage collection."""
    deadline = time.monotonic() + wait_s
    # Polled: aiosmtplib offers no public event for "connection lost".
    while getattr(protocol, "transport", None) is not None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def _reason(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return render.one_line(text, 300)
