"""The health probe's HTTP call: a redirect is an unhealthy answer, never followed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask, jsonify, redirect
from werkzeug.serving import BaseWSGIServer, make_server

from gateway.systems.probes import http_probe


@pytest.fixture
def redirecting_center() -> Iterator[tuple[str, list[str]]]:
    """/healthz redirects to /elsewhere, which would answer 200 (and records the visit)."""
    visits: list[str] = []
    app = Flask("stand-in")
    app.add_url_rule("/healthz", "healthz", lambda: redirect("/elsewhere"))

    def elsewhere() -> object:
        visits.append("/elsewhere")
        return jsonify(status="ok")

    app.add_url_rule("/elsewhere", "elsewhere", elsewhere)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}", visits
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_redirecting_health_url_counts_as_down(
    redirecting_center: tuple[str, list[str]],
) -> None:
    url, visits = redirecting_center
    assert http_probe(f"{url}/elsewhere") and visits == ["/elsewhere"]
    visits.clear()
    assert not http_probe(f"{url}/healthz")
    assert visits == []
