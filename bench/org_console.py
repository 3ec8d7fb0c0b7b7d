"""The organisation console at its largest: an org admin of an account with 5,000 users
pages through them and searches by name, one request at a time (so the latency is the
server's time for the page, not queueing), on the seeded PostgreSQL directory.

The account and its users are added beside the seeded directory the first time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from bench import harness
from bench.routing import session_cookies
from gateway.core import db
from gateway.core.models import Account, Permission, User

ACCOUNT = "ORG-5000"
USERS = 5_000
P99_TARGET_MS = 100.0


def ensure_large_organisation(bench: harness.Bench, users: int) -> dict[str, Any]:
    """The account with `users` users (the first one an admin), created once."""
    engine = db.make_engine(bench.database_url)
    try:
        with engine.begin() as connection:
            account_id = connection.scalar(
                select(Account.id).where(Account.account_number == ACCOUNT)
            )
            if account_id is None:
                account_id = connection.execute(
                    insert(Account).values(account_number=ACCOUNT, name="Five Thousand Ltd")
                ).inserted_primary_key[0]
                rows = [
                    {
                        "email": f"person{n:05d}@org5000.example",
                        "first_name": f"Person{n % 997}",
                        "last_name": f"Family{n % 389}",
                        "account_id": account_id,
                        "added_via": "import",
                    }
                    for n in range(users)
                ]
                connection.execute(insert(User), rows)
                admin = connection.scalar(
                    select(User.id).where(User.email == "person00000@org5000.example")
                )
                connection.execute(
                    insert(Permission),
                    [{"user_id": admin, "name": name} for name in ("portal", "admin")],
                )
            admin_row = connection.execute(
                select(User.id, User.email, User.account_id).where(
                    User.email == "person00000@org5000.example"
                )
            ).one()
    finally:
        engine.dispose()
    return dict(admin_row._mapping)


def main() -> None:
    options = harness.arguments(__doc__ or "")
    with harness.bench_from(options) as bench:
        admin = ensure_large_organisation(bench, 200 if bench.smoke else USERS)
        cookies = session_cookies(bench, [admin] * 20)
        lines = harness.write_lines(bench.work / "org.lines", [(c, "") for c in cookies])
        port, seconds = harness.free_port(), bench.sizes.seconds
        pages = {
            "Org console, a page of 5,000": "/org/?page=40",
            "Org console, a search": "/org/?q=person4",
        }
        results = {}
        with harness.gunicorn(bench, "wsgi:app", harness.gateway_env(bench, port)) as server:
            for name, path in pages.items():
                load = harness.Load(lines, path=path, expect=200)
                harness.run_wrk(server.url, load, seconds=1, connections=1)  # warm
                results[name] = harness.run_wrk(server.url, load, seconds=seconds, connections=1)
        figures = [
            harness.Figure(
                f"{name} p99", run["p99_ms"], None, "ms", None,
                f"< {P99_TARGET_MS:.0f} ms", run["p99_ms"] < P99_TARGET_MS and run["bad"] == 0,
                run,
            )
            for name, run in results.items()
        ]  # fmt: skip
        harness.report(bench, "org_console", figures)


if __name__ == "__main__":
    main()
