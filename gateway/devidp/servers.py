"""Running the demo in one process: the gateway with its development IdP, two
stand-in license centers, each on its own port, a mailbox (SMTP on loopback) and a
stand-in Salesforce (HTTPS on loopback) that the gateway's sync reads.

`gateway demo` and the browser tests both start it here and stop it afterwards.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from gateway.app import create_app
from gateway.core import db
from gateway.core.secret_keys import secret_keys
from gateway.core.settings import Settings, load_settings
from gateway.core.store import get_store
from gateway.core.targets import origin
from gateway.devidp.clients import register_license_center, replace_unreadable_signing_key
from gateway.devidp.idp import DemoConfig, prepare_saml_dir
from gateway.devidp.license_centers import create_license_center
from gateway.devidp.mailbox import Mailbox, MailboxServer
from gateway.devidp.relying_party import RelyingParty
from gateway.devidp.salesforce import DemoSalesforce
from gateway.devidp.sample import SampleUser, load_sample_users, seed_sample

log = logging.getLogger(__name__)

LICENSE_CENTERS = (("legacy", "Legacy license center"), ("new", "New license center"))


@dataclass(frozen=True)
class DemoPorts:
    """Where the three servers listen; 0 lets the system pick a free port."""

    gateway: int
    legacy: int
    new: int

    @classmethod
    def consecutive(cls, port: int) -> DemoPorts:
        """The gateway on `port`, the license centers on the next two."""
        return cls(port, port + 1, port + 2)


@dataclass
class RunningDemo:
    """The three servers, serving from background threads until stop()."""

    gateway_url: str
    legacy_url: str
    new_url: str
    users: tuple[SampleUser, ...]
    gateway_app: Flask
    servers: list[BaseWSGIServer]
    threads: list[threading.Thread] = field(default_factory=list)
    mailbox: MailboxServer | None = None
    salesforce: DemoSalesforce | None = None
    first_sync: threading.Thread | None = None

    def wait(self) -> None:
        """Block until the servers stop (or Ctrl-C)."""
        for thread in self.threads:
            thread.join()

    @property
    def mailbox_url(self) -> str:
        return f"{self.gateway_url}/dev-idp/mail"

    @property
    def salesforce_url(self) -> str:
        return self.salesforce.url if self.salesforce is not None else ""

    def wait_for_first_sync(self, timeout: float) -> bool:
        """Whether the sync run at start has finished within `timeout` seconds."""
        if self.first_sync is None:
            return False
        self.first_sync.join(timeout)
        return not self.first_sync.is_alive()

    def stop(self) -> None:
        from gateway.core import jobs

        for server in self.servers:
            if isinstance(server.app, Flask):
                jobs.stop(server.app)
        # The first sync finishes against a Salesforce still serving (it is short).
        self.wait_for_first_sync(timeout=30)
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join()
        if self.mailbox is not None:
            self.mailbox.stop()
        if self.salesforce is not None:
            self.salesforce.stop()


def _not_ready(_environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def public_url(host: str, port: int) -> str:
    """The URL a browser on this machine uses for a server bound to `host`."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - a comparison
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def demo_secret_key(instance_dir: Path) -> str:
    """The instance's secret key, made once: it also encrypts the provider's signing
    keys in the database, so a new one at each start could not read them back."""
    path = instance_dir / "secret_key"
    if not path.is_file():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


# The instance's SQLite database and the journal files SQLite may leave beside it.
DEMO_STATE_FILES = ("gateway.db", "gateway.db-journal", "gateway.db-wal", "gateway.db-shm")


def reset_instance(instance_dir: Path) -> list[Path]:
    """Wipe the demo's state so the next start imports the sample data into an empty
    database: every change made while it ran (line states, remembered choices, audit,
    registered clients) lives in that database. The secret key stays (a new one would
    change nothing once the database is gone), and the IdP key is made anew at every
    start anyway; the shared store is in-process and starts empty. Returns what it removed."""
    removed = [instance_dir / name for name in DEMO_STATE_FILES if (instance_dir / name).exists()]
    for path in removed:
        path.unlink()
    return removed


