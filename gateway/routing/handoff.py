"""The hand-off URL that sends a signed-in browser into a license center.

A license center registered as our OpenID Connect client gets a third-party-initiated
login (OIDC Core §4): its `initiate_login_uri` with `iss`, `login_hint` and
`target_link_uri`; it then runs the code flow against us, and we already hold the
session. A system without a client gets its entry URL with the same hints.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from gateway.models import System
from gateway.provider.clients import client_for_system

HANDOFF_PARAMETERS = ("iss", "login_hint", "target_link_uri")


def handoff_url(
    entry_url: str, *, login_hint: str, target_link_uri: str, issuer: str | None = None
) -> str:
    """`entry_url` with the third-party-initiated login parameters, replacing any it had."""
    parts = urlsplit(entry_url)
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name not in HANDOFF_PARAMETERS
    ]
    hints = [("iss", issuer)] if issuer else []
    hints += [("login_hint", login_hint), ("target_link_uri", target_link_uri)]
    return urlunsplit(parts._replace(query=urlencode([*kept, *hints])))


def login_start(db: Session, system: System) -> tuple[str, bool]:
    """Where a hand-off to `system` begins, and whether that is an OIDC client's
    login initiation (which then gets `iss`)."""
    client = client_for_system(db, system.key)
    if client is not None and client.initiate_login_uri:
        return client.initiate_login_uri, True
    return system.entry_url, False


def handoff_for(
    db: Session, system: System, *, login_hint: str, target_link_uri: str, issuer: str
) -> str:
    """Where to send the browser for `system`: its client's login initiation, if any."""
    start, via_client = login_start(db, system)
    return handoff_url(
        start,
        login_hint=login_hint,
        target_link_uri=target_link_uri,
        issuer=issuer if via_client else None,
    )
