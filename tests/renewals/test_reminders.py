"""Renewal reminders end to end: claimed in the database, queued with the claim, sent
over real SMTP (aiosmtpd on loopback) by the mail job's deliver_due, with a moved
clock (a `today` argument, no waiting)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from email.message import EmailMessage

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.mail import deliver_due
from gateway.core.models import Account, Entitlement, OutboundMail, RenewalReminder, User
from gateway.core.settings import Settings
from gateway.renewals.service import ReminderRun, send_due_reminders
from tests import factories
from tests.mailserver import MailServer
from tests.renewals.conftest import TODAY
from tests.world import World

END = TODAY + timedelta(days=120)


def moment(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


def run(dbs: Session, settings: Settings, day: date, server: MailServer) -> list[EmailMessage]:
    """One job run on `day`, then one delivery round: the messages it sent."""
    before = len(server.messages)
    send_due_reminders(dbs, settings, day)
    deliver_due(dbs, settings, moment(day))
    return list(server.messages[before:])


def expiring(
    dbs: Session, world: World, account: Account, end: date | None, **fields: object
) -> Entitlement:
    fields.setdefault("kind", "maintenance")
    return factories.entitlement(
        dbs,
        account,
        fields.pop("line", world.net),
        [world.legacy, world.new],
        end_date=end,
        **fields,
    )


def admin(dbs: Session, account: Account, email: str, **fields: object) -> User:
    return factories.user(dbs, account, email, permissions=("portal", "admin"), **fields)


def reminders(dbs: Session) -> list[tuple[int, int, date, str]]:
    dbs.expire_all()
    rows = dbs.scalars(
        select(RenewalReminder).order_by(
            RenewalReminder.entitlement_id, RenewalReminder.threshold_days
        )
    )
    return [(r.entitlement_id, r.threshold_days, r.end_date, r.outcome) for r in rows]


def test_a_moved_clock_sends_each_threshold_once(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    item = expiring(dbs, world, world.ready, END)
    sent: dict[int, list[str]] = {}
    for days_left in (91, 90, 89, 61, 60, 59, 31, 30, 29, 1, 0, -1):
        messages = run(dbs, settings, END - timedelta(days=days_left), smtp_server)
        sent[days_left] = [m["Subject"] for m in messages]
        # The same day again (another instance, a restart): nothing more.
        assert run(dbs, settings, END - timedelta(days=days_left), smtp_server) == []

    assert {days: subjects for days, subjects in sent.items() if subjects} == {
        90: [f"Renewals: 1 entitlement of {world.ready.name} ends within 90 days"],
        60: [f"Renewals: 1 entitlement of {world.ready.name} ends within 60 days"],
        30: [f"Renewals: 1 entitlement of {world.ready.name} ends within 30 days"],
    }
    assert [(days, outcome) for _, days, _, outcome in reminders(dbs)] == [
        (30, "sent"),
        (60, "sent"),
        (90, "sent"),
    ]
    assert {entitlement_id for entitlement_id, *_ in reminders(dbs)} == {item.id}


def test_the_message_lists_what_an_admin_needs_and_links_to_the_setting(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    expiring(
        dbs,
        world,
        world.ready,
        END,
        product="NET Server Enterprise",
        quantity=Decimal(5_000_000),
        unit_of_measure="revenue",
    )

    [message] = run(dbs, settings, END - timedelta(days=30), smtp_server)

    assert message["To"] == "ada@ready.example"
    body = message.get_content()
    assert f"of {world.ready.name} (account 100001)" in body
    assert "NET suite (NET): NET Server Enterprise" in body
    assert "5,000,000 revenue, maintenance" in body
    assert f"ends {END.isoformat()} (in 30 days)" in body
    assert "held by Legacy license center, New license center" in body
    assert "https://sso.test/renewals/settings" in body


def test_crossing_several_thresholds_at_once_sends_the_smallest_only(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    item = expiring(dbs, world, world.ready, END)

    [message] = run(dbs, settings, END - timedelta(days=25), smtp_server)

    assert "within 30 days" in message["Subject"]
    assert "(in 25 days)" in message.get_content()
    assert reminders(dbs) == [
        (item.id, 30, END, "sent"),
        (item.id, 60, END, "superseded"),
        (item.id, 90, END, "superseded"),
    ]
    for days_left in (24, 10, 0):
        assert run(dbs, settings, END - timedelta(days=days_left), smtp_server) == []


def test_one_message_per_admin_lists_all_of_their_organisations_entitlements_only(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    admin(dbs, world.ready, "ian@ready.example")
    admin(dbs, world.other, "ola@other.example")
    expiring(dbs, world, world.ready, END, product="Ready NET Server")
    expiring(dbs, world, world.ready, END + timedelta(days=5), line=world.cad, product="Ready CAD")
    expiring(dbs, world, world.other, END, line=world.cad, product="Other CAD Secret")

    messages = run(dbs, settings, END - timedelta(days=60), smtp_server)

    by_recipient = {m["To"]: m for m in messages}
    assert sorted(by_recipient) == ["ada@ready.example", "ian@ready.example", "ola@other.example"]
    assert len(messages) == 3  # one each, not one per entitlement
    for address in ("ada@ready.example", "ian@ready.example"):
        body = by_recipient[address].get_content()
        assert "Ready NET Server" in body and "Ready CAD" in body
        assert "Other CAD Secret" not in body and world.other.name not in body
        assert "2 entitlements" in by_recipient[address]["Subject"]
    other = by_recipient["ola@other.example"].get_content()
    assert "Other CAD Secret" in other and "Ready" not in other


def test_opted_out_deactivated_and_plain_users_get_nothing(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    admin(dbs, world.ready, "off@ready.example", renewal_reminders=False)
    admin(dbs, world.ready, "gone@ready.example", status="disabled")
    expiring(dbs, world, world.ready, END)

    messages = run(dbs, settings, END - timedelta(days=90), smtp_server)

    # pat, sam and portal (no admin), off (opted out), gone (deactivated): none.
    assert [m["To"] for m in messages] == ["ada@ready.example"]


def test_with_every_admin_opted_out_nothing_is_queued_but_the_threshold_is_done(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    ada = dbs.scalars(select(User).where(User.email == "ada@ready.example")).one()
    ada.renewal_reminders = False
    dbs.commit()
    item = expiring(dbs, world, world.ready, END)

    assert send_due_reminders(dbs, settings, END - timedelta(days=90)) == ReminderRun(
        accounts=0, entitlements=0, messages=0, unaddressed=1
    )
    assert dbs.scalar(select(func.count()).select_from(OutboundMail)) == 0
    assert reminders(dbs) == [(item.id, 90, END, "no_recipients")]

    ada.renewal_reminders = True
    dbs.commit()
    # Back on: the next threshold, not the missed one.
    assert run(dbs, settings, END - timedelta(days=89), smtp_server) == []
    [message] = run(dbs, settings, END - timedelta(days=60), smtp_server)
    assert "within 60 days" in message["Subject"]


def test_a_renewed_entitlement_is_reminded_again_before_its_new_end(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    item = expiring(dbs, world, world.ready, END)
    assert len(run(dbs, settings, END - timedelta(days=30), smtp_server)) == 1

    renewed = END + timedelta(days=365)
    item.end_date = renewed
    dbs.commit()

    assert run(dbs, settings, END - timedelta(days=29), smtp_server) == []
    [message] = run(dbs, settings, renewed - timedelta(days=90), smtp_server)
    assert f"ends {renewed.isoformat()} (in 90 days)" in message.get_content()
    assert run(dbs, settings, renewed - timedelta(days=90), smtp_server) == []


def test_perpetual_inactive_and_open_ended_entitlements_are_never_reminded(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    expiring(dbs, world, world.ready, END, kind="perpetual")
    for status in ("inactive", "expired", "cancelled"):
        expiring(dbs, world, world.ready, END, status=status)
    expiring(dbs, world, world.ready, None)

    for days_left in (90, 60, 30, 0):
        assert run(dbs, settings, END - timedelta(days=days_left), smtp_server) == []
    assert reminders(dbs) == []


def test_a_job_restarted_with_a_new_app_sends_nothing_twice(
    app: Flask, settings: Settings, smtp_server: MailServer, world: World, dbs: Session
) -> None:
    from gateway.core import db as database
    from tests.conftest import make_app

    expiring(dbs, world, world.ready, END)
    assert len(run(dbs, settings, END - timedelta(days=60), smtp_server)) == 1

    restarted = make_app(settings)
    try:
        session = database.new_session(restarted)
        try:
            assert run(session, settings, END - timedelta(days=60), smtp_server) == []
            assert run(session, settings, END - timedelta(days=55), smtp_server) == []
            assert len(run(session, settings, END - timedelta(days=30), smtp_server)) == 1
        finally:
            session.close()
    finally:
        database.engine_of(restarted).dispose()


def test_an_account_name_with_a_line_break_cannot_add_a_header(
    dbs: Session, settings: Settings, smtp_server: MailServer, world: World
) -> None:
    world.ready.name = "Ready\r\nBcc: mallory@evil.example"
    dbs.commit()
    expiring(dbs, world, world.ready, END)

    [message] = run(dbs, settings, END - timedelta(days=30), smtp_server)

    # (A long subject is folded onto a second line; unfolded, it is this one line.)
    assert " ".join(message["Subject"].split()) == (
        "Renewals: 1 entitlement of Ready Bcc: mallory@evil.example ends within 30 days"
    )
    assert message["Bcc"] is None
    assert smtp_server.recorder.envelopes[-1][1] == ["ada@ready.example"]
