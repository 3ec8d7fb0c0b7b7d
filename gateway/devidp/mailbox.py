"""The demo's mailbox: an SMTP server on loopback (aiosmtpd) that keeps what the gateway
sends, for the development IdP's /dev-idp/mail page. So an invitation goes through
the real delivery job and SMTP, and its link can be clicked on this machine.

Messages live in memory only, like the rest of the demo's short-lived state.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
# The oldest mail goes once this many have arrived: the demo may run for days.
KEPT = 200


@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipient: str
    subject: str
    date: str
    body: str


class Mailbox:
    """What arrived, newest first; aiosmtpd's handler."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mail: list[ReceivedMail] = []

    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(reversed(self._mail))

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw if isinstance(raw, bytes) else b"", policy=policy.default)
        body = parsed.get_body(("plain",)) if isinstance(parsed, EmailMessage) else None
        received = ReceivedMail(
            sender=str(parsed.get("From", envelope.mail_from)),
            recipient=str(parsed.get("To", ", ".join(envelope.rcpt_tos))),
            subject=str(parsed.get("Subject", "")),
            date=_shown_date(str(parsed.get("Date", ""))),
            body=body.get_content() if isinstance(body, EmailMessage) else "",
        )
        with self._lock:
            self._mail = [*self._mail, received][-KEPT:]
        return "250 OK"


def _shown_date(header: str) -> str:
    try:
        return parsedate_to_datetime(header).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError):
        return header


# aiosmtpd logs every connection at INFO: the gateway's own log says what was sent.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class AnyFreePortController(Controller):
    """aiosmtpd's controller on a port the system picks (the demo's ports may be 0;
    the tests' SMTP server uses it too)."""

    def _trigger_server(self) -> None:
        server = self.server
        assert isinstance(server, asyncio.Server)  # what loop.create_server made
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class MailboxServer:
    """The mailbox listening on loopback until stop()."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self._controller = AnyFreePortController(mailbox, hostname=HOST, port=0)

    def start(self) -> MailboxServer:
        self._controller.start()
        return self

    @property
    def smtp_url(self) -> str:
        """GATEWAY_SMTP_URL for the gateway: plain SMTP, which only loopback may use."""
        return f"smtp+plain://{HOST}:{self._controller.port}"

    def stop(self) -> None:
        self._controller.stop()


def links_in(text: str) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is_link): the page links the http(s) URLs, nothing else."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for found in re.finditer(r"https?://[^\s<>\"']+", text):
        pieces.append((text[position : found.start()], False))
        pieces.append((found.group(0), True))
        position = found.end()
    pieces.append((text[position:], False))
    return [piece for piece in pieces if piece[0]]
