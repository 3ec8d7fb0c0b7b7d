"""The second floor for SAML sign-in: the least a strict python3-saml service provider
does, under the same gunicorn as the gateway.

POST /saml/acs validates the response (python3-saml's strict `process_response`: the
signature, audience, destination, conditions and subject confirmation), refuses a
replayed assertion with one shared Redis SET NX, writes a server-side session to Redis
and answers 302 with its cookie. Nothing else: no user record, no routing, no hand-off,
no audit, no metrics, no rate limit. Switchyard does all of those as well; its sign-in
is measured against this (bench/saml_signin.py).

Settings from the environment, as the bench starts it: BENCH_SAML_DIR (the settings
folder the gateway reads), BENCH_BASE_URL, BENCH_REDIS_URL.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import redis
from flask import Flask, redirect, request
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from werkzeug.wrappers import Response

from gateway.sso.config import load_saml_config

SESSION_SECONDS = 8 * 3600
DESTINATION = "https://legacy.licenses.example/start"


def create_minimal_sp() -> Flask:
    config = load_saml_config(Path(os.environ["BENCH_SAML_DIR"]), os.environ["BENCH_BASE_URL"])
    store = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    sp = Flask(__name__)

    @sp.get("/healthz")
    def healthz() -> str:
        return "ok"

    @sp.post("/saml/acs")
    def acs() -> Response | tuple[str, int]:
        data = config.endpoints.request_data("/saml/acs", post=request.form.to_dict())
        auth = OneLogin_Saml2_Auth(data, config.login)
        auth.process_response()
        if auth.get_errors() or not auth.is_authenticated():
            return "refused", 403
        expires = auth.get_last_assertion_not_on_or_after() or 0
        seconds = max(1, int(expires - datetime.now(UTC).timestamp()))
        if not store.set(f"minimal:replay:{auth.get_last_assertion_id()}", 1, nx=True, ex=seconds):
            return "replayed", 403
        sid = secrets.token_urlsafe(32)
        state = {"subject": auth.get_nameid(), "attributes": auth.get_attributes()}
        store.set(f"minimal:session:{sid}", json.dumps(state), ex=SESSION_SECONDS)
        answer = redirect(DESTINATION)
        answer.set_cookie("sid", sid, max_age=SESSION_SECONDS, httponly=True, samesite="Lax")
        return answer

    return sp


app = create_minimal_sp() if "BENCH_SAML_DIR" in os.environ else None
