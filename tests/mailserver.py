"""A real SMTP server on loopback for the tests (aiosmtpd), and a test certificate for it.

    with MailServer.running() as server:            # plain, on a free port
        ...server.url, server.messages...
    with MailServer.running(tls=cert, login=("u", "p")) as server:   # STARTTLS required, AUTH

`refuse_next` makes the server answer the next messages' DATA with a 554.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from gateway.devidp.certificates import LoopbackCertificate
from gateway.devidp.mailbox import AnyFreePortController

HOST = "127.0.0.1"


# The tests' SMTP server offers TLS with the same certificates as the demo's servers.
MailCertificate = LoopbackCertificate


class Recorder:
    """aiosmtpd's handler: keeps what it accepts, parsed; refuses when told to."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        # Who sent each accepted message, to whom, and whether they had logged in.
        self.envelopes: list[tuple[str, list[str], bool]] = []
        self.refuse_next = 0
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self.lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "554 5.7.1 Refused for the test"
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
            self.envelopes.append(
                (str(envelope.mail_from), list(envelope.rcpt_tos), bool(session.authenticated))
            )
            self.arrived.notify_all()
        return "250 OK"


@dataclass
class MailServer:
    url: str
    recorder: Recorder
    controller: AnyFreePortController

    @property
    def messages(self) -> list[EmailMessage]:
        with self.recorder.lock:
            return list(self.recorder.messages)

    def refuse(self, count: int) -> None:
        with self.recorder.lock:
            self.recorder.refuse_next = count

    @classmethod
    @contextmanager
    def running(
        cls,
        *,
        tls: MailCertificate | None = None,
        implicit_tls: bool = False,
        login: tuple[str, str] | None = None,
    ) -> Iterator[MailServer]:
        recorder = Recorder()
        options: dict[str, Any] = {}
        if tls is not None and not implicit_tls:
            options.update(tls_context=tls.server_context(), require_starttls=True)
        if login is not None:

            def authenticate(
                _server: SMTP, _session: Session, _envelope: Envelope, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (
                        data.login.decode(),
                        data.password.decode(),
                    )
                    == login
                )
                return AuthResult(success=ok, handled=False)

            # aiosmtpd offers AUTH only after STARTTLS unless told otherwise; an implicit
            # TLS connection is encrypted from the start, which aiosmtpd does not see (and
            # it will not require AUTH without requiring STARTTLS: `authenticated` tells).
            starttls = tls is not None and not implicit_tls
            options.update(
                authenticator=authenticate, auth_required=starttls, auth_require_tls=starttls
            )
        controller = AnyFreePortController(
            recorder,
            hostname=HOST,
            port=0,
            ssl_context=tls.server_context() if tls is not None and implicit_tls else None,
            **options,
        )
        controller.start()
        scheme = "smtps" if implicit_tls else ("smtp" if tls else "smtp+plain")
        credentials = f"{login[0]}:{login[1]}@" if login else ""
        try:
            yield cls(f"{scheme}://{credentials}{HOST}:{controller.port}", recorder, controller)
        finally:
            controller.stop()
