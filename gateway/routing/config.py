"""The routing configuration (line states, percents, pilots, overrides, system health),
cached in each worker and keyed by a configuration version kept in Redis.

Every change IT makes commits to the database and then increments the version; every
request reads the version (one GET) and reloads the configuration when it moved. So a
change reaches every worker and instance on its next request, with no restart, and a
request always sees one whole configuration, old or new, never half of each.

    config = current_routing_config(db)
    line_state = config.line_state("NETGUARD", "NetGuard", "100100")
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.announce import current_version, watch
from gateway.core.models import (
    Account,
    AccountOverride,
    OAuthClient,
    PilotAccount,
    ProductLine,
    System,
)
from gateway.core.store import Store, get_store
from gateway.routing.decision import LineState, Override

PROBE_PREFIX = "health:probe:"
# A probe result that expires (the checker stopped) is not announced by a version bump;
# reloading at least this often notices it.
MAX_AGE_SECONDS = 30.0


@dataclass(frozen=True)
class LineConfig:
    """One product line's routing settings, for every account."""

    code: str
    name: str
    state: str
    percent: Decimal
    pilot_accounts: frozenset[str]
    overrides: Mapping[str, Override]
    require_salesforce_agreement: bool = False

    @property
    def revision(self) -> str:
        """A digest of the settings routing reads: a preview names the revision it was
        computed on, and confirming it is refused once the line's revision differs."""
        overrides = {
            number: [o.system, o.expires_at.isoformat() if o.expires_at else None]
            for number, o in self.overrides.items()
        }
        settings = [
            self.state,
            str(Decimal(self.percent).quantize(Decimal("0.01"))),
            sorted(self.pilot_accounts),
            overrides,
            self.require_salesforce_agreement,
        ]
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SystemStatus:
    """A license center: where a hand-off to it starts, IT's maintenance switch and
    the last probe."""

    key: str
    name: str
    maintenance: bool
    maintenance_note: str
    # "up", "down", or "unknown" (no probe configured, or no recent result).
    probe: str
    entry_url: str = ""
    # Its OpenID Connect client's initiate_login_uri (then login_via_client), else
    # entry_url: where routing hands a signed-in user over (see routing.handoff).
    login_start: str = ""
    login_via_client: bool = False
    # What the status page tells customers; maintenance_note is IT's internal reason.
    customer_message: str = ""

    @property
    def down(self) -> bool:
        return self.maintenance or self.probe == "down"


@dataclass(frozen=True)
class RoutingConfig:
    """Everything routing needs besides the account's own entitlements."""

    version: int
    lines: Mapping[str, LineConfig]
    systems: Mapping[str, SystemStatus]
    loaded_at: float = 0.0

    @property
    def down_systems(self) -> frozenset[str]:
        return frozenset(key for key, status in self.systems.items() if status.down)

    def line_state(
        self,
        code: str,
        name: str,
        account_number: str,
        agreeing: Container[str] = frozenset(),
    ) -> LineState:
        """The line as one account sees it; an unconfigured line is plain legacy.
        `agreeing` holds the accounts whose new-system data of the line agrees with
        Salesforce (read only when the line requires it: see agreements_needed)."""
        line = self.lines.get(code)
        if line is None:
            return LineState(code, name, "legacy")
        return LineState(
            code,
            line.name,
            line.state,
            line.percent,
            pilot=account_number in line.pilot_accounts,
            override=line.overrides.get(account_number),
            salesforce_agrees=(
                account_number in agreeing if line.require_salesforce_agreement else None
            ),
        )

    def agreements_needed(self, codes: Iterable[str], account_number: str) -> list[str]:
        """Of `codes`, the lines whose readiness gate asks about Salesforce's agreement
        for this account: they require it, and the account could be routed to new there
        (an account on a legacy line with no override to new never reaches the gate)."""
        needed = []
        for code in codes:
            line = self.lines.get(code)
            if line is None or not line.require_salesforce_agreement:
                continue
            override = line.overrides.get(account_number)
            if line.state != "legacy" or (override is not None and override.system == "new"):
                needed.append(code)
        return needed


def load_routing_config(db: Session, store: Store, version: int) -> RoutingConfig:
    """Read the whole configuration: a handful of small queries and one MGET."""
    lines = _line_configs(db, list(db.scalars(select(ProductLine))))
    return RoutingConfig(
        version, MappingProxyType(lines), _system_statuses(db, store), time.monotonic()
    )


