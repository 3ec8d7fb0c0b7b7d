"""Outbound mail against a real SMTP server on loopback (aiosmtpd): queued in the caller's
transaction, delivered by deliver_due over plain, STARTTLS and TLS with a login,
retried with backoff, given up with the reason, and sent once by concurrent deliverers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core import db as database
from gateway.core import jobs
from gateway.core.mail import backoff, deliver_due, queue_mail
from gateway.core.models import OutboundMail
from gateway.core.settings import Settings, SettingsError, load_settings
from tests.conftest import DATABASE_URL
from tests.mailserver import MailCertificate, MailServer

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings_overrides(smtp_server: MailServer) -> dict[str, object]:
    return {"smtp_url": smtp_server.url, "mail_attempts": 3, "mail_retry_seconds": 60}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> MailCertificate:
    return MailCertificate.create(tmp_path_factory.mktemp("mailtls"))


def queued(dbs: Session, *recipients: str) -> list[int]:
    rows = [
        queue_mail(dbs, r, f"Hello {r}", f"Dear {r},\nthis is a test.", now=NOW) for r in recipients
    ]
    dbs.commit()
    return [row.id for row in rows]


def row(dbs: Session, mail_id: int) -> OutboundMail:
    found = dbs.get(OutboundMail, mail_id, populate_existing=True)
    assert found is not None
    return found


def test_a_committed_message_is_delivered_with_proper_headers(
    dbs: Session, settings: Settings, smtp_server: MailServer
) -> None:
    [mail_id] = queued(dbs, "dave@example.com")

    report = deliver_due(dbs, settings, NOW)

    assert report.sent == 1
    [message] = smtp_server.messages
    assert message["To"] == "dave@example.com"
    assert message["From"] == settings.mail_from
    assert message["Subject"] == "Hello dave@example.com"
    assert message["Date"] and message["Message-ID"].endswith("@localhost>")
    assert "this is a test." in message.get_content()
    assert row(dbs, mail_id).sent_at == NOW
    # Sent is sent: the next round has nothing to do.
    assert deliver_due(dbs, settings, NOW + timedelta(hours=1)).sent == 0
    assert len(smtp_server.messages) == 1


def test_a_rolled_back_change_queues_nothing(
    dbs: Session, settings: Settings, smtp_server: MailServer
) -> None:
    queue_mail(dbs, "eve@example.com", "Never", "This change is rolled back.", now=NOW)
    dbs.rollback()

    assert dbs.scalar(select(func.count()).select_from(OutboundMail)) == 0
    assert deliver_due(dbs, settings, NOW).sent == 0
    assert smtp_server.messages == []


def test_mail_stays_queued_while_no_smtp_server_is_configured(
    dbs: Session, settings: Settings, smtp_server: MailServer
) -> None:
    [mail_id] = queued(dbs, "dave@example.com")

    assert deliver_due(dbs, settings.model_copy(update={"smtp_url": None}), NOW).sent == 0

    assert row(dbs, mail_id).sent_at is None and row(dbs, mail_id).attempts == 0
    assert smtp_server.messages == []


def test_starttls_with_a_verified_certificate_and_login(
    dbs: Session, settings: Settings, certificate: MailCertificate
) -> None:
    [mail_id] = queued(dbs, "dave@example.com")
    with MailServer.running(tls=certificate, login=("mailer", "s3cret:/@")) as server:
        url = server.url.replace("s3cret:/@", "s3cret%3A%2F%40")
        secure = settings.model_copy(
            update={"smtp_url": url, "smtp_ca_file": certificate.cert_file}
        )

        assert deliver_due(dbs, secure, NOW).sent == 1

        assert [m["To"] for m in server.messages] == ["dave@example.com"]
        assert server.recorder.envelopes == [("no-reply@localhost", ["dave@example.com"], True)]
    assert row(dbs, mail_id).sent_at == NOW


def test_implicit_tls_and_login(
    dbs: Session, settings: Settings, certificate: MailCertificate
) -> None:
    queued(dbs, "dave@example.com")
    with MailServer.running(tls=certificate, implicit_tls=True, login=("mailer", "pw")) as server:
        secure = settings.model_copy(
            update={"smtp_url": server.url, "smtp_ca_file": certificate.cert_file}
        )
        assert server.url.startswith("smtps://")

        assert deliver_due(dbs, secure, NOW).sent == 1
        assert len(server.messages) == 1
        [(_sender, _recipients, logged_in)] = server.recorder.envelopes
        assert logged_in


def test_a_certificate_the_gateway_does_not_trust_is_refused(
    dbs: Session, settings: Settings, certificate: MailCertificate
) -> None:
    [mail_id] = queued(dbs, "dave@example.com")
    with MailServer.running(tls=certificate, login=("mailer", "pw")) as server:
        # No CA file: the system's trust store does not know the test certificate.
        report = deliver_due(dbs, settings.model_copy(update={"smtp_url": server.url}), NOW)

        assert report.retried == 1 and server.messages == []
    assert "CERTIFICATE_VERIFY_FAILED" in row(dbs, mail_id).last_error


def test_a_server_without_starttls_gets_nothing_from_an_smtp_url(
    dbs: Session, settings: Settings, smtp_server: MailServer
) -> None:
    [mail_id] = queued(dbs, "dave@example.com")
    # smtp:// means STARTTLS is required; this server offers none.
    demanding = settings.model_copy(
        update={"smtp_url": smtp_server.url.replace("smtp+plain://", "smtp://")}
    )

    assert deliver_due(dbs, demanding, NOW).retried == 1

    assert smtp_server.messages == []
    assert "STARTTLS" in row(dbs, mail_id).last_error


def test_wrong_credentials_are_a_failure_with_the_servers_answer(
    dbs: Session, settings: Settings, certificate: MailCertificate
) -> None:
    [mail_id] = queued(dbs, "dave@example.com")
    with MailServer.running(tls=certificate, login=("mailer", "right")) as server:
        wrong = server.url.replace(":right@", ":wrong@")
        update = {"smtp_url": wrong, "smtp_ca_file": certificate.cert_file}
        assert deliver_due(dbs, settings.model_copy(update=update), NOW).retried == 1
        assert server.messages == []
    assert row(dbs, mail_id).last_error.startswith("535")


def test_a_refusal_is_retried_after_a_backoff_then_delivered(
    dbs: Session, settings: Settings, smtp_server: MailServer
) -> None:
    [mail_id] = queued(dbs, "dave@example.com")
    smtp_server.refuse(1)

    first = deliver_due(dbs, settings, NOW)

    assert first.retried == 1 and smtp_server.messages == []
    refused = row(dbs, mail_id)
    assert refused.attempts == 1 and refused.last_error.startswith("554")
    # Between half and all of the first delay (60 s), not before.
    wait = refused.next_attempt_at - NOW
    assert timedelta(seconds=30) <= wait <= timedelta(seconds=60)
    assert deliver_due(dbs, settings, NOW + timedelta(seconds=29)).sent == 0

    assert deliver_due(dbs, settings, NOW + timedelta(seconds=60)).sent == 1

    assert len(smtp_server.messages) == 1
    delivered = row(dbs, mail_id)
    assert delivered.attempts == 2 and delivered.last_error == ""


def test_retries_used_up_give_the_message_up_saying_why(
    dbs: Session, settings: Settings, smtp_server: MailServer
) -> None:
    [mail_id] = queued(dbs, "dave@example.com")
    smtp_server.refuse(10)
    moment = NOW
    for _ in range(settings.mail_attempts):
        deliver_due(dbs, settings, moment)
        moment += timedelta(hours=2)

    given_up = row(dbs, mail_id)
    assert given_up.failed_at is not None and given_up.sent_at is None
    assert given_up.attempts == settings.mail_attempts == 3
    assert "554 5.7.1 Refused for the test" in given_up.last_error
    smtp_server.refuse(0)
    assert deliver_due(dbs, settings, moment + timedelta(days=1)).sent == 0
    assert smtp_server.messages == []


def test_an_unreachable_server_is_a_retry_not_a_crash(dbs: Session, settings: Settings) -> None:
    [mail_id] = queued(dbs, "dave@example.com")
    with MailServer.running() as server:
        url = server.url
    # Stopped: nothing listens on its port any more.

    report = deliver_due(dbs, settings.model_copy(update={"smtp_url": url}), NOW)

    assert report.retried == 1
    assert "ConnectionRefusedError" in row(dbs, mail_id).last_error


def test_the_backoff_doubles_up_to_its_maximum(settings: Settings) -> None:
    capped = settings.model_copy(update={"mail_retry_seconds": 10, "mail_max_backoff_seconds": 70})
    waits = [backoff(n, capped).total_seconds() for n in (1, 2, 3, 4, 5)]
    for wait, ceiling in zip(waits, (10, 20, 40, 70, 70), strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_one_round_sends_every_due_message_over_one_connection(
    dbs: Session, settings: Settings, smtp_server: MailServer
) -> None:
    queued(dbs, *(f"user{n}@example.com" for n in range(5)))

    assert deliver_due(dbs, settings, NOW).sent == 5

    assert sorted(m["To"] for m in smtp_server.messages) == [
        f"user{n}@example.com" for n in range(5)
    ]
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 5


@pytest.mark.skipif(
    not DATABASE_URL,
    reason="concurrent instances need PostgreSQL (SQLite is a single instance)",
)
def test_concurrent_deliverers_send_each_message_once(
    app: Flask, dbs: Session, settings: Settings, smtp_server: MailServer
) -> None:
    ids = queued(dbs, *(f"user{n}@example.com" for n in range(30)))
    start = threading.Barrier(4)
    reports = []

    def instance() -> None:
        session = database.new_session(app)
        try:
            start.wait()
            reports.append(deliver_due(session, settings, NOW))
        finally:
            session.close()

    threads = [threading.Thread(target=instance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    recipients = [m["To"] for m in smtp_server.messages]
    assert sorted(recipients) == sorted(f"user{n}@example.com" for n in range(30))
    assert sum(r.sent for r in reports) == 30
    assert all(row(dbs, i).attempts == 1 for i in ids)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("smtp+plain://user:pw@mail.example.com:25", "only for a relay on this machine"),
        ("smtp+plain://mail.example.com", "only for a relay on this machine"),
        ("http://mail.example.com", "smtp://, smtps:// or smtp+plain://"),
        ("smtp://:pw@mail.example.com", "password but no user name"),
        ("smtp://mail.example.com/path", "must not carry a path"),
    ],
)
def test_settings_refuse_unsafe_or_malformed_smtp_urls(url: str, complaint: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(smtp_url=url)
    message = str(refused.value)
    assert message.startswith("GATEWAY_SMTP_URL:") and complaint in message
    assert "\n" not in message and "pw" not in message


def test_settings_take_the_loopback_and_tls_forms() -> None:
    for url in ("smtp+plain://127.0.0.1:2525", "smtp://u:p@mail.example.com", "smtps://h:465"):
        assert load_settings(smtp_url=url).smtp_url == url


@pytest.fixture
def running_jobs_app(settings: Settings, smtp_server: MailServer) -> Iterator[Flask]:
    from tests.conftest import make_app

    app = make_app(settings.model_copy(update={"mail_delivery_enabled": True}))
    yield app
    jobs.stop(app)


def test_the_app_runs_the_delivery_job_when_smtp_is_configured(
    running_jobs_app: Flask, settings: Settings
) -> None:
    assert "mail" in [job.name for job in jobs.registered(running_jobs_app)]


def test_no_delivery_job_without_an_smtp_url(settings: Settings) -> None:
    from tests.conftest import make_app

    app = make_app(settings.model_copy(update={"smtp_url": None, "mail_delivery_enabled": True}))
    assert "mail" not in [job.name for job in jobs.registered(app)]


def test_the_mail_commands_count_and_deliver(
    dbs: Session, database_url: str, saml_dir: Path, smtp_server: MailServer
) -> None:
    from click.testing import CliRunner

    from gateway.cli import main
    from tests.conftest import REDIS_URL, SECRET

    queue_mail(dbs, "dave@example.com", "Hello", "Queued by hand.")  # due now
    dbs.commit()
    env = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_LOG_LEVEL": "ERROR",
        "GATEWAY_SCHEDULER_ENABLED": "false",
        **({"GATEWAY_REDIS_URL": REDIS_URL} if REDIS_URL else {}),
    }

    unconfigured = CliRunner().invoke(main, ["mail", "deliver"], env=env)
    assert unconfigured.exit_code == 1 and "GATEWAY_SMTP_URL is not set" in unconfigured.output
    env["GATEWAY_SMTP_URL"] = smtp_server.url
    assert "queued 1, sent 0" in CliRunner().invoke(main, ["mail", "status"], env=env).output

    delivered = CliRunner().invoke(main, ["mail", "deliver"], env=env)

    assert delivered.exit_code == 0 and "sent 1" in delivered.output, delivered.output
    assert [m["To"] for m in smtp_server.messages] == ["dave@example.com"]
    assert (
        "queued 0, sent 1, failed 0" in CliRunner().invoke(main, ["mail", "status"], env=env).output
    )
