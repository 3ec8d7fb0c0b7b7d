"""The demo's sample directory: it imports through the real importer, twice, and covers
every case the demo promises."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.models import Account, Entitlement, ProductLine, System, User
from gateway.devidp.sample import DESTINATIONS, load_sample_users, render_sample, seed_sample
from tests.devidp.conftest import LEGACY_URL, NEW_URL

TABLES = (Account, User, ProductLine, System, Entitlement)


def _counts(db: Session) -> dict[str, int]:
    return {
        table.__tablename__: db.scalar(select(func.count()).select_from(table)) or 0
        for table in TABLES
    }


def test_sample_imports_twice_without_change(seeded: Session, tmp_path: Path) -> None:
    first = _counts(seeded)
    seed_sample(seeded, tmp_path / "again", legacy_url=LEGACY_URL, new_url=NEW_URL)
    seeded.expire_all()
    assert _counts(seeded) == first
    assert first == {
        "accounts": 5,
        "users": 10,
        "product_lines": 4,
        "systems": 2,
        "entitlements": 11,
    }


def test_reseeding_moves_the_license_centers(seeded: Session, tmp_path: Path) -> None:
    seed_sample(
        seeded,
        tmp_path / "moved",
        legacy_url="http://127.0.0.1:9101",
        new_url="http://127.0.0.1:9102",
    )
    seeded.expire_all()
    urls = {row.key: row.entry_url for row in seeded.scalars(select(System))}
    assert urls == {"legacy": "http://127.0.0.1:9101/start", "new": "http://127.0.0.1:9102/start"}


def test_one_entitlement_is_held_by_both_systems(seeded: Session) -> None:
    shared = seeded.scalar(select(Entitlement).where(Entitlement.external_id == "E-2001"))
    assert shared is not None
    assert sorted(holding.system.key for holding in shared.holdings) == ["legacy", "new"]


def test_sample_covers_states_units_kinds_and_end_dates(seeded: Session) -> None:
    today = date.today()
    rows = seeded.scalars(select(Entitlement)).all()
    assert {row.unit_of_measure for row in rows} >= {"seat", "endpoint", "user", "GB", "revenue"}
    assert {row.kind for row in rows} == {"perpetual", "subscription", "maintenance"}
    assert {line.state for line in seeded.scalars(select(ProductLine))} == {"legacy", "new"}
    ends = [row.end_date for row in rows if row.status == "active" and row.end_date]
    assert any(today < end <= today + timedelta(days=30) for end in ends)  # expiring soon
    assert any(row.end_date is None for row in rows)  # perpetual


def test_every_user_has_a_stated_destination_and_an_account() -> None:
    users = load_sample_users()
    assert {user.email for user in users} == set(DESTINATIONS)
    assert {user.destination.key for user in users} == {
        "legacy",
        "new",
        "choose",
        "no-access",
        "no-entitlements",
        "it-console",
        "support-console",
    }
    no_access = [user for user in users if user.destination.key == "no-access"]
    assert all(not {"licensing", "downloads"} & set(user.permissions) for user in no_access)
    admins = {user.account_number for user in users if "admin" in user.permissions}
    assert {user.account_number for user in no_access} <= admins


def test_rendered_files_fill_every_placeholder(tmp_path: Path) -> None:
    rendered = render_sample(
        tmp_path, legacy_url="http://l.test/", new_url="http://n.test", today=date(2030, 1, 31)
    )
    text = "".join(path.read_text() for _, path in rendered)
    assert "{" not in text
    assert "http://l.test/start" in text and "2030-02-14" in text  # today+14
