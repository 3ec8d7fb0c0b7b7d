"""Token endpoint: authorization-code exchange (client_secret_basic, PKCE S256) with a
signed id_token carrying the scoped claims, against signing the same kind of id_token
with joserfc alone in a loop (the floor). Codes are pre-issued into Redis, one per request.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import redis
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import delete
from sqlalchemy.orm import Session

from bench import harness
from gateway.core import db
from gateway.core.models import OAuthClient
from gateway.provider.clients import add_client
from gateway.provider.tokens import AuthorizationCode, digest, save_code

PER_CORE_TARGET = 300.0
REDIRECT_URI = "https://new.licenses.example/oidc/callback"
SCOPE = "openid email profile account entitlements"
CODE_SECONDS = 600


def register_client(bench: harness.Bench) -> tuple[str, str]:
    engine = db.make_engine(bench.database_url)
    session = Session(engine)
    try:
        # One license center client per system: replace the previous run's.
        session.execute(delete(OAuthClient).where(OAuthClient.name == "Bench center"))
        session.commit()
        client = add_client(
            session, name="Bench center", redirect_uris=[REDIRECT_URI], actor="bench",
            secret_key=harness.SECRET, system_key="new",
        )  # fmt: skip
        assert client.client_secret is not None
        return client.client_id, client.client_secret
    finally:
        session.close()
        engine.dispose()


def issued_codes(bench: harness.Bench, client_id: str, count: int) -> list[str]:
    """Form bodies, each redeeming its own fresh code for a random seeded user."""
    store = redis.Redis.from_url(bench.redis_url)
    users = harness.sample_users(bench, min(count, 5_000))
    bodies = []
    for index in range(count):
        code, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        record = AuthorizationCode(
            code_hash=digest(code), client_id=client_id, user_id=users[index % len(users)]["id"],
            redirect_uri=REDIRECT_URI, scope=SCOPE, nonce=secrets.token_urlsafe(12),
            code_challenge=challenge.rstrip(b"=").decode(), code_challenge_method="S256",
            auth_time=int(time.time()), expires_at=time.time() + CODE_SECONDS,
            session_sid=secrets.token_urlsafe(16),
        )  # fmt: skip
        save_code(store, code, record, CODE_SECONDS)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        bodies.append(urlencode({**form, "code_verifier": verifier}))
    return bodies


def floor_rate(seconds: float) -> float:
    """joserfc alone: RS256 id_tokens of the same shape, one core, in a loop."""
    key = RSAKey.generate_key(2048)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        now = int(time.time())
        claims = {"iss": "https://sso.example", "sub": secrets.token_hex(16), "aud": ["c"],
                  "iat": now, "exp": now + 300, "nonce": "n", "email": "a@b.example"}  # fmt: skip
        jwt.encode({"alg": "RS256", "kid": "k"}, claims, key)
        done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    options = harness.arguments(__doc__ or "")
    with harness.bench_from(options) as bench:
        sizes = bench.sizes
        client_id, secret = register_client(bench)
        count = sizes.requests if bench.smoke else 500 * sizes.seconds * bench.workers
        lines = harness.write_lines(
            bench.work / "token.lines",
            [("", body) for body in issued_codes(bench, client_id, count)],
        )
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        load = harness.Load(
            lines, method="POST", path="/oidc/token", expect=200, cycle=False,
            header=f"Authorization: Basic {basic}",
        )  # fmt: skip
        floor = floor_rate(1 if bench.smoke else 5)
        port = harness.free_port()
        with harness.gunicorn(bench, "wsgi:app", harness.gateway_env(bench, port)) as server:
            result = harness.run_wrk(
                server.url, load, seconds=sizes.seconds, connections=sizes.connections
            )
        harness.report(bench, "token", [figure(result, floor, bench.workers)])


def figure(result: dict[str, Any], floor: float, workers: int) -> harness.Figure:
    per_core = result["rate"] / workers
    ratio = harness.rate_ratio(per_core, floor)
    return harness.Figure(
        "Token endpoint (per worker core)", per_core, floor, "/s", ratio,
        f">= {PER_CORE_TARGET:.0f}/s/core", per_core >= PER_CORE_TARGET and result["bad"] == 0,
        result,
    )  # fmt: skip


if __name__ == "__main__":
    main()
