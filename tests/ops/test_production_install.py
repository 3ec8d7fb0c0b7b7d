"""README's "Running in production" works as written: its commands, read from
README.md, run from a folder outside the checkout against a wheel built from it, up
to a real gunicorn answering the probes and the SAML metadata.

Slow (a fresh virtualenv; pip's cache makes it minutes, not more), so it runs once:
in the PostgreSQL + Redis pass, which production resembles.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.conftest import SECRET
from tests.ops.processes import Server, clean_env

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "/path/to/switchyard"
BASE_URL = "https://sso.example.test"
TOKEN = "metrics-token-for-tests-0123456789abcdef"
MD_NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}

pytestmark = pytest.mark.shared_store


def readme_commands() -> list[str]:
    """The first sh block of README's "Running in production" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Running in production\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)\n```", section, re.DOTALL)
    assert block, "README's production section has no sh block"
    return block.group(1).splitlines()


def build_wheel(scratch: Path) -> Path:
    """A wheel of the package from a clean copy of its sources (no stale build folder)."""
    source = scratch / "source"
    shutil.copytree(
        ROOT / "gateway", source / "gateway", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", source)
    subprocess.run(  # noqa: S603 - pip of our own interpreter
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", scratch / "dist", source],
        check=True,
        timeout=300,
    )
    (wheel,) = (scratch / "dist").glob("*.whl")
    return wheel


@pytest.fixture
def served(
    tmp_path: Path, database_url: str, redis_url: str | None, saml_dir: Path
) -> Iterator[tuple[Server, Path]]:
    assert redis_url, "production runs on GATEWAY_TEST_REDIS_URL's Redis"
    commands = readme_commands()
    assert sum(line.count(PLACEHOLDER) for line in commands) == 1
    wheel = build_wheel(tmp_path / "build")
    install_dir = tmp_path / "operator"
    install_dir.mkdir()
    *setup, serve = [line.replace(PLACEHOLDER, str(wheel)) for line in commands]
    script = install_dir / "production.sh"
    script.write_text("\n".join(["set -eu", *setup, f"exec {serve}"]) + "\n")
    env = {
        "GATEWAY_SECRET_KEY": SECRET,
        "GATEWAY_BASE_URL": BASE_URL,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_SAML_DIR": str(saml_dir),
        "GATEWAY_METRICS_TOKEN": TOKEN,
        "GATEWAY_WORKERS": "2",
        "GATEWAY_BIND_HOST": "127.0.0.1",
        "PORT": "0",
    }
    running = Server(["bash", script], install_dir, clean_env(install_dir, env))
    yield running, install_dir
    assert running.stop() == 0


def test_readme_production_commands_serve_from_an_installed_wheel(
    served: tuple[Server, Path],
) -> None:
    running, install_dir = served
    url = running.wait_listening(timeout=900)
    assert requests.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{url}/readyz", timeout=10).json() == {"status": "ok"}
    metadata = requests.get(f"{url}/saml/metadata", timeout=10)
    assert metadata.status_code == 200
    root = etree.fromstring(metadata.content, etree.XMLParser(resolve_entities=False))
    assert root.get("entityID") == f"{BASE_URL}/saml/metadata"
    acs = root.find(".//md:AssertionConsumerService", MD_NS)
    assert acs is not None and acs.get("Location") == f"{BASE_URL}/saml/acs"
    scrape = requests.get(
        f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert scrape.status_code == 200 and "gateway_request_duration_seconds" in scrape.text
    installed = subprocess.run(  # noqa: S603 - the interpreter the README's venv holds
        [install_dir / "venv" / "bin" / "python", "-c", "import gateway; print(gateway.__file__)"],
        cwd=install_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert installed.stdout.startswith(str(install_dir / "venv"))