def build_demo_app(
    instance_dir: Path,
    *,
    base_url: str,
    legacy_url: str,
    new_url: str,
    database_url: str | None = None,
    redis_url: str | None = None,
    reset: bool = False,
    mailbox: MailboxServer | None = None,
    salesforce: DemoSalesforce | None = None,
) -> Flask:
    """The gateway with the development IdP: its own key, SQLite file and sample data.

    `database_url` and `redis_url` replace the instance's SQLite file and the
    embedded store (the tests run the demo on their servers). `reset` first wipes the
    instance's SQLite file (see reset_instance). The gateway's mail goes to `mailbox`;
    its Salesforce sync reads `salesforce`, every DEMO_SYNC_INTERVAL_SECONDS.
    Raises SettingsError or ImportRejected when the instance cannot be prepared.
    """
    instance_dir.mkdir(parents=True, exist_ok=True)
    if reset and database_url is None:
        reset_instance(instance_dir)
    saml_dir = instance_dir / "saml"
    key = prepare_saml_dir(saml_dir, base_url)
    database_url = database_url or f"sqlite:///{instance_dir / 'gateway.db'}"
    settings = load_settings(
        base_url=base_url,
        database_url=database_url,
        redis_url=redis_url,
        saml_dir=saml_dir,
        secret_key=demo_secret_key(instance_dir),
        # Probe the stand-in license centers and apply scheduled changes every few seconds.
        system_health_urls={"legacy": f"{legacy_url}/healthz", "new": f"{new_url}/healthz"},
        health_check_interval_seconds=5,
        scheduler_interval_seconds=5,
        smtp_url=mailbox.smtp_url if mailbox is not None else None,
        mail_interval_seconds=2,
        # Sample entitlements end within 90 days: their admins hear of it a minute in.
        renewal_interval_seconds=60,
        **(salesforce.settings() if salesforce is not None else {}),
    )
    db.upgrade(database_url)
    demo = DemoConfig(
        signing_key=key,
        users=load_sample_users(),
        system_origins=(origin(legacy_url), origin(new_url)),
        mailbox=mailbox.mailbox if mailbox is not None else None,
    )
    app = create_app(settings, demo=demo)
    with closing(db.new_session(app)) as session:
        seed_sample(session, instance_dir / "sample", legacy_url=legacy_url, new_url=new_url)
    return app


def license_center_apps(gateway: Flask, base_url: str, urls: tuple[str, str]) -> list[Flask]:
    """Register each stand-in license center as our client and build its app."""
    centers = []
    settings: Settings = gateway.extensions["settings"]
    with closing(db.new_session(gateway)) as session:
        replace_unreadable_signing_key(
            session, get_store(gateway), secret_keys(gateway), settings.oidc_signing_alg
        )
        for (key, name), url in zip(LICENSE_CENTERS, urls, strict=True):
            config = register_license_center(
                session,
                system_key=key,
                name=name,
                base_url=url,
                issuer=base_url,
                secret_key=secret_keys(gateway).secret,
            )
            centers.append(create_license_center(key, name, RelyingParty(config)))
    return centers


def start_demo(
    instance_dir: Path,
    host: str,
    ports: DemoPorts,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    reset: bool = False,
) -> RunningDemo:
    """Bind all three ports, build the apps (they need each other's URLs), then serve;
    with `reset`, from the sample data again (only once the ports are ours). The stand-in
    Salesforce listens on a free port; a full sync from it starts at once in the
    background, and the scheduled one every DEMO_SYNC_INTERVAL_SECONDS."""
    servers: list[BaseWSGIServer] = []
    mailbox = MailboxServer(Mailbox()).start()
    salesforce: DemoSalesforce | None = None
    try:
        salesforce = DemoSalesforce.start(instance_dir / "salesforce")
        for port in (ports.gateway, ports.legacy, ports.new):
            servers.append(make_server(host, port, _not_ready, threaded=True))
        gateway_url, legacy_url, new_url = (public_url(host, server.port) for server in servers)
        gateway = build_demo_app(
            instance_dir,
            base_url=gateway_url,
            legacy_url=legacy_url,
            new_url=new_url,
            database_url=database_url,
            redis_url=redis_url,
            reset=reset,
            mailbox=mailbox,
            salesforce=salesforce,
        )
        servers[0].app = gateway
        centers = license_center_apps(gateway, gateway_url, (legacy_url, new_url))
        for server, center_app in zip(servers[1:], centers, strict=True):
            server.app = center_app
    except BaseException:
        for server in servers:
            server.server_close()
        mailbox.stop()
        if salesforce is not None:
            salesforce.stop()
        raise
    first_sync = threading.Thread(
        target=_first_sync, args=(gateway,), name="demo-salesforce-first-sync", daemon=True
    )
    running = RunningDemo(
        gateway_url,
        legacy_url,
        new_url,
        load_sample_users(),
        gateway,
        servers,
        mailbox=mailbox,
        salesforce=salesforce,
        first_sync=first_sync,
    )
    first_sync.start()
    for server, name in zip(servers, ("gateway", "legacy", "new"), strict=True):
        thread = threading.Thread(target=server.serve_forever, name=f"demo-{name}", daemon=True)
        thread.start()
        running.threads.append(thread)
    return running


def _first_sync(app: Flask) -> None:
    """A full load at start, so IT sees a run (and the tables fill) at once rather than
    one interval later; the scheduled runs after it are incremental."""
    from gateway.salesforce.service import sync

    try:
        with closing(db.new_session(app)) as session:
            summary = sync(session, app.extensions["settings"], full=True)
        log.info(summary.lines()[0], extra={"event": f"salesforce.sync_{summary.state}"})
    except Exception:  # the demo goes on; the console shows what was recorded
        log.exception("the demo's first Salesforce sync failed", extra={"event": "demo.sync"})
