"""Cold start: from starting gunicorn to the first served sign-in (a routed 302 from
POST /saml/acs), against starting the bare Flask floor to its first 302."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import quote

import requests

from bench import harness
from bench.saml_signin import signed_responses

TARGET_SECONDS = 5.0


def first_302(bench: harness.Bench, app: str, path: str, body: str, port: int) -> float:
    """Seconds from Popen to the first 302 on `path` (polled; bounded)."""
    environment = harness.gateway_env(bench, port, GATEWAY_SAML_IDP_INITIATED="true")
    url = f"http://127.0.0.1:{port}{path}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our config
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
        cwd=harness.ROOT, env=environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while time.perf_counter() - started < harness.STARTUP_SECONDS:
            try:
                reply = requests.post(
                    url, data=body, headers=headers, allow_redirects=False, timeout=30
                )
                if reply.status_code == 302:
                    return time.perf_counter() - started
                sys.exit(f"{app}: first answer was {reply.status_code}: {reply.text[:300]}")
            except requests.ConnectionError:
                time.sleep(0.01)  # polling interval, bounded by the deadline
        sys.exit(f"{app} served nothing within {harness.STARTUP_SECONDS}s")
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    options = harness.arguments(__doc__ or "")
    with harness.bench_from(options) as bench:
        port = harness.free_port()
        response = signed_responses(bench, f"http://127.0.0.1:{port}", 1)[0]
        body = f"SAMLResponse={quote(response, safe='')}"
        floor = first_302(bench, "bench.floor_app:app", "/floor", "", harness.free_port())
        ours = first_302(bench, "wsgi:app", "/saml/acs", body, port)
        figure = harness.Figure(
            "Cold start to first sign-in", ours, floor, "s", harness.cost_ratio(ours, floor),
            f"< {TARGET_SECONDS:.0f} s (no target set)", ours < TARGET_SECONDS,
        )  # fmt: skip
        harness.report(bench, "cold_start", [figure])


if __name__ == "__main__":
    main()
