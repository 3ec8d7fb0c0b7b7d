"""The shared store behind a password and TLS, as docs/sessions-and-keys.md says to run
it: a real redis-server with `requirepass` and a TLS port whose certificate our own
test CA signed."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.core import db
from gateway.core.settings import Settings
from gateway.core.store import make_store
from tests.conftest import make_app

PASSWORD = secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ProtectedRedis:
    port: int
    tls_port: int
    ca_file: Path


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1 it signed: (ca, cert, key) files."""
    now = datetime.now(UTC)
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("switchyard test CA"))
        .issuer_name(_name("switchyard test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture(scope="module")
def protected_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProtectedRedis]:
    folder = tmp_path_factory.mktemp("redis-auth")
    ca_file, cert_file, key_file = _write_certificates(folder)
    port, tls_port = _free_port(), _free_port()
    config = (
        f"port {port}\ntls-port {tls_port}\nbind 127.0.0.1\ndir {folder}\nsave ''\n"
        f"requirepass {PASSWORD}\ntls-cert-file {cert_file}\ntls-key-file {key_file}\n"
        f"tls-ca-cert-file {ca_file}\ntls-auth-clients no\n"
    )
    # The configuration (and so the password) on standard input, as docker-compose.yml does.
    process = subprocess.Popen(  # noqa: S603 - the test machine's redis-server
        ["redis-server", "-"],  # noqa: S607
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(config.encode())
    process.stdin.close()
    try:
        _wait_for(redis.Redis(port=port, password=PASSWORD, socket_timeout=1))
        yield ProtectedRedis(port, tls_port, ca_file)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(client: redis.Redis, deadline_seconds: float = 15.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)  # polling a starting process, bounded by the deadline
    pytest.fail("the password-protected redis-server did not start")


def test_the_store_speaks_to_redis_with_its_password(protected_redis: ProtectedRedis) -> None:
    store = make_store(f"redis://:{PASSWORD}@127.0.0.1:{protected_redis.port}/0")
    assert store.set("test:auth", "with a password", ex=60)
    assert store.get("test:auth") == b"with a password"


@pytest.mark.parametrize("password", ["", "wrong-" + secrets.token_urlsafe(16)])
def test_without_the_password_the_store_is_refused(
    protected_redis: ProtectedRedis, password: str
) -> None:
    store = make_store(f"redis://:{password}@127.0.0.1:{protected_redis.port}/0")
    with pytest.raises(redis.RedisError):
        store.set("test:auth", "planted", ex=60)


def test_the_store_speaks_tls_and_verifies_the_server(protected_redis: ProtectedRedis) -> None:
    location = f"127.0.0.1:{protected_redis.tls_port}/0"
    store = make_store(f"rediss://:{PASSWORD}@{location}?ssl_ca_certs={protected_redis.ca_file}")
    assert store.set("test:tls", "over tls", ex=60)
    assert store.get("test:tls") == b"over tls"
    # The system trust store does not know our test CA: the server is not believed.
    with pytest.raises(redis.ConnectionError):
        make_store(f"rediss://:{PASSWORD}@{location}").ping()


def test_a_gateway_with_the_wrong_password_fails_closed(
    protected_redis: ProtectedRedis, settings: Settings
) -> None:
    url = f"redis://:wrong@127.0.0.1:{protected_redis.port}/0"
    app = make_app(settings.model_copy(update={"redis_url": url}))
    try:
        client = app.test_client()
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["failing"]["redis"] == "AuthenticationError"
        client.set_cookie("switchyard_session", "some-session-id", domain="sso.test")
        assert client.get("/api/v1/me").status_code == 503
    finally:
        db.engine_of(app).dispose()
