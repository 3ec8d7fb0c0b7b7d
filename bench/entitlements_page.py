""" "Your entitlements" at its largest: a customer of an account holding 5,000 entitlements
opens the first page (and a filtered, re-sorted one), one request at a time (so the
latency is the server's time for the page, not queueing), on the seeded PostgreSQL
directory.

The account, its user and its entitlements are added beside the seeded directory for
the run and removed again afterwards (and before, after a run that was stopped): the
other benchmarks check the directory's entitlement count.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import OperationalError

from bench import harness
from bench.routing import session_cookies
from gateway.core import db
from gateway.core.models import (
    Account,
    Entitlement,
    EntitlementHolding,
    Permission,
    ProductLine,
    System,
    User,
)

ACCOUNT = "ENT-5000"
EMAIL = "buyer@ent5000.example"
ENTITLEMENTS = 5_000
P99_TARGET_MS = 100.0
UNITS = ("seat", "endpoint", "user", "GB", "revenue", "core")
KINDS = ("subscription", "maintenance", "perpetual")


def remove_large_account(database_url: str) -> None:
    """Take the run's account away (its users and entitlements cascade with it)."""
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(delete(Account).where(Account.account_number == ACCOUNT))
    except OperationalError:
        pass  # no such database yet: nothing to remove
    finally:
        engine.dispose()


def add_large_account(bench: harness.Bench, count: int) -> dict[str, Any]:
    """The account with `count` entitlements over every line, held by one system or both,
    and one customer user with licensing."""
    engine = db.make_engine(bench.database_url)
    today = date.today()
    try:
        with engine.begin() as connection:
            lines = list(connection.scalars(select(ProductLine.id).order_by(ProductLine.id)))
            systems = list(connection.scalars(select(System.id).order_by(System.id)))
            account_id = connection.execute(
                insert(Account).values(account_number=ACCOUNT, name="Five Thousand Licences Ltd")
            ).inserted_primary_key[0]
            user_id = connection.execute(
                insert(User).values(email=EMAIL, account_id=account_id, added_via="import")
            ).inserted_primary_key[0]
            connection.execute(
                insert(Permission),
                [{"user_id": user_id, "name": n} for n in ("portal", "licensing", "downloads")],
            )
            rows = [
                {
                    "external_id": f"{ACCOUNT}-{n:05d}",
                    "account_id": account_id,
                    "product_line_id": lines[n % len(lines)],
                    "product": f"Product {n % 97:02d} Edition {n % 7}",
                    "unit_of_measure": UNITS[n % len(UNITS)],
                    "quantity": (n % 500 + 1) * 10,
                    "kind": KINDS[n % len(KINDS)],
                    "start_date": today - timedelta(days=400 - n % 300),
                    "end_date": today + timedelta(days=n % 700 - 60),
                    "status": "active",
                }
                for n in range(count)
            ]
            ids = connection.scalars(insert(Entitlement).returning(Entitlement.id), rows).all()
            holdings = [
                {"entitlement_id": i, "system_id": systems[n % len(systems)]}
                for n, i in enumerate(ids)
            ] + [
                {"entitlement_id": i, "system_id": systems[-1]}
                for n, i in enumerate(ids)
                if n % 3 == 0 and systems[n % len(systems)] != systems[-1]
            ]
            connection.execute(insert(EntitlementHolding), holdings)
    finally:
        engine.dispose()
    return {"id": user_id, "email": EMAIL, "account_id": account_id}


def main() -> None:
    options = harness.arguments(__doc__ or "")
    remove_large_account(options.database_url)  # what a stopped run left
    with harness.bench_from(options) as bench:
        customer = add_large_account(bench, 200 if bench.smoke else ENTITLEMENTS)
        try:
            cookies = session_cookies(bench, [customer] * 20)
            lines = harness.write_lines(bench.work / "ent.lines", [(c, "") for c in cookies])
            port, seconds = harness.free_port(), bench.sizes.seconds
            pages = {
                "Entitlements of 5,000, first page": "/entitlements",
                "Entitlements of 5,000, filtered and sorted": (
                    "/entitlements?within=90&sort=product&dir=desc&page=2"
                ),
            }
            results = {}
            with harness.gunicorn(bench, "wsgi:app", harness.gateway_env(bench, port)) as server:
                for name, path in pages.items():
                    load = harness.Load(lines, path=path, expect=200)
                    harness.run_wrk(server.url, load, seconds=1, connections=1)  # warm
                    results[name] = harness.run_wrk(
                        server.url, load, seconds=seconds, connections=1
                    )
        finally:
            remove_large_account(bench.database_url)
        figures = []
        for name, run in results.items():
            ok = run["p99_ms"] < P99_TARGET_MS and run["bad"] == 0
            target = f"< {P99_TARGET_MS:.0f} ms"
            figures.append(
                harness.Figure(f"{name} p50", run["p50_ms"], None, "ms", None, "median", True, run)
            )
            figures.append(
                harness.Figure(f"{name} p99", run["p99_ms"], None, "ms", None, target, ok, run)
            )
        harness.report(bench, "entitlements_page", figures)


if __name__ == "__main__":
    main()
