"""Under real gunicorn with two workers, /metrics adds up both workers, whichever
one answers the scrape (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SECRET
from tests.ops.processes import BIN, Server, clean_env

TOKEN = "metrics-token-for-tests-0123456789abcdef"
HEALTHZ = {"endpoint": "health.healthz", "code": "2xx"}
RESPONSES = "gateway_http_responses_total"

pytestmark = pytest.mark.shared_store  # two workers need the shared store


@pytest.fixture
def server(
    tmp_path: Path, database_url: str, redis_url: str | None, saml_dir: Path
) -> Iterator[tuple[Server, Path]]:
    assert redis_url, "two workers need GATEWAY_TEST_REDIS_URL"
    metrics_dir = tmp_path / "prometheus"
    env = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_METRICS_TOKEN": TOKEN,
        "GATEWAY_SCHEDULER_ENABLED": "false",
        "GATEWAY_WORKERS": "2",
        "GATEWAY_BIND_HOST": "127.0.0.1",
        "PORT": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    command = [BIN / "gunicorn", "-c", "python:gateway.gunicorn_conf", "gateway.wsgi:app"]
    running = Server(command, tmp_path, clean_env(tmp_path, env))
    yield running, metrics_dir
    assert running.stop() == 0


def healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == RESPONSES and sample.labels == HEALTHZ:
                return sample.value
    return 0.0


def per_worker_counts(metrics_dir: Path, scratch: Path) -> dict[str, float]:
    """Each worker's own count, read from its own file with prometheus_client."""
    counts = {}
    for file in metrics_dir.glob("counter_*.db"):
        alone = scratch / file.stem
        alone.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts[file.stem] = healthz_count(generate_latest(registry).decode())
    return counts


def test_metrics_add_up_every_worker(server: tuple[Server, Path], tmp_path: Path) -> None:
    running, metrics_dir = server
    url = running.wait_listening(timeout=60)
    sent = 0
    # Fresh connections until both workers have served some (bounded, not timed).
    while sent < 400:
        for _ in range(20):
            reply = requests.get(f"{url}/healthz", headers={"Connection": "close"}, timeout=10)
            assert reply.status_code == 200
            sent += 1
        served = per_worker_counts(metrics_dir, tmp_path / "scratch")
        if sum(1 for count in served.values() if count > 0) >= 2:
            break
    assert sum(1 for count in served.values() if count > 0) == 2, served
    auth = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
    for _ in range(4):  # whichever worker answers, it reports both
        scrape = requests.get(f"{url}/metrics", headers=auth, timeout=10)
        assert scrape.status_code == 200
        assert healthz_count(scrape.text) == sent
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 401
