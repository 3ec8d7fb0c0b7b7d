"""Health probes: background results in the shared store, flips announced, never per login."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask, jsonify
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from gateway.core.announce import current_version
from gateway.core.store import Store
from gateway.routing.config import load_routing_config
from gateway.systems.probes import check_all, http_probe, record_probe
from tests.it_console import NOW
from tests.world import World


def probe(store: Store, healthy: bool) -> str:
    return record_probe(store, "new", healthy, now=NOW, ttl_seconds=60)


def test_a_system_is_down_after_two_failed_probes_and_up_after_one_good(store: Store) -> None:
    start = current_version(store)
    assert probe(store, False) == "up"  # one slow answer does not strand anyone
    assert current_version(store) == start
    assert probe(store, False) == "down"
    assert current_version(store) == start + 1  # every instance reroutes at once
    assert probe(store, False) == "down" and current_version(store) == start + 1
    assert probe(store, True) == "up" and current_version(store) == start + 2


def test_probe_results_reach_the_routing_config(dbs: Session, store: Store, world: World) -> None:
    check_all(store, {"new": "unused"}, probe=lambda url: False, now=NOW, interval=5)
    assert load_routing_config(dbs, store, 0).systems["new"].probe == "up"
    check_all(store, {"new": "unused"}, probe=lambda url: False, now=NOW, interval=5)
    config = load_routing_config(dbs, store, 0)
    assert config.systems["new"].probe == "down" and config.down_systems == {"new"}
    assert store.ttl("health:probe:new") == 15


@pytest.fixture
def license_center() -> Iterator[str]:
    app = Flask("stand-in")
    app.add_url_rule("/healthz", "healthz", lambda: jsonify(status="ok"))
    app.add_url_rule("/broken", "broken", lambda: ("no", 503))
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_probe_wants_a_2xx_answer(license_center: str) -> None:
    assert http_probe(f"{license_center}/healthz")
    assert not http_probe(f"{license_center}/broken")
    assert not http_probe("http://127.0.0.1:9/healthz")  # nothing listens on discard
    assert not http_probe("file:///etc/passwd")
