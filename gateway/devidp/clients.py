"""The demo's side of the OpenID Connect provider: one client per stand-in license
center, replaced at each start, and a signing key the instance can read.

A client secret is shown only once, and the centers may listen on other ports
than last time, so every start replaces the previous demo client of a system.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.audit import record
from gateway.core.models import OAuthClient, ProviderKey, System
from gateway.core.secret_keys import SecretKeys
from gateway.core.store import Store
from gateway.devidp.relying_party import RelyingPartyConfig
from gateway.provider.clients import add_client
from gateway.provider.keys import key_encryption, rotate_key

DEMO_ACTOR = "gateway demo"


def remove_system_client(db: Session, system_key: str) -> str | None:
    """Delete the client that signs users in to `system_key`; its id, if there was one."""
    row = db.scalar(select(OAuthClient).join(System).where(System.key == system_key))
    if row is None:
        return None
    db.delete(row)
    record(
        db,
        DEMO_ACTOR,
        "devidp.client_replaced",
        f"client:{row.client_id}",
        before={"system": system_key},
        reason="demo restarted",
    )
    db.flush()  # the system admits one client: the old row goes before the new one
    return row.client_id


def register_license_center(
    db: Session, *, system_key: str, name: str, base_url: str, issuer: str, secret_key: str
) -> RelyingPartyConfig:
    """Register (or replace) the client of one stand-in license center at `base_url`."""
    remove_system_client(db, system_key)
    urls = RelyingPartyConfig(issuer=issuer, client_id="", client_secret="", base_url=base_url)
    new = add_client(
        db,
        name=name,
        redirect_uris=[urls.redirect_uri],
        actor=DEMO_ACTOR,
        secret_key=secret_key,
        initiate_login_uri=urls.initiate_login_uri,
        post_logout_redirect_uris=[urls.post_logout_redirect_uri],
        backchannel_logout_uri=urls.backchannel_logout_uri,
        system_key=system_key,
    )
    assert new.client_secret is not None  # client_secret_basic always gets one
    return RelyingPartyConfig(
        issuer=issuer, client_id=new.client_id, client_secret=new.client_secret, base_url=base_url
    )


def replace_unreadable_signing_key(db: Session, store: Store, keys: SecretKeys, alg: str) -> bool:
    """Rotate when the signing key was encrypted with another secret (an instance made
    before the demo kept its secret key); True when it did."""
    fernet = key_encryption(keys)
    active = db.scalars(select(ProviderKey).where(ProviderKey.retired_at.is_(None))).all()
    try:
        for row in active:
            fernet.decrypt(row.private_key_encrypted.encode())
    except InvalidToken:
        rotate_key(db, store, fernet, alg, actor=DEMO_ACTOR, reason="demo secret key replaced")
        return True
    return False
