"""One fault scenario end to end: a deployment of its own (a fresh database in our own
PostgreSQL cluster, our own Redis, two gateway instances), traffic, the fault, and what
users saw: the row of the resilience table, and the expectations it failed.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from gateway.devidp.keys import SigningKey
from gateway.sso.config import write_saml_dir
from tests.ops.processes import BIN, clean_env
from tests.resilience import cluster
from tests.resilience.traffic import (
    IDP_ENTITY_ID,
    USER_FACING,
    Account,
    Sample,
    Targets,
    Traffic,
)

SECRET = "resilience-secret-key-that-is-long-enough-0123456789"
PUBLIC_URL = "http://localhost"  # plain http is allowed on localhost only
TEMPLATE = "gateway_template"
RECOVERY_LIMIT = 10.0  # the issue: automatic recovery within seconds
# A dependency that is down or stuck is given this long, then the request is answered
# 503 and its thread is free again. Our reading of "bounded wait": shorter than the
# 5 s faults, so a scenario can tell a bounded wait from waiting the fault out.
BOUNDED_WAIT = 3.0
HEALTHZ_LIMIT = 1.0  # /healthz never waits on a dependency


@dataclass
class Row:
    """One line of the resilience table."""

    fault: str
    seen: str
    p99_ms: float | None
    recovery_s: float | None
    fivexx: int
    data_lost: str
    failed: list[str] = field(default_factory=list)
    recovery_text: str | None = None  # instead of a time, where none applies

    def cells(self) -> list[str]:
        p99 = f"{self.p99_ms:,.0f} ms" if self.p99_ms is not None else "-"
        if self.recovery_text is not None:
            recovery = self.recovery_text
        elif self.recovery_s is None:
            recovery = "not recovered"
        else:
            recovery = f"{self.recovery_s:.1f} s"
        met = "met" if not self.failed else "FAILED: " + "; ".join(self.failed)
        return [self.fault, self.seen, p99, recovery, str(self.fivexx), self.data_lost, met]


RESULTS: list[Row] = []
HEADERS = [
    "fault",
    "what users saw",
    "p99 during fault",
    "recovery",
    "5xx",
    "data lost",
    "expectations",
]


def p99(samples: Sequence[Sample]) -> float | None:
    if not samples:
        return None
    ordered = sorted(s.seconds for s in samples)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] * 1000


def seen(samples: Sequence[Sample]) -> str:
    counts = Counter(s.answer for s in samples)
    return ", ".join(f"{answer}×{n}" for answer, n in sorted(counts.items())) or "-"


class Deployment:
    """What one scenario runs against; `close` ends every process it started."""

    def __init__(
        self,
        postgres: cluster.Postgres,
        database: str,
        work: Path,
        key: SigningKey,
        accounts: Sequence[Account],
        *,
        persistent_redis: bool = False,
        extra_env: dict[str, str] | None = None,
        instances: int = 2,
    ) -> None:
        self.postgres = postgres
        self.database = database
        self.work = work
        self.key = key
        self.accounts = list(accounts)
        self.stack = ExitStack()
        try:
            self._start(work, key, persistent_redis, extra_env or {}, instances)
        except BaseException:
            self.stack.close()  # nothing started is left behind
            raise

    def _start(
        self,
        work: Path,
        key: SigningKey,
        persistent_redis: bool,
        extra_env: dict[str, str],
        instances: int,
    ) -> None:
        self.redis = cluster.Redis(work, persistent=persistent_redis)
        self.stack.callback(self.redis.close)
        self.redis.start()
        saml_dir = write_saml(work / "saml", key)
        self.env = clean_env(
            work,
            {
                "GATEWAY_DATABASE_URL": self.postgres.url(self.database),
                "GATEWAY_REDIS_URL": self.redis.url,
                "GATEWAY_SECRET_KEY": SECRET,
                "GATEWAY_SAML_DIR": str(saml_dir),
                "GATEWAY_BASE_URL": PUBLIC_URL,
                "GATEWAY_SAML_IDP_INITIATED": "true",
                "GATEWAY_BIND_HOST": "127.0.0.1",
                # 2 workers per instance, with the shipped threads (8, of which 2 run a
                # request at once: GATEWAY_ACTIVE_REQUESTS).
                "GATEWAY_WORKERS": "2",
                # The load comes from one address: the limits count, never refuse.
                "GATEWAY_SIGNIN_RATE_LIMIT": "1000000/minute",
                "GATEWAY_CREDENTIAL_FAILURE_RATE_LIMIT": "1000000/minute",
                "GATEWAY_MAIL_DELIVERY_ENABLED": "false",
                **extra_env,
            },
        )
        self.gateways: list[cluster.Gateway] = []
        for index in range(instances):
            name = "ab"[index] if instances <= 2 else str(index)
            env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(work / f"metrics-{name}")}
            gateway = cluster.Gateway(f"instance-{name}", work, env)
            self.stack.callback(gateway.close)
            self.gateways.append(gateway)
        for gateway in self.gateways:
            gateway.start()
        for gateway in self.gateways:
            gateway.wait_ready()

    def traffic(
        self,
        urls: Sequence[str] | None = None,
        probe_urls: Sequence[str] | None = None,
        **options: object,
    ) -> Traffic:
        urls = list(urls or [g.url for g in self.gateways])
        return Traffic(
            Targets(urls),
            key=self.key,
            public_url=PUBLIC_URL,
            accounts=self.accounts,
            probe_urls=list(probe_urls or [g.url for g in self.gateways]),
            **options,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        self.stack.close()


@contextmanager
def deployment(
    postgres: cluster.Postgres,
    work: Path,
    key: SigningKey,
    accounts: Sequence[Account],
    **options: object,
) -> Iterator[Deployment]:
    """A fresh database (a copy of the migrated, seeded template), Redis, two instances."""
    database = (
        f"scenario_{work.name.lower().replace('-', '_')[:40]}_{int(time.time() * 1000) % 100000}"
    )
    postgres.execute(f'CREATE DATABASE "{database}" TEMPLATE {TEMPLATE}')
    running: Deployment | None = None
    try:
        running = Deployment(postgres, database, work, key, accounts, **options)  # type: ignore[arg-type]
        yield running
    finally:
        if running is not None:
            running.close()


def write_saml(folder: Path, key: SigningKey) -> Path:
    if not folder.exists():
        write_saml_dir(
            folder,
            idp_entity_id=IDP_ENTITY_ID,
            idp_sso_url=f"{IDP_ENTITY_ID}/sso",
            idp_slo_url=None,
            idp_cert_base64=key.cert_base64,
        )
    return folder


def account_token(
    postgres: cluster.Postgres, database: str, work: Path, key: SigningKey, account: str
) -> str:
    """An account token with scope users, made by the operator's command."""
    made = subprocess.run(  # noqa: S603 - our own command
        [
            BIN / "gateway",
            "account-token",
            "create",
            account,
            "--scope",
            "users",
            "--name",
            "resilience",
        ],
        env=clean_env(
            work,
            {
                "GATEWAY_DATABASE_URL": postgres.url(database),
                "GATEWAY_SECRET_KEY": SECRET,
                "GATEWAY_SAML_DIR": str(write_saml(work / "saml", key)),
            },
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[0]


# --- running one fault ---------------------------------------------------------------
@dataclass
class Run:
    traffic: Traffic
    fault_started: float
    fault_ended: float
    recovered_at: dict[str, float]  # per kind: when its first good answer after the fault ended

    @property
    def during(self) -> list[Sample]:
        return self.traffic.between(self.fault_started, self.fault_ended)

    @property
    def recovery(self) -> float | None:
        kinds = {s.kind for s in self.traffic.samples if s.kind in USER_FACING}
        if any(kind not in self.recovered_at for kind in kinds):
            return None
        return max(self.recovered_at.values(), default=0.0) - self.fault_ended

    def recovery_on(self, target: str) -> float | None:
        """From the fault's end to the first good answer from one instance."""
        done = [
            s.started + s.seconds
            for s in self.traffic.samples
            if s.target == target
            and s.kind in USER_FACING
            and s.good
            and s.started >= self.fault_ended
        ]
        return min(done) - self.fault_ended if done else None

    def probes(
        self, kind: str, start: float, end: float, target: str | None = None
    ) -> list[Sample]:
        return [
            s
            for s in self.traffic.between(start, end, (kind,))
            if target is None or s.target == target
        ]


def first_good(traffic: Traffic, since: float) -> dict[str, float]:
    found: dict[str, float] = {}
    for sample in list(traffic.samples):
        if sample.kind in USER_FACING and sample.started >= since and sample.good:
            done = sample.started + sample.seconds
            found[sample.kind] = min(found.get(sample.kind, done), done)
    return found


def run_fault(
    traffic: Traffic,
    inject: Callable[[], None],
    end: Callable[[], None],
    *,
    before: float = 4.0,
    fault: float = 5.0,
    after: float = 3.0,
    recovery_limit: float = 30.0,
) -> Run:
    """Steady load, the fault for `fault` seconds, its end, then load until every kind
    of request has had a good answer again (bounded) and `after` seconds more."""
    traffic.start()
    try:
        time.sleep(before)  # load before the fault: the steady state to compare with
        started = time.monotonic()
        inject()
        time.sleep(fault)  # the fault lasts this long
        end()
        ended = time.monotonic()
        kinds = {s.kind for s in traffic.samples if s.kind in USER_FACING}
        with suppress(AssertionError):  # reported as "not recovered" in the table
            cluster.wait_for(
                lambda: kinds <= set(first_good(traffic, ended)), recovery_limit, "recovery"
            )
        time.sleep(after)  # load after recovery: nothing relapses
    finally:
        traffic.stop()
    return Run(traffic, started, ended, first_good(traffic, ended))


# --- the data check ---------------------------------------------------------------
def data_check(
    postgres: cluster.Postgres, database: str, traffic: Traffic
) -> tuple[str, list[str]]:
    """Everything acknowledged is there, and nothing is half-applied."""
    problems: list[str] = []
    signed_in = {email.lower() for email in traffic.signed_in}
    users = {
        str(row[0])
        for row in postgres.execute(
            "SELECT email FROM users WHERE email LIKE 'resil-%' OR email LIKE 'new-%'", database
        )
    }
    missing_users = signed_in - users
    if missing_users:
        problems.append(f"{len(missing_users)} signed-in users missing")
    without_permissions = postgres.execute(
        "SELECT u.email FROM users u LEFT JOIN permissions p ON p.user_id = u.id "
        "WHERE (u.email LIKE 'resil-%' OR u.email LIKE 'new-%') AND p.user_id IS NULL",
        database,
    )
    if without_permissions:
        problems.append(f"{len(without_permissions)} users without their permissions")
    invitations = {
        str(row[1]): int(row[0])  # type: ignore[call-overload]
        for row in postgres.execute("SELECT id, email FROM invitations", database)
    }
    missing_invitations = set(traffic.invited) - set(invitations)
    if missing_invitations:
        problems.append(f"{len(missing_invitations)} acknowledged invitations missing")
    audited = Counter(
        str(row[0])
        for row in postgres.execute(
            "SELECT target FROM audit_events WHERE action = 'invitation.created'", database
        )
    )
    targets = {f"invitation:{number}" for number in invitations.values()}
    unaudited = [t for t in targets if audited.get(t, 0) != 1]
    orphans = [t for t in audited if t not in targets]
    if unaudited or orphans:
        problems.append(
            f"half-applied: {len(unaudited)} invitations without one audit entry, "
            f"{len(orphans)} audit entries without their invitation"
        )
    mails = postgres.execute("SELECT count(*) FROM outbound_mail", database)[0][0]
    if mails != len(invitations):
        problems.append(f"half-applied: {mails} queued mails for {len(invitations)} invitations")
    if problems:
        return "LOST: " + "; ".join(problems), problems
    checked = f"none ({len(signed_in)} users, {len(invitations)} invitations + audit checked)"
    return checked, []


# --- the expectations ------------------------------------------------------------------
class Expectations:
    """The issue's expectations, each checked and remembered, so one run reports all."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, holds: bool, what: str) -> None:
        if not holds:
            self.failed.append(what)

    def fail_closed(self, traffic: Traffic) -> None:
        wrong = traffic.wrong_people()
        self.check(not wrong, f"wrong person's session: {wrong[:3]}")

    def healthz_throughout(self, run: Run, targets: Sequence[str] | None = None) -> None:
        probes = [
            s
            for s in run.traffic.samples
            if s.kind == "healthz" and (targets is None or s.target in targets)
        ]
        bad = [s for s in probes if s.status != 200 or s.seconds > HEALTHZ_LIMIT]
        self.check(
            not bad,
            f"/healthz not a quick 200 throughout: {seen(bad)}, slowest "
            f"{max((s.seconds for s in bad), default=0):.1f} s",
        )

    def own_503_only(self, run: Run) -> None:
        samples = [s for s in run.traffic.samples if s.kind != "healthz"]
        bare = [s for s in samples if s.status is not None and s.status >= 500 and not s.own_503]
        self.check(not bare, f"5xx that is not the gateway's own 503: {seen(bare)}")
        hung = [s for s in samples if s.error is not None or s.seconds > BOUNDED_WAIT]
        self.check(not hung, f"no answer or a wait past {BOUNDED_WAIT:.0f} s: {seen(hung)}")

    def readyz_names(self, run: Run, dependency: str) -> None:
        # A second into the fault, readiness must say what is down.
        window = run.probes("readyz", run.fault_started + 1.5, run.fault_ended)
        named = [s for s in window if s.status == 503 and dependency in s.body]
        self.check(
            bool(named), f"/readyz never 503 naming {dependency} during the fault: {seen(window)}"
        )

    def recovered(self, run: Run, limit: float = RECOVERY_LIMIT) -> None:
        recovery = run.recovery
        self.check(
            recovery is not None and recovery <= limit,
            f"recovery {'never' if recovery is None else f'{recovery:.1f} s'} "
            f"(limit {limit:.0f} s)",
        )

    def no_5xx(self, samples: Sequence[Sample], what: str) -> None:
        bad = [s for s in samples if s.status is None or s.status >= 500]
        self.check(not bad, f"{what}: {seen(bad)}")


def record(
    fault: str,
    run: Run,
    data: tuple[str, list[str]],
    expectations: Expectations,
    samples: Sequence[Sample] | None = None,
    recovery: float | None | str = "all",
) -> Row:
    during = list(samples if samples is not None else run.during)
    fivexx = sum(
        1
        for s in run.traffic.samples
        if s.status is not None and s.status >= 500 and s.kind != "readyz"
    )
    row = Row(
        fault,
        seen(during),
        p99(during),
        run.recovery if recovery == "all" else recovery,  # type: ignore[arg-type]
        fivexx,
        data[0],
        expectations.failed + data[1],
    )
    RESULTS.append(row)
    return row


def dump_samples(path: Path, traffic: Traffic, run: Run) -> None:
    """Every request of the run, for reading a failure after the fact."""
    with path.open("w") as out:
        for s in traffic.samples:
            out.write(
                json.dumps(
                    {
                        "t": round(s.started - run.fault_started, 3),
                        "kind": s.kind,
                        "target": s.target,
                        "ms": round(s.seconds * 1000, 1),
                        "answer": s.answer,
                        "body": s.body[:120],
                    }
                )
                + "\n"
            )
