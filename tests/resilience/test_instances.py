"""An instance fails or is replaced under load: one is SIGKILLed (the other keeps
serving), and both are restarted one after the other behind nginx (nobody notices)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.devidp.keys import SigningKey
from tests.resilience import cluster
from tests.resilience.scenario import (
    Expectations,
    data_check,
    deployment,
    dump_samples,
    record,
    run_fault,
    seen,
)
from tests.resilience.traffic import Account

pytestmark = [pytest.mark.resilience, pytest.mark.shared_store]


def test_one_instance_killed(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    """SIGKILL one instance's master and workers mid-load; 5 s later start it again.
    Requests to the surviving instance: zero 5xx, zero failures, none over 2 s."""
    with deployment(postgres, tmp_path, resilience_key, accounts) as dep:
        killed, survivor = dep.gateways
        traffic = dep.traffic()
        run = run_fault(traffic, killed.kill, killed.start, fault=5.0)
        expect = Expectations()
        expect.fail_closed(traffic)
        expect.healthz_throughout(run, [survivor.url])
        on_survivor = [s for s in traffic.samples if s.target == survivor.url]
        expect.no_5xx(on_survivor, "failed requests to the surviving instance")
        # Generous: the killed instance's replacement boots on the same cores meanwhile.
        slow = [s for s in on_survivor if s.seconds > 2.0]
        expect.check(not slow, f"slow answers from the survivor: {seen(slow)}")
        on_killed = [s for s in traffic.samples if s.target == killed.url]
        bare = [s for s in on_killed if s.status is not None and s.status >= 500]
        expect.check(not bare, f"5xx from the killed instance: {seen(bare)}")
        recovery = run.recovery_on(killed.url)
        expect.check(recovery is not None, "the restarted instance never answered")
        row = record(
            "One instance SIGKILLed, restarted",
            run,
            data_check(postgres, dep.database, traffic),
            expect,
            recovery=recovery,
        )
        dump_samples(tmp_path / "samples.jsonl", traffic, run)
        assert not row.failed, "\n".join(row.failed)


@pytest.mark.resilience_full
def test_rolling_restart_behind_nginx(
    postgres: cluster.Postgres, accounts: list[Account], resilience_key: SigningKey, tmp_path: Path
) -> None:
    """nginx (deploy/nginx.conf) in front of two instances; each in turn gets gunicorn's
    graceful shutdown (SIGTERM), is started again and waited for on /readyz before the
    next one. Zero failed requests through nginx."""
    binary = cluster.nginx_binary()
    if binary is None:
        pytest.skip("rolling restart needs Debian's nginx: apt-get install nginx-light")
    extra = {"GATEWAY_TRUSTED_PROXIES": "1"}
    with deployment(postgres, tmp_path, resilience_key, accounts, extra_env=extra) as dep:
        nginx = cluster.Nginx(binary, tmp_path, [g.port for g in dep.gateways])
        try:
            nginx.start()
            traffic = dep.traffic([nginx.url], [nginx.url])
            timings: list[str] = []

            def rolling_restart() -> None:
                for gateway in dep.gateways:
                    began = time.monotonic()
                    status = gateway.stop()
                    gateway.start()
                    gateway.wait_ready()
                    timings.append(
                        f"{gateway.name}: exit {status}, back in {time.monotonic() - began:.1f} s"
                    )

            run = run_fault(traffic, rolling_restart, lambda: None, fault=0.0)
        finally:
            nginx.close()
        expect = Expectations()
        expect.fail_closed(traffic)
        failed = [s for s in traffic.samples if not s.good]
        expect.check(not failed, f"failed requests through nginx: {seen(failed)}")
        row = record(
            "Rolling restart behind nginx", run, data_check(postgres, dep.database, traffic), expect
        )
        dump_samples(tmp_path / "samples.jsonl", traffic, run)
        print("rolling restart:", "; ".join(timings))
        assert not row.failed, "\n".join(row.failed)
