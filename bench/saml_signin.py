"""SAML sign-in: full POST /saml/acs (replay cache, user upsert, routing, session write,
routed 302) with a fresh signed response per request, against two floors: python3-saml's
own `is_valid` of the same responses in a loop, and a minimal strict python3-saml
service provider (bench/minimal_sp.py: validation, a shared replay check, a server-side
session, a 302) under the same gunicorn, sent the same responses.

Responses are IdP-initiated (unsolicited, GATEWAY_SAML_IDP_INITIATED=true in this run),
each with fresh Response and Assertion IDs, pre-generated and signed before the load.
"""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from urllib.parse import quote

import redis
from onelogin.saml2.response import OneLogin_Saml2_Response

from bench import harness
from gateway.devidp.saml_response import ResponseSpec, build_response
from gateway.sso.config import load_saml_config

PER_CORE_TARGET = 250.0
RATIO_TARGET = 0.6
MINIMAL_SP_RATIO_TARGET = 0.9


def signed_responses(bench: harness.Bench, base_url: str, count: int) -> list[str]:
    """Base64 SAMLResponse values for random seeded users, each with fresh IDs."""
    users = harness.sample_users(bench, count)
    responses = []
    for index in range(count):
        user = users[index % len(users)]
        spec = ResponseSpec(
            issuer=harness.IDP_ENTITY_ID,
            audience=f"{base_url}/saml/metadata",
            destination=f"{base_url}/saml/acs",
            name_id=f"portal-{user['email']}",
            attributes={
                "email": [user["email"]],
                "firstName": ["Bench"],
                "lastName": ["User"],
                "accountId": [user["account_number"]],
            },
            lifetime=timedelta(minutes=30),
        )
        xml = build_response(spec, bench.key)
        responses.append(base64.b64encode(xml.encode()).decode())
    return responses


def floor_rate(bench: harness.Bench, base_url: str, responses: list[str], seconds: float) -> float:
    """python3-saml alone: strict is_valid of the same responses, one core, in a loop."""
    config = load_saml_config(bench.saml_dir, base_url)
    request_data = config.endpoints.request_data("/saml/acs")
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        encoded = responses[done % len(responses)]
        OneLogin_Saml2_Response(config.login, encoded).is_valid(request_data, raise_exceptions=True)
        done += 1
    return done / (time.perf_counter() - started)


def session_bytes(bench: harness.Bench, sample: int = 200) -> float:
    """Average Redis memory of one session key (MEMORY USAGE), over a sample."""
    client = redis.Redis.from_url(bench.redis_url)
    keys = list(client.scan_iter("session:*", count=1000))[:sample]
    sizes = [client.memory_usage(key) or 0 for key in keys]
    return sum(sizes) / len(sizes) if sizes else 0.0


def main() -> None:
    options = harness.arguments(__doc__ or "")
    with harness.bench_from(options) as bench:
        sizes, port = bench.sizes, harness.free_port()
        base_url = f"http://127.0.0.1:{port}"
        count = sizes.requests if bench.smoke else 400 * sizes.seconds * bench.workers
        responses = signed_responses(bench, base_url, count)
        floor = floor_rate(bench, base_url, responses, 1 if bench.smoke else 5)
        lines = harness.write_lines(
            bench.work / "saml.lines",
            [("", f"SAMLResponse={quote(r, safe='')}") for r in responses],
        )
        load = harness.Load(lines, method="POST", path="/saml/acs", cycle=False)
        # Both on the same port (the responses name it), one after the other; each keeps
        # its own replay cache, so every response is fresh to each.
        minimal_env = harness.gateway_env(
            bench,
            port,
            BENCH_SAML_DIR=str(bench.saml_dir),
            BENCH_BASE_URL=base_url,
            BENCH_REDIS_URL=bench.redis_url,
        )
        with harness.gunicorn(bench, "bench.minimal_sp:app", minimal_env) as server:
            minimal = harness.run_wrk(
                server.url, load, seconds=sizes.seconds, connections=sizes.connections
            )
        environment = harness.gateway_env(bench, port, GATEWAY_SAML_IDP_INITIATED="true")
        with harness.gunicorn(bench, "wsgi:app", environment) as server:
            result = harness.run_wrk(
                server.url, load, seconds=sizes.seconds, connections=sizes.connections
            )
        per_core = result["rate"] / bench.workers
        per_session = session_bytes(bench)
        harness.report(bench, "saml_signin", figures(result, floor, minimal, per_core, per_session))


def figures(
    result: dict[str, float],
    floor: float,
    minimal: dict[str, float],
    per_core: float,
    per_session: float,
) -> list[harness.Figure]:
    ratio = harness.rate_ratio(per_core, floor)
    return [
        harness.Figure(
            "SAML sign-in vs a minimal strict SP",
            result["rate"],
            minimal["rate"],
            "/s",
            harness.rate_ratio(result["rate"], minimal["rate"]),
            f">= {MINIMAL_SP_RATIO_TARGET} of the minimal SP (same gunicorn, same responses)",
            harness.rate_ratio(result["rate"], minimal["rate"]) >= MINIMAL_SP_RATIO_TARGET
            and result["bad"] == 0
            and minimal["bad"] == 0,
            {"minimal_sp": dict(minimal)},
        ),
        harness.Figure(
            "SAML sign-in (per worker core)",
            per_core,
            floor,
            "/s",
            ratio,
            f">= {RATIO_TARGET} of floor, >= {PER_CORE_TARGET:.0f}/s/core",
            ratio >= RATIO_TARGET and per_core >= PER_CORE_TARGET and result["bad"] == 0,
            dict(result),
        ),
        harness.Figure(
            "Redis memory per session",
            per_session,
            5 * 1024,
            "B",
            harness.cost_ratio(per_session, 5 * 1024),
            "< 2048 B (floor: Keycloak ~5 KB)",
            0 < per_session < 2048,
        ),
    ]


if __name__ == "__main__":
    main()
