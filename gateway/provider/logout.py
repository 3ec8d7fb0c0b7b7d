"""Single logout towards relying parties: OpenID Connect Back-Channel Logout 1.0.

When a session ends at Switchyard (sign-out here, RP-initiated logout, or single
logout from the IdP), every client that received a code during that session gets
a signed logout_token POSTed to its back-channel logout URI, server to server, so
no browser tab or third-party cookie is needed. The tokens are signed during the
request and sent after it, by gateway.provider.backchannel.

The session's codes and access tokens end with it (gateway.provider.tokens): signing
out marks its sid ended. When a user's access ends (deactivated, or signed out
everywhere by IT: core's `access_ended` hook), core has already ended every session
of theirs, and with them their codes and tokens; here every license center that
takes back-channel logout is told, with the user's `sub`, to end all of their
sessions there too.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import MutableMapping
from typing import Any

from flask import current_app, has_request_context
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.core.db import get_session
from gateway.core.models import User
from gateway.core.settings import current_settings
from gateway.core.store import get_store
from gateway.provider.backchannel import BackchannelSender, LogoutDelivery
from gateway.provider.clients import (
    RegisteredClient,
    clients_with_backchannel_logout,
    find_client,
)
from gateway.provider.grants import issuer, keyring
from gateway.provider.tokens import end_session_tokens

log = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CLIENTS_KEY = "oidc_clients"


def remember_client(session: MutableMapping[str, Any], client_id: str) -> None:
    """Note that this session signed the user in to `client_id`."""
    clients = list(session.get(CLIENTS_KEY, []))
    if client_id not in clients:
        session[CLIENTS_KEY] = [*clients, client_id]


def logout_token(client: RegisteredClient, *, sub: str, sid: str | None) -> str:
    ring = keyring()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer(),
        "aud": client.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "sub": sub,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    if sid:
        claims["sid"] = sid
    header = {"alg": ring.alg, "kid": ring.signing.kid or "", "typ": "logout+jwt"}
    return jwt.encode(header, claims, ring.signing, [ring.alg])


def notify_relying_parties(session: MutableMapping[str, Any]) -> int:
    """Queue a signed logout_token for each client of this session (sent off the
    request path, see gateway.provider.backchannel); returns how many were queued."""
    user_id, sid = session.get("user_id"), session.get("sid")
    user = get_session().get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        return 0
    sender: BackchannelSender = current_app.extensions["backchannel_sender"]
    queued = 0
    for client_id in session.get(CLIENTS_KEY, []):
        client = find_client(get_session(), client_id)
        if client is None or not client.backchannel_logout_uri:
            continue
        token = logout_token(client, sub=user.public_id, sid=sid)
        queued += sender.submit(LogoutDelivery(client_id, client.backchannel_logout_uri, token))
    log.info(
        "back-channel logouts queued",
        extra={"event": "oidc.backchannel_logout_queued", "count": queued},
    )
    return queued


def session_ending(session: MutableMapping[str, Any]) -> None:
    """This session ends (any sign-out): its codes and tokens stop working now, and
    the relying parties it signed in to hear."""
    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        settings = current_settings()
        lifetime = settings.oidc_code_seconds + settings.oidc_access_token_seconds
        end_session_tokens(get_store(), sid, lifetime + settings.oidc_clock_skew_seconds)
    notify_relying_parties(session)


def access_ended(user_id: int) -> int:
    """The user may use nothing of ours any more: queue a logout_token naming them
    (`sub`, so every session of theirs ends) for every client that takes back-channel
    logout; returns how many were queued. Their codes and tokens already stopped with
    their sessions (core bumped their session generation)."""
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        return 0
    sender: BackchannelSender = current_app.extensions["backchannel_sender"]
    # A request answers first and its deliveries follow; a command delivers before it
    # ends, as its process would take the worker threads with it.
    send = sender.submit if has_request_context() else sender.deliver_now
    queued = 0
    for client in clients_with_backchannel_logout(db):
        assert client.backchannel_logout_uri
        token = logout_token(client, sub=user.public_id, sid=None)
        queued += send(LogoutDelivery(client.client_id, client.backchannel_logout_uri, token))
    log.info(
        "back-channel logouts queued: the user's access ended",
        extra={"event": "oidc.access_ended_logout_queued", "user_id": user_id, "count": queued},
    )
    return queued


def verified_id_token_hint(hint: str) -> dict[str, Any] | None:
    """The claims of an id_token we issued (expired is fine for a hint), else None."""
    try:
        token = jwt.decode(
            hint,
            KeySet.import_key_set({"keys": list(keyring().published)}),
            algorithms=["RS256", "ES256"],
        )
    except (JoseError, ValueError):
        return None
    claims = dict(token.claims)
    return claims if claims.get("iss") == issuer() else None
