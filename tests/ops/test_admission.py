"""Admission: a worker runs GATEWAY_ACTIVE_REQUESTS requests at once; the others wait
at most GATEWAY_QUEUE_SECONDS for a turn, then answer 503 with Retry-After, and the
health checks never wait. Driven through real WSGI apps with real threads: the request
holding the turn waits in its view until the test releases it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.test import Client

from gateway.core.admission import Admission
from gateway.core.deadline import RequestDeadline

QUEUE_SECONDS = 0.3


@pytest.fixture
def held_app() -> Iterator[tuple[Flask, threading.Event, threading.Event]]:
    """A Flask app whose /hold waits until released, behind one turn of admission."""
    app = Flask(__name__)
    entered, release = threading.Event(), threading.Event()

    @app.get("/hold")
    def hold() -> str:
        entered.set()
        release.wait(10)
        return "held"

    @app.get("/quick")
    def quick() -> str:
        return "quick"

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    app.config["PROPAGATE_EXCEPTIONS"] = False

    app.wsgi_app = Admission(app.wsgi_app, active=1, wait_seconds=QUEUE_SECONDS)  # type: ignore[method-assign]
    yield app, entered, release
    release.set()


def test_a_request_with_no_turn_gets_a_503_and_health_never_waits(
    held_app: tuple[Flask, threading.Event, threading.Event],
) -> None:
    app, entered, release = held_app
    answers: list[str] = []
    holder = threading.Thread(target=lambda: answers.append(Client(app).get("/hold").text))
    holder.start()
    assert entered.wait(5)

    refused = Client(app).get("/quick")
    api = Client(app).get("/api/v1/me")
    health = Client(app).get("/healthz")

    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert "busy" in refused.text and refused.mimetype == "text/html"
    assert api.status_code == 503 and api.mimetype == "application/problem+json"
    assert json.loads(api.text)["status"] == 503
    assert health.status_code == 200  # answered while the only turn is taken
    release.set()
    holder.join(5)
    assert answers == ["held"]
    assert Client(app).get("/quick").text == "quick"  # the turn came back


def test_a_failing_request_gives_its_turn_back(
    held_app: tuple[Flask, threading.Event, threading.Event],
) -> None:
    app, _entered, _release = held_app
    assert Client(app).get("/boom").status_code == 500
    assert Client(app).get("/quick").status_code == 200  # not left holding the only turn


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"active_requests": 1, "queue_seconds": QUEUE_SECONDS}


def test_the_gateway_admits_as_many_requests_as_configured(app: Flask) -> None:
    """The shipped app is wrapped (the suite's other tests run it without a limit),
    inside the request deadline, whose clock counts the wait for a turn."""
    outermost = app.wsgi_app
    assert isinstance(outermost, RequestDeadline)
    admission = outermost.wsgi_app
    assert isinstance(admission, Admission) and admission.wait_seconds == QUEUE_SECONDS
    assert admission.turns.acquire(blocking=False)  # its one turn, taken here
    try:
        answer = Client(app).get("/login")
        assert answer.status_code == 503 and "busy" in answer.text
        assert Client(app).get("/healthz").status_code == 200
    finally:
        admission.turns.release()
    assert Client(app).get("/healthz").status_code == 200
