"""What every benchmark shares: the servers, gunicorn, one wrk process, and the result row.

Like sqlalchemy's examples/performance, each figure is compared with a floor measured in
the same run, on the same machine, under the same gunicorn settings and load generator.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import requests
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from gateway.core import db
from gateway.core.models import Account, Entitlement, User
from gateway.devidp.keys import SigningKey, generate_signing_key
from gateway.directory.seed import SeedPlan, seed_directory
from gateway.sso.config import write_saml_dir

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WRK_SCRIPT = ROOT / "bench" / "wrk.lua"
IDP_ENTITY_ID = "https://portal.bench/idp"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - loopback only
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Sizes:
    """How big a run is: full (make bench) or smoke (CI: runs, proves nothing about speed)."""

    users: int
    entitlements: int
    seconds: int
    requests: int
    connections: int


FULL = Sizes(users=200_000, entitlements=500_000, seconds=10, requests=200_000, connections=8)
SMOKE = Sizes(users=60, entitlements=150, seconds=1, requests=40, connections=2)


@dataclass
class Bench:
    """One benchmark run's servers, sizes and scratch folder."""

    database_url: str
    redis_url: str
    sizes: Sizes
    smoke: bool
    workers: int
    threads: int
    work: Path
    key: SigningKey = field(default_factory=lambda: generate_signing_key("bench IdP"))

    @property
    def saml_dir(self) -> Path:
        return self.work / "saml"


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks it runs")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (one per core)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GATEWAY_THREADS", "8")))
    return parser.parse_args()


@contextmanager
def bench_from(options: argparse.Namespace) -> Iterator[Bench]:
    """The run's servers, prepared: migrated, seeded once, the store emptied."""
    with tempfile.TemporaryDirectory(prefix="switchyard-bench-") as scratch:
        bench = Bench(
            database_url=options.database_url,
            redis_url=options.redis_url,
            sizes=SMOKE if options.smoke else FULL,
            smoke=options.smoke,
            workers=options.workers,
            threads=options.threads,
            work=Path(scratch),
        )
        write_saml_dir(
            bench.saml_dir,
            idp_entity_id=IDP_ENTITY_ID,
            idp_sso_url=f"{IDP_ENTITY_ID}/sso",
            idp_slo_url=None,
            idp_cert_base64=bench.key.cert_base64,
        )
        prepare_directory(bench)
        redis.Redis.from_url(bench.redis_url).flushdb()
        yield bench


def ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database when it is missing (a fresh server has
    only `postgres`), so `make bench` runs on a new machine as it does in CI."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = db.make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def prepare_directory(bench: Bench) -> None:
    """Migrate, and seed when empty; a directory of another size is an error, not a guess."""
    ensure_database(bench.database_url)
    db.upgrade(bench.database_url)
    engine = db.make_engine(bench.database_url)
    try:
        with engine.connect() as connection:
            accounts = connection.scalar(select(func.count()).select_from(Account))
            entitlements = connection.scalar(select(func.count()).select_from(Entitlement))
        if not accounts:
            seed_directory(engine, SeedPlan(bench.sizes.users, bench.sizes.entitlements))
        elif entitlements != bench.sizes.entitlements:
            sys.exit(
                f"{bench.database_url} holds {entitlements} entitlements, not "
                f"{bench.sizes.entitlements}: drop and recreate that database"
            )
    finally:
        engine.dispose()


def sample_users(bench: Bench, count: int, account: str | None = None) -> list[dict[str, Any]]:
    """Random active users with full permissions' worth of data: id, email, account."""
    engine = db.make_engine(bench.database_url)
    query = (
        select(User.id, User.email, User.account_id, Account.account_number)
        .join(Account, Account.id == User.account_id)
        .where(User.status == "active")
        .order_by(func.random())
        .limit(count)
    )
    if account is not None:
        query = query.where(Account.account_number == account)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
    finally:
        engine.dispose()


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def gateway_env(bench: Bench, port: int, **extra: str) -> dict[str, str]:
    """The environment a gunicorn of ours (or of the floor) starts with."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment.update(
        {
            "PYTHONPATH": str(ROOT),
            "PORT": str(port),
            "GATEWAY_BIND_HOST": "127.0.0.1",
            "GATEWAY_WORKERS": str(bench.workers),
            "GATEWAY_THREADS": str(bench.threads),
            "GATEWAY_DATABASE_URL": bench.database_url,
            "GATEWAY_REDIS_URL": bench.redis_url,
            "GATEWAY_SAML_DIR": str(bench.saml_dir),
            "GATEWAY_BASE_URL": f"http://127.0.0.1:{port}",
            "GATEWAY_SECRET_KEY": SECRET,
            # The limiter still counts every sign-in in Redis; it just never refuses one.
            "GATEWAY_SIGNIN_RATE_LIMIT": "100000000/minute",
            # Likewise the token endpoint's limits: the load comes from one address.
            "GATEWAY_OIDC_TOKEN_RATE_LIMIT_PER_CLIENT": "100000000/minute",
            "GATEWAY_OIDC_TOKEN_RATE_LIMIT_PER_ADDRESS": "100000000/minute",
            "GATEWAY_HEALTH_CHECK_ENABLED": "false",
            # A recycled worker (every GATEWAY_MAX_REQUESTS) leaves a one-worker server
            # with nobody answering while its replacement boots: 60-100 ms stalls that
            # were the whole p99 of the floor itself. The memory figure shows recycling
            # is not needed; production instances run several workers.
            "GATEWAY_MAX_REQUESTS": "0",
        }
    )
    environment.update(extra)
    return environment


@dataclass
class Server:
    """A running gunicorn: its master process, URL and start time."""

    process: subprocess.Popen[bytes]
    url: str
    started: float

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


@contextmanager
def gunicorn(bench: Bench, app: str, environment: dict[str, str]) -> Iterator[Server]:
    """gunicorn with the repo's gunicorn.conf.py, answering /healthz, stopped afterwards."""
    url = f"http://127.0.0.1:{environment['PORT']}"
    log_path = bench.work / f"gunicorn-{environment['PORT']}.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our config
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Server(process, url, started)
        try:
            wait_until_healthy(server, log_path)
            yield server
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            if os.environ.get("BENCH_VERBOSE"):
                print(log_path.read_text()[-4000:], file=sys.stderr)


