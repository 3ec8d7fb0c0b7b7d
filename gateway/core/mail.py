"""Outbound mail: queued in the change's own transaction, delivered by a background job.

    queue_mail(db, "dave@example.com", "You are invited", body)   # the caller commits
    deliver_due(db, settings, now)                                # the job, every few seconds

A message exists if and only if the change that queued it commits, and the request
that queued it never waits for an SMTP server. The job sends what is due over
GATEWAY_SMTP_URL (STARTTLS or TLS with a verified certificate, a login when the URL
has credentials, a deadline on every step), marks each message sent, and retries a
failure with exponential backoff and jitter until GATEWAY_MAIL_ATTEMPTS are used up;
then the message is given up (failed_at) and says why (last_error).

Several instances may run the job at once. Each message is claimed with
SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, and its row stays locked until its
outcome is committed, so another instance skips it and then finds it sent: a message
is never sent twice because two instances ran the job. (SQLite is a single instance;
a process lock keeps its own threads apart.) What no database can prevent is a
process dying after the server accepted a message and before the commit: that
message is sent again later, as SMTP's at-least-once delivery allows.
"""

from __future__ import annotations

import logging
import random
import smtplib
import ssl
import threading
from collections.abc import Callable
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from flask import Flask
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from gateway.core.models import OutboundMail
from gateway.core.models.base import utcnow
from gateway.core.settings import Settings
from gateway.core.smtp_url import SmtpTarget, parse_smtp_url

log = logging.getLogger(__name__)
# A round ends after this many messages, so one backlog cannot hold a worker forever.
ROUND_LIMIT = 200
MAX_ERROR = 2000
_ROUND = threading.Lock()


def queue_mail(
    db: Session, recipient: str, subject: str, text_body: str, *, now: datetime | None = None
) -> OutboundMail:
    """Add one message to the caller's transaction; it is sent once the caller commits
    (due from `now`, by default the present)."""
    now = now or utcnow()
    mail = OutboundMail(
        recipient=recipient,
        subject=subject[:255],
        text_body=text_body,
        attempts=0,
        last_error="",
        created_at=now,
        next_attempt_at=now,
    )
    db.add(mail)
    return mail


def mail_configured(settings: Settings) -> bool:
    """Whether queued mail is sent at all (the console says so when it is not)."""
    return settings.smtp_url is not None