def load_line_config(db: Session, line: ProductLine) -> LineConfig:
    """One line's settings as the database holds them now (what a change compares with)."""
    return _line_configs(db, [line])[line.code]


def _line_configs(db: Session, lines: list[ProductLine]) -> dict[str, LineConfig]:
    ids = [line.id for line in lines]
    pilots: dict[int, set[str]] = {}
    for line_id, number in db.execute(
        select(PilotAccount.product_line_id, Account.account_number)
        .join(Account, Account.id == PilotAccount.account_id)
        .where(PilotAccount.product_line_id.in_(ids))
    ):
        pilots.setdefault(line_id, set()).add(number)
    overrides: dict[int, dict[str, Override]] = {}
    for line_id, number, system, reason, expires_at in db.execute(
        select(
            AccountOverride.product_line_id,
            Account.account_number,
            AccountOverride.system,
            AccountOverride.reason,
            AccountOverride.expires_at,
        )
        .join(Account, Account.id == AccountOverride.account_id)
        .where(AccountOverride.product_line_id.in_(ids))
    ):
        overrides.setdefault(line_id, {})[number] = Override(system, reason, expires_at)
    return {
        line.code: LineConfig(
            line.code,
            line.name,
            line.state,
            line.rollout_percent,
            frozenset(pilots.get(line.id, ())),
            MappingProxyType(overrides.get(line.id, {})),
            line.require_salesforce_agreement,
        )
        for line in lines
    }


def _system_statuses(db: Session, store: Store) -> Mapping[str, SystemStatus]:
    systems = list(db.scalars(select(System).order_by(System.key)))
    probes = store.mget([PROBE_PREFIX + s.key for s in systems]) if systems else []
    client_starts: dict[int, str] = {
        system_id: uri
        for system_id, uri in db.execute(
            select(OAuthClient.system_id, OAuthClient.initiate_login_uri).where(
                OAuthClient.revoked_at.is_(None), OAuthClient.system_id.is_not(None)
            )
        )
        if system_id is not None and uri
    }
    return MappingProxyType(
        {
            system.key: SystemStatus(
                system.key,
                system.name,
                system.maintenance,
                system.maintenance_note,
                _probe_state(raw),
                system.entry_url,
                client_starts.get(system.id, system.entry_url),
                system.id in client_starts,
                customer_message=system.customer_message,
            )
            for system, raw in zip(systems, probes, strict=True)
        }
    )


def _probe_state(raw: bytes | str | None) -> str:
    if raw is None:
        return "unknown"
    state = json.loads(raw).get("state", "unknown")
    return state if state in ("up", "down") else "unknown"


class RoutingConfigCache:
    """One worker's copy of the configuration; reloads when the shared version moves."""

    def __init__(self, max_age_seconds: float = MAX_AGE_SECONDS) -> None:
        self._config: RoutingConfig | None = None
        self._lock = threading.Lock()
        self._max_age = max_age_seconds

    def get(self, db: Session, store: Store) -> RoutingConfig:
        """The configuration for this request: one GET when nothing changed."""
        version = current_version(store)
        cached = self._config
        if self._fresh(cached, version):
            assert cached is not None
            return cached
        with self._lock:  # one reload per worker, not one per waiting thread
            cached = self._config
            if self._fresh(cached, version):
                assert cached is not None
                return cached
            # Keyed by the version read *before* loading: a change committed meanwhile
            # bumps the version again, so it is picked up on the next request.
            loaded = load_routing_config(db, store, version)
            self._config = loaded
            return loaded

    def _fresh(self, config: RoutingConfig | None, version: int) -> bool:
        return (
            config is not None
            and config.version == version
            and time.monotonic() - config.loaded_at < self._max_age
        )


# What load_routing_config reads: a committed write to any of them moves the version.
CONFIG_TABLES = (
    "product_lines",
    "pilot_accounts",
    "account_overrides",
    "accounts",
    "systems",
    "oauth_clients",
)


def init_app(app: Flask) -> None:
    app.extensions["routing_config"] = RoutingConfigCache()
    watch(app, CONFIG_TABLES)


def current_routing_config(db: Session) -> RoutingConfig:
    """The routing configuration of the app handling this request or command."""
    cache: RoutingConfigCache = current_app.extensions["routing_config"]
    return cache.get(db, get_store())
