"""The organisation rules as plain functions: one account at a time, the last admin,
audit entries in the organisation's own log, and a change that is refused writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.audit import Actor
from gateway.core.errors import ConflictingChange, InvalidChange, NotFound
from gateway.core.models import AuditEvent, User
from gateway.organisation import service
from gateway.organisation.service import LastAdmin, UserChange
from tests import factories
from tests.world import World

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
ADMIN = Actor("ada@ready.example", "req-1", via="console")


@pytest.fixture(autouse=True)
def _in_app(app: Flask) -> Iterator[None]:
    """A deactivation tells the app's hooks: the functions run inside an app, as views do."""
    with app.app_context():
        yield


def _user(dbs: Session, email: str) -> User:
    user = dbs.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def _audit_count(dbs: Session) -> int:
    return dbs.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_another_accounts_user_is_not_found(dbs: Session, world: World) -> None:
    stranger = _user(dbs, "wes@waiting.example")
    with pytest.raises(NotFound):
        service.get_user(dbs, world.ready.id, stranger.public_id)
    assert service.get_user(dbs, world.waiting.id, stranger.public_id).id == stranger.id


def test_search_pages_only_the_accounts_users(dbs: Session, world: World) -> None:
    for n in range(7):
        factories.user(dbs, world.ready, f"bulk{n}@ready.example", first_name="Bulk")
    factories.user(dbs, world.waiting, "bulk@waiting.example", first_name="Bulk")
    first = service.list_users(dbs, world.ready.id, search="bulk", per_page=5)
    second = service.list_users(dbs, world.ready.id, search="BULK", per_page=5, page=2)
    assert first.total == second.total == 7 and first.pages == 2
    emails = [u.email for u in [*first.items, *second.items]]
    assert len(set(emails)) == 7 and all(e.endswith("@ready.example") for e in emails)


def test_search_wildcards_are_literal(dbs: Session, world: World) -> None:
    factories.user(dbs, world.ready, "a_b@ready.example")
    factories.user(dbs, world.ready, "axb@ready.example")
    found = service.list_users(dbs, world.ready.id, search="a_b")
    assert [u.email for u in found.items] == ["a_b@ready.example"]
    assert service.list_users(dbs, world.ready.id, search="%").total == 0


def test_permission_change_is_audited_in_the_org_log(dbs: Session, world: World) -> None:
    pat = _user(dbs, "pat@ready.example")
    service.change_user(dbs, ADMIN, pat, UserChange(permissions=frozenset({"portal"})), now=NOW)
    dbs.expire_all()
    assert _user(dbs, "pat@ready.example").permission_names == {"portal"}
    entry = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert entry is not None
    assert (entry.action, entry.account_id, entry.via, entry.actor) == (
        "user.permissions_changed",
        world.ready.id,
        "console",
        "ada@ready.example",
    )
    assert entry.before == {"permissions": ["downloads", "licensing", "portal"]}
    assert entry.after == {"permissions": ["portal"]}
    assert entry.request_id == "req-1"


def test_a_change_that_changes_nothing_writes_nothing(dbs: Session, world: World) -> None:
    pat = _user(dbs, "pat@ready.example")
    before = _audit_count(dbs)
    service.change_user(dbs, ADMIN, pat, UserChange(active=True), now=NOW)
    assert _audit_count(dbs) == before


@pytest.mark.parametrize(
    "change", [UserChange(active=False), UserChange(permissions=frozenset({"portal"}))]
)
def test_the_last_admin_stays(dbs: Session, world: World, change: UserChange) -> None:
    ada = _user(dbs, "ada@ready.example")
    before = _audit_count(dbs)
    with pytest.raises(LastAdmin):
        service.change_user(dbs, ADMIN, ada, change, now=NOW)
    dbs.rollback()
    dbs.expire_all()
    ada = _user(dbs, "ada@ready.example")
    assert ada.status == "active" and "admin" in ada.permission_names
    assert _audit_count(dbs) == before


def test_an_admin_may_step_down_when_another_remains(dbs: Session, world: World) -> None:
    pat = _user(dbs, "pat@ready.example")
    service.change_user(
        dbs, ADMIN, pat, UserChange(permissions=frozenset({"portal", "admin"})), now=NOW
    )
    ada = _user(dbs, "ada@ready.example")
    service.change_user(dbs, ADMIN, ada, UserChange(active=False), now=NOW)
    assert ada.status == "disabled"
    # Now Pat is the last one: a deactivated admin does not count.
    with pytest.raises(LastAdmin):
        service.change_user(dbs, ADMIN, pat, UserChange(active=False), now=NOW)


def test_an_admin_of_another_account_does_not_count(dbs: Session, world: World) -> None:
    factories.user(dbs, world.waiting, "boss@waiting.example", permissions=("admin",))
    with pytest.raises(LastAdmin):
        service.change_user(
            dbs, ADMIN, _user(dbs, "ada@ready.example"), UserChange(active=False), now=NOW
        )


@pytest.mark.parametrize("name", ["it", "support", "superuser"])
def test_vendor_roles_cannot_be_granted(dbs: Session, world: World, name: str) -> None:
    pat = _user(dbs, "pat@ready.example")
    with pytest.raises(InvalidChange, match=name):
        service.change_user(dbs, ADMIN, pat, UserChange(permissions=frozenset({name})), now=NOW)


def test_an_email_of_another_user_is_refused(dbs: Session, world: World) -> None:
    pat = _user(dbs, "pat@ready.example")
    with pytest.raises(ConflictingChange) as refused:
        service.change_user(dbs, ADMIN, pat, UserChange(email="WES@waiting.example"), now=NOW)
    assert "waiting" not in refused.value.detail.replace("wes@waiting.example", "")


def test_deactivation_tells_the_access_ended_hook(app: Flask, dbs: Session, world: World) -> None:
    from gateway.core import hooks

    heard: list[int] = []
    hooks.on_access_ended(app, heard.append)
    pat = _user(dbs, "pat@ready.example")
    service.change_user(dbs, ADMIN, pat, UserChange(active=False), now=NOW)
    service.change_user(dbs, ADMIN, pat, UserChange(active=False), now=NOW)
    service.change_user(dbs, ADMIN, pat, UserChange(active=True), now=NOW)
    assert heard == [pat.id]


def test_add_user_refuses_a_taken_email_and_audits_a_new_one(dbs: Session, world: World) -> None:
    with pytest.raises(ConflictingChange):
        service.add_user(
            dbs,
            ADMIN,
            world.ready,
            email="wes@waiting.example",
            permissions=(),
            added_via="scim",
            now=NOW,
        )
    dbs.rollback()
    new = service.add_user(
        dbs,
        ADMIN,
        world.ready,
        email=" New@Ready.Example ",
        permissions=("portal",),
        added_via="scim",
        now=NOW,
        external_id="ext-1",
    )
    assert (new.email, new.added_via, new.external_id) == ("new@ready.example", "scim", "ext-1")
    entry = dbs.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert entry is not None and entry.action == "user.added" and entry.account_id == world.ready.id
