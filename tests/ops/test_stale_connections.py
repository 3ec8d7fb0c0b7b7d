"""Pooled PostgreSQL connections are not pinged before use (that would cost a round trip
on every request). When the database has dropped them (a restart, a failover), routing
still answers: its first read tries once more on a fresh connection, and the pool is
renewed for everything after it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from gateway.core import db
from tests.conftest import DATABASE_URL
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

pytestmark = pytest.mark.skipif(
    not DATABASE_URL, reason="dropping a server's connections needs PostgreSQL"
)


def drop_pooled_connections(app: Flask) -> int:
    """What a database restart does to the app's pool: every idle connection to the
    database, ended by the server (from a connection of its own, outside the pool)."""
    engine = create_engine(db.engine_of(app).url, poolclass=NullPool)
    with engine.connect() as admin:
        mine = admin.execute(text("SELECT pg_backend_pid()")).scalar_one()
        ended = admin.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> :mine"
                " AND application_name = '' AND state = 'idle'"
            ),
            {"mine": mine},
        ).scalar_one()
        admin.commit()
    engine.dispose()
    return int(ended)


def test_routing_answers_after_the_database_dropped_every_pooled_connection(
    app: Flask, client: FlaskClient, idp: PortalIdP, world: World
) -> None:
    sign_in(client, idp, email="pat@ready.example", account="100001")
    for _ in range(3):  # connections into the pool
        assert client.get("/route").status_code == 302
    assert drop_pooled_connections(app) >= 1
    answer = client.get("/route")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    assert client.get("/route").status_code == 302
