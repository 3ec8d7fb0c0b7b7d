"""Importing directory files: all rows or none, idempotent, one audit event per import."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.models import Account, AuditEvent, Entitlement, ProductLine, System, User
from gateway.directory.rows import RawRow
from gateway.directory.service import (
    DirectoryImportError,
    ImportRejected,
    ImportReport,
    RowError,
    import_file,
    import_rows,
)
from gateway.directory.upserts import BATCH_SIZE
from tests import factories
from tests.directory.conftest import WriteFile, snapshot

USERS = "email,account_number,first_name,last_name,permissions"
ENTITLEMENTS = (
    "entitlement_id,account_number,product_line,product,unit_of_measure,quantity,"
    "kind,start_date,end_date,status,system"
)
E1_LEGACY = (
    "E-1,100100,NETGUARD,NetGuard 5400,seat,25,subscription,2025-01-01,2026-12-31,active,legacy"
)
E2_LEGACY = "E-2,100200,CLOUDVAULT,CloudVault,GB,2.5,perpetual,2024-06-01,,active,legacy"


def jsonl(*objects: dict[str, object]) -> list[str]:
    return [json.dumps(item) for item in objects]


def entitlement(db: Session, external_id: str) -> Entitlement:
    db.rollback()
    return db.scalars(select(Entitlement).where(Entitlement.external_id == external_id)).one()


def holders(db: Session, external_id: str) -> set[str]:
    return {holding.system.key for holding in entitlement(db, external_id).holdings}


def count(db: Session, model: type[object]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_accounts_are_created_from_csv_and_updated_from_jsonl(
    dbs: Session, write_file: WriteFile
) -> None:
    csv_file = write_file("accounts.csv", "account_number,name", "100100,Acme", "100200,Globex")
    assert import_file(dbs, "accounts", csv_file) == ImportReport("accounts", 2, 2, 0, 0)
    jsonl_file = write_file(
        "accounts.jsonl",
        *jsonl(
            {"account_number": "100100", "name": "Acme Corp"},
            {"account_number": "100200", "name": "Globex"},
        ),
    )
    assert import_file(dbs, "accounts", jsonl_file) == ImportReport("accounts", 2, 0, 1, 1)
    names = dict(dbs.execute(select(Account.account_number, Account.name)).all())
    assert names == {"100100": "Acme Corp", "100200": "Globex"}


def test_users_are_upserted_by_lower_cased_email(seeded: Session, write_file: WriteFile) -> None:
    path = write_file(
        "users.csv",
        USERS,
        "Alice@Acme.Example,100100,Alice,Anders,portal licensing",
        "bob@globex.example,100200,,,",
    )
    assert import_file(seeded, "users", path) == ImportReport("users", 2, 2, 0, 0)
    users = {user.email: user for user in seeded.scalars(select(User))}
    alice, bob = users["alice@acme.example"], users["bob@globex.example"]
    assert (alice.first_name, alice.account.account_number, alice.status) == (
        "Alice",
        "100100",
        "active",
    )
    assert alice.permission_names == {"portal", "licensing"}
    assert (bob.first_name, bob.last_name, bob.permission_names) == ("", "", frozenset())


def test_a_users_file_replaces_permissions_and_keeps_the_sign_in_subject(
    seeded: Session, write_file: WriteFile
) -> None:
    acme = seeded.scalars(select(Account).where(Account.account_number == "100100")).one()
    factories.user(
        seeded,
        acme,
        "pat@acme.example",
        permissions=("portal", "licensing", "downloads"),
        first_name="Pat",
        last_name="Lee",
        subject="idp-subject-1",
    )
    path = write_file(
        "users.jsonl",
        *jsonl(
            {
                "email": "PAT@acme.example",
                "account_number": "100200",
                "first_name": "Pat",
                "last_name": "Lee-Smith",
                "permissions": "portal admin",
            }
        ),
    )
    assert import_file(seeded, "users", path) == ImportReport("users", 1, 0, 1, 0)
    user = seeded.scalars(select(User)).one()
    assert (user.email, user.subject, user.last_name) == (
        "pat@acme.example",
        "idp-subject-1",
        "Lee-Smith",
    )
    assert user.account.account_number == "100200"
    assert user.permission_names == {"portal", "admin"}


def test_a_permission_change_alone_counts_as_an_update(
    seeded: Session, write_file: WriteFile
) -> None:
    import_file(
        seeded, "users", write_file("a.csv", USERS, "pat@acme.example,100100,Pat,Lee,portal")
    )
    before = seeded.scalars(select(User)).one().updated_at
    path = write_file("b.csv", USERS, "pat@acme.example,100100,Pat,Lee,portal downloads")
    assert import_file(seeded, "users", path) == ImportReport("users", 1, 0, 1, 0)
    user = seeded.scalars(select(User)).one()
    assert user.permission_names == {"portal", "downloads"}
    assert user.updated_at > before


def test_product_lines_and_systems_are_created_and_updated(
    dbs: Session, write_file: WriteFile
) -> None:
    import_file(
        dbs, "product-lines", write_file("pl.csv", "code,name,state", "NETGUARD,NetGuard,legacy")
    )
    renamed = {"code": "NETGUARD", "name": "NetGuard Firewall", "state": "new"}
    lines = write_file("pl.jsonl", *jsonl(renamed))
    assert import_file(dbs, "product-lines", lines) == ImportReport("product-lines", 1, 0, 1, 0)
    # The name follows the file; the migration state stays IT's (set only at creation).
    assert dbs.execute(select(ProductLine.name, ProductLine.state)).all() == [
        ("NetGuard Firewall", "legacy")
    ]

    systems = write_file(
        "systems.csv",
        "key,name,entry_url",
        "legacy,Legacy,https://lc.example.com/go",
        "new,New,http://localhost:5001/start",
    )
    assert import_file(dbs, "systems", systems) == ImportReport("systems", 2, 2, 0, 0)
    moved = write_file(
        "systems.jsonl",
        *jsonl({"key": "new", "name": "New", "entry_url": "https://new.example.com/start"}),
    )
    assert import_file(dbs, "systems", moved) == ImportReport("systems", 1, 0, 1, 0)
    urls = dict(dbs.execute(select(System.key, System.entry_url)).all())
    assert urls == {"legacy": "https://lc.example.com/go", "new": "https://new.example.com/start"}


def test_entitlements_are_created_with_a_holding_for_the_exporting_system(
    seeded: Session, write_file: WriteFile
) -> None:
    path = write_file("legacy.csv", ENTITLEMENTS, E1_LEGACY, E2_LEGACY)
    assert import_file(seeded, "entitlements", path) == ImportReport("entitlements", 2, 2, 0, 0)
    e1, e2 = entitlement(seeded, "E-1"), entitlement(seeded, "E-2")
    assert (e1.product, e1.unit_of_measure, e1.quantity, e1.kind, e1.status) == (
        "NetGuard 5400",
        "seat",
        Decimal("25.00"),
        "subscription",
        "active",
    )
    assert (e1.start_date, e1.end_date, e1.product_line.code) == (
        date(2025, 1, 1),
        date(2026, 12, 31),
        "NETGUARD",
    )
    assert (e2.quantity, e2.kind, e2.end_date, e2.product_line.code) == (
        Decimal("2.50"),
        "perpetual",
        None,
        "CLOUDVAULT",
    )
    assert holders(seeded, "E-1") == holders(seeded, "E-2") == {"legacy"}


def test_an_entitlement_in_both_exports_gets_two_holdings(
    seeded: Session, write_file: WriteFile
) -> None:
    import_file(seeded, "entitlements", write_file("legacy.csv", ENTITLEMENTS, E1_LEGACY))
    new_export = write_file(
        "new.jsonl",
        *jsonl(
            {
                "entitlement_id": "E-1",
                "account_number": "100100",
                "product_line": "NETGUARD",
                "product": "NetGuard 5400",
                "unit_of_measure": "seat",
                "quantity": 25,
                "kind": "subscription",
                "start_date": "2025-01-01",
                "end_date": "2026-12-31",
                "status": "active",
                "system": "new",
            }
        ),
    )
    assert import_file(seeded, "entitlements", new_export) == ImportReport(
        "entitlements", 1, 0, 1, 0
    )
    assert holders(seeded, "E-1") == {"legacy", "new"}
    again = import_file(seeded, "entitlements", write_file("legacy2.csv", ENTITLEMENTS, E1_LEGACY))
    assert again == ImportReport("entitlements", 1, 0, 0, 1)
    assert holders(seeded, "E-1") == {"legacy", "new"}
    assert count(seeded, Entitlement) == 1


def test_a_changed_entitlement_is_updated_in_place(seeded: Session, write_file: WriteFile) -> None:
    import_file(seeded, "entitlements", write_file("a.csv", ENTITLEMENTS, E1_LEGACY))
    renewed = E1_LEGACY.replace("25,subscription", "30,subscription").replace(
        "2026-12-31", "2027-12-31"
    )
    assert import_file(seeded, "entitlements", write_file("b.csv", ENTITLEMENTS, renewed)) == (
        ImportReport("entitlements", 1, 0, 1, 0)
    )
    e1 = entitlement(seeded, "E-1")
    assert (e1.quantity, e1.end_date) == (Decimal("30.00"), date(2027, 12, 31))


def test_reimporting_every_kind_changes_nothing(dbs: Session, write_file: WriteFile) -> None:
    files = [
        (
            "systems",
            write_file(
                "s.csv",
                "key,name,entry_url",
                "legacy,Legacy,https://lc.test/go",
                "new,New,https://new.test/go",
            ),
        ),
        (
            "product-lines",
            write_file(
                "p.csv", "code,name,state", "NETGUARD,NetGuard,legacy", "CLOUDVAULT,CloudVault,new"
            ),
        ),
        ("accounts", write_file("a.csv", "account_number,name", "100100,Acme", "100200,Globex")),
        ("users", write_file("u.csv", USERS, "pat@acme.example,100100,Pat,Lee,portal licensing")),
        ("entitlements", write_file("e.csv", ENTITLEMENTS, E1_LEGACY, E2_LEGACY)),
    ]
    for kind, path in files:
        import_file(dbs, kind, path)
    before = snapshot(dbs)
    reports = [import_file(dbs, kind, path) for kind, path in files]
    assert [(r.created, r.updated, r.unchanged) for r in reports] == [
        (0, 0, 2),
        (0, 0, 2),
        (0, 0, 2),
        (0, 0, 1),
        (0, 0, 2),
    ]
    after = snapshot(dbs)
    assert len(after.pop("audit_events")) == len(before.pop("audit_events")) + len(files)
    assert after == before


def test_each_import_writes_one_audit_event(dbs: Session, write_file: WriteFile) -> None:
    path = write_file("customers.csv", "account_number,name", "100100,Acme", "100200,Globex")
    import_file(dbs, "accounts", path, actor="ops@example.com")
    event = dbs.scalars(select(AuditEvent)).one()
    assert (event.actor, event.action, event.target, event.reason) == (
        "ops@example.com",
        "directory.import",
        "accounts",
        "import customers.csv",
    )
    assert event.before is None
    assert event.after == {"rows_read": 2, "created": 2, "updated": 0, "unchanged": 0}


def test_bad_rows_are_all_listed_and_nothing_changes(
    seeded: Session, write_file: WriteFile
) -> None:
    import_file(seeded, "entitlements", write_file("first.csv", ENTITLEMENTS, E1_LEGACY))
    before = snapshot(seeded)
    path = write_file(
        "second.csv",
        ENTITLEMENTS,
        E1_LEGACY.replace(",active,", ",cancelled,"),  # fine on its own: would update E-1
        "E-3,999999,NETGUARD,NetGuard,seat,1,subscription,2025-01-01,2025-12-31,active,legacy",
        E1_LEGACY.replace(",legacy", ",new"),
        "E-4,100100,ANALYTICS,Insight,seat,-2,subscription,2025-01-01,2024-01-01,active,staging",
        E2_LEGACY.replace("E-2", "E-5"),  # fine
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(seeded, "entitlements", path)
    assert rejected.value.errors == [
        RowError(3, "account_number", "unknown account '999999'"),
        RowError(4, "entitlement_id", "duplicate of line 2"),
        RowError(5, "product_line", "unknown product line 'ANALYTICS'"),
        RowError(5, "quantity", "must not be negative"),
        RowError(5, "end_date", "is before start_date"),
        RowError(5, "system", "unknown system 'staging'"),
    ]
    assert snapshot(seeded) == before
    assert entitlement(seeded, "E-1").status == "active"


def test_a_user_of_an_unknown_account_or_twice_in_a_file_is_rejected(
    seeded: Session, write_file: WriteFile
) -> None:
    path = write_file(
        "users.csv",
        USERS,
        "pat@acme.example,100100,Pat,Lee,portal",
        "kim@acme.example,100999,Kim,Ko,portal",
        "PAT@ACME.EXAMPLE,100200,Pat,Lee,",
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(seeded, "users", path)
    assert rejected.value.errors == [
        RowError(3, "account_number", "unknown account '100999'"),
        RowError(4, "email", "duplicate of line 2"),
    ]
    assert count(seeded, User) == 0


def test_a_bad_header_is_one_error_on_line_1(seeded: Session, write_file: WriteFile) -> None:
    header = ENTITLEMENTS.replace("account_number", "account").replace(",system", "")
    path = write_file(
        "e.csv", header, "E-1,100100,NETGUARD,NetGuard,seat,1,perpetual,2025-01-01,,active"
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(seeded, "entitlements", path)
    reason = "missing columns: account_number, system; unknown columns: account"
    assert rejected.value.errors == [RowError(1, None, f"{reason} (expected: {ENTITLEMENTS})")]
    assert count(seeded, Entitlement) == 0


def test_jsonl_errors_name_the_file_line(dbs: Session, write_file: WriteFile) -> None:
    path = write_file(
        "accounts.jsonl",
        *jsonl({"account_number": "1", "name": "Acme"}),
        "",
        '{"account_number": "2", "name": "Globex"',
        *jsonl({"account_number": "3"}, {"account_number": "4", "name": ""}),
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(dbs, "accounts", path)
    assert [str(error) for error in rejected.value.errors] == [
        "line 3: not valid JSON: Expecting ',' delimiter",
        "line 4: missing columns: name (expected: account_number,name)",
        "line 5: name: is required",
    ]
    assert count(dbs, Account) == 0


def test_an_empty_file_imports_nothing_but_is_audited(dbs: Session, write_file: WriteFile) -> None:
    report = import_file(dbs, "accounts", write_file("accounts.csv", "account_number,name"))
    assert report == ImportReport("accounts", 0, 0, 0, 0)
    assert count(dbs, AuditEvent) == 1


def test_rows_from_a_one_shot_iterator_are_imported(dbs: Session) -> None:
    rows = ((line, {"account_number": f"A-{line}", "name": "Demo"}) for line in range(2, 5))
    report = import_rows(dbs, "accounts", rows, actor="demo", source="demo seed")
    assert report == ImportReport("accounts", 3, 3, 0, 0)
    event = dbs.scalars(select(AuditEvent)).one()
    assert (event.actor, event.reason) == ("demo", "import demo seed")


class ChangesBetweenReads:
    """Account rows that are valid when checked and not when read again to be written,
    as when someone saves over the file during an import."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.passes = 0

    def __iter__(self) -> Iterator[RawRow]:
        self.passes += 1
        for line in range(2, self.count + 2):
            last_row_edited = self.passes > 1 and line == self.count + 1
            yield line, {"account_number": f"A-{line}", "name": "" if last_row_edited else "Acme"}


def test_a_failure_after_some_batches_are_written_rolls_everything_back(dbs: Session) -> None:
    rows = ChangesBetweenReads(BATCH_SIZE + 1)
    with pytest.raises(ImportRejected) as rejected:
        import_rows(dbs, "accounts", rows)
    assert rows.passes == 2
    assert rejected.value.errors == [RowError(BATCH_SIZE + 2, "name", "is required")]
    assert count(dbs, Account) == count(dbs, AuditEvent) == 0


def test_an_unknown_kind_is_refused(dbs: Session, write_file: WriteFile) -> None:
    with pytest.raises(DirectoryImportError, match="unknown kind 'licenses'"):
        import_file(dbs, "licenses", write_file("licenses.csv", "id"))