def wait_until_healthy(server: Server, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"gunicorn exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)  # polling interval, bounded by the deadline
    sys.exit(f"gunicorn did not answer within {STARTUP_SECONDS}s")


def ensure_wrk() -> str:
    """wrk, installed from Debian with apt-get when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing Debian's wrk with apt-get", file=sys.stderr)
        subprocess.run(  # noqa: S603
            ["apt-get", "install", "-y", "-qq", "wrk"],  # noqa: S607
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdout=subprocess.DEVNULL,
        )
        found = shutil.which("wrk")
    if not found:
        sys.exit("bench needs wrk: apt-get install wrk")
    return found


@dataclass(frozen=True)
class Load:
    """What one wrk run sends: lines of "cookie<TAB>body", to one method and path."""

    lines: Path
    method: str = "GET"
    path: str = "/"
    expect: int = 302
    cycle: bool = True
    header: str | None = None
    cookie: str = "switchyard_session"


def write_lines(path: Path, lines: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{cookie}\t{body}\n" for cookie, body in lines))
    return path


def run_wrk(
    url: str,
    load: Load,
    *,
    seconds: float,
    connections: int,
    max_requests: int = 0,
    delay_ms: float = 0,
) -> dict[str, Any]:
    """One wrk process, one thread, loopback only, bounded by time and by count."""
    environment = {
        **os.environ,
        "BENCH_LINES": str(load.lines),
        "BENCH_METHOD": load.method,
        "BENCH_PATH": load.path,
        "BENCH_EXPECT": str(load.expect),
        "BENCH_CYCLE": "1" if load.cycle else "0",
        "BENCH_MAX": str(max_requests),
        "BENCH_DELAY_MS": f"{delay_ms:.3f}",
        "BENCH_COOKIE": load.cookie,
    }
    if load.header:
        environment["BENCH_HEADER"] = load.header
    command = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    command += ["--timeout", "10s", "-s", str(WRK_SCRIPT), url]
    finished = subprocess.run(  # noqa: S603 - wrk against our loopback server
        command, env=environment, capture_output=True, text=True, timeout=seconds + 60
    )
    for line in finished.stdout.splitlines():
        if line.startswith("BENCH "):
            result: dict[str, Any] = json.loads(line[len("BENCH ") :])
            result["rate"] = result["ok"] / result["seconds"] if result["seconds"] else 0.0
            return result
    sys.exit(f"wrk printed no result:\n{finished.stdout}\n{finished.stderr}")


def rss_mb(pid: int) -> float:
    """Resident set size of one process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Figure:
    """One row: ours against the floor, the ratio, and the target it is held to."""

    name: str
    ours: float
    floor: float | None
    unit: str
    ratio: float | None
    target: str
    met: bool
    detail: dict[str, Any] = field(default_factory=dict)


def rate_ratio(ours: float, floor: float) -> float:
    """For rates: ours / floor (1.0 = as fast as the floor)."""
    return ours / floor if floor else 0.0


def cost_ratio(ours: float, floor: float) -> float:
    """For costs (time, memory): floor / ours (1.0 = as cheap as the floor)."""
    return floor / ours if ours else 0.0


def machine(bench: Bench) -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "gunicorn_workers": bench.workers,
        "gunicorn_threads": bench.threads,
        "load_generator": "wrk (one process, one thread, loopback)",
        "smoke": bench.smoke,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


HEADER = f"{'benchmark':<34} {'ours':>12} {'floor':>12} {'ratio':>6}  {'target':<34} met"


def row(figure: Figure) -> str:
    floor = f"{figure.floor:,.1f}" if figure.floor is not None else "-"
    ratio = f"{figure.ratio:.2f}" if figure.ratio is not None else "-"
    ours = f"{figure.ours:,.1f} {figure.unit}"
    met = "yes" if figure.met else "NO"
    return f"{figure.name:<34} {ours:>12} {floor:>12} {ratio:>6}  {figure.target:<34} {met}"


def report(bench: Bench, name: str, figures: list[Figure]) -> None:
    """Print the rows and write bench/results/<name>.json."""
    results = Path(os.environ.get("BENCH_RESULTS") or RESULTS)
    results.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "machine": machine(bench),
        "figures": [asdict(figure) for figure in figures],
    }
    suffix = "-smoke" if bench.smoke else ""
    (results / f"{name}{suffix}.json").write_text(json.dumps(document, indent=2, default=str))
    for figure in figures:
        print(row(figure), flush=True)
