"""Single logout towards relying parties: OpenID Connect Back-Channel Logout 1.0.

When a session ends at Switchyard (sign-out here, RP-initiated logout, or single
logout from the IdP), every client that received a code during that session gets
a signed logout_token POSTed to its back-channel logout URI, server to server, so
no browser tab or third-party cookie is needed. The tokens are signed during the
request and sent after it, by gateway.provider.backchannel.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import MutableMapping
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.core.db import get_session
from gateway.core.models import User
from gateway.provider.backchannel import BackchannelSender, LogoutDelivery
from gateway.provider.clients import RegisteredClient, find_client
from gateway.provider.grants import issuer, keyring

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