@dataclass(frozen=True)
class Delivered:
    """What one round did: messages sent, put back for a retry, and given up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class MailStatus:
    """The queue at a glance, for `gateway mail status`."""

    queued: int
    sent: int
    failed: int


def mail_status(db: Session) -> MailStatus:
    def count(*conditions: ColumnElement[bool]) -> int:
        return db.scalar(select(func.count()).select_from(OutboundMail).where(*conditions)) or 0

    return MailStatus(
        queued=count(OutboundMail.sent_at.is_(None), OutboundMail.failed_at.is_(None)),
        sent=count(OutboundMail.sent_at.is_not(None)),
        failed=count(OutboundMail.failed_at.is_not(None)),
    )


def deliver_due(
    db: Session, settings: Settings, now: datetime, *, limit: int = ROUND_LIMIT
) -> Delivered:
    """Send the messages due at `now`, one claimed row and one commit each."""
    if settings.smtp_url is None:
        return Delivered()
    # PostgreSQL's row locks keep concurrent rounds apart; SQLite has none to take.
    one_at_a_time = _ROUND if db.get_bind().dialect.name == "sqlite" else nullcontext()
    with one_at_a_time, closing(Transport(settings)) as transport:
        sent = retried = failed = 0
        seen: list[int] = []
        while len(seen) < limit:
            db.rollback()  # each message in its own transaction
            mail = _claim_next(db, now, seen)
            if mail is None:
                break
            seen.append(mail.id)
            outcome = _deliver_one(transport, mail, settings, now)
            db.commit()
            sent += outcome == "sent"
            retried += outcome == "retry"
            failed += outcome == "failed"
        db.rollback()
    return Delivered(sent, retried, failed)


def _claim_next(db: Session, now: datetime, seen: list[int]) -> OutboundMail | None:
    """The next due message, its row locked until this transaction ends; rows another
    instance holds are skipped, not waited for."""
    query = (
        select(OutboundMail)
        .where(
            OutboundMail.sent_at.is_(None),
            OutboundMail.failed_at.is_(None),
            OutboundMail.next_attempt_at <= now,
        )
        .order_by(OutboundMail.next_attempt_at, OutboundMail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if seen:  # tried in this round already: its retry is for a later round
        query = query.where(OutboundMail.id.not_in(seen))
    return db.scalars(query).first()


def _deliver_one(
    transport: Transport, mail: OutboundMail, settings: Settings, now: datetime
) -> str:
    mail.attempts += 1
    try:
        transport.send(message_of(mail, settings, now))
    except (smtplib.SMTPException, OSError, ValueError) as error:
        transport.reset()
        mail.last_error = _describe(error)[:MAX_ERROR]
        if mail.attempts >= settings.mail_attempts:
            mail.failed_at = now
            log.error(
                "mail given up",
                extra={"event": "mail.failed", "mail_id": mail.id, "attempts": mail.attempts},
            )
            return "failed"
        mail.next_attempt_at = now + backoff(mail.attempts, settings)
        log.warning(
            "mail delivery failed; will retry",
            extra={
                "event": "mail.retry",
                "mail_id": mail.id,
                "attempts": mail.attempts,
                "error": mail.last_error,
            },
        )
        return "retry"
    mail.sent_at = now
    mail.last_error = ""
    log.info("mail sent", extra={"event": "mail.sent", "mail_id": mail.id})
    return "sent"


def backoff(attempts: int, settings: Settings) -> timedelta:
    """The wait after the `attempts`-th failure: doubling from GATEWAY_MAIL_RETRY_SECONDS,
    at most GATEWAY_MAIL_MAX_BACKOFF_SECONDS, and between half and all of that at random
    so that messages that failed together do not all come back together."""
    ceiling = min(
        settings.mail_max_backoff_seconds, settings.mail_retry_seconds * 2 ** (attempts - 1)
    )
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, no secret


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return f"{error.smtp_code} {text}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{recipient}: {code} {reason.decode('utf-8', 'replace')}"
            for recipient, (code, reason) in error.recipients.items()
        )
    return f"{type(error).__name__}: {error}"


def sender_domain(settings: Settings) -> str:
    return parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"


def message_of(mail: OutboundMail, settings: Settings, now: datetime) -> EmailMessage:
    """The message as sent: From, To, Subject, Date and a Message-ID that stays the same
    on every attempt, so a receiver can tell a retry from a second message."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    stamp = mail.created_at.strftime("%Y%m%d%H%M%S%f")
    message["Message-ID"] = f"<switchyard.{mail.id}.{stamp}@{sender_domain(settings)}>"
    message.set_content(mail.text_body)
    return message


class Transport:
    """One SMTP connection per round, opened at the first message and reopened after a
    failure; every step has the GATEWAY_SMTP_TIMEOUT_SECONDS deadline."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_url is not None
        self.target: SmtpTarget = parse_smtp_url(settings.smtp_url)
        self.timeout = settings.smtp_timeout_seconds
        self.ca_file = settings.smtp_ca_file
        self._connection: smtplib.SMTP | None = None

    def _tls(self) -> ssl.SSLContext:
        # Verified certificate and host name, whatever the server offers.
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def _connect(self) -> smtplib.SMTP:
        target = self.target
        connection: smtplib.SMTP
        if target.security == "tls":
            connection = smtplib.SMTP_SSL(
                target.host, target.port, timeout=self.timeout, context=self._tls()
            )
        else:
            connection = smtplib.SMTP(target.host, target.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if target.security == "starttls":
                # Raises SMTPNotSupportedError when not offered: never a silent downgrade.
                connection.starttls(context=self._tls())
                connection.ehlo()
            if target.username:
                connection.login(target.username, target.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, message: EmailMessage) -> None:
        if self._connection is None:
            self._connection = self._connect()
        self._connection.send_message(message)

    def reset(self) -> None:
        """Drop the connection after a failure; the next message opens a new one."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None


def delivery_round(app: Flask) -> Callable[[], None]:
    """One round of the background job, from this process."""
    from gateway.core import db as database

    def run() -> None:
        with closing(database.new_session(app)) as session:
            deliver_due(session, app.extensions["settings"], utcnow())

    return run


def init_app(app: Flask) -> None:
    """Run the delivery job when an SMTP server is configured; say so when it is not."""
    from gateway.core import jobs

    settings: Settings = app.extensions["settings"]
    if settings.smtp_url is None:
        log.info(
            "GATEWAY_SMTP_URL is not set: mail is queued but not sent",
            extra={"event": "mail.not_configured"},
        )
        return
    if settings.mail_delivery_enabled:
        jobs.register(app, "mail", settings.mail_interval_seconds, delivery_round(app))
